"""``hotline hotspots [--day YYYY-MM-DD] [--all]``: the hot issues (热点诉求) printed, for a
supervisor or to check what the wallboard and the daily report show (docs/hotspots.md).
Registered by :mod:`ivr.cli`.

The window is the catalogue's ``hotspots.window_hours`` (24 by default) ending now, or ending
with the given local day (the centre's zone, as the daily report). The database is the
ticket commands' (``--database-url``, else ``HOTLINE_DATABASE_URL``, else SQLite in var/)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.console.cli_common import common_options, local, run, service_of, unavailable, zone
from ivr.settings import Settings
from ivr.tickets.errors import BadTicketInput

#: the characters of a ticket's content a line shows
CONTENT_CHARS = 50


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadTicketInput(f"--day: cannot read {text!r}: write it as 2026-01-15") from None


def cmd_hotspots(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: jieba's dictionary, rapidfuzz and numpy load for `hotline hotspots` only, not for
    # `hotline --help` nor the other commands.
    from ivr.hotspots import day_end, find_hotspots

    day = _day(args.day) if args.day else None
    service = service_of(args, settings)
    tz = service.deadlines.calendar.tz
    try:
        found = find_hotspots(service.db, service.catalogue, day_end(day, tz) if day else None)
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(service.db, exc) from exc
    rules = found.rules
    print(
        f"hot issues of {local(service, found.start)} - {local(service, found.end)} "
        f"({zone(service)}): {found.scanned} tickets, {len(found.groups)} groups, "
        f"{len(found.flagged)} flagged (at least {rules.min_tickets} alike at one place, "
        f"similarity {rules.similarity:g})"
    )
    shown = found.groups if args.all else found.flagged
    for n, g in enumerate(shown, 1):
        mark = "HOT " if g.flagged else ""
        print(
            f"\n{n}. {mark}{g.count} tickets · {g.place or '(no address)'} · "
            f"{found.category_name(g.category_top)} · {' '.join(g.words)}"
        )
        for t in g.tickets:
            content = " ".join(t.content.split())
            if len(content) > CONTENT_CHARS:
                content = content[:CONTENT_CHARS] + "…"
            print(f"   {t.number}  {local(service, t.accepted_at)}  {t.address or '-'}  {content}")
    if not shown:
        print("no hot issue" if not args.all else "no group of alike tickets")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "hotspots",
        help="the hot issues (热点诉求): tickets alike at one place in the last 24 hours, "
        "the groups past the catalogue's threshold",
    )
    p.add_argument("--day", metavar="YYYY-MM-DD", help="the 24 hours ending with this local day")
    p.add_argument("--all", action="store_true", help="every group of two or more, not only hot")
    common_options(p)
    p.set_defaults(func=run(cmd_hotspots))
