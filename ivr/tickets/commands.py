"""``hotline`` subcommands of this package, registered by :mod:`ivr.cli`.

- ``hotline db upgrade``: create or migrate the database (``HOTLINE_DATABASE_URL``);
- ``hotline db current``: the schema revision;
- ``hotline report --day D | --week W | --month M [--out DIR]``: Markdown, HTML (+PNG), CSV;
- ``hotline seed-demo [--month 2020-02] [--scale 1.0]``: a month of generated traffic
  (``report`` and ``seed-demo`` migrate the database first, as the server does);
- ``hotline tickets accept UNIQUEID --type T --category C --content TEXT``: 受理 from a call,
  dispatched to the dispatch catalogue's department unless told otherwise;
- ``hotline tickets <action> NUMBER [...]``: every action of the state machine
  (:mod:`ivr.tickets.lifecycle`), e.g. ``dispatch``, ``return --reason``, ``extend-request``;
- ``hotline tickets list [--state S] [--overdue] [--due-soon] [--supervised] [--department D]``;
- ``hotline tickets sweep``: flags and automatic supervision now;
- ``hotline tickets supervised``: the supervised tickets for the hotline office;
- ``hotline tickets show NUMBER``: a ticket and its audit trail;
- ``hotline tickets replay``: write the local journal to the database;
- ``hotline callbacks list [--kind survey|missed|message] [--open]``, ``callbacks done ID
  --result``, ``callbacks attempt ID --result``: 回访, missed-call call-backs (promised
  callbacks too) and voice messages (留言, with their recordings).

Every refusal is printed as ``[HL-TKT-...] message`` on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import os
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ivr.errors import HotlineError
from ivr.settings import Settings

OPERATOR_ENV = "HOTLINE_OPERATOR"


def _db(args: argparse.Namespace, settings: Settings) -> Any:
    from ivr.tickets.db import Database, database_url

    return Database(args.database_url or database_url(settings.var_dir))


def _config(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.config) if getattr(args, "config", None) else settings.config_dir


def _unavailable(db: Any, exc: Exception) -> HotlineError:
    from ivr.tickets.errors import DatabaseUnavailable

    orig = getattr(exc, "orig", None) or exc
    return DatabaseUnavailable(
        f"database {db.safe_url} is unavailable ({orig}): nothing was changed; "
        "repeat the command when it is back"
    )


def _migrate(db: Any) -> None:
    """Bring the schema to the newest revision, as ``hotline serve`` does at start, and say
    so on stderr when something was done."""
    from alembic.util import CommandError

    from ivr.tickets.db import current_revision, head_revision
    from ivr.tickets.errors import SchemaOutOfDate

    before = current_revision(db.engine)
    if before == head_revision():
        return
    try:
        after = db.upgrade()
    except CommandError as exc:
        raise SchemaOutOfDate(
            f"database {db.safe_url} is at revision {before}, which this program does not "
            f"know ({exc}): it was written by a newer version; use that version"
        ) from exc
    what = f"from revision {before}" if before else "created"
    print(
        f"{db.safe_url}: database schema {what} -> revision {after} "
        "(migrated first, as `hotline db upgrade` and the server do)",
        file=sys.stderr,
    )


def _service(args: argparse.Namespace, settings: Settings, migrate: bool = False) -> Any:
    from sqlalchemy.exc import InterfaceError, OperationalError

    from ivr.tickets.catalogue import load_catalogue
    from ivr.tickets.deadlines import Deadlines, calendar_from_config
    from ivr.tickets.service import TicketService

    directory = _config(args, settings)
    db = _db(args, settings)
    try:
        if migrate:
            _migrate(db)
        else:
            db.check_schema()
    except (OperationalError, InterfaceError) as exc:
        raise _unavailable(db, exc) from exc
    return TicketService(db, load_catalogue(directory), Deadlines(calendar_from_config(directory)))


def _run(func: Any) -> Any:
    def wrapped(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return int(func(args, settings))
        except HotlineError as exc:
            print(exc, file=sys.stderr)
            return 1

    return wrapped


def _actor(args: argparse.Namespace) -> str:
    """``--by``, else ``$HOTLINE_OPERATOR``, else the login name."""
    if getattr(args, "by", None):
        return str(args.by)
    if os.environ.get(OPERATOR_ENV):
        return os.environ[OPERATOR_ENV]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "operator"


# ----------------------------------------------------------------------------- display


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, aligned for Chinese (wide) characters too."""
    widths = [_width(h) for h in header]
    for row in rows:
        widths = [max(w, _width(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


def _local(service: Any, when: dt.datetime | None) -> str:
    if when is None:
        return "-"
    return f"{service.deadlines.calendar.local(when):%Y-%m-%d %H:%M}"


def _state(state: str) -> str:
    from ivr.tickets.lifecycle import STATE_NAMES, State

    try:
        return f"{state} {STATE_NAMES[State(state)]}"
    except ValueError:
        return state


# ----------------------------------------------------------------------------- lookups


def _resolve(kind: str, value: str, known: dict[str, str], hint: str = "") -> str:
    """A catalogue code given as the code or as its (Chinese) name."""
    value = value.strip()
    if value in known:
        return value
    for code, name in known.items():
        if value == name:
            return code
    listing = ", ".join(f"{c} ({n})" for c, n in known.items())
    from ivr.tickets.errors import BadTicketInput

    raise BadTicketInput(f"unknown {kind} {value!r}{hint}; known: {listing}")


def _department(service: Any, value: str) -> str:
    cat = service.catalogue
    return _resolve("department", value, {c: d.name for c, d in cat.departments.items()})


def _ticket_type(service: Any, value: str) -> str:
    cat = service.catalogue
    return _resolve("ticket type", value, {c: t.name for c, t in cat.types.items()})


def _category(service: Any, value: str) -> str:
    cat = service.catalogue
    return _resolve(
        "category",
        value,
        {c: i.full_name for c, i in cat.categories.items()},
        " (a path such as housing.property, or its name such as 住建/物业服务)",
    )


def _states(value: str) -> list[str] | None:
    """``--state``: comma-separated states (code or Chinese name), ``open`` or ``all``."""
    from ivr.tickets.errors import BadTicketInput
    from ivr.tickets.lifecycle import OPEN, STATE_NAMES, State

    out: list[str] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        if part == "all":
            return None
        if part == "open":
            out += [s.value for s in State if s in OPEN]
            continue
        match = [s for s in State if part in (s.value, STATE_NAMES[s])]
        if not match:
            known = ", ".join(f"{s.value} ({STATE_NAMES[s]})" for s in State)
            raise BadTicketInput(f"unknown state {part!r}; known: open, all, {known}")
        out.append(match[0].value)
    return out or None


# ----------------------------------------------------------------------------- db, reports


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    db = _db(args, settings)
    revision = db.upgrade()
    print(f"{db.safe_url}: schema at revision {revision}")
    db.close()
    return 0


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.db import current_revision, head_revision

    db = _db(args, settings)
    current = current_revision(db.engine)
    print(f"{db.safe_url}: revision {current or 'none'} (newest {head_revision()})")
    db.close()
    return 0 if current == head_revision() else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.reports import build_report, parse_period
    from ivr.tickets.reports.render import write_report

    period = parse_period(day=args.day, week=args.week, month=args.month)
    service = _service(args, settings, migrate=True)
    report = build_report(service.db, service.catalogue, period)
    out = Path(args.out) if args.out else settings.var_dir / "reports"
    for path in write_report(report, out):
        print(path)
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.demo import seed_demo
    from ivr.tickets.reports import parse_period

    period = parse_period(month=args.month)
    service = _service(args, settings, migrate=True)
    result = seed_demo(service.db, service.catalogue, service.deadlines, period, scale=args.scale)
    print(
        f"{service.db.safe_url}: {result.calls} calls, {result.tickets} tickets "
        f"({result.finished} finished), {result.queue_events} queue events in {period.label}; "
        f"now run: hotline report --month {period.label}"
    )
    return 0


# ----------------------------------------------------------------------------- tickets


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    result = _service(args, settings).sweep()
    print(
        f"due soon {result.due_soon}, overdue {result.overdue}, newly supervised: "
        f"{result.supervised_overdue} overdue, {result.supervised_repeated} repeated"
    )
    return 0


def cmd_recompute_deadlines(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.recalendar import print_recompute

    return print_recompute(_service(args, settings), dry_run=args.dry_run)


def cmd_supervised(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(args, settings)
    rows = service.supervised()
    for ticket, reasons in rows:
        dept = service.catalogue.department_name(ticket.department)
        cat = service.catalogue.category_name(ticket.category)
        due = f"{ticket.deadline:%Y-%m-%d %H:%M}Z"
        why = ", ".join(reasons)
        print(f"{ticket.number}  {ticket.state:<10} {dept:<12} {cat}  due {due}  [{why}]")
    print(f"{len(rows)} supervised ticket(s)")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(args, settings)
    ticket = service.get(args.number.strip())
    cat = service.catalogue
    print(
        f"{ticket.number} {ticket.state} {cat.type_name(ticket.type)} "
        f"{cat.category_name(ticket.category)} -> {cat.department_name(ticket.department) or '-'}"
        f"\ncaller {ticket.caller}  deadline {ticket.deadline.isoformat()}"
        f"  overdue={ticket.overdue} supervised={ticket.supervised}\n{ticket.content}"
    )
    for e in service.history(ticket.number):
        move = f"{e.from_state or '-'} -> {e.to_state}"
        print(f"  {e.at:%Y-%m-%d %H:%M:%S}Z {e.actor:<10} {e.action:<14} {move}  {e.note}")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.store import TicketStore

    store = TicketStore(_db(args, settings), settings.var_dir / "tickets-journal.jsonl")
    count = asyncio.run(store.replay())
    print(f"{count} journal entries written to the database")
    return 0


def _flags(service: Any, ticket: Any, now: dt.datetime) -> str:
    from ivr.tickets.lifecycle import OPEN, State

    flags = []
    if State(ticket.state) in OPEN:
        soon = now + dt.timedelta(hours=service.catalogue.due_soon_hours)
        if ticket.deadline < now:
            flags.append("overdue")
        elif ticket.deadline < soon:
            flags.append("due-soon")
    elif ticket.was_overdue:
        flags.append("was-overdue")
    if ticket.supervised:
        flags.append("supervised")
    if ticket.extension_requested is not None:
        flags.append(f"extension-asked({ticket.extension_requested}d)")
    return ",".join(flags)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.errors import BadTicketInput

    service = _service(args, settings)
    if args.limit < 1:
        raise BadTicketInput("--limit: give 1 or more")
    states = _states(args.state)
    department = _department(service, args.department) if args.department else None
    now = service.clock()
    rows, total = service.list_tickets(
        states=states,
        overdue=args.overdue,
        due_soon=args.due_soon,
        supervised=args.supervised,
        department=department,
        limit=args.limit,
        now=now,
    )
    cat = service.catalogue
    what = [f"state {args.state}"]
    what += [name for name in ("overdue", "due_soon", "supervised") if getattr(args, name)]
    if department:
        what.append(f"department {cat.department_name(department)}")
    if not rows:
        print(f"no tickets ({', '.join(what).replace('_', '-')})")
        return 0
    print(
        table(
            ["number", "state", "type", "category", "department", "accepted", "deadline", "flags"],
            [
                [
                    t.number,
                    _state(t.state),
                    cat.type_name(t.type),
                    cat.category_name(t.category),
                    cat.department_name(t.department) or "-",
                    _local(service, t.accepted_at),
                    _local(service, t.deadline),
                    _flags(service, t, now),
                ]
                for t in rows
            ],
        )
    )
    shown = f"{len(rows)} of {total}" if total > len(rows) else f"{total}"
    more = " (raise --limit for more)" if total > len(rows) else ""
    print(
        f"{shown} ticket(s) ({', '.join(what).replace('_', '-')}), nearest deadline first, "
        f"local time{more}"
    )
    return 0


# CLI name -> state machine action
ACTIONS = {
    "answer": "answer",
    "dispatch": "dispatch",
    "sign": "sign",
    "handle": "handle",
    "finish": "finish",
    "return": "return",
    "redispatch": "redispatch",
    "extend-request": "extend_request",
    "extend-approve": "extend_approve",
    "extend-reject": "extend_reject",
    "remind": "remind",
    "supervise": "supervise",
    "callback": "callback",
    "redo": "redo",
    "archive": "archive",
    "merge": "merge",
}
CLI_NAMES = {action: name for name, action in ACTIONS.items()}


def _need(value: str | None, action: str, option: str, what: str) -> str:
    from ivr.tickets.errors import BadTicketInput

    if value is None or not value.strip():
        raise BadTicketInput(f"{action}: give {what} with {option}")
    return value.strip()


def _note(args: argparse.Namespace, reason: str | None = None) -> str:
    note = (getattr(args, "note", None) or "").strip()
    if reason:
        return f"{reason} — {note}" if note else reason
    return note


def _action_params(service: Any, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(note, parameters of the service action) from the command line."""
    name, action = args.cli_action, args.action
    params: dict[str, Any] = {}
    if action in ("answer", "finish"):
        params["reply"] = _need(args.reply, name, "--reply TEXT", "the reply to the citizen")
    elif action == "dispatch":
        if args.to:
            params["department"] = _department(service, args.to)
    elif action == "redispatch":
        to = _need(args.to, name, "--to DEPT", "the department to send the ticket to")
        params["department"] = _department(service, to)
    elif action == "return":
        return _note(args, _need(args.reason, name, "--reason TEXT", "the reason")), params
    elif action == "extend_request":
        from ivr.tickets.errors import BadTicketInput

        if args.days is None or args.days < 1:
            raise BadTicketInput(f"{name}: give the working days asked for with --days N (1+)")
        params["days"] = args.days
        reason = _need(args.reason, name, "--reason TEXT", "the reason for the extension")
        return _note(args, reason), params
    elif action == "callback":
        params["satisfaction"] = args.satisfaction
        params["solved"] = args.solved
    elif action == "merge":
        params["into"] = _need(args.into, name, "--into NUMBER", "the ticket to merge into")
    return _note(args), params


def _next(state: str) -> str:
    from ivr.tickets.lifecycle import allowed_actions

    names = [CLI_NAMES[a] for a in allowed_actions(state)]
    return ", ".join(names) or "none (the ticket is closed)"


def cmd_act(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.errors import TransitionRefused
    from ivr.tickets.service import SATISFACTION

    service = _service(args, settings)
    number = args.number.strip()
    actor = _actor(args)
    note, params = _action_params(service, args)
    try:
        ticket = service.act(number, args.action, actor=actor, note=note, **params)
    except TransitionRefused as exc:  # name the actions as this command line does
        message = exc.message
        for action, name in CLI_NAMES.items():
            message = message.replace(action, name)
        raise TransitionRefused(message) from exc
    # this action's audit event (an automatic supervision may have followed it)
    trail = service.history(number)
    at = max(i for i, e in enumerate(trail) if e.action == args.action)
    event = trail[at]
    automatic = [e for e in trail[at + 1 :] if e.actor == "system"]
    cat = service.catalogue
    move = (
        f"{_state(event.from_state or '')} -> {_state(ticket.state)}"
        if event.from_state != ticket.state
        else f"stays {_state(ticket.state)}"
    )
    print(f"ticket {number}: {args.cli_action} by {actor}: {move}")
    action = args.action
    if action in ("dispatch", "redispatch"):
        print(
            f"  department {cat.department_name(ticket.department)} ({ticket.department}), "
            f"due {_local(service, ticket.deadline)}"
        )
    elif action in ("extend_request", "extend_approve", "extend_reject"):
        asked = ticket.extension_requested
        pending = f", {asked} working day(s) asked, awaiting approval" if asked else ""
        print(f"  due {_local(service, ticket.deadline)}{pending}")
    elif action in ("answer", "finish"):
        print("  a 回访 callback task was opened: hotline callbacks list --kind survey --open")
    elif action == "callback":
        level = SATISFACTION.get(ticket.satisfaction or 0, "not reached")
        print(f"  satisfaction {ticket.satisfaction or '-'} ({level}), solved {ticket.solved}")
    elif action == "redo":
        print(f"  new deadline {_local(service, ticket.deadline)} (redo {ticket.redos})")
    elif action == "merge":
        print(f"  merged into {params['into']}; its calls now belong to that ticket")
    elif action == "remind":
        print(f"  reminders so far: {ticket.reminders}")
    for e in automatic:
        print(f"  {e.action} by the system: {e.note}")
    print(f"  next: {_next(ticket.state)}")
    return 0


def cmd_accept(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.errors import BadTicketInput

    service = _service(args, settings)
    cat = service.catalogue
    uniqueid = args.uniqueid.strip()
    existing = service.ticket_for_call(uniqueid)
    if existing is not None:
        print(
            f"call {uniqueid} already has ticket {existing.number} ({_state(existing.state)}): "
            "nothing changed"
        )
        return 0
    type_ = _ticket_type(service, args.type)
    category = _category(service, args.category)
    content = _need(args.content, "accept", "--content TEXT", "the citizen's request")
    call = service.call_record(uniqueid)
    caller = args.caller or (call.caller if call is not None else None)
    if not caller:
        raise BadTicketInput(
            f"accept: no call record {uniqueid!r} (it is written when the call ends): check "
            "the uniqueid, or give the caller's number with --caller NUMBER"
        )
    department: str | None = None
    if args.answer is None and not args.no_dispatch:
        if args.to:
            department = _department(service, args.to)
        else:
            department = cat.default_department(category)
            if department is None:
                raise BadTicketInput(
                    f"accept: category {category} ({cat.category_name(category)}) has no "
                    "department in the dispatch catalogue: give --to DEPT, or --answer REPLY, "
                    "or --no-dispatch"
                )
    actor = _actor(args)
    ticket = service.accept(
        caller=caller,
        type=type_,
        category=category,
        actor=actor,
        content=content,
        caller_name=args.name or (call.caller_name if call is not None else ""),
        address=args.address or "",
        call_uniqueid=uniqueid,
        dialled=call.dialled if call is not None else "12345",
        confidential=args.confidential,
    )
    print(
        f"ticket {ticket.number} accepted (受理) by {actor} from call {uniqueid}: "
        f"{cat.type_name(type_)}, {cat.category_name(category)}, caller {caller}, "
        f"due {_local(service, ticket.deadline)}"
    )
    try:
        if args.answer is not None:
            reply = _need(args.answer, "accept", "--answer REPLY", "the reply")
            ticket = service.act(ticket.number, "answer", actor=actor, reply=reply)
            print(f"  answered directly: {_state(ticket.state)}; a 回访 callback task was opened")
        elif department is not None:
            ticket = service.act(ticket.number, "dispatch", actor=actor, department=department)
            how = "--to" if args.to else "dispatch catalogue"
            print(
                f"  dispatched (派单) to {cat.department_name(department)} ({department}, "
                f"from the {how})"
            )
    except HotlineError as exc:
        raise type(exc)(
            f"ticket {ticket.number} was accepted, but the next step failed: {exc.message}; "
            f"continue with `hotline tickets dispatch {ticket.number}` or `answer`",
            code=exc.code,
        ) from exc
    print(f"  next: {_next(ticket.state)}")
    return 0


# ----------------------------------------------------------------------------- callbacks

KINDS = {"survey": "visit", "visit": "visit", "missed": "missed", "message": "message"}
KIND_NAMES = {"visit": "survey 回访", "missed": "missed 漏接回拨", "message": "message 留言"}


def cmd_callbacks_list(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.errors import BadTicketInput

    service = _service(args, settings)
    if args.limit < 1:
        raise BadTicketInput("--limit: give 1 or more")
    kind = KINDS[args.kind] if args.kind else None
    rows, total = service.list_callback_tasks(kind=kind, open_only=args.open, limit=args.limit)
    what = ", ".join(w for w in (args.kind and f"kind {args.kind}", args.open and "open only") if w)
    if not rows:
        print(f"no callback tasks ({what or 'all'})")
        return 0
    print(
        table(
            ["id", "kind", "ticket/call", "caller", "created", "state", "tries", "note", "result"],
            [
                [
                    str(t.id),
                    KIND_NAMES.get(t.kind, t.kind),
                    t.ref,
                    t.caller,
                    _local(service, t.created_at),
                    t.state,
                    str(t.attempts),
                    " ".join(x for x in (t.note, t.recording) if x) or "-",
                    t.result or "-",
                ]
                for t in rows
            ],
        )
    )
    shown = f"{len(rows)} of {total}" if total > len(rows) else f"{total}"
    more = " (raise --limit for more)" if total > len(rows) else ""
    print(f"{shown} callback task(s) ({what or 'all'}), oldest first{more}")
    return 0


def _describe(task: Any) -> str:
    if task.kind == "visit":
        return f"callback task {task.id} (回访 of ticket {task.ref}, caller {task.caller})"
    if task.kind == "message":
        return (
            f"callback task {task.id} (留言 of call {task.ref}, caller {task.caller}, "
            f"recording {task.recording or '-'})"
        )
    return f"callback task {task.id} (漏接回拨 of call {task.ref}, caller {task.caller})"


def cmd_callbacks_done(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(args, settings)
    result = _need(args.result, "callbacks done", "--result TEXT", "what came of the call")
    task = service.complete_callback(
        args.id,
        result=result,
        actor=_actor(args),
        satisfaction=args.satisfaction,
        solved=args.solved,
    )
    print(f"{_describe(task)} done: {task.result}")
    if task.kind == "visit":
        ticket = service.get(task.ref)
        print(
            f"  ticket {ticket.number} is now {_state(ticket.state)}; next: {_next(ticket.state)}"
        )
    return 0


def cmd_callbacks_attempt(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(args, settings)
    result = _need(args.result, "callbacks attempt", "--result TEXT", "what came of the call")
    task = service.close_task(args.id, result, done=False)
    print(f"{_describe(task)}: attempt {task.attempts} recorded ({result}); the task stays open")
    return 0


# ----------------------------------------------------------------------------- parser


def _satisfaction(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: 1..5 (5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意)"
        ) from None


def _add_solved(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--solved", dest="solved", action="store_const", const=True, help="the problem is solved"
    )
    g.add_argument(
        "--unsolved",
        dest="solved",
        action="store_const",
        const=False,
        help="the problem is not solved (allows a redo)",
    )


def _action_help(action: str) -> str:
    from ivr.tickets.lifecycle import ACTION_NAMES, STATE_NAMES, TRANSITIONS

    sources, target = TRANSITIONS[action]
    order = list(STATE_NAMES)
    states = "/".join(s.value for s in sorted(sources, key=order.index))
    to = target.value if target is not None else "same state"
    return f"{ACTION_NAMES[action]}: {states} -> {to}"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands. Each sets ``func(args, settings) -> int``."""

    def common(p: argparse.ArgumentParser, config: bool = True) -> None:
        p.add_argument(
            "--database-url", help="database URL (default: $HOTLINE_DATABASE_URL or SQLite in var/)"
        )
        if config:
            p.add_argument("--config", help="config directory (default: $HOTLINE_CONFIG_DIR)")

    def by(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--by", metavar="WHO", help=f"who acts (default: ${OPERATOR_ENV}, else the login name)"
        )

    db = sub.add_parser("db", help="the ticket database")
    db = db.add_subparsers(dest="db_command", required=True)
    p = db.add_parser(
        "upgrade", help="create or migrate the database schema to the newest revision"
    )
    common(p, config=False)
    p.set_defaults(func=_run(cmd_db_upgrade))
    p = db.add_parser("current", help="show the schema revision (exit 1 if not the newest)")
    common(p, config=False)
    p.set_defaults(func=_run(cmd_db_current))

    p = sub.add_parser(
        "report",
        help="daily/weekly/monthly report: Markdown, HTML with charts, CSV "
        "(migrates the database first)",
    )
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--day", help="YYYY-MM-DD")
    when.add_argument("--week", help="ISO week, YYYY-Www")
    when.add_argument("--month", help="YYYY-MM")
    p.add_argument("--out", help="output directory (default: var/reports)")
    common(p)
    p.set_defaults(func=_run(cmd_report))

    p = sub.add_parser(
        "seed-demo",
        help="fill the database with a month of generated traffic (migrates it first)",
    )
    p.add_argument("--month", default="2020-02", help="YYYY-MM (default 2020-02, as seed 004)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply all volumes (default 1)")
    common(p)
    p.set_defaults(func=_run(cmd_seed_demo))

    t = sub.add_parser("tickets", help="ticket operations (工单)").add_subparsers(
        dest="tickets_command", required=True, metavar="ACTION"
    )
    p = t.add_parser(
        "accept",
        help="受理: a ticket from a call, dispatched to the catalogue's department by default",
    )
    p.add_argument("uniqueid", help="the call's uniqueid")
    p.add_argument("--type", required=True, help="ticket type, code or name (consult, 咨询 ...)")
    p.add_argument(
        "--category", required=True, help="category path or name (housing.property, 住建/物业服务)"
    )
    p.add_argument("--content", required=True, help="the citizen's request")
    p.add_argument("--caller", help="caller number (default: from the call record)")
    p.add_argument("--name", help="caller name")
    p.add_argument("--address", help="address of the matter")
    p.add_argument("--confidential", action="store_true", help="keep the caller confidential")
    then = p.add_mutually_exclusive_group()
    then.add_argument("--to", metavar="DEPT", help="dispatch to this department (code or name)")
    then.add_argument("--answer", metavar="REPLY", help="answer directly and finish (直接办结)")
    then.add_argument("--no-dispatch", action="store_true", help="leave the ticket accepted")
    by(p)
    common(p)
    p.set_defaults(func=_run(cmd_accept))

    for name, action in ACTIONS.items():
        aliases = [action] if action != name else []
        p = t.add_parser(name, aliases=aliases, help=_action_help(action))
        p.add_argument("number", help="ticket number (YYYYMMDDnnnnnn)")
        if action in ("answer", "finish"):
            p.add_argument("--reply", help="the reply to the citizen (required)")
        if action in ("dispatch", "redispatch"):
            default = "required" if action == "redispatch" else "default: dispatch catalogue"
            p.add_argument("--to", metavar="DEPT", help=f"department, code or name ({default})")
        if action in ("return", "extend_request"):
            p.add_argument("--reason", help="why (required)")
        if action == "extend_request":
            p.add_argument("--days", type=int, help="working days asked for (required)")
        if action == "callback":
            p.add_argument(
                "--satisfaction",
                type=_satisfaction,
                help="1..5 (5 非常满意 .. 1 非常不满意); leave out if not reached",
            )
            _add_solved(p)
        if action == "merge":
            p.add_argument("--into", metavar="NUMBER", help="the open ticket to merge into")
        p.add_argument("--note", help="a note for the audit trail")
        by(p)
        common(p)
        p.set_defaults(func=_run(cmd_act), action=action, cli_action=name)

    p = t.add_parser("list", help="tickets as a table, nearest deadline first")
    p.add_argument(
        "--state",
        default="open",
        help="comma-separated states (code or name, e.g. dispatched,签收), 'open' (default) "
        "or 'all'",
    )
    p.add_argument("--overdue", action="store_true", help="open and past the deadline")
    p.add_argument("--due-soon", action="store_true", help="open and due within due_soon_hours")
    p.add_argument("--supervised", action="store_true", help="under supervision (督办)")
    p.add_argument("--department", metavar="D", help="department, code or name")
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (50)")
    common(p)
    p.set_defaults(func=_run(cmd_list))
    p = t.add_parser("sweep", help="refresh due-soon/overdue flags and start automatic supervision")
    common(p)
    p.set_defaults(func=_run(cmd_sweep))
    p = t.add_parser(
        "recompute-deadlines",
        help="count open tickets' deadlines again after hours.yaml changed (audited)",
    )
    p.add_argument("--dry-run", action="store_true", help="show the moves, change nothing")
    common(p)
    p.set_defaults(func=_run(cmd_recompute_deadlines))
    p = t.add_parser("supervised", help="list the supervised tickets (督办)")
    common(p)
    p.set_defaults(func=_run(cmd_supervised))
    p = t.add_parser("show", help="a ticket and its audit trail")
    p.add_argument("number")
    common(p)
    p.set_defaults(func=_run(cmd_show))
    p = t.add_parser("replay", help="write the local journal to the database now")
    common(p, config=False)
    p.set_defaults(func=_run(cmd_replay))

    c = sub.add_parser(
        "callbacks", help="回访 surveys, missed-call call-backs and voice messages (留言)"
    ).add_subparsers(dest="callbacks_command", required=True, metavar="ACTION")
    p = c.add_parser("list", help="callback tasks as a table, oldest first")
    p.add_argument(
        "--kind",
        choices=["survey", "missed", "message"],
        help="survey (回访), missed (漏接回拨, promised callbacks too) or message (留言)",
    )
    p.add_argument("--open", action="store_true", help="only the open ones")
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (50)")
    common(p)
    p.set_defaults(func=_run(cmd_callbacks_list))
    p = c.add_parser(
        "done",
        help="close a task: a survey records the satisfaction on its ticket (回访)",
    )
    p.add_argument("id", type=int, help="the task id (see callbacks list)")
    p.add_argument("--result", help="what came of the call (required)")
    p.add_argument("--satisfaction", type=_satisfaction, help="1..5, required for a survey (回访)")
    _add_solved(p)
    by(p)
    common(p)
    p.set_defaults(func=_run(cmd_callbacks_done))
    p = c.add_parser("attempt", help="record a call-back that did not reach the citizen")
    p.add_argument("id", type=int, help="the task id (see callbacks list)")
    p.add_argument("--result", help="what happened, e.g. 无人接听 (required)")
    by(p)
    common(p)
    p.set_defaults(func=_run(cmd_callbacks_attempt))
