"""The quality-check form (质检评分表), ``<config>/quality.yaml``: the items a supervisor scores
a recorded call on, each with its most points and what it means, and the pass mark.

    pass_mark: 80                 # optional: a total below it fails
    items:
      attitude:                   # the item's code (stored with each score)
        name: 服务态度
        max: 30
        description: 语气亲切、耐心倾听，不打断、不争执

The file is optional (without it there are no quality checks); when present it is validated
as the other admin files are: every problem at its ``file:line:column`` with a stable code
(:func:`check_quality`, listed by ``hotline check-config``), and :func:`load_quality_form`
refuses a file with problems (:class:`~ivr.errors.ConfigError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from ivr.config.models import Strict
from ivr.config.schema_problems import schema_problems
from ivr.config.yamlpos import UnreadableText, YamlSyntaxError, decode_text, load_text
from ivr.errors import ConfigError, Problem

QUALITY_FILE = "quality.yaml"

# Stable problem codes.
QUA_FILE = "HL-QUA-001"  # unreadable file, YAML syntax, not a mapping
QUA_SCHEMA = "HL-QUA-002"  # unknown key, missing key, wrong value
QUA_DUPLICATE = "HL-QUA-003"  # a key given twice
QUA_PASS_MARK = "HL-QUA-004"  # the pass mark is above the most points of the form

ItemCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class QualityItemModel(Strict):
    name: str = Field(min_length=1, max_length=40)
    max: int = Field(ge=1, le=100, description="the most points of the item")
    description: str = Field("", max_length=200)


class QualityFile(Strict):
    items: dict[ItemCode, QualityItemModel] = Field(min_length=1, max_length=20)
    pass_mark: int | None = Field(None, ge=0)


@dataclass(frozen=True)
class QualityItem:
    code: str
    name: str
    max: int
    description: str


@dataclass(frozen=True)
class QualityForm:
    """The validated form, its items in file order."""

    items: tuple[QualityItem, ...]
    pass_mark: int | None

    @property
    def max_total(self) -> int:
        return sum(i.max for i in self.items)

    def item(self, code: str) -> QualityItem | None:
        return next((i for i in self.items if i.code == code), None)

    @classmethod
    def of(cls, model: QualityFile) -> QualityForm:
        items = tuple(
            QualityItem(code, i.name, i.max, i.description) for code, i in model.items.items()
        )
        return cls(items, model.pass_mark)


def read_quality(directory: Path) -> tuple[list[Problem], QualityFile | None]:
    """The problems of ``directory/quality.yaml`` and its model (None: absent or refused)."""
    path = directory / QUALITY_FILE
    name = str(path)
    try:
        located = load_text(decode_text(path.read_bytes()))
    except FileNotFoundError:
        return [], None
    except UnreadableText as exc:
        return [Problem(name, exc.line, exc.column, exc.message, QUA_FILE)], None
    except OSError as exc:
        return [Problem(name, 1, 1, f"cannot read: {exc.strerror}", QUA_FILE)], None
    except YamlSyntaxError as exc:
        return [Problem(name, exc.line, exc.column, f"YAML: {exc.message}", QUA_FILE)], None
    problems = [
        Problem(
            name,
            d.again[0],
            d.again[1],
            f"{'.'.join(str(p) for p in d.path) or '(top)'}: key {d.key!r} is given twice "
            f"(first at line {d.first[0]}); remove one",
            QUA_DUPLICATE,
        )
        for d in located.duplicates
    ]
    data: Any = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        return [*problems, Problem(name, 1, 1, "the file must be a mapping", QUA_FILE)], None
    try:
        model = QualityFile.model_validate(data)
    except ValidationError as exc:
        found = schema_problems(name, located, exc, QUA_SCHEMA, key_word="item code")
        return [*problems, *found], None
    total = sum(i.max for i in model.items.values())
    if model.pass_mark is not None and model.pass_mark > total:
        line, col = located.value_pos(("pass_mark",))
        problems.append(
            Problem(
                name,
                line,
                col,
                f"pass_mark: {model.pass_mark} is more than the form's {total} points "
                "(the items' max added up): no call could pass",
                QUA_PASS_MARK,
            )
        )
    return problems, model


def check_quality(directory: Path) -> list[Problem]:
    """Every problem of ``directory/quality.yaml`` in file order (empty: OK or absent)."""
    return sorted(read_quality(directory)[0])


def load_quality_form(directory: Path) -> QualityForm | None:
    """The form of config directory ``directory``; None without a ``quality.yaml``; raises
    ConfigError on problems."""
    problems, model = read_quality(directory)
    if problems:
        raise ConfigError(problems)
    return None if model is None else QualityForm.of(model)
