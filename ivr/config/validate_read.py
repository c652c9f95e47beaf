"""Reading the admin files into their models (the first step of :mod:`ivr.config.validate`):
each file's bytes, its YAML with positions, keys given twice, and pydantic's errors told as
problems at their ``file:line:column``; a file with broken entries is salvaged without them so
that the rest of it is still checked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ivr.config.models import (
    AccessibilityFile,
    DepartmentsFile,
    HoursFile,
    LinesFile,
    MenuFile,
)
from ivr.config.notify_models import NotifyFile
from ivr.config.privacy_models import PrivacyFile
from ivr.config.queue_models import AgentsFile, QueueFile
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
    NOTIFY,
    PRIVACY,
    QUEUE,
    UNKNOWN_KEY,
    WRONG_VALUE,
    YAML_SYNTAX,
    CheckerBase,
    Source,
    dotted,
)
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
    PRIVACY: ("privacy.yaml", PrivacyFile, False),
    NOTIFY: ("notify.yaml", NotifyFile, False),
}


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


class ReadChecks(CheckerBase):
    """Reads every admin file into its model, reporting what cannot be read or validated."""

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
