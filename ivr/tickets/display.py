"""How the command line shows things to a person: Beijing time (the centre's zone,
``hours.yaml`` ``timezone``), Chinese names of states, flags and yes/no, aligned tables, and
near-name matching of catalogue entries. Times are UTC only inside the database."""

from __future__ import annotations

import datetime as dt
import difflib
import unicodedata
from collections.abc import Sequence
from typing import Any

from ivr.tickets.errors import BadTicketInput
from ivr.tickets.lifecycle import ACTION_NAMES, STATE_NAMES, State

TIME_FORMAT = "%Y-%m-%d %H:%M"

FLAG_NAMES = {
    "overdue": "超期",
    "due-soon": "临期",
    "was-overdue": "曾超期",
    "supervised": "督办",
    "extension-asked": "延期待批",
}
# why a ticket is supervised (督办), as the console and the reports name it
REASON_NAMES = {"overdue": "超期", "repeated": "重复诉求未解决", "manual": "人工督办"}


def local_time(calendar: Any, when: dt.datetime | None) -> str:
    """``when`` (aware, UTC from the database) in the centre's zone: ``2026-12-03 16:19``."""
    if when is None:
        return "-"
    if when.tzinfo is None:  # naive values are UTC (as the database stores them)
        when = when.replace(tzinfo=dt.UTC)
    return f"{calendar.local(when):{TIME_FORMAT}}"


BEIJING_ZONES = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC")


def zone_key(tz: dt.tzinfo) -> str:
    """The IANA name of ``tz`` (``Asia/Shanghai``), else its ``str``."""
    return str(getattr(tz, "key", tz))


def in_zone(tz: dt.tzinfo, when: dt.datetime | None) -> str:
    """``when`` (aware, or naive UTC as the database stores it) in ``tz``: ``2026-12-04 07:40``."""
    if when is None:
        return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return f"{when.astimezone(tz):{TIME_FORMAT}}"


def zone_label(tz: dt.tzinfo, when: dt.datetime | None = None) -> str:
    """The zone stated once at the top of a report: ``北京时间 (Asia/Shanghai, UTC+8)``; the
    offset is the one at ``when`` (now if not given)."""
    key = zone_key(tz)
    offset = (when or dt.datetime.now(dt.UTC)).astimezone(tz).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")
    name = "北京时间 " if key in BEIJING_ZONES else ""
    return f"{name}({key}, {utc})"


def zone_note(calendar: Any) -> str:
    """The zone, stated once per output: ``times in 北京时间 (Asia/Shanghai)``."""
    key = zone_key(calendar.tz)
    if key in BEIJING_ZONES:
        return f"times in 北京时间 ({key})"
    return f"times in {key}"


def zone_name(calendar: Any) -> str:
    """The zone's short name after a single time: ``北京时间`` (else the IANA name)."""
    note = zone_note(calendar)
    return "北京时间" if "北京时间" in note else note.removeprefix("times in ")


def yes_no(value: object) -> str:
    return "是" if value else "否"


def state_name(state: str | None) -> str:
    """The Chinese name of a state (``派单``); an unknown value as it is."""
    if not state:
        return "-"
    try:
        return STATE_NAMES[State(state)]
    except ValueError:
        return state


def action_name(action: str) -> str:
    return ACTION_NAMES.get(action, action)


def states_help() -> str:
    """``受理 accepted, 派单 dispatched, ...`` for ``--help``."""
    return ", ".join(f"{name} {state.value}" for state, name in STATE_NAMES.items())


def flags_help() -> str:
    return ", ".join(f"{name} {flag}" for flag, name in FLAG_NAMES.items())


# ----------------------------------------------------------------------------- tables


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, size: int) -> str:
    return text + " " * (size - width(text))


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, aligned for Chinese (wide) characters too."""
    widths = [width(h) for h in header]
    for row in rows:
        widths = [max(w, width(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- names


def resolve(kind: str, value: str, known: dict[str, str], hint: str = "") -> str:
    """A catalogue code given as its code, its (Chinese) name, or a part of its name or code
    (``供热`` for ``水、电、气/供热``) when only one entry fits; otherwise refused (HL-TKT-004) with
    the entries that fit or, if none, the closest few by spelling (or all of them)."""
    value = value.strip()
    if value in known:
        return value
    for code, name in known.items():
        if value == name:
            return code
    if value:
        parts = [c for c, n in known.items() if value in n.split("/")]
        if len(parts) == 1:
            return parts[0]
        inside = parts or [c for c, n in known.items() if value in n or value in c]
        if len(inside) == 1:
            return inside[0]
        if inside:
            names = ", ".join(f"{c} ({known[c]})" for c in inside[:5])
            more = f" and {len(inside) - 5} more" if len(inside) > 5 else ""
            raise BadTicketInput(
                f"{kind} {value!r} matches several{hint}: {names}{more}; give one of them"
            )
        closest = _close(value, known)
        if closest:
            names = ", ".join(f"{c} ({known[c]})" for c in closest[:5])
            raise BadTicketInput(f"unknown {kind} {value!r}{hint}; closest: {names}")
    listing = ", ".join(f"{c} ({n})" for c, n in known.items())
    raise BadTicketInput(f"unknown {kind} {value!r}{hint}; known: {listing}")


def _close(value: str, known: dict[str, str]) -> list[str]:
    by_word: dict[str, str] = {}
    for code, name in known.items():
        for word in (code, name, *name.split("/")):
            by_word.setdefault(word, code)
    out: list[str] = []
    for word in difflib.get_close_matches(value, list(by_word), n=10, cutoff=0.6):
        if by_word[word] not in out:
            out.append(by_word[word])
    return out
