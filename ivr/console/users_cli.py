"""``hotline user``: the accounts of the web desk and the API, registered by :mod:`ivr.cli`.

- ``hotline user add NAME --role R [--agent ID] [--department CODE] [--name DISPLAY]
  [--password-stdin]``: an operator's agent must be in the config's agents.yaml, a department
  user's department in its ticket catalogue;
- ``hotline user passwd NAME [--password-stdin]``: a new password (the user's sessions end);
- ``hotline user disable NAME`` (sessions end, API tokens revoked) / ``enable NAME``;
- ``hotline user list``;
- ``hotline user token NAME [--label L]``: a new API token, printed alone on stdout
  (``TOKEN=$(hotline user token ops)``);
- ``hotline user tokens [NAME]`` / ``hotline user revoke-token ID``: the API tokens, one revoked;
- ``hotline user audit [--limit N]``: the newest rows of the audit log.

Without ``--password-stdin`` the password is asked twice on the terminal. The database is the
ticket commands' (``--database-url``, else ``HOTLINE_DATABASE_URL``, else SQLite in var/),
migrated first as the server does. The audit log names the acting one ``cli:<login name>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.accounts.accounts import Accounts
from ivr.accounts.errors import AccountInvalid
from ivr.accounts.identity import ROLES
from ivr.config.catalogue import load_catalogue
from ivr.config.queue_models import AgentsFile
from ivr.console.cli_common import common_options, config_dir, db_of, migrate, run, unavailable
from ivr.settings import Settings
from ivr.tickets.deadlines import calendar_from_config

TIME = "%Y-%m-%d %H:%M"


def accounts_of(args: argparse.Namespace, settings: Settings) -> Accounts:
    db = db_of(args, settings)
    try:
        migrate(db)
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(db, exc) from exc
    return Accounts(db)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli:unknown"


def read_password(args: argparse.Namespace) -> str:
    """One line of stdin with ``--password-stdin``; else asked twice on the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AccountInvalid("no terminal to ask the password on: give it with --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("password again: ") != first:
        raise AccountInvalid("the two passwords differ: nothing was changed")
    return first


def check_agent(directory: Path, agent: str) -> None:
    path = directory / "agents.yaml"
    try:
        data = yaml.safe_load(path.read_text("utf-8")) if path.exists() else None
        known = AgentsFile.model_validate(data or {}).by_id()
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise AccountInvalid(
            f"{path} cannot be read ({type(exc).__name__}): `hotline check-config` says why"
        ) from exc
    if agent not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise AccountInvalid(f"agent {agent!r} is not in {path} (agents: {listed})")


def check_department(directory: Path, department: str) -> None:
    known = load_catalogue(directory).departments
    if department not in known:
        raise AccountInvalid(
            f"department {department!r} is not in the ticket catalogue of {directory} "
            f"(codes: {', '.join(sorted(known))})"
        )


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    directory = config_dir(args, settings)
    if args.agent and args.role == "operator":
        check_agent(directory, args.agent)
    if args.department and args.role == "department":
        check_department(directory, args.department)
    password = read_password(args)
    user = accounts_of(args, settings).add_user(
        args.username,
        password,
        args.role,
        agent_id=args.agent,
        department=args.department,
        display_name=args.display_name or "",
        actor=cli_actor(),
    )
    bound = f", agent {user.agent_id}" if user.agent_id else ""
    bound += f", department {user.department}" if user.department else ""
    print(f"user {user.username} added: {user.role}{bound}")
    return 0


def cmd_passwd(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args)
    accounts_of(args, settings).set_password(args.username, password, actor=cli_actor())
    print(f"user {args.username}: password changed, its sessions ended")
    return 0


def cmd_disable(args: argparse.Namespace, settings: Settings) -> int:
    accounts_of(args, settings).set_disabled(args.username, True, actor=cli_actor())
    print(f"user {args.username} disabled: its sessions ended, its API tokens revoked")
    return 0


def cmd_enable(args: argparse.Namespace, settings: Settings) -> int:
    accounts_of(args, settings).set_disabled(args.username, False, actor=cli_actor())
    print(f"user {args.username} enabled (API tokens revoked earlier stay revoked)")
    return 0


def _zone(args: argparse.Namespace, settings: Settings) -> dt.tzinfo:
    """The centre's zone (hours.yaml), Beijing time when the config cannot be read."""
    try:
        return calendar_from_config(config_dir(args, settings)).tz
    except (OSError, ValueError, KeyError, yaml.YAMLError):
        return ZoneInfo("Asia/Shanghai")


def _when(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    return "-" if value is None else value.astimezone(zone).strftime(TIME)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    users = accounts_of(args, settings).list_users()
    zone = _zone(args, settings)
    head = ("name", "role", "bound to", "state", "last login")
    print(f"{head[0]:<20} {head[1]:<11} {head[2]:<20} {head[3]:<9} {head[4]:<16} display name")
    for u in users:
        bound = f"agent {u.agent_id}" if u.agent_id else u.department or "-"
        state = "disabled" if u.disabled else "enabled"
        last = _when(u.last_login_at, zone)
        print(f"{u.username:<20} {u.role:<11} {bound:<20} {state:<9} {last:<16} {u.display_name}")
    print(f"{len(users)} user(s); times in {zone}", file=sys.stderr)
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    token = accounts_of(args, settings).create_token(args.username, args.label, actor=cli_actor())
    print(token)
    return 0


def cmd_tokens(args: argparse.Namespace, settings: Settings) -> int:
    zone = _zone(args, settings)
    tokens = accounts_of(args, settings).list_tokens(args.username)
    for t in tokens:
        used = _when(t.last_used_at, zone) if t.last_used_at else "never used"
        state = f"revoked {_when(t.revoked_at, zone)}" if t.revoked_at else "active"
        print(f"{t.id:>5} {t.username:<20} {state:<26} {used:<16} {t.label}")
    print(f"{len(tokens)} token(s); times in {zone}", file=sys.stderr)
    return 0


def cmd_revoke_token(args: argparse.Namespace, settings: Settings) -> int:
    t = accounts_of(args, settings).revoke_token(args.token_id, actor=cli_actor())
    print(f"API token {t.id} of {t.username} ({t.label or 'no label'}) revoked")
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise AccountInvalid("--limit: give 1 or more")
    zone = _zone(args, settings)
    for row in accounts_of(args, settings).audit_log(args.limit):
        change = " ".join(f"{k}={row[k]}" for k in ("before", "after") if row[k] is not None)
        where = f" from {row['address']}" if row["address"] else ""
        print(
            f"{_when(row['at'], zone)} {row['actor']} ({row['role'] or '-'}) {row['action']} "
            f"{row['target']}{where} {change}".rstrip()
        )
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``user`` and its actions. Each sets ``func(args, settings) -> int``."""
    p = sub.add_parser(
        "user", help="accounts of the web desk and the API: add, passwd, disable, list, token"
    )
    usub = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, func: Any, password: bool = False) -> Any:
        a = usub.add_parser(name, help=help_text)
        if name not in ("list", "audit"):
            a.add_argument("username", metavar="NAME", help="the user name")
        if password:
            a.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from the first line of stdin (else asked twice)",
            )
        common_options(a)
        a.set_defaults(func=run(func))
        return a

    a = action("add", "add a user", cmd_add, password=True)
    a.add_argument("--role", required=True, choices=ROLES, help="what the user may do")
    a.add_argument("--agent", metavar="ID", help="an operator's agent id of agents.yaml")
    a.add_argument("--department", metavar="CODE", help="a department user's department code")
    a.add_argument("--name", dest="display_name", metavar="DISPLAY", help="the name shown")
    action("passwd", "set a new password (the user's sessions end)", cmd_passwd, password=True)
    action("disable", "disable a user (sessions end, API tokens revoked)", cmd_disable)
    action("enable", "enable a disabled user again", cmd_enable)
    action("list", "list the users", cmd_list)
    t = action("token", "make an API token and print it (only it, for scripts)", cmd_token)
    t.add_argument("--label", default="", help="what the token is for")
    t = usub.add_parser("tokens", help="list the API tokens (never their plaintext)")
    t.add_argument("username", metavar="NAME", nargs="?", help="only this user's")
    common_options(t)
    t.set_defaults(func=run(cmd_tokens))
    t = usub.add_parser("revoke-token", help="revoke one API token (its user stays enabled)")
    t.add_argument("token_id", metavar="ID", type=int, help="the id `hotline user tokens` shows")
    common_options(t)
    t.set_defaults(func=run(cmd_revoke_token))
    a = action("audit", "the newest rows of the audit log, newest first", cmd_audit)
    a.add_argument("--limit", type=int, default=50, help="how many rows (default 50)")
