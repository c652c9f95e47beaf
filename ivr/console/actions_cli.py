"""``hotline tickets accept`` and ``hotline tickets <action> NUMBER``: 受理 from a call and
every action of the state machine (:mod:`ivr.tickets.lifecycle`). States and actions are shown
by their Chinese names; the English ones are the commands (and in ``--help``)."""

from __future__ import annotations

import argparse
from typing import Any

from ivr.console.cli_common import (
    actor,
    by_option,
    category,
    common_options,
    department,
    local,
    need,
    run,
    service_of,
    ticket_type,
    zone_short,
)
from ivr.errors import HotlineError
from ivr.settings import Settings
from ivr.tickets.display import action_name, state_name
from ivr.tickets.errors import BadTicketInput, TransitionRefused
from ivr.tickets.lifecycle import SATISFACTION, STATE_NAMES, TRANSITIONS, allowed_actions

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
SATISFACTION_HELP = "5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意"


def next_actions(ticket: Any) -> str:
    """The actions possible now, as commands with their Chinese names: ``sign 签收, ...``
    (approve/reject of an extension only while one is pending)."""
    pending = ticket.extension_requested is not None
    names = [f"{CLI_NAMES[a]} {action_name(a)}" for a in allowed_actions(ticket.state, pending)]
    return ", ".join(names) or "none (the ticket is closed)"


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
        params["reply"] = need(args.reply, name, "--reply TEXT", "the reply to the citizen")
    elif action == "dispatch":
        if args.to:
            params["department"] = department(service, args.to)
    elif action == "redispatch":
        to = need(args.to, name, "--to DEPT", "the department to send the ticket to")
        params["department"] = department(service, to)
    elif action == "return":
        return _note(args, need(args.reason, name, "--reason TEXT", "the reason")), params
    elif action == "extend_request":
        if args.days is None or args.days < 1:
            raise BadTicketInput(f"{name}: give the working days asked for with --days N (1+)")
        params["days"] = args.days
        reason = need(args.reason, name, "--reason TEXT", "the reason for the extension")
        return _note(args, reason), params
    elif action == "callback":
        params["satisfaction"] = args.satisfaction
        params["solved"] = args.solved
    elif action == "merge":
        params["into"] = need(args.into, name, "--into NUMBER", "the ticket to merge into")
    return _note(args), params


def cmd_act(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    number = args.number.strip()
    who = actor(args)
    note, params = _action_params(service, args)
    try:
        ticket = service.act(number, args.action, actor=who, note=note, **params)
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
        f"{state_name(event.from_state)} -> {state_name(ticket.state)}"
        if event.from_state != ticket.state
        else f"stays {state_name(ticket.state)}"
    )
    print(f"ticket {number}: {args.cli_action} ({action_name(args.action)}) by {who}: {move}")
    action = args.action
    if action in ("dispatch", "redispatch"):
        print(
            f"  department {cat.department_name(ticket.department)} ({ticket.department}), "
            f"due {local(service, ticket.deadline)} {zone_short(service)}"
        )
    elif action in ("extend_request", "extend_approve", "extend_reject"):
        asked = ticket.extension_requested
        pending = f", {asked} working day(s) asked, awaiting approval" if asked else ""
        print(f"  due {local(service, ticket.deadline)} {zone_short(service)}{pending}")
    elif action in ("answer", "finish"):
        print("  a 回访 callback task was opened: hotline callbacks list --kind survey --open")
    elif action == "callback":
        level = SATISFACTION.get(ticket.satisfaction or 0, "未接通")
        solved = {True: "是", False: "否", None: "-"}[ticket.solved]
        print(f"  满意度 {ticket.satisfaction or '-'} ({level}), 已解决：{solved}")
    elif action == "redo":
        print(
            f"  new deadline {local(service, ticket.deadline)} {zone_short(service)} "
            f"(redo {ticket.redos})"
        )
    elif action == "merge":
        print(f"  merged into {params['into']}; its calls now belong to that ticket")
    elif action == "remind":
        print(f"  reminders so far: {ticket.reminders}")
    for e in automatic:
        print(f"  {e.action} ({action_name(e.action)}) by the system: {e.note}")
    print(f"  next: {next_actions(ticket)}")
    return 0


def cmd_accept(args: argparse.Namespace, settings: Settings) -> int:
    service = service_of(args, settings)
    cat = service.catalogue
    uniqueid = args.uniqueid.strip()
    existing = service.ticket_for_call(uniqueid)
    if existing is not None:
        print(
            f"call {uniqueid} already has ticket {existing.number} "
            f"({state_name(existing.state)}): nothing changed"
        )
        return 0
    type_ = ticket_type(service, args.type)
    cat_code = category(service, args.category)
    content = need(args.content, "accept", "--content TEXT", "the citizen's request")
    call = service.call_record(uniqueid)
    caller = args.caller or (call.caller if call is not None else None)
    if not caller:
        raise BadTicketInput(
            f"accept: no call record {uniqueid!r} (it is written when the call ends): check "
            "the uniqueid (hotline calls list), or give the caller's number with --caller NUMBER"
        )
    dept: str | None = None
    if args.answer is None and not args.no_dispatch:
        if args.to:
            dept = department(service, args.to)
        else:
            dept = cat.default_department(cat_code)
            if dept is None:
                raise BadTicketInput(
                    f"accept: category {cat_code} ({cat.category_name(cat_code)}) has no "
                    "department in the dispatch catalogue: give --to DEPT, or --answer REPLY, "
                    "or --no-dispatch"
                )
    who = actor(args)
    ticket = service.accept(
        caller=caller,
        type=type_,
        category=cat_code,
        actor=who,
        content=content,
        caller_name=args.name or (call.caller_name if call is not None else ""),
        address=args.address or "",
        call_uniqueid=uniqueid,
        dialled=call.dialled if call is not None else "12345",
        confidential=args.confidential,
    )
    print(
        f"ticket {ticket.number} accepted (受理) by {who} from call {uniqueid}: "
        f"{cat.type_name(type_)}, {cat.category_name(cat_code)}, caller {caller}, "
        f"due {local(service, ticket.deadline)} {zone_short(service)}"
    )
    try:
        if args.answer is not None:
            reply = need(args.answer, "accept", "--answer REPLY", "the reply")
            ticket = service.act(ticket.number, "answer", actor=who, reply=reply)
            print(
                f"  answered directly: {state_name(ticket.state)}; a 回访 callback task was opened"
            )
        elif dept is not None:
            ticket = service.act(ticket.number, "dispatch", actor=who, department=dept)
            how = "--to" if args.to else "dispatch catalogue"
            print(f"  dispatched (派单) to {cat.department_name(dept)} ({dept}, from the {how})")
    except HotlineError as exc:
        raise type(exc)(
            f"ticket {ticket.number} was accepted, but the next step failed: {exc.message}; "
            f"continue with `hotline tickets dispatch {ticket.number}` or `answer`",
            code=exc.code,
        ) from exc
    print(f"  next: {next_actions(ticket)}")
    return 0


# ----------------------------------------------------------------------------- parser


def satisfaction_level(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: 1..5 ({SATISFACTION_HELP})") from None


def add_solved(p: argparse.ArgumentParser) -> None:
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
    sources, target = TRANSITIONS[action]
    order = list(STATE_NAMES)
    states = "/".join(f"{STATE_NAMES[s]} {s.value}" for s in sorted(sources, key=order.index))
    to = f"{STATE_NAMES[target]} {target.value}" if target is not None else "same state"
    extra = (
        " (only while an extension is pending; not by the person who asked for it)"
        if action.startswith("extend_")
        else ""
    )
    if action == "extend_request":
        extra = " (none pending)"
    return f"{action_name(action)}: {states} -> {to}{extra}"


def register_actions(t: argparse._SubParsersAction[Any]) -> None:
    p = t.add_parser(
        "accept",
        help="受理: a ticket from a call, dispatched to the catalogue's department by default",
    )
    p.add_argument("uniqueid", help="the call's uniqueid (hotline calls list)")
    p.add_argument("--type", required=True, help="ticket type, code or name (consult, 咨询 ...)")
    p.add_argument(
        "--category",
        required=True,
        help="category path or name (housing.property, 住建/物业服务, or a near name: 物业)",
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
    by_option(p)
    common_options(p)
    p.set_defaults(func=run(cmd_accept))

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
                type=satisfaction_level,
                help=f"1..5 ({SATISFACTION_HELP}); leave out if not reached",
            )
            add_solved(p)
        if action == "merge":
            p.add_argument("--into", metavar="NUMBER", help="the open ticket to merge into")
        p.add_argument("--note", help="a note for the audit trail")
        by_option(p)
        common_options(p)
        p.set_defaults(func=run(cmd_act), action=action, cli_action=name)
