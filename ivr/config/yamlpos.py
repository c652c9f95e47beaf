"""Load YAML and remember where every key and value came from.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two equal mapping
keys. Validation needs both: a problem is reported as ``file:line:column``, and a duplicate
DTMF key in a menu is a mistake to report, not to hide. So the document is composed into
nodes (``yaml.compose`` with the safe loader), and the nodes are converted by hand:

- mapping keys become strings spelled as written (``1:`` is the key ``"1"``, ``01:`` stays
  ``"01"``); values are constructed the safe way (``12345`` is an int, ``"12345"`` a str,
  ``2025-10-01`` a ``date``);
- :attr:`Located.values` and :attr:`Located.keys` map a path such as
  ``("nodes", "main", "options", "1")`` to a 1-based ``(line, column)``; list items use
  ``int`` indices, as pydantic's error locations do;
- :attr:`Located.duplicates` lists every repeated key (the first one wins in :attr:`data`,
  so the error is reported at the later one).

Syntax errors raise :class:`YamlSyntaxError` with the 1-based position of the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

PathKey = str | int
Path = tuple[PathKey, ...]
Pos = tuple[int, int]

MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_NODES = 200_000  # guards against alias bombs ("billion laughs")
#: An admin file larger than this is refused before it is parsed: the biggest shipped file
#: is a few KiB, and a runaway file must not stall a reload.
MAX_FILE_BYTES = 1024 * 1024


class UnreadableText(Exception):
    """The bytes of an admin file cannot be read as text: too large, or not UTF-8.
    ``line`` and ``column`` (1-based) point at the first bad byte."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.message, self.line, self.column = message, line, column


def decode_text(raw: bytes, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of an admin file; :class:`UnreadableText` when it is over ``limit``
    bytes or holds a byte that is not UTF-8 (at that byte's line and column)."""
    if len(raw) > limit:
        raise UnreadableText(
            f"the file is {len(raw):,} bytes, over the limit of {limit:,}: "
            "an admin file is a few KiB; check that it is the right file"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        start = before.rfind(b"\n") + 1
        column = len(before[start:].decode("utf-8", "replace")) + 1
        raise UnreadableText(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} ({exc.reason}); save the file as UTF-8",
            line,
            column,
        ) from None


class YamlSyntaxError(Exception):
    """The text is not (single-document, plain-data) YAML."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Duplicate:
    """A mapping key given twice in the same mapping."""

    path: Path  # path of the mapping that holds the key
    key: str
    first: Pos
    again: Pos


@dataclass
class Located:
    """Plain data plus the positions of its keys and values."""

    data: Any
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)

    def value_pos(self, path: Path) -> Pos:
        """Position of the value at ``path``, or of the nearest ancestor that has one."""
        for i in range(len(path), -1, -1):
            pos = self.values.get(path[:i])
            if pos is not None:
                return pos
        return (1, 1)

    def key_pos(self, path: Path) -> Pos:
        """Position of the key of ``path`` (list items: the item), else of an ancestor."""
        for i in range(len(path), 0, -1):
            pos = self.keys.get(path[:i]) or self.values.get(path[:i])
            if pos is not None:
                return pos
        return (1, 1)


def _pos(node: Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.result = Located(data=None)
        self.count = 0
        self.stack: set[int] = set()

    def convert(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            line, column = _pos(node)
            raise YamlSyntaxError("document too large (too many aliases?)", line, column)
        self.result.values.setdefault(path, _pos(node))
        if isinstance(node, ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except (ValueError, TypeError) as exc:  # e.g. 2025-02-30 is not a date
                line, column = _pos(node)
                raise YamlSyntaxError(f"{node.value!r}: {exc}", line, column) from None
        if id(node) in self.stack:
            line, column = _pos(node)
            raise YamlSyntaxError("recursive alias", line, column)
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
        finally:
            self.stack.discard(id(node))
        line, column = _pos(node)  # pragma: no cover - compose yields only the three kinds
        raise YamlSyntaxError(f"unsupported node {node.tag}", line, column)

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, Pos] = {}
        merges: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                if isinstance(value_node, MappingNode):
                    merges.append(value_node)
                elif isinstance(value_node, SequenceNode) and all(
                    isinstance(v, MappingNode) for v in value_node.value
                ):
                    merges.extend(value_node.value)
                else:
                    line, column = _pos(value_node)
                    raise YamlSyntaxError("'<<' merges only mappings", line, column)
                continue
            if not isinstance(key_node, ScalarNode):
                line, column = _pos(key_node)
                raise YamlSyntaxError("a mapping key must be a plain value", line, column)
            key = str(key_node.value)
            if key in first_seen:
                self.result.duplicates.append(
                    Duplicate(path=path, key=key, first=first_seen[key], again=_pos(key_node))
                )
                continue
            first_seen[key] = _pos(key_node)
            self.result.keys[(*path, key)] = _pos(key_node)
            out[key] = self.convert(value_node, (*path, key))
        for merged in merges:  # explicit keys win over merged ones, earlier merges win
            for key_node, value_node in merged.value:
                if isinstance(key_node, ScalarNode) and str(key_node.value) not in out:
                    key = str(key_node.value)
                    self.result.keys[(*path, key)] = _pos(key_node)
                    out[key] = self.convert(value_node, (*path, key))
        return out


def load_text(text: str) -> Located:
    """Parse one YAML document. An empty document gives ``data=None``."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = "; ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
            raise YamlSyntaxError(message, line, column) from None
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(str(exc), 1, 1) from None
        if node is None:
            return Located(data=None)
        converter = _Converter(loader)
        try:
            converter.result.data = converter.convert(node, ())
        except yaml.MarkedYAMLError as exc:  # e.g. a bad !!timestamp
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise YamlSyntaxError(exc.problem or str(exc), line, column) from None
        return converter.result
    finally:
        loader.dispose()
