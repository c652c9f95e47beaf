"""Checks of the other admin files, and across files: lines.yaml, departments.yaml,
hours.yaml, accessibility.yaml, and the operator queue's queue.yaml and agents.yaml."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.config.bundle import normalize_number
from ivr.config.calendar import parse_range
from ivr.config.models import (
    AccessibilityFile,
    DepartmentsFile,
    HoursFile,
    LineMode,
    LinesFile,
    MenuFile,
    QueueNode,
)
from ivr.config.queue_models import AGENT_INTERFACE_RE, AgentsFile, QueueFile
from ivr.config.validate_base import (
    ACCESSIBILITY,
    AGENTS,
    BAD_INTERFACE,
    BAD_OVERFLOW,
    BAD_TIME_RANGE,
    BAD_TIMEZONE,
    DEPARTMENTS,
    DUPLICATE_AGENT,
    DUPLICATE_NUMBER,
    DUPLICATE_OVERRIDE,
    DUPLICATE_SIP_USER,
    HOURS,
    LINES,
    MENU,
    QUEUE,
    SUBCENTRE_NO_TRANSFER,
    UNKNOWN_DEPARTMENT,
    UNKNOWN_NODE,
    UNKNOWN_PROMPT,
    UNKNOWN_SCHEDULE,
    UNKNOWN_SKILL,
    CheckerBase,
    dotted,
)
from ivr.config.yamlpos import Path as YPath


class FileChecks(CheckerBase):
    def check_lines(
        self, lines: LinesFile, menu: MenuFile | None, departments: DepartmentsFile | None
    ) -> None:
        area = lines.hotline.area_code
        seen: dict[str, tuple[YPath, str]] = {}

        def number(path: YPath, raw: str) -> None:
            norm = normalize_number(raw, area)
            if norm in seen:
                first_path, first_raw = seen[norm]
                self.add(
                    LINES,
                    path,
                    f"number {raw!r} is listed twice: it is {first_raw!r} at "
                    f"{self.where(LINES, first_path)} (both are {norm})",
                    DUPLICATE_NUMBER,
                )
            else:
                seen[norm] = (path, raw)

        number(("hotline", "number"), lines.hotline.number)
        for i, alias in enumerate(lines.hotline.aliases):
            number(("hotline", "aliases", i), alias)
        for i, line in enumerate(lines.lines):
            base: YPath = ("lines", i)
            number((*base, "number"), line.number)
            for j, alias in enumerate(line.aliases):
                number((*base, "aliases", j), alias)
            if departments is not None and not self.known(
                DEPARTMENTS, "departments", line.department, departments.departments
            ):
                self.add(
                    LINES,
                    (*base, "department"),
                    f"line {line.number}: no department named {line.department!r} "
                    "in departments.yaml",
                    UNKNOWN_DEPARTMENT,
                )
            if menu is not None:
                if line.entry and not self.known(MENU, "nodes", line.entry, menu.nodes):
                    self.add(
                        LINES,
                        (*base, "entry"),
                        f"line {line.number}: entry {line.entry!r} is not a node in menu.yaml",
                        UNKNOWN_NODE,
                    )
                if line.announcement and (MENU, "prompts") in self.broken:
                    pass  # the prompt may be one of the broken ones
                elif line.announcement and line.announcement not in menu.prompts:
                    self.add(
                        LINES,
                        (*base, "announcement"),
                        f"line {line.number}: no prompt named {line.announcement!r} in menu.yaml",
                        UNKNOWN_PROMPT,
                    )
                elif (
                    line.mode is LineMode.MERGED
                    and not line.announcement
                    and "line_moved" not in menu.prompts
                ):
                    self.add(
                        LINES,
                        (*base, "mode"),
                        f"line {line.number} is merged and has no announcement, but menu.yaml "
                        "has no 'line_moved' prompt",
                        UNKNOWN_PROMPT,
                    )
            if line.mode is LineMode.SUBCENTRE and not line.transfer:
                self.add(
                    LINES,
                    (*base, "mode"),
                    f"line {line.number} is a subcentre line but has no 'transfer' dial string",
                    SUBCENTRE_NO_TRANSFER,
                )
            if line.transfer:
                self.check_dial(LINES, (*base, "transfer"), line.transfer)

    def check_departments(self, departments: DepartmentsFile, hours: HoursFile) -> None:
        for name, dept in departments.departments.items():
            if dept.hours is not None and not self.known(
                HOURS, "schedules", dept.hours, hours.schedules
            ):
                self.add(
                    DEPARTMENTS,
                    ("departments", name, "hours"),
                    f"department {name!r}: no schedule named {dept.hours!r} in hours.yaml",
                    UNKNOWN_SCHEDULE,
                )

    def check_hours(self, hours: HoursFile) -> None:
        try:
            ZoneInfo(hours.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.add(
                HOURS,
                ("timezone",),
                f"timezone: unknown time zone {hours.timezone!r} (e.g. Asia/Shanghai)",
                BAD_TIMEZONE,
            )
        for name, schedule in hours.schedules.items():
            for i, text in enumerate(schedule.open):
                start, end = parse_range(text)
                if end <= start or end > 24 * 60:
                    self.add(
                        HOURS,
                        ("schedules", name, "open", i),
                        f"schedule {name!r}: time range {text!r} must end after it starts "
                        "and no later than 24:00",
                        BAD_TIME_RANGE,
                    )
        first: dict[object, int] = {}
        for i, override in enumerate(hours.overrides):
            if override.date in first:
                self.add(
                    HOURS,
                    ("overrides", i, "date"),
                    f"date {override.date} is overridden twice (first at "
                    f"{self.where(HOURS, ('overrides', first[override.date], 'date'))})",
                    DUPLICATE_OVERRIDE,
                )
            else:
                first[override.date] = i

    def check_accessibility(self, accessibility: AccessibilityFile, area: str | None) -> None:
        seen: dict[str, int] = {}
        for i, caller in enumerate(accessibility.callers):
            norm = normalize_number(caller.number, area)
            if norm in seen:
                self.add(
                    ACCESSIBILITY,
                    ("callers", i, "number"),
                    f"number {caller.number!r} is listed twice (first at "
                    f"{self.where(ACCESSIBILITY, ('callers', seen[norm], 'number'))})",
                    DUPLICATE_NUMBER,
                )
            else:
                seen[norm] = i

    def check_queue(self, queue: QueueFile, menu: MenuFile | None, skills: set[str] | None) -> None:
        if menu is not None:
            for path, name in queue.prompt_refs():
                if not self.known(MENU, "prompts", name, menu.prompts):
                    self.add(
                        QUEUE,
                        path,
                        f"{dotted(path)}: no prompt named {name!r} in menu.yaml prompts",
                        UNKNOWN_PROMPT,
                    )
        for skill, rule in queue.overflow.items():
            base: YPath = ("overflow", skill)
            if skills is not None and skill not in skills:
                self.add(
                    QUEUE,
                    base,
                    f"overflow: no queue uses skill {skill!r} (known: {', '.join(sorted(skills))})",
                    BAD_OVERFLOW,
                    at_key=True,
                )
            if not (rule.no_agents or rule.max_waiting or rule.max_wait_seconds):
                self.add(
                    QUEUE,
                    base,
                    f"overflow.{skill}: no condition is on (no_agents, max_waiting, "
                    "max_wait_seconds): the rule would never apply",
                    BAD_OVERFLOW,
                    at_key=True,
                )
            if rule.action == "widen":
                if rule.skill is None:
                    self.add(
                        QUEUE,
                        (*base, "action"),
                        f"overflow.{skill}: action widen needs 'skill' (the fallback skill)",
                        BAD_OVERFLOW,
                    )
                elif rule.skill == skill or (skills is not None and rule.skill not in skills):
                    self.add(
                        QUEUE,
                        (*base, "skill"),
                        f"overflow.{skill}.skill: {rule.skill!r} is not another skill a queue uses",
                        BAD_OVERFLOW,
                    )
            if rule.action == "transfer":
                if rule.dial is None:
                    self.add(
                        QUEUE,
                        (*base, "action"),
                        f"overflow.{skill}: action transfer needs 'dial' (the sub-centre)",
                        BAD_OVERFLOW,
                    )
                else:
                    self.check_dial(QUEUE, (*base, "dial"), rule.dial)
        try:
            ZoneInfo(queue.settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.add(
                QUEUE,
                ("settings", "timezone"),
                f"settings.timezone: unknown time zone {queue.settings.timezone!r} "
                "(use an IANA name such as Asia/Shanghai)",
                BAD_TIMEZONE,
            )

    @staticmethod
    def queue_skills(
        menu: MenuFile | None,
        lines: LinesFile | None,
        departments: DepartmentsFile | None,
        accessibility: AccessibilityFile | None,
    ) -> set[str] | None:
        """Every skill a caller can be queued for; None when a file it needs is broken."""
        if menu is None or lines is None or departments is None:
            return None
        skills = {menu.settings.default_skill}
        skills |= {n.skill for n in menu.nodes.values() if isinstance(n, QueueNode) and n.skill}
        skills |= {line.skill for line in lines.lines if line.skill}
        skills |= {d.skill for d in departments.departments.values()}
        if accessibility is not None and accessibility.skill:
            skills.add(accessibility.skill)
        return skills

    def check_agents(self, agents: AgentsFile, skills: set[str] | None) -> None:
        seen: dict[str, int] = {}
        users: dict[str, tuple[int, str]] = {}  # SIP user name -> (agent, sip or webrtc)
        for i, spec in enumerate(agents.agents):
            if spec.id in seen:
                first = self.where(AGENTS, ("agents", seen[spec.id], "id"))
                self.add(
                    AGENTS,
                    ("agents", i, "id"),
                    f"agents[{i}]: agent id {spec.id!r} is given twice (first at {first})",
                    DUPLICATE_AGENT,
                )
            else:
                seen[spec.id] = i
            if not AGENT_INTERFACE_RE.match(spec.interface):
                self.add(
                    AGENTS,
                    ("agents", i, "interface"),
                    f"agents[{i}].interface: {spec.interface!r} is not one Asterisk dial string "
                    "(TECH/resource, e.g. PJSIP/1001 or Local/1001@operators)",
                    BAD_INTERFACE,
                )
            if skills is not None:
                for skill in spec.skills:
                    if skill not in skills:
                        self.add(
                            AGENTS,
                            ("agents", i, "skills", skill),
                            f"agent {spec.id!r}: no queue uses skill {skill!r} (known: "
                            f"{', '.join(sorted(skills))})",
                            UNKNOWN_SKILL,
                            at_key=True,
                        )
            if spec.sip is not None:
                if spec.sip.username in users:
                    first = self.where(AGENTS, ("agents", *users[spec.sip.username]))
                    self.add(
                        AGENTS,
                        ("agents", i, "sip", "username"),
                        f"agent {spec.id!r}: SIP username {spec.sip.username!r} is given twice "
                        f"(first at {first})",
                        DUPLICATE_SIP_USER,
                    )
                else:
                    users[spec.sip.username] = (i, "sip")
            if spec.webrtc is not None:
                if spec.webrtc.username in users:
                    first = self.where(AGENTS, ("agents", *users[spec.webrtc.username]))
                    self.add(
                        AGENTS,
                        ("agents", i, "webrtc", "username"),
                        f"agent {spec.id!r}: SIP username {spec.webrtc.username!r} of the browser "
                        f"phone is given twice (first at {first})",
                        DUPLICATE_SIP_USER,
                    )
                else:
                    users[spec.webrtc.username] = (i, "webrtc")
