"""``hotline callbacks list|done|attempt``: 回访 surveys, missed-call call-backs (promised
callbacks too) and voice messages (留言, with their recordings)."""

from __future__ import annotations

import argparse
from typing import Any

from ivr.console.actions_cli import add_solved, next_actions, satisfaction_level
from ivr.console.cli_common import (
    actor,
    by_option,
    check_limit,
    common_options,
    local,
    need,
    run,
    service_of,
    zone,
)
from ivr.settings import Settings
from ivr.tickets.display import state_name, table

KINDS = {"survey": "visit", "visit": "visit", "missed": "missed", "message": "message"}
KIND_NAMES = {"visit": "survey 回访", "missed": "missed 漏接回拨", "message": "message 留言"}
TASK_STATES = {"open": "待办", "done": "已办"}


def cmd_callbacks_list(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    check_limit(args.limit)
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
                    local(service, t.created_at),
                    TASK_STATES.get(t.state, t.state),
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
    print(f"{shown} callback task(s) ({what or 'all'}), oldest first, {zone(service)}{more}")
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
    service = service_of(args, settings)
    result = need(args.result, "callbacks done", "--result TEXT", "what came of the call")
    task = service.complete_callback(
        args.id,
        result=result,
        actor=actor(args),
        satisfaction=args.satisfaction,
        solved=args.solved,
    )
    print(f"{_describe(task)} done: {task.result}")
    if task.kind == "visit":
        ticket = service.get(task.ref)
        print(
            f"  ticket {ticket.number} is now {state_name(ticket.state)}; "
            f"next: {next_actions(ticket)}"
        )
    return 0


def cmd_callbacks_attempt(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    result = need(args.result, "callbacks attempt", "--result TEXT", "what came of the call")
    task = service.close_task(args.id, result, done=False)
    print(f"{_describe(task)}: attempt {task.attempts} recorded ({result}); the task stays open")
    return 0


def register_callbacks(sub: argparse._SubParsersAction[Any]) -> None:
    c = sub.add_parser(
        "callbacks", help="回访 surveys, missed-call call-backs and voice messages (留言)"
    ).add_subparsers(dest="callbacks_command", required=True, metavar="ACTION")
    p = c.add_parser("list", help="callback tasks as a table, oldest first (北京时间)")
    p.add_argument(
        "--kind",
        choices=["survey", "missed", "message"],
        help="survey (回访), missed (漏接回拨, promised callbacks too) or message (留言)",
    )
    p.add_argument("--open", action="store_true", help="only the open ones (待办)")
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (50)")
    common_options(p)
    p.set_defaults(func=run(cmd_callbacks_list))
    p = c.add_parser(
        "done",
        help="close a task: a survey records the satisfaction on its ticket (回访)",
    )
    p.add_argument("id", type=int, help="the task id (see callbacks list)")
    p.add_argument("--result", help="what came of the call (required)")
    p.add_argument(
        "--satisfaction", type=satisfaction_level, help="1..5, required for a survey (回访)"
    )
    add_solved(p)
    by_option(p)
    common_options(p)
    p.set_defaults(func=run(cmd_callbacks_done))
    p = c.add_parser("attempt", help="record a call-back that did not reach the citizen")
    p.add_argument("id", type=int, help="the task id (see callbacks list)")
    p.add_argument("--result", help="what happened, e.g. 无人接听 (required)")
    by_option(p)
    common_options(p)
    p.set_defaults(func=run(cmd_callbacks_attempt))
