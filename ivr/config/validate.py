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

The entry point is :func:`validate_directory`; :mod:`ivr.config.loader` wraps it. This module
reads the files into their models; the checks are in :mod:`ivr.config.validate_menu`
(menu.yaml) and :mod:`ivr.config.validate_files` (the other files, and across files), on the
reporting of :mod:`ivr.config.validate_base` (where the codes are defined).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

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
from ivr.config.queue_models import AgentsFile, QueueFile
from ivr.config.timing import Timing, time_to_person
from ivr.config.validate_base import (
    ACCESSIBILITY,
    AGENTS,
    DEPARTMENTS,
    DUPLICATE_DTMF,
    DUPLICATE_KEY,
    FILE_MISSING,
    HOURS,
    LINES,
    MENU,
    MISSING_KEY,
    QUEUE,
    UNKNOWN_KEY,
    WRONG_VALUE,
    YAML_SYNTAX,
    Source,
    dotted,
)
from ivr.config.validate_files import FileChecks
from ivr.config.validate_menu import MenuChecks
from ivr.config.warn import config_warnings
from ivr.config.yamlpos import Path as YPath
from ivr.config.yamlpos import UnreadableText, YamlSyntaxError, decode_text, load_text
from ivr.errors import Problem

# Named collections whose broken entries can be left out to check the rest (see salvage).
SALVAGE: dict[str, set[str]] = {
    MENU: {"settings", "prompts", "emergency_lines", "nodes"},
    DEPARTMENTS: {"departments"},
    HOURS: {"schedules"},
}

# key -> (file name, model, required)
FILES: dict[str, tuple[str, type[BaseModel], bool]] = {
    MENU: ("menu.yaml", MenuFile, True),
    LINES: ("lines.yaml", LinesFile, True),
    DEPARTMENTS: ("departments.yaml", DepartmentsFile, True),
    HOURS: ("hours.yaml", HoursFile, False),
    ACCESSIBILITY: ("accessibility.yaml", AccessibilityFile, False),
    QUEUE: ("queue.yaml", QueueFile, False),
    AGENTS: ("agents.yaml", AgentsFile, False),
}


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
        )


def _resolve(data: Any, loc: tuple[int | str, ...]) -> tuple[YPath, bool]:
    """Map a pydantic error location to a path in the data. Location parts that are not in
    the data (union tags such as ``menu`` or ``list[...]``) are skipped. Returns the path and
    whether the error is about a mapping key (``[key]``)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        in_dict = isinstance(current, dict) and isinstance(part, str) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            current = current[part]
            path.append(part)
    return tuple(path), False


class _Checker(MenuChecks, FileChecks):
    """Reads every admin file, then runs every check (:mod:`ivr.config.validate_menu`,
    :mod:`ivr.config.validate_files`)."""

    # -- reading and models --------------------------------------------------------------

    def read(self) -> None:
        for key, (filename, model, required) in FILES.items():
            path = self.directory / filename
            src = Source(name=str(path))
            self.sources[key] = src
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                if required:
                    self.problems.append(
                        Problem(
                            src.name,
                            1,
                            1,
                            f"required file {filename} is missing from {self.directory}",
                            FILE_MISSING,
                        )
                    )
                else:
                    src.model = model()
                continue
            except OSError as exc:
                self.problems.append(
                    Problem(src.name, 1, 1, f"cannot read: {exc.strerror}", YAML_SYNTAX)
                )
                continue
            self.digest.update(filename.encode() + b"\0" + raw + b"\0")
            try:
                src.located = load_text(decode_text(raw))
            except UnreadableText as exc:
                self.problems.append(
                    Problem(src.name, exc.line, exc.column, exc.message, YAML_SYNTAX)
                )
                continue
            except YamlSyntaxError as exc:
                self.problems.append(
                    Problem(src.name, exc.line, exc.column, f"YAML: {exc.message}", YAML_SYNTAX)
                )
                continue
            self.duplicates(key)
            data = src.located.data
            if data is None:
                data = src.located.data = {}
            if not isinstance(data, dict):
                self.add(key, (), "the file must be a mapping of keys to values", YAML_SYNTAX)
                continue
            try:
                src.model = model.model_validate(data)
            except ValidationError as exc:
                self.pydantic(key, exc)
                src.model = self.salvage(key, model, data, exc)

    def salvage(self, key: str, model: type[BaseModel], data: dict[str, Any], exc: Any) -> Any:
        """A model without the broken entries, so that the rest of the file is still checked.

        Entries of named collections (a node, a prompt, a department...) that have errors are
        left out and remembered in :attr:`broken`; references to them are then not reported
        again, and the graph checks are skipped. Returns None when that is not possible."""
        collections = SALVAGE.get(key, set())
        pruned = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
        for err in exc.errors(include_url=False):
            path, _ = _resolve(data, tuple(err["loc"]))
            if len(path) < 2 or path[0] not in collections:
                return None
            section = pruned.get(str(path[0]))
            if not isinstance(section, dict):
                return None
            section.pop(str(path[1]), None)
            self.broken.setdefault((key, str(path[0])), set()).add(str(path[1]))
        try:
            return model.model_validate(pruned)
        except ValidationError:
            return None

    def duplicates(self, key: str) -> None:
        src = self.sources[key]
        for dup in src.located.duplicates:
            first = f"{src.name}:{dup.first[0]}:{dup.first[1]}"
            is_menu_option = (
                key == MENU and len(dup.path) == 3 and dup.path[0] == "nodes"
            ) and dup.path[2] == "options"
            if is_menu_option:
                message = (
                    f"menu {dup.path[1]!r}: key {dup.key!r} is given twice (first at {first}); "
                    "each key may lead to one node only"
                )
                code = DUPLICATE_DTMF
            else:
                message = (
                    f"{dotted(dup.path)}: key {dup.key!r} is given twice (first at {first}); "
                    "remove one"
                )
                code = DUPLICATE_KEY
            self.problems.append(Problem(src.name, dup.again[0], dup.again[1], message, code))

    def pydantic(self, key: str, exc: ValidationError) -> None:
        src = self.sources[key]
        wrong: dict[tuple[YPath, bool], tuple[Any, list[str]]] = {}
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            kind = err["type"]
            path, is_key = _resolve(src.located.data, loc)
            if kind == "extra_forbidden":
                self.add(
                    key,
                    path,
                    f"{dotted(path[:-1])}: unknown key {path[-1]!r}",
                    UNKNOWN_KEY,
                    at_key=True,
                )
            elif kind == "missing":
                self.add(
                    key,
                    path,
                    f"{dotted(path)}: missing required key {loc[-1]!r}",
                    MISSING_KEY,
                    at_key=True,
                )
            elif kind in ("union_tag_invalid", "union_tag_not_found"):
                node = src.located.data
                for part in path:
                    node = node[part]
                if isinstance(node, dict) and "type" in node:
                    self.add(
                        key,
                        (*path, "type"),
                        f"{dotted(path)}: unknown node type {node['type']!r}; expected one of "
                        "menu, play, queue, lookup, message, transfer, hours",
                        WRONG_VALUE,
                    )
                else:
                    self.add(
                        key,
                        path,
                        f"{dotted(path)}: missing required key 'type'",
                        MISSING_KEY,
                        at_key=True,
                    )
            else:
                # A union (e.g. ``days: workdays | [mon, ...]``) gives one error per member:
                # one problem per place, listing what each member expected.
                group = wrong.setdefault((path, is_key), (err.get("input"), []))
                hint = ""
                if kind == "string_type" and isinstance(group[0], int | float):
                    hint = f' (write it in quotes: "{group[0]}")'
                if err["msg"] + hint not in group[1]:
                    group[1].append(err["msg"] + hint)
        for (path, is_key), (value, messages) in wrong.items():
            what = "key" if is_key else "value"
            self.add(
                key,
                path,
                f"{dotted(path)}: bad {what} {value!r}: {'; or '.join(messages)}",
                WRONG_VALUE,
                at_key=is_key,
            )

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
