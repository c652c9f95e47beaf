"""``hotline tickets list|show|supervised|sweep|replay`` (the actions are in
:mod:`ivr.console.actions_cli`). Every time is shown in the centre's zone (北京时间,
``hours.yaml`` ``timezone``) as ``YYYY-MM-DD HH:MM``, the zone stated once per output."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import Any

from ivr.console.actions_cli import next_actions, register_actions
from ivr.console.cli_common import (
    check_limit,
    common_options,
    db_of,
    department,
    local,
    run,
    service_of,
    zone,
)
from ivr.settings import Settings
from ivr.tickets.display import (
    FLAG_NAMES,
    REASON_NAMES,
    action_name,
    flags_help,
    state_name,
    states_help,
    table,
    yes_no,
)
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.lifecycle import OPEN, STATE_NAMES, State
from ivr.tickets.recalendar import recompute_deadlines


def _states(value: str) -> list[str] | None:
    """``--state``: comma-separated states (code or Chinese name), ``open`` or ``all``."""
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


def flags(service: Any, ticket: Any, now: dt.datetime) -> str:
    """The ticket's flags in Chinese: 超期, 临期, 曾超期, 督办, 延期待批(N日)."""
    out = []
    if State(ticket.state) in OPEN:
        soon = now + dt.timedelta(hours=service.catalogue.due_soon_hours)
        if ticket.deadline < now:
            out.append(FLAG_NAMES["overdue"])
        elif ticket.deadline < soon:
            out.append(FLAG_NAMES["due-soon"])
    elif ticket.was_overdue:
        out.append(FLAG_NAMES["was-overdue"])
    if ticket.supervised:
        out.append(FLAG_NAMES["supervised"])
    if ticket.extension_requested is not None:
        out.append(f"{FLAG_NAMES['extension-asked']}({ticket.extension_requested}日)")
    return ",".join(out) or "-"


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    check_limit(args.limit)
    states = _states(args.state)
    dept = department(service, args.department) if args.department else None
    now = service.clock()
    rows, total = service.list_tickets(
        states=states,
        overdue=args.overdue,
        due_soon=args.due_soon,
        supervised=args.supervised,
        department=dept,
        limit=args.limit,
        now=now,
    )
    cat = service.catalogue
    what = [f"state {args.state}"]
    what += [name for name in ("overdue", "due_soon", "supervised") if getattr(args, name)]
    if dept:
        what.append(f"department {cat.department_name(dept)}")
    if not rows:
        print(f"no tickets ({', '.join(what).replace('_', '-')})")
        return 0
    print(
        table(
            ["number", "state", "type", "category", "department", "accepted", "deadline", "flags"],
            [
                [
                    t.number,
                    state_name(t.state),
                    cat.type_name(t.type),
                    cat.category_name(t.category),
                    cat.department_name(t.department) or "-",
                    local(service, t.accepted_at),
                    local(service, t.deadline),
                    flags(service, t, now),
                ]
                for t in rows
            ],
        )
    )
    shown = f"{len(rows)} of {total}" if total > len(rows) else f"{total}"
    more = " (raise --limit for more)" if total > len(rows) else ""
    print(
        f"{shown} ticket(s) ({', '.join(what).replace('_', '-')}), nearest deadline first, "
        f"{zone(service)}{more}"
    )
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    ticket = service.get(args.number.strip())
    cat = service.catalogue
    now = service.clock()
    print(
        f"工单 {ticket.number}  状态：{state_name(ticket.state)}  "
        f"类型：{cat.type_name(ticket.type)}  分类：{cat.category_name(ticket.category)}  "
        f"承办单位：{cat.department_name(ticket.department) or '-'}"
    )
    print(
        f"来电：{ticket.caller}  受理：{local(service, ticket.accepted_at)}  "
        f"期限：{local(service, ticket.deadline)}  办结：{local(service, ticket.finished_at)}"
    )
    asked = ticket.extension_requested
    print(
        f"超期：{yes_no(ticket.overdue)}  临期：{yes_no(ticket.due_soon)}  "
        f"曾超期：{yes_no(ticket.was_overdue)}  督办：{yes_no(ticket.supervised)}  "
        f"延期待批：{f'{asked}日' if asked is not None else '否'}  "
        f"标记：{flags(service, ticket, now)}"
    )
    calls = service.calls(ticket.number)
    print(f"calls: {', '.join(calls) or '-'}  (hotline calls show UNIQUEID)")
    print(ticket.content)
    print(f"history ({zone(service)}):")
    for e in service.history(ticket.number):
        move = f"{state_name(e.from_state)} -> {state_name(e.to_state)}"
        what = f"{action_name(e.action)} {e.action}"
        print(f"  {local(service, e.at)}  {e.actor:<10} {what:<16} {move}  {e.note}".rstrip())
    print(f"next: {next_actions(ticket)}")
    return 0


def cmd_supervised(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    rows = service.supervised()
    cat = service.catalogue
    print(
        table(
            ["number", "state", "department", "category", "deadline", "reasons"],
            [
                [
                    t.number,
                    state_name(t.state),
                    cat.department_name(t.department) or "-",
                    cat.category_name(t.category),
                    local(service, t.deadline),
                    ",".join(REASON_NAMES.get(r, r) for r in reasons),
                ]
                for t, reasons in rows
            ],
        )
        if rows
        else "no supervised tickets"
    )
    print(f"{len(rows)} supervised ticket(s) (督办), {zone(service)}")
    return 0


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    result = service_of(args, settings).sweep()
    print(
        f"临期 due soon {result.due_soon}, 超期 overdue {result.overdue}, newly supervised "
        f"(督办): {result.supervised_overdue} overdue, {result.supervised_repeated} repeated"
    )
    return 0


def cmd_recompute_deadlines(args: argparse.Namespace, settings: Settings) -> int:
    """The moves, one line each, then a summary."""
    service = service_of(args, settings)
    calendar = service.deadlines.calendar
    result = recompute_deadlines(
        service.db, calendar, catalogue=service.catalogue, now=service.clock(),
        dry_run=args.dry_run,
    )  # fmt: skip
    for m in result.moved:
        print(
            f"{m.number}: due {calendar.local(m.old):%Y-%m-%d %H:%M} -> "
            f"{calendar.local(m.new):%Y-%m-%d %H:%M} ({m.working_days} working day(s))"
        )
    for line in result.skipped:
        print(f"left alone {line}")
    print(result.summary() + (" (dry run: nothing changed)" if args.dry_run else ""))
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: the call-record store (the records room and the engine's record) loads for
    # `hotline tickets replay` only, not for `hotline --help` nor the other ticket commands.
    from ivr.records.store import CallRecordStore

    store = CallRecordStore(db_of(args, settings), settings.var_dir / "tickets-journal.jsonl")
    count = asyncio.run(store.replay())
    print(f"{count} journal entries written to the database")
    return 0


def register_tickets(sub: argparse._SubParsersAction[Any]) -> None:
    t = sub.add_parser(
        "tickets",
        help="ticket operations (工单)",
        description=f"Ticket operations (工单). States: {states_help()}. Flags: {flags_help()}. "
        "Times are shown in the centre's zone (hours.yaml timezone, 北京时间).",
    ).add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    register_actions(t)
    p = t.add_parser("list", help="tickets as a table, nearest deadline first (北京时间)")
    p.add_argument(
        "--state",
        default="open",
        help="comma-separated states (code or name, e.g. dispatched,签收), 'open' (default) "
        f"or 'all'; states: {states_help()}",
    )
    p.add_argument("--overdue", action="store_true", help="open and past the deadline (超期)")
    p.add_argument(
        "--due-soon", action="store_true", help="open and due within due_soon_hours (临期)"
    )
    p.add_argument("--supervised", action="store_true", help="under supervision (督办)")
    p.add_argument("--department", metavar="D", help="department, code or (near) name")
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (50)")
    common_options(p)
    p.set_defaults(func=run(cmd_list))
    p = t.add_parser("sweep", help="refresh due-soon/overdue flags and start automatic supervision")
    common_options(p)
    p.set_defaults(func=run(cmd_sweep))
    p = t.add_parser(
        "recompute-deadlines",
        help="count open tickets' deadlines again after hours.yaml changed (audited)",
    )
    p.add_argument("--dry-run", action="store_true", help="show the moves, change nothing")
    common_options(p)
    p.set_defaults(func=run(cmd_recompute_deadlines))
    p = t.add_parser("supervised", help="list the supervised tickets (督办)")
    common_options(p)
    p.set_defaults(func=run(cmd_supervised))
    p = t.add_parser("show", help=f"a ticket and its audit trail; flags: {flags_help()}")
    p.add_argument("number")
    common_options(p)
    p.set_defaults(func=run(cmd_show))
    p = t.add_parser("replay", help="write the local journal to the database now")
    common_options(p, config=False)
    p.set_defaults(func=run(cmd_replay))
