"""Validation of the admin config directory: every problem, with its file, line and column.

Validation never stops at the first problem: an administrator fixes the whole list at once.
Each problem carries a stable code:

=========== ==================================================================================
Code        Problem
=========== ==================================================================================
HL-CFG-001  a file is not valid YAML, cannot be read, or is not a mapping at the top
HL-CFG-002  a required file (menu.yaml, lines.yaml, departments.yaml) is missing
HL-CFG-003  a key is given twice in one mapping (YAML would silently keep the last one)
HL-CFG-004  an unknown key (a typo, or a setting this version does not have)
HL-CFG-005  a value of the wrong type or out of range
HL-CFG-006  a required key is missing
HL-CFG-010  a reference to a node that does not exist (options, next, open/closed, on_fail,
            on_no_input, on_invalid, settings.entry/fallback/emergency, a line's entry)
HL-CFG-011  a reference to a prompt that is not defined in menu.yaml ``prompts``
HL-CFG-012  a reference to a department not defined in departments.yaml
HL-CFG-013  a reference to a schedule not defined in hours.yaml
HL-CFG-014  a reference to an emergency line not defined in menu.yaml ``emergency_lines``
HL-CFG-020  a DTMF key given twice in one menu
HL-CFG-021  a menu option uses the operator key or the emergency key
HL-CFG-022  a menu key is a prefix of another (``*`` and ``*9``): the longer can't be dialled
HL-CFG-030  a node that cannot be reached from settings.entry/fallback/emergency or a line
HL-CFG-031  settings.fallback does not reach a person (a queue node) without caller input
HL-CFG-032  a loop of nodes with no way out to a person (no path to a queue node)
HL-CFG-040  a prompt's audio ``file`` does not exist
HL-CFG-041  a prompt with neither ``text`` nor ``file``
HL-CFG-050  a number listed twice (lines.yaml after normalisation; accessibility.yaml)
HL-CFG-060  an invalid Asterisk dial string
HL-CFG-061  a subcentre line without ``transfer``
HL-CFG-062  a transfer node with neither or both of ``dial`` and ``emergency``
HL-CFG-070  a time range whose end is not after its start (or ends after 24:00)
HL-CFG-071  an unknown time zone
HL-CFG-072  the same date overridden twice in hours.yaml
HL-CFG-080  an agent id given twice in agents.yaml
HL-CFG-081  an agent skill that no queue uses (not a department's, line's, queue node's or the
            default skill): a typo would leave the agent without calls
HL-CFG-082  an agent interface that is not one Asterisk dial string (PJSIP/1001, Local/1001@x)
HL-CFG-083  a SIP username given twice in agents.yaml
HL-CFG-084  a queue.yaml overflow rule that cannot work: an unknown skill (the rule's or the
            one to widen to), widen without ``skill``, transfer without ``dial``, or a rule
            whose conditions are all off
=========== ==================================================================================

A config without problems may still get warnings (HL-CFG-090 ... 096: a path to a person over
15 s, a long announcement, a skill nobody or only one operator serves, an operator the local
Asterisk cannot ring, a studio recording in the wrong format, a year ahead without holiday
data): :mod:`ivr.config.warn`. They are
in :attr:`Validated.warnings`, with the 15-second figures in :attr:`Validated.timing`.

The entry point is :func:`validate_directory`; :mod:`ivr.config.loader` wraps it. The files
are read into their models by :mod:`ivr.config.validate_read`; the checks are in
:mod:`ivr.config.validate_menu` (menu.yaml) and :mod:`ivr.config.validate_files` (the other
files, and across files), on the reporting of :mod:`ivr.config.validate_base` (where the
codes are defined).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config.bundle import ConfigBundle, normalize_number
from ivr.config.calendar import BusinessCalendar
from ivr.config.models import (
    AccessibilityFile,
    DepartmentsFile,
    HoursFile,
    LineMode,
    LinesFile,
    MenuFile,
)
from ivr.config.notify_models import NotifyFile
from ivr.config.privacy_models import PrivacyFile
from ivr.config.queue_models import AgentsFile, QueueFile
from ivr.config.timing import Timing, time_to_person
from ivr.config.validate_base import (
    ACCESSIBILITY,
    AGENTS,
    DEPARTMENTS,
    HOURS,
    LINES,
    MENU,
    NOTIFY,
    PRIVACY,
    QUEUE,
)
from ivr.config.validate_files import FileChecks
from ivr.config.validate_menu import MenuChecks
from ivr.config.validate_read import ReadChecks
from ivr.config.warn import config_warnings
from ivr.errors import Problem


@dataclass
class Validated:
    """The outcome of :func:`validate_directory`. Models are ``None`` when refused."""

    problems: list[Problem]
    version: str
    menu: MenuFile | None = None
    lines: LinesFile | None = None
    departments: DepartmentsFile | None = None
    hours: HoursFile | None = None
    accessibility: AccessibilityFile | None = None
    queue: QueueFile | None = None
    agents: AgentsFile | None = None
    privacy: PrivacyFile | None = None
    notify: NotifyFile | None = None
    #: a config without problems may still have warnings (:mod:`ivr.config.warn`)
    warnings: list[Problem] = field(default_factory=list)
    #: the 15-second figures of every line and path (:mod:`ivr.config.timing`)
    timing: Timing | None = None

    def bundle(self, directory: Path, recordings_dir: Path) -> ConfigBundle:
        """The config as the hotline runs it; only for a result without problems."""
        assert not self.problems and self.menu is not None and self.lines is not None
        assert self.departments is not None and self.hours is not None
        assert self.accessibility is not None
        return ConfigBundle(
            directory=directory,
            recordings_dir=recordings_dir,
            menu=self.menu,
            lines=self.lines,
            departments=self.departments,
            hours=self.hours,
            accessibility=self.accessibility,
            version=self.version,
            loaded_at=dt.datetime.now(dt.UTC),
            calendar=BusinessCalendar(self.hours),
            queue=(self.queue or QueueFile()).with_lines(parallel_lines(self.lines)),
            agents=self.agents or AgentsFile(),
            privacy=self.privacy or PrivacyFile(),
            notify=self.notify or NotifyFile(),
        )


class _Checker(ReadChecks, MenuChecks, FileChecks):
    """Reads every admin file (:mod:`ivr.config.validate_read`), then runs every check
    (:mod:`ivr.config.validate_menu`, :mod:`ivr.config.validate_files`)."""

    # -- semantic checks -----------------------------------------------------------------

    def run(self) -> Validated:
        self.read()
        menu: MenuFile | None = self.sources[MENU].model
        lines: LinesFile | None = self.sources[LINES].model
        departments: DepartmentsFile | None = self.sources[DEPARTMENTS].model
        hours: HoursFile | None = self.sources[HOURS].model
        accessibility: AccessibilityFile | None = self.sources[ACCESSIBILITY].model
        if menu is not None:
            self.check_menu(menu, departments)
        if lines is not None:
            self.check_lines(lines, menu, departments)
        if departments is not None and hours is not None:
            self.check_departments(departments, hours)
        if hours is not None:
            self.check_hours(hours)
        if accessibility is not None and lines is not None:
            self.check_accessibility(accessibility, lines.hotline.area_code)
        queue: QueueFile | None = self.sources[QUEUE].model
        agents: AgentsFile | None = self.sources[AGENTS].model
        skills = self.queue_skills(menu, lines, departments, accessibility)
        if queue is not None:
            self.check_queue(queue, menu, skills)
        if agents is not None:
            self.check_agents(agents, skills)
        return Validated(
            problems=sorted(self.problems),
            version=self.digest.hexdigest()[:12],
            menu=menu,
            lines=lines,
            departments=departments,
            hours=hours,
            accessibility=accessibility,
            queue=queue,
            agents=agents,
            privacy=self.sources[PRIVACY].model,
            notify=self.sources[NOTIFY].model,
        )


def validate_directory(directory: Path, recordings_dir: Path) -> Validated:
    """Read and check every admin file in ``directory``; collect all problems, and when
    there are none, the warnings (:mod:`ivr.config.warn`, with the built prompts in
    ``recordings_dir``)."""
    result = _Checker(directory, recordings_dir).run()
    if not result.problems:
        bundle = result.bundle(directory, recordings_dir)
        result.timing = time_to_person(bundle)
        result.warnings = config_warnings(bundle, result.timing)
    return result


def parallel_lines(lines: LinesFile) -> dict[str, list[str]]:
    """Each parallel line's number -> all its numbers, normalized as calls are routed (the
    queue's default widening leaves these lines' callers with their own seats unless
    queue.yaml ``widen.parallel_lines`` lists them)."""
    area = lines.hotline.area_code
    return {
        normalize_number(line.number, area): sorted(
            {normalize_number(n, area) for n in (line.number, *line.aliases)}
            | {line.number, *line.aliases}
        )
        for line in lines.lines
        if line.mode is LineMode.PARALLEL
    }
