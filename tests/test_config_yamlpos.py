"""yamlpos: plain data with the line:column of every key and value, and duplicate keys."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.config.yamlpos import Duplicate, YamlSyntaxError, load_text

TEXT = """\
nodes:
  main:
    type: menu
    options:
      1: policy
      "*9": emergency
      "2": lookup
list:
  - a
  - {b: 2, c: [x, y]}
when: 2025-10-01
flag: true
number: 12345
quoted: "012"
nothing:
"""


def test_plain_data_and_string_keys() -> None:
    doc = load_text(TEXT)
    assert doc.data == {
        "nodes": {
            "main": {
                "type": "menu",
                "options": {"1": "policy", "*9": "emergency", "2": "lookup"},
            }
        },
        "list": ["a", {"b": 2, "c": ["x", "y"]}],
        "when": dt.date(2025, 10, 1),
        "flag": True,
        "number": 12345,
        "quoted": "012",
        "nothing": None,
    }
    assert doc.duplicates == []


def test_positions_of_keys_and_values() -> None:
    doc = load_text(TEXT)
    assert doc.keys[("nodes", "main", "options", "1")] == (5, 7)
    assert doc.values[("nodes", "main", "options", "1")] == (5, 10)
    assert doc.keys[("nodes", "main", "options", "*9")] == (6, 7)
    assert doc.values[("nodes", "main", "options", "*9")] == (6, 13)
    assert doc.values[("list", 0)] == (9, 5)
    assert doc.values[("list", 1)] == (10, 5)
    assert doc.keys[("list", 1, "c")] == (10, 12)
    assert doc.values[("list", 1, "c", 1)] == (10, 19)
    assert doc.values[("when",)] == (11, 7)


def test_position_falls_back_to_the_nearest_ancestor() -> None:
    doc = load_text(TEXT)
    assert doc.value_pos(("nodes", "main", "missing")) == doc.values[("nodes", "main")]
    assert doc.key_pos(("nodes", "main", "missing")) == (2, 3)
    assert doc.key_pos(("list", 0)) == (9, 5)
    assert doc.value_pos(("absent",)) == (1, 1)


def test_duplicate_keys_are_reported_and_first_wins() -> None:
    doc = load_text('options:\n  "1": a\n  "2": b\n  1: c\ntop: 1\ntop: 2\n')
    assert doc.data == {"options": {"1": "a", "2": "b"}, "top": 1}
    assert doc.duplicates == [
        Duplicate(path=("options",), key="1", first=(2, 3), again=(4, 3)),
        Duplicate(path=(), key="top", first=(5, 1), again=(6, 1)),
    ]


def test_anchors_and_merge_keys() -> None:
    doc = load_text("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nref: *b\n")
    assert doc.data == {"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 3}, "ref": {"x": 1, "y": 2}}
    assert doc.duplicates == []


def test_empty_document() -> None:
    assert load_text("").data is None
    assert load_text("# only a comment\n").data is None


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("a: [1, 2\nb: 3\n", 2, 2, "flow sequence"),
        ("a: 1\n b: 2\n", 2, 3, "mapping values are not allowed"),
        ("x: 2025-02-30\n", 1, 4, "day is out of range"),
        ("a: *nine\n", 1, 4, "undefined alias"),
        ("a: 1\n---\nb: 2\n", 2, 1, "single document"),
        ("a: !!python/name:os.system x\n", 1, 4, "constructor"),
        ("? [1, 2]\n: x\n", 1, 3, "plain value"),
        ("a:\n  - &x [*x]\n", 2, 5, "recursive alias"),
    ],
)
def test_syntax_errors_have_positions(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        load_text(text)
    err = info.value
    assert (err.line, err.column) == (line, column), err
    assert words in err.message or words in str(err.__cause__ or err), err.message


def test_alias_bomb_is_refused() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 8):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(YamlSyntaxError, match="too large"):
        load_text("\n".join(lines) + "\n")
