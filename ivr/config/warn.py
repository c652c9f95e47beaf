"""Warnings about a valid config: it loads and runs, but a promise may not be kept.

``hotline check-config`` prints them (exit 0 if there are only warnings); a reload logs them
in its notes. Each carries ``file:line:column`` and a stable id:

=========== ==================================================================================
Code        Warning
=========== ==================================================================================
HL-CFG-090  a path to a person is longer than 15 s (answer to the first moment a free operator
            can take the call, :mod:`ivr.config.timing`)
HL-CFG-091  a line's announcement (a merged line's "your number has moved") plays over 5 s
HL-CFG-092  a skill callers are queued for that no operator in agents.yaml has
HL-CFG-093  a skill callers are queued for that only one operator has
HL-CFG-094  an operator the local Asterisk cannot ring: no SIP account in agents.yaml answers
            its interface
HL-CFG-095  a studio recording that is not 8 kHz mono 16-bit WAV (Asterisk's ``wav``)
HL-CFG-096  from 60 days before a year (and during it) for which the calendar has no holiday
            data: neither chinese-calendar nor hours.yaml ``years`` (deadlines would count
            Monday to Friday, 元旦 and 春节 included); also logged at the server's start
=========== ==================================================================================

The clock of HL-CFG-096 is :data:`clock` (tests freeze it), or the ``today`` given.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config.bundle import ConfigBundle, normalize_number
from ivr.config.models import LineMode, QueueNode
from ivr.config.timing import (
    ANNOUNCEMENT_LIMIT_SECONDS,
    LIMIT_SECONDS,
    PathTime,
    Timing,
    prompt_time,
    time_to_person,
)
from ivr.config.yamlpos import Located, decode_text, load_text
from ivr.config.yamlpos import Path as YPath
from ivr.errors import Problem

PATH_TOO_LONG = "HL-CFG-090"
ANNOUNCEMENT_TOO_LONG = "HL-CFG-091"
SKILL_UNSERVED = "HL-CFG-092"
SKILL_ONE_OPERATOR = "HL-CFG-093"
OPERATOR_UNDIALLABLE = "HL-CFG-094"
STUDIO_FORMAT = "HL-CFG-095"
CALENDAR_AHEAD = "HL-CFG-096"

#: How long before a year without holiday data the warning starts.
CALENDAR_NOTICE_DAYS = 60


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: The time HL-CFG-096 is judged at (aware); tests replace it with a frozen clock.
clock: Callable[[], dt.datetime] = _utcnow


class _Files:
    """Positions in the admin files, read again (they are a few KiB)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._located: dict[str, Located] = {}

    def at(
        self, filename: str, path: YPath, message: str, code: str, *, key: bool = False
    ) -> Problem:
        located = self._located.get(filename)
        if located is None:
            located = Located(data=None)
            with contextlib.suppress(Exception):
                located = load_text(decode_text((self.directory / filename).read_bytes()))
            self._located[filename] = located
        line, column = located.key_pos(path) if key else located.value_pos(path)
        return Problem(str(self.directory / filename), line, column, message, code)


def config_warnings(
    bundle: ConfigBundle, timing: Timing | None = None, today: dt.date | None = None
) -> list[Problem]:
    """Every warning about ``bundle`` (a config that loaded), sorted by file and position;
    ``today`` (local) judges the calendar ahead (default: :data:`clock`)."""
    files = _Files(bundle.directory)
    out: list[Problem] = []
    out += _calendar_problems(bundle, files, today)
    out += path_warnings(bundle, files, timing or time_to_person(bundle))
    out += announcement_warnings(bundle, files)
    out += skill_warnings(bundle, files)
    out += operator_warnings(bundle, files)
    out += studio_warnings(bundle, files)
    return sorted(out)


def _line_path(index: int | None) -> YPath:
    return ("hotline", "number") if index is None else ("lines", index, "number")


def path_warnings(bundle: ConfigBundle, files: _Files, timing: Timing) -> list[Problem]:
    """One warning per line with a path over 15 s: its worst path, and how many are over."""
    by_line: dict[str, list[PathTime]] = {}
    for path in timing.over(LIMIT_SECONDS):
        by_line.setdefault(path.line, []).append(path)
    out = []
    for paths in by_line.values():
        worst = max(paths, key=lambda p: p.seconds)
        more = f"; {len(paths) - 1} more path(s) over" if len(paths) > 1 else ""
        out.append(
            files.at(
                "lines.yaml",
                _line_path(worst.line_index),
                f"line {worst.line} ({worst.line_name}), {worst.path}: a free operator can take "
                f"the call only after {worst.describe()}, over {LIMIT_SECONDS:.0f} s{more}; "
                "shorten the must-hear prompts (settings.notice, the announcement) or the "
                "longest piece",
                PATH_TOO_LONG,
            )
        )
    return out


def announcement_warnings(bundle: ConfigBundle, files: _Files) -> list[Problem]:
    users: dict[str, list[str]] = {}
    for line in bundle.lines.lines:
        name = line.announcement or ("line_moved" if line.mode is LineMode.MERGED else None)
        if name and name in bundle.menu.prompts:
            users.setdefault(name, []).append(line.number)
    out = []
    for name, numbers in sorted(users.items()):
        t = prompt_time(bundle, name)
        if t.seconds <= ANNOUNCEMENT_LIMIT_SECONDS:
            continue
        how = "estimated from its text" if t.estimated else "as built"
        out.append(
            files.at(
                "menu.yaml",
                ("prompts", name),
                f"prompt {name!r} plays {t.seconds:.1f} s ({how}), over "
                f"{ANNOUNCEMENT_LIMIT_SECONDS:.0f} s: it is the announcement of "
                f"{_some(numbers)}, which callers hear to the end before an operator; "
                "shorten it",
                ANNOUNCEMENT_TOO_LONG,
                key=True,
            )
        )
    return out


@dataclass
class _SkillUse:
    filename: str
    path: YPath
    who: list[str] = field(default_factory=list)  # 12345, node names, line numbers
    widens: bool = True  # every caller of it may widen to the general operators


def queued_skills(bundle: ConfigBundle) -> dict[str, _SkillUse]:
    """Every skill a caller can be queued for, where it is first used, by whom, and whether
    all its callers may widen (queue.yaml ``widen``: 12345 and merged lines always, a
    parallel line only when listed)."""
    s = bundle.menu.settings
    area = bundle.lines.hotline.area_code
    widen = getattr(bundle.queue, "widen", None)
    listed = {normalize_number(n, area) for n in getattr(widen, "parallel_lines", [])}
    found: dict[str, _SkillUse] = {
        s.default_skill: _SkillUse("menu.yaml", ("settings", "default_skill"), ["12345"])
    }
    for node_id, node in bundle.menu.nodes.items():
        if isinstance(node, QueueNode) and node.skill:
            use = found.setdefault(node.skill, _SkillUse("menu.yaml", ("nodes", node_id, "skill")))
            use.who.append(f"menu node {node_id}")
    for i, line in enumerate(bundle.lines.lines):
        if line.mode is LineMode.SUBCENTRE:
            continue
        skill = bundle.line_skill(line)
        where: YPath = ("lines", i, "skill" if line.skill else "department")
        use = found.setdefault(skill, _SkillUse("lines.yaml", where))
        use.who.append(f"line {line.number}")
        if line.mode is LineMode.PARALLEL and normalize_number(line.number, area) not in listed:
            use.widens = False
    if bundle.accessibility.skill:
        use = found.setdefault(
            bundle.accessibility.skill, _SkillUse("accessibility.yaml", ("skill",))
        )
        use.who.append("priority callers")
    return found


def serving(bundle: ConfigBundle, skill: str, use: _SkillUse) -> tuple[list[str], str]:
    """The operators who can take the skill's callers (its own, and those of the skill it
    widens to), and how it widens ("" when it does not)."""
    agents = bundle.agents.agents
    own = [a.id for a in agents if skill in a.skills]
    rule = bundle.queue.overflow.get(skill)
    target: str | None = None
    if rule is not None:
        target = rule.skill if rule.action == "widen" else None
    else:
        widen = getattr(bundle.queue, "widen", None)
        on = widen is not None and getattr(widen, "after_seconds", None) is not None
        target = getattr(widen, "skill", None) if on and use.widens else None
    if target is None or target == skill:
        return own, ""
    wider = [a.id for a in agents if target in a.skills and a.id not in own]
    return own + wider, target


def skill_warnings(bundle: ConfigBundle, files: _Files) -> list[Problem]:
    """Skills whose callers no operator, or only one, can take (counting the operators of
    the skill they widen to)."""
    out = []
    for skill, use in sorted(queued_skills(bundle).items()):
        ops, widens_to = serving(bundle, skill, use)
        if len(ops) >= 2:
            continue
        who = _some(use.who)
        how = f", widened to {widens_to!r}" if widens_to else ", which does not widen"
        if not ops:
            message = (
                f"skill {skill!r} ({who}{how}): no operator in agents.yaml can take its "
                "callers; add the skill to operators, or widen it (queue.yaml)"
            )
            code = SKILL_UNSERVED
        else:
            message = (
                f"skill {skill!r} ({who}{how}): only operator {ops[0]} in agents.yaml can take "
                "its callers; when that operator is away they wait; add the skill to another "
                "operator, or widen it (queue.yaml)"
            )
            code = SKILL_ONE_OPERATOR
        out.append(files.at(use.filename, use.path, message, code))
    return out


def operator_warnings(bundle: ConfigBundle, files: _Files) -> list[Problem]:
    """Operators whose interface reaches no SIP account of agents.yaml (the local Asterisk,
    ``hotline asterisk up``, only has those endpoints)."""
    endpoints = {(a.sip.username, a.sip.context) for a in bundle.agents.agents if a.sip}
    usernames = {u for u, _ in endpoints}
    out = []
    for i, agent in enumerate(bundle.agents.agents):
        tech, _, resource = agent.interface.partition("/")
        reason = ""
        if tech == "PJSIP":
            if "@" not in resource and resource not in usernames:
                reason = f"no agent has SIP username {resource!r}"
        elif tech == "Local":
            exten, _, context = resource.partition("@")
            exten = exten.split("/")[0]
            if (exten, context or "default") not in endpoints:
                reason = f"no agent has SIP username {exten!r} in context {context or 'default'!r}"
        else:
            reason = f"the local Asterisk only has PJSIP endpoints, not {tech}"
        if reason:
            out.append(
                files.at(
                    "agents.yaml",
                    ("agents", i, "interface"),
                    f"agent {agent.id!r}: the local Asterisk cannot ring {agent.interface}: "
                    f"{reason}; add a sip: account for it, or use that account's interface",
                    OPERATOR_UNDIALLABLE,
                )
            )
    return out


def studio_warnings(bundle: ConfigBundle, files: _Files) -> list[Problem]:
    out = []
    for name in sorted(bundle.menu.prompts):
        source = bundle.studio_file(name)
        if source is None or source.suffix.lower() != ".wav":
            continue
        try:
            with wave.open(str(source), "rb") as w:
                fmt = (w.getframerate(), w.getnchannels(), w.getsampwidth())
        except (OSError, EOFError, wave.Error) as exc:
            fmt, bad = None, f"cannot be read as WAV ({exc})"
        if fmt == (8000, 1, 2):
            continue
        if fmt is not None:
            bad = f"is {fmt[0]} Hz, {fmt[1]} channel(s), {fmt[2] * 8}-bit"
        out.append(
            files.at(
                "menu.yaml",
                ("prompts", name),
                f"prompt {name!r}: studio recording {source} {bad}; Asterisk plays .wav only "
                "as 8 kHz mono 16-bit (sox IN -r 8000 -c 1 -b 16 OUT.wav)",
                STUDIO_FORMAT,
                key=True,
            )
        )
    return out


def _some(items: Iterable[str], limit: int = 4) -> str:
    listed = list(items)
    head = ", ".join(listed[:limit])
    return head + (f" and {len(listed) - limit} more" if len(listed) > limit else "")


def years_without_data(bundle: ConfigBundle, today: dt.date) -> list[int]:
    """This year and, from 60 days before it, the next, when the calendar has no data."""
    ahead = (today + dt.timedelta(days=CALENDAR_NOTICE_DAYS)).year
    years = sorted({today.year, ahead})
    return [year for year in years if not bundle.calendar.covers(year)]


def _calendar_problems(bundle: ConfigBundle, files: _Files, today: dt.date | None) -> list[Problem]:
    if today is None:
        today = clock().astimezone(bundle.calendar.tz).date()
    out: list[Problem] = []
    for year in years_without_data(bundle, today):
        out.append(
            files.at(
                "hours.yaml",
                ("years",),
                f"{year} 年节假日安排尚无数据（chinese-calendar 与 hours.yaml 均无），工单期限将按"
                f"周一至周五计算，请按国务院办公厅通知填入 hours.yaml 的 holidays 并在 years 中"
                f"列入 {year} / no holiday calendar for {year} (neither chinese-calendar nor "
                f"hours.yaml has it): deadlines count Monday to Friday; enter the State "
                f"Council's notice in hours.yaml holidays and add {year} to years "
                "(docs/admin-config.md)",
                CALENDAR_AHEAD,
                key=True,
            )
        )
    return out


def calendar_warnings(bundle: ConfigBundle, today: dt.date | None = None) -> list[str]:
    """HL-CFG-096 for ``bundle`` as one line each: what the server logs at its start."""
    return [str(p) for p in _calendar_problems(bundle, _Files(bundle.directory), today)]
