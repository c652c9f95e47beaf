"""Reading a batch of forwarded items: JSON (a list of objects) or CSV (a header row, then one
item a row). Every item is read on its own: a bad one is an error naming its row (CSV: the
file's line, the header being line 1; JSON: the item's place in the list, from 1) and its
column, and the others are still read. What cannot be read at all (not JSON, not a list, no
header, a required column missing) refuses the batch (:class:`IntakeError`, HL-IMP-001).

CSV files come as UTF-8, with or without the byte-order mark Excel writes, or as GBK (GB18030),
which is what Excel on a Chinese Windows saves "CSV" as and what many platforms export: a file
that is not UTF-8 is read as GB18030, and the batch says so."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from ivr.intake.item import BAD_ITEM, CHINESE_HEADERS, IntakeError, IntakeItem

FORMATS = ("json", "csv")
REQUIRED = ("external_id", "received_at", "phone", "content", "type")


@dataclass(frozen=True)
class RowError:
    where: str  # "row 3" (CSV line) or "item 2" (JSON)
    column: str | None
    error_id: str
    message: str

    def __str__(self) -> str:
        column = f", column {self.column}" if self.column else ""
        return f"{self.where}{column}: {self.message} [{self.error_id}]"


@dataclass(frozen=True)
class ParsedRow:
    where: str
    item: IntakeItem | None
    error: RowError | None = None
    external_id: str = ""  # as far as it could be read, to name a refused row


@dataclass
class Parsed:
    rows: list[ParsedRow]
    encoding: str = "utf-8"
    ignored_columns: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> the file's column name


def _problem(exc: ValidationError, columns: dict[str, str]) -> tuple[str | None, str]:
    err = exc.errors(include_url=False)[0]
    loc = err.get("loc", ())
    name = str(loc[0]) if loc else None
    column = columns.get(name, name) if name else None
    if err["type"] == "missing":
        return column, "missing; every item needs it"
    if err["type"] == "extra_forbidden":
        return column, "unknown field; known: " + ", ".join(IntakeItem.model_fields)
    got = err.get("input")
    if name == "phone" and err["type"] == "string_pattern_mismatch":
        return column, f"{got!r} is not a phone number (digits; a leading +, spaces, - allowed)"
    if name == "received_at" and err["type"].startswith(("datetime", "date")):
        return column, f"{got!r} is not a date and time: write 2025-09-25 08:30 or ISO 8601"
    return column, str(err.get("msg", "invalid"))


def read_row(where: str, data: Any, columns: dict[str, str] | None = None) -> ParsedRow:
    """One item from its fields (``columns``: field -> the file's column name)."""
    if not isinstance(data, dict):
        error = RowError(where, None, BAD_ITEM, "an item is an object of fields")
        return ParsedRow(where, None, error)
    raw_id = data.get("external_id")
    ext = str(raw_id).strip()[:120] if isinstance(raw_id, str | int) else ""
    try:
        return ParsedRow(where, IntakeItem.model_validate(data), None, ext)
    except ValidationError as exc:
        column, message = _problem(exc, columns or {})
        return ParsedRow(where, None, RowError(where, column, BAD_ITEM, message), ext)


def read_items(items: Sequence[Any]) -> Parsed:
    """A list of JSON objects, each an item."""
    return Parsed([read_row(f"item {n}", data) for n, data in enumerate(items, 1)])


def read_json(raw: bytes) -> Parsed:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IntakeError(f"the file is not JSON (UTF-8): {exc}") from None
    if not isinstance(data, list):
        raise IntakeError("a JSON file of items is a list: [{...}, {...}]")
    return read_items(data)


def decode(raw: bytes) -> tuple[str, str]:
    """The text and the encoding it was read in: UTF-8 (a BOM or not), else GB18030 (GBK)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", "strict"), "utf-8 (BOM)"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "GBK (GB18030)"
    except UnicodeDecodeError as exc:
        raise IntakeError(
            f"the file is neither UTF-8 nor GBK (byte {exc.start}): save it as UTF-8 CSV"
        ) from None


def _header(names: list[str]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """column index -> field, field -> column name, and the columns no field takes."""
    by_index: dict[int, str] = {}
    names_of: dict[str, str] = {}
    ignored = []
    for i, raw in enumerate(names):
        name = raw.strip()
        key = CHINESE_HEADERS.get(name, name.lower())
        if key not in IntakeItem.model_fields:
            if name:
                ignored.append(name)
            continue
        if key in names_of:
            raise IntakeError(
                f"line 1: columns {names_of[key]!r} and {name!r} both give {key}; keep one"
            )
        by_index[i], names_of[key] = key, name
    missing = [f for f in REQUIRED if f not in names_of]
    if missing:
        raise IntakeError(
            f"line 1: the header lacks the column(s) {', '.join(missing)} "
            f"(found: {', '.join(n.strip() for n in names) or 'nothing'})"
        )
    return by_index, names_of, ignored


def read_csv(raw: bytes) -> Parsed:
    text, encoding = decode(raw)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = next(reader, None)
        if names is None:
            raise IntakeError("the CSV file is empty: it needs a header row, then the items")
        by_index, names_of, ignored = _header(names)
        rows = []
        start = reader.line_num + 1
        for record in reader:
            where, start = f"row {start}", reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            if len(record) != len(names):
                error = RowError(
                    where, None, BAD_ITEM, f"{len(record)} fields, the header has {len(names)}"
                )
                rows.append(ParsedRow(where, None, error))
                continue
            # an empty cell is a field not given: its default, or "missing" if it has none
            data = {by_index[i]: v for i, v in enumerate(record) if i in by_index and v.strip()}
            rows.append(read_row(where, data, names_of))
    except csv.Error as exc:
        raise IntakeError(f"line {reader.line_num}: not CSV: {exc}") from None
    return Parsed(rows, encoding, ignored, names_of)


def read_file(raw: bytes, fmt: str) -> Parsed:
    if fmt not in FORMATS:
        raise IntakeError(f"unknown format {fmt!r}: json or csv")
    return read_json(raw) if fmt == "json" else read_csv(raw)


def read_category_map(raw: bytes) -> dict[str, str]:
    """A platform's category names and the catalogue's categories they are (YAML:
    ``供暖问题: utilities.heating``, one a line; a JSON object reads too)."""
    try:
        data = yaml.safe_load(decode(raw)[0])
    except yaml.YAMLError as exc:
        raise IntakeError(f"the category map is not YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str | int) and isinstance(v, str) for k, v in data.items()
    ):
        raise IntakeError("the category map is a mapping: the platform's category: ours")
    return {str(k): v for k, v in data.items()}
