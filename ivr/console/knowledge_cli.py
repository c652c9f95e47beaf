"""``hotline knowledge``: the knowledge base (常用提示) from the console, registered by
:mod:`ivr.cli` (docs/knowledge.md).

- ``hotline knowledge import [FILE]``: the entries of ``FILE`` (default: the config's
  ``knowledge.yaml``), approved: new titles added, changed ones edited, the rest kept;
- ``hotline knowledge list [--state S]``, ``show ID``;
- ``hotline knowledge search TEXT [--proposed] [--limit N]``: as the desk searches, the
  matches marked 【like this】;
- ``hotline knowledge approve ID``, ``reject ID --note WHY``, ``retire ID``;
- ``hotline knowledge reindex``: segment every entry again (after a jieba upgrade).

The database is the ticket commands' (``--database-url``, else ``HOTLINE_DATABASE_URL``, else
SQLite in var/), migrated first as the server does. Changes are audited as ``cli:<login
name>``, a decider (role ``cli``). jieba's dictionary cache is kept in the var directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.config.catalogue import load_catalogue
from ivr.console.cli_common import common_options, config_dir, db_of, migrate, run, unavailable
from ivr.console.users_cli import cli_actor
from ivr.errors import ConfigError
from ivr.knowledge import STATES, Actor, Entry, Hit, KnowledgeBase
from ivr.knowledge.seed import KNOWLEDGE_FILE, read_knowledge_file
from ivr.knowledge.segment import use_cache_dir
from ivr.settings import Settings
from ivr.tickets.deadlines import calendar_from_config


def _departments(args: argparse.Namespace, settings: Settings) -> dict[str, str]:
    """Department code -> name of the ticket catalogue; none when it cannot be read."""
    try:
        catalogue = load_catalogue(config_dir(args, settings))
    except (ConfigError, OSError):
        return {}
    return {code: d.name for code, d in catalogue.departments.items()}


def kb_of(args: argparse.Namespace, settings: Settings) -> KnowledgeBase:
    use_cache_dir(settings.var_dir)
    db = db_of(args, settings)
    try:
        migrate(db)
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(db, exc) from exc
    return KnowledgeBase(db, _departments(args, settings))


def _actor() -> Actor:
    return Actor(cli_actor(), "cli")


def _zone(args: argparse.Namespace, settings: Settings) -> dt.tzinfo:
    try:
        return calendar_from_config(config_dir(args, settings)).tz
    except (OSError, ValueError, KeyError, yaml.YAMLError):
        return ZoneInfo("Asia/Shanghai")


def marked(text: str, marks: list[tuple[int, int]]) -> str:
    """``text`` with each span in 【】."""
    out, at = [], 0
    for start, end in marks:
        out += [text[at:start], "【", text[start:end], "】"]
        at = end
    return "".join([*out, text[at:]])


def _line(e: Entry, zone: dt.tzinfo) -> str:
    when = e.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    phone = f" ☎ {e.phone}" if e.phone else ""
    return f"{e.id:>5} {e.state:<9} {e.kind:<6} {when} {e.title}{phone}"


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file) if args.file else config_dir(args, settings) / KNOWLEDGE_FILE
    departments = _departments(args, settings)
    drafts = read_knowledge_file(path, departments or None)
    kb = kb_of(args, settings)
    added, changed, same = kb.import_entries(drafts, _actor())
    print(f"{path}: {added} added, {changed} changed, {same} unchanged (all approved)")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    entries = kb_of(args, settings).entries(args.state, args.limit)
    zone = _zone(args, settings)
    for e in entries:
        print(_line(e, zone))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    e = kb_of(args, settings).get(args.id)
    zone = _zone(args, settings)
    print(_line(e, zone))
    for name, value in (
        ("department", e.department),
        ("tags", " ".join(e.tags)),
        ("proposed", f"{e.proposed_by} {e.proposed_at.astimezone(zone):%Y-%m-%d %H:%M}"),
        ("decided", e.decided_by and f"{e.decided_by} {e.decision_note or ''}".strip()),
        ("version", str(e.version)),
    ):
        if value:
            print(f"  {name}: {value}")
    print(e.body)
    return 0


def _hit(n: int, h: Hit) -> str:
    phone = f" ☎ {h.entry.phone}" if h.entry.phone else ""
    state = "" if h.entry.state == "approved" else f" [{h.entry.state}]"
    title = marked(h.entry.title, h.title_marks)
    return f"{n:>2}. #{h.entry.id} {title}{phone}{state}\n    {marked(h.snippet, h.marks)}"


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    hits = kb_of(args, settings).search(args.text, args.limit, include_proposed=args.proposed)
    for n, h in enumerate(hits, 1):
        print(_hit(n, h))
    if not hits:
        print(f"nothing found for {args.text!r}")
    return 0


def _decided(e: Entry) -> int:
    print(f"entry {e.id} ({e.title}): {e.state}")
    return 0


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    return _decided(kb_of(args, settings).approve(args.id, _actor(), args.note))


def cmd_reject(args: argparse.Namespace, settings: Settings) -> int:
    return _decided(kb_of(args, settings).reject(args.id, _actor(), args.note or ""))


def cmd_retire(args: argparse.Namespace, settings: Settings) -> int:
    return _decided(kb_of(args, settings).retire(args.id, _actor(), args.note))


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    print(f"{kb_of(args, settings).reindex()} entries indexed again")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``knowledge`` and its actions. Each sets ``func(args, settings) -> int``."""
    p = sub.add_parser(
        "knowledge",
        help="the knowledge base (常用提示): import, list, show, search, approve, reject, retire",
    )
    ksub = p.add_subparsers(dest="knowledge_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, func: Any, entry: bool = False) -> Any:
        a = ksub.add_parser(name, help=help_text)
        if entry:
            a.add_argument("id", type=int, metavar="ID", help="the entry's number")
        common_options(a)
        a.set_defaults(func=run(func))
        return a

    a = action("import", "import an admin file's entries, approved", cmd_import)
    a.add_argument(
        "file", nargs="?", metavar="FILE", help=f"default: the config's {KNOWLEDGE_FILE}"
    )
    a = action("list", "list the entries, newest change first", cmd_list)
    a.add_argument("--state", choices=STATES, help="only the entries in this state")
    a.add_argument("--limit", type=int, default=100, help="how many (default 100)")
    action("show", "show one entry", cmd_show, entry=True)
    a = action("search", "search as the desk does", cmd_search)
    a.add_argument("text", metavar="TEXT", help="what the operator types, e.g. 医保")
    a.add_argument("--proposed", action="store_true", help="the proposals too")
    a.add_argument("--limit", type=int, default=10, help="how many (default 10)")
    for name, func, what in (
        ("approve", cmd_approve, "approve a proposal (operators then find it)"),
        ("reject", cmd_reject, "reject a proposal (--note says why)"),
        ("retire", cmd_retire, "retire an approved entry (no longer found)"),
    ):
        a = action(name, what, func, entry=True)
        a.add_argument("--note", required=name == "reject", help="why (kept with the entry)")
    action("reindex", "segment every entry again and rebuild the search index", cmd_reindex)
