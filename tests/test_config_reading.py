"""Admin files that cannot be read as text: a byte that is not UTF-8 is reported at its own
line and column, and a file over the size cap is refused with its name before it is parsed
(a reload never spends seconds on a runaway file)."""

from __future__ import annotations

from pathlib import Path

from ivr.config.catalogue import check_catalogue
from ivr.config.loader import check_config
from ivr.config.yamlpos import MAX_FILE_BYTES


def test_a_bad_byte_is_reported_where_it_is(config_copy: Path) -> None:
    menu = config_copy / "menu.yaml"
    lines = menu.read_bytes().split(b"\n")
    lines[2] = b"# \xe4\xb8\xad" + b"\xff" + lines[2]  # line 3: a comment, one CJK char, a bad byte
    menu.write_bytes(b"\n".join(lines))
    problems = [p for p in check_config(config_copy) if p.file.endswith("menu.yaml")]
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.line, problem.column) == (3, 4)
    assert "0xff" in problem.message and "UTF-8" in problem.message


def test_an_oversized_file_is_refused_with_its_name(config_copy: Path) -> None:
    menu = config_copy / "menu.yaml"
    menu.write_bytes(menu.read_bytes() + b"#" * MAX_FILE_BYTES + b"\n")
    problems = [p for p in check_config(config_copy) if p.file.endswith("menu.yaml")]
    assert len(problems) == 1
    assert "over the limit" in problems[0].message
    assert str(problems[0]).startswith(f"{menu}:1:1:")


def test_the_catalogue_too(config_copy: Path) -> None:
    path = config_copy / "tickets" / "catalogue.yaml"
    path.write_bytes(b"types:\n  - \xc0\n")
    problems = check_catalogue(config_copy)
    assert [(p.line, p.column) for p in problems] == [(2, 5)]
    assert "UTF-8" in problems[0].message
