"""The ticket catalogues: types with deadlines, categories, departments, dispatch map.

They live in ``<config>/tickets/catalogue.yaml`` and are validated the way the menu files are:
every problem is reported as ``file:line:column: message [code]``
(:func:`check_catalogue`), and :func:`load_catalogue` refuses a file with problems
(:class:`~ivr.errors.ConfigError`).

In a line config (a directory with ``departments.yaml``), :func:`check_catalogue` also checks
the catalogue against the line files: every department of ``departments.yaml`` (the
departments that ``lines.yaml`` and ``menu.yaml`` name) must be a catalogue department under
the same key, or a ticket from its line could not be dispatched to it (HL-CAT-006, at the
department in ``departments.yaml``). The two files naming one department differently is a
warning (:func:`catalogue_warnings`, HL-CAT-007): a catalogue may use short names on tickets.

The catalogue also names the channels tickets come in by (``sources``): the phone (``phone``)
and the citizens' web page (``web``) always exist (with these names unless the file renames
them), and each upper-level platform that forwards items (人民网领导留言板, 省长信箱, ...) is
a source of kind ``upper``, with the report group it is counted under (``group``, e.g. the
office that forwards it) and where its replies go (``reply``: a directory for files or a
webhook URL). A ticket stores its source's code; the code of a source in use must not change.

Category codes form paths: ``housing.property`` is the child ``property`` of ``housing``.
A ticket stores the full path and its top level (reports group by the top level).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError

from ivr.config.catalogue_sources import BUILT_IN_SOURCES, SourceModel, source_problems
from ivr.config.hotspot_rules import HotspotRules
from ivr.config.models import Strict
from ivr.config.schema_problems import schema_problems
from ivr.config.yamlpos import Located, UnreadableText, YamlSyntaxError, decode_text, load_text
from ivr.errors import ConfigError, Problem

CATALOGUE_FILE = Path("tickets") / "catalogue.yaml"
MAX_DEPTH = 4

# Stable problem codes.
CAT_FILE = "HL-CAT-001"  # missing or unreadable file, YAML syntax
CAT_SCHEMA = "HL-CAT-002"  # unknown key, missing key, wrong value
CAT_DUPLICATE = "HL-CAT-003"  # a key given twice
CAT_REFERENCE = "HL-CAT-004"  # dispatch names an unknown category or department
CAT_DEPTH = "HL-CAT-005"  # categories nested too deep
CAT_LINE_DEPARTMENT = "HL-CAT-006"  # a department of departments.yaml the catalogue lacks
CAT_NAME_DIFFERS = "HL-CAT-007"  # warning: departments.yaml names a department differently

DEPARTMENTS_FILE = "departments.yaml"
LINES_FILE = "lines.yaml"

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class TicketTypeModel(Strict):
    name: str = Field(min_length=1)
    deadline_days: int = Field(ge=0, le=60, description="working days to finish and reply")


class CategoryModel(Strict):
    name: str = Field(min_length=1)
    special: bool = False
    children: dict[Code, CategoryModel] = Field(default_factory=dict)


class DepartmentModel(Strict):
    name: str = Field(min_length=1)
    kind: Literal["district", "bureau", "company", "other"] = "bureau"
    phone: str | None = None


class CatalogueFile(Strict):
    due_soon_hours: float = Field(4.0, ge=0, le=240)
    duplicate_days: int = Field(
        7, ge=1, le=90, description="并单: tickets this many days apart may be duplicates"
    )
    types: dict[Code, TicketTypeModel] = Field(min_length=1)
    categories: dict[Code, CategoryModel] = Field(min_length=1)
    departments: dict[Code, DepartmentModel] = Field(min_length=1)
    dispatch: dict[str, Code] = Field(default_factory=dict)
    sources: dict[Code, SourceModel] = Field(default_factory=dict)
    hotspots: HotspotRules = Field(default_factory=HotspotRules)  # 热点诉求 (docs/hotspots.md)


@dataclass(frozen=True)
class CategoryInfo:
    path: str  # housing.property
    name: str  # 物业服务
    full_name: str  # 住建/物业服务
    top: str  # housing
    special: bool  # the top level is a special topic (专项, e.g. 疫情)
    depth: int


class Catalogue:
    """The validated catalogue, with lookups."""

    def __init__(self, model: CatalogueFile) -> None:
        self.model = model
        self.types = dict(model.types)
        self.departments = dict(model.departments)
        self.dispatch = dict(model.dispatch)
        self.due_soon_hours = model.due_soon_hours
        self.duplicate_days = model.duplicate_days
        self.sources: dict[str, SourceModel] = {**BUILT_IN_SOURCES, **model.sources}
        self.categories: dict[str, CategoryInfo] = {}

        def walk(
            children: dict[str, CategoryModel], prefix: str, names: str, top: str, special: bool
        ) -> None:
            for code, cat in children.items():
                path = f"{prefix}.{code}" if prefix else code
                full = f"{names}/{cat.name}" if names else cat.name
                root = top or code
                spec = special or (not prefix and cat.special)
                self.categories[path] = CategoryInfo(
                    path, cat.name, full, root, spec, path.count(".") + 1
                )
                walk(cat.children, path, full, root, spec)

        walk(model.categories, "", "", "", False)

    def type_name(self, code: str) -> str:
        t = self.types.get(code)
        return t.name if t else code

    def department_name(self, code: str | None) -> str:
        if code is None:
            return ""
        d = self.departments.get(code)
        return d.name if d else code

    def source_name(self, code: str) -> str:
        src = self.sources.get(code)
        return src.name if src else code

    def upper_sources(self) -> dict[str, SourceModel]:
        """The upper-level platforms, in the file's order."""
        return {k: v for k, v in self.sources.items() if v.kind == "upper"}

    def category(self, path: str) -> CategoryInfo:
        return self.categories[path]

    def category_name(self, path: str) -> str:
        info = self.categories.get(path)
        return info.full_name if info else path

    def deadline_days(self, type_code: str) -> int:
        return self.types[type_code].deadline_days

    def default_department(self, category: str) -> str | None:
        """The dispatch catalogue's department for ``category`` or its nearest ancestor."""
        parts = category.split(".")
        for i in range(len(parts), 0, -1):
            dept = self.dispatch.get(".".join(parts[:i]))
            if dept is not None:
                return dept
        return None

    def top_levels(self) -> list[CategoryInfo]:
        return [c for c in self.categories.values() if c.depth == 1]


# ----------------------------------------------------------------------------- validation


def _read(directory: Path) -> tuple[list[Problem], CatalogueFile | None]:
    path = directory / CATALOGUE_FILE
    name = str(path)
    try:
        text = decode_text(path.read_bytes())
    except UnreadableText as exc:
        return [Problem(name, exc.line, exc.column, exc.message, CAT_FILE)], None
    except FileNotFoundError:
        return [
            Problem(name, 1, 1, f"the ticket catalogue is missing: create {path}", CAT_FILE)
        ], None
    except OSError as exc:
        return [Problem(name, 1, 1, f"cannot read: {exc}", CAT_FILE)], None
    try:
        located = load_text(text)
    except YamlSyntaxError as exc:
        return [Problem(name, exc.line, exc.column, f"YAML: {exc.message}", CAT_FILE)], None
    problems = [
        Problem(
            name,
            d.again[0],
            d.again[1],
            f"{'.'.join(str(p) for p in d.path) or '(top)'}: key {d.key!r} is given twice "
            f"(first at line {d.first[0]}); remove one",
            CAT_DUPLICATE,
        )
        for d in located.duplicates
    ]
    data: Any = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        return [*problems, Problem(name, 1, 1, "the file must be a mapping", CAT_SCHEMA)], None
    try:
        model = CatalogueFile.model_validate(data)
    except ValidationError as exc:
        return [*problems, *schema_problems(name, located, exc, CAT_SCHEMA)], None
    problems += _semantic(name, located, model)
    return problems, model


def _semantic(name: str, located: Located, model: CatalogueFile) -> list[Problem]:
    problems = []
    cat = Catalogue(model)
    for path, info in cat.categories.items():
        if info.depth > MAX_DEPTH:
            ypath: tuple[str, ...] = ("categories",)
            for part in path.split("."):
                ypath = (*ypath, part) if ypath == ("categories",) else (*ypath, "children", part)
            line, col = located.key_pos(ypath)
            problems.append(
                Problem(
                    name,
                    line,
                    col,
                    f"category {path!r} is {info.depth} levels deep; at most {MAX_DEPTH} allowed",
                    CAT_DEPTH,
                )
            )
    problems += source_problems(name, located, model.sources)
    for category, dept in model.dispatch.items():
        if category not in cat.categories:
            line, col = located.key_pos(("dispatch", category))
            problems.append(
                Problem(
                    name,
                    line,
                    col,
                    f"dispatch: unknown category {category!r}; write a path of "
                    "categories such as 'housing.property'",
                    CAT_REFERENCE,
                )
            )
        if dept not in model.departments:
            line, col = located.value_pos(("dispatch", category))
            problems.append(
                Problem(
                    name,
                    line,
                    col,
                    f"dispatch.{category}: unknown department {dept!r}; add it under "
                    "departments or correct the name",
                    CAT_REFERENCE,
                )
            )
    return problems


# ----------------------------------------------------------------------------- line files


def _located(path: Path) -> Located | None:
    """A line file, or None when it is absent or unreadable (``check_config`` reports that)."""
    try:
        return load_text(decode_text(path.read_bytes()))
    except (OSError, UnreadableText, YamlSyntaxError):
        return None


def _line_departments(directory: Path) -> tuple[Located, dict[str, Any]] | None:
    """``departments.yaml``'s departments (code -> entry), or None if there is no such file
    (a catalogue-only directory such as ``config/demo-siping``) or it is broken."""
    located = _located(directory / DEPARTMENTS_FILE)
    data = located.data if located is not None else None
    departments = data.get("departments") if isinstance(data, dict) else None
    if located is None or not isinstance(departments, dict):
        return None
    return located, departments


def _lines_naming(directory: Path) -> dict[str, list[str]]:
    """department code -> the numbers of the lines of ``lines.yaml`` that name it."""
    located = _located(directory / LINES_FILE)
    data = located.data if located is not None else None
    lines = data.get("lines") if isinstance(data, dict) else None
    named: dict[str, list[str]] = {}
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, dict) and isinstance(line.get("department"), str):
            named.setdefault(line["department"], []).append(str(line.get("number", "?")))
    return named


def _cross_problems(directory: Path, model: CatalogueFile) -> list[Problem]:
    found = _line_departments(directory)
    if found is None:
        return []
    located, departments = found
    lines = _lines_naming(directory)
    name = str(directory / DEPARTMENTS_FILE)
    catalogue = directory / CATALOGUE_FILE
    problems = []
    for code, entry in departments.items():
        if code in model.departments:
            continue
        line, col = located.key_pos(("departments", code))
        title = entry.get("name") if isinstance(entry, dict) else None
        numbers = lines.get(code, [])
        whose = f"tickets from line(s) {', '.join(numbers)} cannot" if numbers else "no ticket can"
        problems.append(
            Problem(
                name,
                line,
                col,
                f"department {code!r} is not in the ticket catalogue {catalogue}, so {whose} "
                f"be dispatched to it; add "
                f"'{code}: {{name: {title or '...'}}}' under departments there",
                CAT_LINE_DEPARTMENT,
            )
        )
    return problems


def check_catalogue(directory: Path) -> list[Problem]:
    """Every problem of ``directory/tickets/catalogue.yaml``, in file order (empty: OK), with
    the departments of ``directory/departments.yaml`` that it lacks (HL-CAT-006)."""
    problems, model = _read(directory)
    if model is not None:
        problems += _cross_problems(directory, model)
    return sorted(problems)


def catalogue_warnings(directory: Path) -> list[Problem]:
    """Worth fixing, but the line runs: a department named differently in
    ``departments.yaml`` and the catalogue (HL-CAT-007, at the catalogue's name)."""
    problems, model = _read(directory)
    found = _line_departments(directory)
    if problems or model is None or found is None:
        return []
    path = directory / CATALOGUE_FILE
    located = _located(path)
    _, departments = found
    warnings = []
    for code, entry in departments.items():
        ours = model.departments.get(code)
        theirs = entry.get("name") if isinstance(entry, dict) else None
        if ours is None or located is None or not isinstance(theirs, str) or ours.name == theirs:
            continue
        line, col = located.value_pos(("departments", code, "name"))
        warnings.append(
            Problem(
                str(path),
                line,
                col,
                f"department {code!r} is {ours.name!r} on tickets but {theirs!r} in "
                f"{directory / DEPARTMENTS_FILE}; give both the same name unless the "
                "short name is meant",
                CAT_NAME_DIFFERS,
            )
        )
    return sorted(warnings)


def load_catalogue(directory: Path) -> Catalogue:
    """The catalogue of config directory ``directory``; raises ConfigError on problems."""
    problems, model = _read(directory)
    if problems or model is None:
        raise ConfigError(problems)
    return Catalogue(model)
