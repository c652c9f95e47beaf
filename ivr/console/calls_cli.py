"""``hotline calls list|show``: find a call (by number, time, outcome, line) with its
uniqueid and the ticket number reserved for it, and read one call's record, so that every
call can be turned into a ticket (``hotline tickets accept UNIQUEID ...``). Times are read
and shown in the centre's zone (北京时间, ``hours.yaml`` ``timezone``)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ivr.console.cli_common import (
    check_limit,
    common_options,
    local,
    run,
    service_of,
    unavailable,
    zone,
)
from ivr.records.calls_query import CallFilter, call_by_id, find_calls, tickets_of
from ivr.settings import Settings
from ivr.tickets.display import state_name, table
from ivr.tickets.errors import BadTicketInput, TicketNotFound
from ivr.tickets.lifecycle import SATISFACTION

OUTCOME_NAMES = {
    "answered": "已接听",
    "abandoned": "排队放弃",
    "hangup": "菜单挂机",
    "queue": "排队中",
    "transfer": "转接",
    "emergency": "紧急转接",
    "callback": "预约回拨",
    "message": "留言",
    "handed-back": "交回",
    "error": "故障",
    "server-lost": "服务中断",
    "pbx-lost": "交换机中断",
    "in_progress": "进行中",
}
EVENT_NAMES = {
    "enter": "进入",
    "prompt": "放音",
    "digit": "按键",
    "timeout": "超时",
    "invalid": "无效按键",
    "operator": "转人工",
    "queue": "排队",
    "transfer": "转接",
    "transfer_leg": "转接环节",
    "transfer_dial": "转接拨号",
    "conference": "三方通话",
    "dial": "拨号",
    "message": "留言",
    "lookup": "查询",
    "hangup": "挂机",
    "end": "结束",
    "error": "故障",
}


def outcome_name(outcome: str) -> str:
    name = OUTCOME_NAMES.get(outcome)
    return f"{name} {outcome}" if name else outcome


def _outcome(value: str) -> str:
    """``--outcome`` as code or Chinese name."""
    value = value.strip()
    for code, name in OUTCOME_NAMES.items():
        if value in (code, name):
            return code
    known = ", ".join(f"{c} ({n})" for c, n in OUTCOME_NAMES.items())
    raise BadTicketInput(f"unknown outcome {value!r}; known: {known}")


def _when(service: Any, value: str, option: str, end: bool = False) -> dt.datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM`` in the centre's zone, as an aware time; a day
    given to ``--until`` includes that whole day."""
    tz = service.deadlines.calendar.tz
    value = value.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
            return start + dt.timedelta(days=1) if end else start
        return dt.datetime.fromisoformat(value).replace(tzinfo=tz)
    except ValueError:
        raise BadTicketInput(
            f"{option}: {value!r} is not YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (北京时间)"
        ) from None


@contextmanager
def _reading(service: Any) -> Iterator[Session]:
    try:
        with service.db.session() as session:
            yield session
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(service.db, exc) from exc


def _ticket_cell(info: Any) -> str:
    if info.tickets:
        return ",".join(f"{n} {state_name(s)}" for n, s in info.tickets)
    if info.reserved:
        return f"{info.reserved} 预留"
    return "-"


def _line(call: Any) -> str:
    if call.line_number:
        return f"{call.line_number} {call.line_name or ''}".strip()
    return call.dialled or "-"


def cmd_calls_list(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    check_limit(args.limit)
    since, until = args.since or args.day, args.until or args.day
    f = CallFilter(
        number=(args.number or "").strip() or None,
        since=_when(service, since, "--since") if since else None,
        until=_when(service, until, "--until", end=True) if until else None,
        outcome=_outcome(args.outcome) if args.outcome else None,
        line=(args.line or "").strip() or None,
        limit=args.limit,
    )
    with _reading(service) as session:
        rows, total = find_calls(session, f)
        tickets = tickets_of(session, [c.uniqueid for c in rows])
    what = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("number", args.number),
            ("day", args.day),
            ("since", args.since),
            ("until", args.until),
            ("outcome", args.outcome),
            ("line", args.line),
        )
        if value
    )
    if not rows:
        print(f"no calls ({what or 'all'})")
        return 0
    print(
        table(
            ["uniqueid", "time", "caller", "line", "outcome", "agent", "wait", "ticket"],
            [
                [
                    c.uniqueid,
                    local(service, c.started_at),
                    c.caller or "-",
                    _line(c),
                    outcome_name(c.outcome),
                    c.agent or "-",
                    f"{c.queue_wait:.0f}s" if c.queue_wait is not None else "-",
                    _ticket_cell(tickets[c.uniqueid]),
                ]
                for c in rows
            ],
        )
    )
    shown = f"{len(rows)} of {total}" if total > len(rows) else f"{total}"
    more = " (raise --limit for more)" if total > len(rows) else ""
    print(f"{shown} call(s) ({what or 'all'}), newest first, {zone(service)}{more}")
    print("a ticket from a call: hotline tickets accept UNIQUEID --type T --category C --content X")
    return 0


def _survey(score: int | None) -> str:
    return f"{score} {SATISFACTION.get(score, '?')}" if score else "-"


def _event_time(service: Any, value: Any) -> str:
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return local(service, when if when.tzinfo else when.replace(tzinfo=dt.UTC))


def cmd_calls_show(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    uniqueid = args.uniqueid.strip()
    with _reading(service) as session:
        call = call_by_id(session, uniqueid)
        if call is None:
            raise TicketNotFound(
                f"no call record {uniqueid!r} (it is written when the call ends): "
                "hotline calls list --number N to find it"
            )
        info = tickets_of(session, [uniqueid])[uniqueid]
    print(
        f"call {call.uniqueid}  caller {call.caller or '-'} {call.caller_name}".rstrip()
        + f"  line {_line(call)}  ({zone(service)})"
    )
    took = f"{call.duration:.0f}s" if call.duration is not None else "-"
    print(
        f"started {local(service, call.started_at)}  ended {local(service, call.ended_at)}  "
        f"duration {took}  attempts {call.attempts}"
    )
    wait = f"{call.queue_wait:.0f}s" if call.queue_wait is not None else "-"
    print(
        f"outcome {outcome_name(call.outcome)} {call.outcome_detail}".rstrip()
        + f"  skill {call.skill or '-'}  queue wait {wait}  agent {call.agent or '-'}"
        + f"  hung up by {call.hangup_by or '-'}  survey {_survey(call.survey_score)}"
    )
    if call.department:
        print(f"department (merged line) {service.catalogue.department_name(call.department)}")
    recordings = [settings.local_path(p) for p in [call.recording, *call.messages] if p]
    print(f"recording: {', '.join(recordings) or '-'}")
    print(f"digits {call.digits or '-'}  path {' > '.join(call.path) or '-'}")
    print("events:")
    for e in call.events:
        kind = str(e.get("kind", ""))
        name = EVENT_NAMES.get(kind, "")
        node = e.get("node") or ""
        detail = e.get("detail") or ""
        print(
            f"  {_event_time(service, e.get('at'))}  +{float(e.get('offset') or 0):7.1f}s  "
            f"{name} {kind}  {node}  {detail}".rstrip()
        )
    if info.tickets:
        for number, state in info.tickets:
            print(f"ticket {number} {state_name(state)}: hotline tickets show {number}")
    else:
        reserved = f" (number {info.reserved} reserved for it)" if info.reserved else ""
        print(
            f"no ticket yet{reserved}: hotline tickets accept {uniqueid} --type T "
            "--category C --content TEXT"
        )
    return 0


def register_calls(sub: argparse._SubParsersAction[Any]) -> None:
    c = sub.add_parser(
        "calls", help="find calls and read their records (来电记录), to accept tickets from them"
    ).add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    outcomes = ", ".join(f"{n} {c}" for c, n in OUTCOME_NAMES.items())
    p = c.add_parser(
        "list", help="calls as a table, newest first, with the reserved ticket number (北京时间)"
    )
    p.add_argument("--number", metavar="N", help="the caller's number (or part of it)")
    p.add_argument("--day", metavar="D", help="one day, YYYY-MM-DD (北京时间; --since/--until)")
    p.add_argument("--since", metavar="T", help="from YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (北京时间)")
    p.add_argument("--until", metavar="T", help="until (a day: that whole day), 北京时间")
    p.add_argument("--outcome", metavar="O", help=f"outcome, code or name: {outcomes}")
    p.add_argument("--line", metavar="L", help="a merged line's number or name, or 12345")
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (50)")
    common_options(p)
    p.set_defaults(func=run(cmd_calls_list))
    p = c.add_parser("show", help="a call's record: events (北京时间), recording, ticket(s)")
    p.add_argument("uniqueid", help="the call's uniqueid (see calls list)")
    common_options(p)
    p.set_defaults(func=run(cmd_calls_show))
