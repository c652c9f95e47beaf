"""``hotline outbox list|retry``: the messages the hotline sends (SMS to citizens, replies to
upper-level platforms; docs/notify.md) as an admin sees them, and sending a stuck one again.
Registered by :mod:`ivr.cli`.

``list`` shows the newest first (``--state pending|sent|failed|all``, ``--ticket N``) with
its attempts and last error, and a count per kind and state; ``retry ID...`` (or
``--failed``: every failed one) makes them due now with their attempts counted afresh, for
the delivery loop of a running ``hotline serve`` to send. A sent message is never sent
again."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.console.cli_common import (
    check_limit,
    common_options,
    local,
    run,
    service_of,
    unavailable,
    zone,
)
from ivr.errors import HotlineError
from ivr.notify import claims
from ivr.settings import Settings
from ivr.tickets.display import table

NOTHING_TO_RETRY = "HL-NTF-005"
STATES = ("pending", "sent", "failed", "all")


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    check_limit(args.limit)
    service = service_of(args, settings)
    state = None if args.state == "all" else args.state
    try:
        rows = claims.listing(service.db, state, args.ticket, args.limit)
        counts = claims.counts(service.db)
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(service.db, exc) from exc
    print(
        "outbox: "
        + (", ".join(f"{k} {s} {n}" for (k, s), n in sorted(counts.items())) or "empty")
        + f"; {zone(service)}"
    )
    if not rows:
        print("no messages" + (f" {args.state}" if state else ""))
        return 0
    head = ["id", "kind", "ticket", "event", "to", "state", "tries", "next / sent", "error"]
    body = [
        [
            str(r.id), r.kind, r.ticket_number, r.event, r.target, r.state, str(r.attempts),
            local(service, r.sent_at if r.sent_at else r.next_at),
            (r.error[:60] + "…") if len(r.error) > 60 else r.error,
        ]
        for r in rows
    ]  # fmt: skip
    print(table(head, body))
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    if not args.ids and not args.failed:
        raise HotlineError("name the messages to retry (IDs) or give --failed",
                           code=NOTHING_TO_RETRY)  # fmt: skip
    service = service_of(args, settings)
    try:
        taken = claims.retry(service.db, args.ids, args.failed, dt.datetime.now(dt.UTC))
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(service.db, exc) from exc
    if not taken:
        ids = ", ".join(map(str, args.ids))
        what = "no failed message" if args.failed else f"no pending or failed message of id {ids}"
        raise HotlineError(f"{what}: nothing to retry (`hotline outbox list`)",
                           code=NOTHING_TO_RETRY)  # fmt: skip
    print(f"{len(taken)} message(s) due again: {', '.join(map(str, taken))}; "
          "a running `hotline serve` sends them")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("outbox", help="the SMS and replies to send: list them, retry stuck ones")
    verbs = p.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="the newest messages, their state and last error")
    ls.add_argument("--state", choices=STATES, default="all")
    ls.add_argument("--ticket", help="only this ticket's messages")
    ls.add_argument("--limit", type=int, default=50)
    common_options(ls)
    ls.set_defaults(func=run(cmd_list))
    rt = verbs.add_parser("retry", help="send failed (or backing-off) messages again now")
    rt.add_argument("ids", nargs="*", type=int, metavar="ID")
    rt.add_argument("--failed", action="store_true", help="every failed message")
    common_options(rt)
    rt.set_defaults(func=run(cmd_retry))
