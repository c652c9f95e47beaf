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

The entry point is :func:`validate_directory`; :mod:`ivr.config.loader` wraps it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from ivr.config.bundle import normalize_number
from ivr.config.calendar import parse_range
from ivr.config.models import (
    DIAL_STRING_RE,
    AccessibilityFile,
    DepartmentsFile,
    HoursFile,
    HoursNode,
    LineMode,
    LinesFile,
    LookupNode,
    MenuFile,
    MenuNode,
    MessageNode,
    PlayNode,
    QueueNode,
    TransferNode,
)
from ivr.config.yamlpos import Located, UnreadableText, YamlSyntaxError, decode_text, load_text
from ivr.config.yamlpos import Path as YPath
from ivr.errors import Problem
from queueing.config import AGENT_INTERFACE_RE, AgentsFile, QueueFile

YAML_SYNTAX = "HL-CFG-001"
FILE_MISSING = "HL-CFG-002"
DUPLICATE_KEY = "HL-CFG-003"
UNKNOWN_KEY = "HL-CFG-004"
WRONG_VALUE = "HL-CFG-005"
MISSING_KEY = "HL-CFG-006"
UNKNOWN_NODE = "HL-CFG-010"
UNKNOWN_PROMPT = "HL-CFG-011"
UNKNOWN_DEPARTMENT = "HL-CFG-012"
UNKNOWN_SCHEDULE = "HL-CFG-013"
UNKNOWN_EMERGENCY = "HL-CFG-014"
DUPLICATE_DTMF = "HL-CFG-020"
RESERVED_KEY = "HL-CFG-021"
AMBIGUOUS_KEY = "HL-CFG-022"
UNREACHABLE = "HL-CFG-030"
FALLBACK_NO_PERSON = "HL-CFG-031"
LOOP_NO_PERSON = "HL-CFG-032"
PROMPT_FILE_MISSING = "HL-CFG-040"
PROMPT_EMPTY = "HL-CFG-041"
DUPLICATE_NUMBER = "HL-CFG-050"
BAD_DIAL = "HL-CFG-060"
SUBCENTRE_NO_TRANSFER = "HL-CFG-061"
TRANSFER_TARGET = "HL-CFG-062"
BAD_TIME_RANGE = "HL-CFG-070"
BAD_TIMEZONE = "HL-CFG-071"
DUPLICATE_OVERRIDE = "HL-CFG-072"
DUPLICATE_AGENT = "HL-CFG-080"
UNKNOWN_SKILL = "HL-CFG-081"
BAD_INTERFACE = "HL-CFG-082"
DUPLICATE_SIP_USER = "HL-CFG-083"
BAD_OVERFLOW = "HL-CFG-084"

MENU = "menu"
LINES = "lines"
DEPARTMENTS = "departments"
HOURS = "hours"
ACCESSIBILITY = "accessibility"
QUEUE = "queue"
AGENTS = "agents"

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
class Source:
    """One admin file: its display name, parsed data with positions, and model."""

    name: str
    located: Located = field(default_factory=lambda: Located(data=None))
    model: Any = None


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


def dotted(path: Iterable[object]) -> str:
    return ".".join(str(p) for p in path) or "(top)"


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


class _Checker:
    def __init__(self, directory: Path, recordings_dir: Path) -> None:
        self.directory = directory
        self.recordings_dir = recordings_dir
        self.problems: list[Problem] = []
        self.sources: dict[str, Source] = {}
        self.digest = hashlib.sha256()
        self.broken: dict[tuple[str, str], set[str]] = {}

    # -- reporting -----------------------------------------------------------------------

    def add(self, key: str, path: YPath, message: str, code: str, *, at_key: bool = False) -> None:
        src = self.sources[key]
        line, column = src.located.key_pos(path) if at_key else src.located.value_pos(path)
        self.problems.append(Problem(src.name, line, column, message, code))

    def where(self, key: str, path: YPath, *, at_key: bool = False) -> str:
        src = self.sources[key]
        line, column = src.located.key_pos(path) if at_key else src.located.value_pos(path)
        return f"{src.name}:{line}:{column}"

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

    def known(self, key: str, section: str, name: str, present: Container[str]) -> bool:
        """``name`` is defined, or defined but broken (and reported already)."""
        return name in present or name in self.broken.get((key, section), set())

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

    def check_dial(self, key: str, path: YPath, dial: str) -> None:
        if not DIAL_STRING_RE.match(dial):
            self.add(
                key,
                path,
                f"{dotted(path)}: {dial!r} is not an Asterisk dial string "
                "(TECH/resource, e.g. PJSIP/110@carrier)",
                BAD_DIAL,
            )

    def check_menu(self, menu: MenuFile, departments: DepartmentsFile | None) -> None:
        s = menu.settings
        nodes = menu.nodes
        settings_ok = (MENU, "settings") not in self.broken
        for name in ("entry", "fallback", "emergency"):
            target = getattr(s, name)
            if settings_ok and not self.known(MENU, "nodes", target, nodes):
                self.add(
                    MENU,
                    ("settings", name),
                    f"settings.{name}: no node named {target!r}",
                    UNKNOWN_NODE,
                )
        if settings_ok and not self.known(MENU, "prompts", s.invalid_prompt, menu.prompts):
            self.add(
                MENU,
                ("settings", "invalid_prompt"),
                f"settings.invalid_prompt: no prompt named {s.invalid_prompt!r}",
                UNKNOWN_PROMPT,
            )
        for pname, prompt in menu.prompts.items():
            if not prompt.text and not prompt.file:
                self.add(
                    MENU,
                    ("prompts", pname),
                    f"prompt {pname!r} has neither text nor file",
                    PROMPT_EMPTY,
                    at_key=True,
                )
            if prompt.file and not (self.directory / prompt.file).is_file():
                self.add(
                    MENU,
                    ("prompts", pname, "file"),
                    f"prompt {pname!r}: audio file {prompt.file!r} not found in {self.directory}",
                    PROMPT_FILE_MISSING,
                )
        for ename, dial in menu.emergency_lines.items():
            self.check_dial(MENU, ("emergency_lines", ename), dial)

        reserved = {s.operator_key: "the operator key"}
        if s.emergency_key:
            reserved[s.emergency_key] = "the emergency key"
        for node_id, node in nodes.items():
            base: YPath = ("nodes", node_id)
            prompt_lists = [("prompt", node.prompt)]
            if isinstance(node, MenuNode) and node.reprompt is not None:
                prompt_lists.append(("reprompt", node.reprompt))
            for key, names in prompt_lists:
                for i, pname in enumerate(names):
                    if not self.known(MENU, "prompts", pname, menu.prompts):
                        self.add(
                            MENU,
                            (*base, key, i),
                            f"node {node_id!r}: no prompt named {pname!r}",
                            UNKNOWN_PROMPT,
                        )
            for target, tpath in self.targets(node_id, node):
                if not self.known(MENU, "nodes", target, nodes):
                    self.add(
                        MENU,
                        tpath,
                        f"node {node_id!r}: {dotted(tpath[2:])} points to {target!r}, "
                        "which is not a node",
                        UNKNOWN_NODE,
                    )
            if isinstance(node, MenuNode):
                self.check_keys(node_id, node, reserved)
            elif isinstance(node, HoursNode):
                if departments is not None and not self.known(
                    DEPARTMENTS, "departments", node.department, departments.departments
                ):
                    self.add(
                        MENU,
                        (*base, "department"),
                        f"node {node_id!r}: no department named {node.department!r}",
                        UNKNOWN_DEPARTMENT,
                    )
            elif isinstance(node, TransferNode):
                if (node.dial is None) == (node.emergency is None):
                    self.add(
                        MENU,
                        base,
                        f"transfer node {node_id!r} needs exactly one of 'dial' and 'emergency'",
                        TRANSFER_TARGET,
                        at_key=True,
                    )
                if node.dial is not None:
                    self.check_dial(MENU, (*base, "dial"), node.dial)
                if node.emergency is not None and not self.known(
                    MENU, "emergency_lines", node.emergency, menu.emergency_lines
                ):
                    self.add(
                        MENU,
                        (*base, "emergency"),
                        f"node {node_id!r}: no emergency line {node.emergency!r} in "
                        "emergency_lines",
                        UNKNOWN_EMERGENCY,
                    )
        if not any(k == MENU for k, _ in self.broken):
            self.check_graph(menu)  # a graph with holes would give misleading reports

    def check_keys(self, node_id: str, node: MenuNode, reserved: dict[str, str]) -> None:
        keys = list(node.options)
        for key in keys:
            kpath: YPath = ("nodes", node_id, "options", key)
            if key in reserved:
                self.add(
                    MENU,
                    kpath,
                    f"menu {node_id!r}: key {key!r} is {reserved[key]} and cannot be an option",
                    RESERVED_KEY,
                    at_key=True,
                )
                continue
            for other in [*keys, *reserved]:
                if other != key and other.startswith(key):
                    whose = reserved.get(other, "option")
                    self.add(
                        MENU,
                        kpath,
                        f"menu {node_id!r}: key {key!r} is a prefix of {other!r} ({whose}); "
                        "a caller could never dial the longer one",
                        AMBIGUOUS_KEY,
                        at_key=True,
                    )

    def targets(self, node_id: str, node: Any) -> Iterator[tuple[str, YPath]]:
        """Explicit node references of one node, with the path of each."""
        base: YPath = ("nodes", node_id)
        if isinstance(node, MenuNode):
            for key, target in node.options.items():
                yield target, (*base, "options", key)
            if node.on_no_input:
                yield node.on_no_input, (*base, "on_no_input")
            if node.on_invalid:
                yield node.on_invalid, (*base, "on_invalid")
        elif isinstance(node, PlayNode | LookupNode | MessageNode):
            yield node.next, (*base, "next")
        elif isinstance(node, TransferNode):
            if node.on_fail:
                yield node.on_fail, (*base, "on_fail")
        elif isinstance(node, HoursNode):
            yield node.open, (*base, "open")
            yield node.closed, (*base, "closed")

    def edges(self, menu: MenuFile) -> dict[str, set[str]]:
        """Every way a call can move: explicit targets plus the defaults (silence, mistakes
        and the operator key go to settings.fallback; the emergency key to settings.emergency;
        a failed transfer to settings.fallback)."""
        s = menu.settings
        graph: dict[str, set[str]] = {}
        for node_id, node in menu.nodes.items():
            out = {t for t, _ in self.targets(node_id, node)}
            if isinstance(node, MenuNode):
                out.add(s.fallback)  # operator key; also silence/mistakes by default
                if s.emergency_key:
                    out.add(s.emergency)
            elif isinstance(node, TransferNode) and not node.on_fail:
                out.add(s.fallback)
            graph[node_id] = {t for t in out if t in menu.nodes}
        return graph

    def check_graph(self, menu: MenuFile) -> None:
        s = menu.settings
        nodes = menu.nodes
        graph = self.edges(menu)
        lines: LinesFile | None = self.sources[LINES].model
        roots = [s.entry, s.fallback, s.emergency]
        if lines is not None:
            roots += [line.entry for line in lines.lines if line.entry]
        seen: set[str] = set()
        todo = [r for r in roots if r in nodes]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(graph[n])
        for node_id in nodes:
            if node_id not in seen:
                self.add(
                    MENU,
                    ("nodes", node_id),
                    f"node {node_id!r} cannot be reached from settings.entry, settings.fallback, "
                    "settings.emergency or any line's entry",
                    UNREACHABLE,
                    at_key=True,
                )

        if s.fallback in nodes and not self.reaches_person(menu, s.fallback, set()):
            self.add(
                MENU,
                ("settings", "fallback"),
                f"settings.fallback: node {s.fallback!r} does not lead to a person without caller "
                "input; it must be a queue node, or a play/hours node leading to one",
                FALLBACK_NO_PERSON,
            )

        # Nodes that can reach a queue node (a person), by walking the edges backwards.
        reverse: dict[str, set[str]] = {n: set() for n in nodes}
        for n, outs in graph.items():
            for t in outs:
                reverse[t].add(n)
        escapes = {n for n, node in nodes.items() if isinstance(node, QueueNode)}
        todo = list(escapes)
        while todo:
            for p in reverse[todo.pop()]:
                if p not in escapes:
                    escapes.add(p)
                    todo.append(p)
        stuck = {n: {t for t in graph[n] if t not in escapes} for n in nodes if n not in escapes}
        order = list(nodes)
        for component in _sccs(stuck):
            cyclic = len(component) > 1 or any(n in stuck[n] for n in component)
            if not cyclic:
                continue
            members = sorted(component, key=order.index)
            self.add(
                MENU,
                ("nodes", members[0]),
                f"nodes {', '.join(members)} form a loop with no way out to a person "
                "(none of them leads to a queue node)",
                LOOP_NO_PERSON,
                at_key=True,
            )

    def reaches_person(self, menu: MenuFile, node_id: str, visiting: set[str]) -> bool:
        """Whether ``node_id`` reaches a queue node with no key pressed."""
        node = menu.nodes.get(node_id)
        if node is None or node_id in visiting:
            return False
        visiting = visiting | {node_id}
        if isinstance(node, QueueNode):
            return True
        if isinstance(node, PlayNode):
            return self.reaches_person(menu, node.next, visiting)
        if isinstance(node, HoursNode):
            return self.reaches_person(menu, node.open, visiting) and self.reaches_person(
                menu, node.closed, visiting
            )
        if isinstance(node, TransferNode):
            on_fail = node.on_fail or menu.settings.fallback
            return self.reaches_person(menu, on_fail, visiting)
        return False  # menu, lookup and message nodes wait for the caller

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

    # -- queue.yaml and agents.yaml (the operator queue, queueing/) ----------------------------

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
        users: dict[str, int] = {}
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
                    first = self.where(AGENTS, ("agents", users[spec.sip.username], "sip"))
                    self.add(
                        AGENTS,
                        ("agents", i, "sip", "username"),
                        f"agent {spec.id!r}: SIP username {spec.sip.username!r} is given twice "
                        f"(first at {first})",
                        DUPLICATE_SIP_USER,
                    )
                else:
                    users[spec.sip.username] = i


def _sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative) of ``graph``'s nodes."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
    return result


def validate_directory(directory: Path, recordings_dir: Path) -> Validated:
    """Read and check every admin file in ``directory``; collect all problems."""
    return _Checker(directory, recordings_dir).run()
