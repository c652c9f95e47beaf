"""The 15-second rule, computed from the built prompts and the config (ivr.config.timing).

The shipped prompts are spoken with the real espeak-ng into a temporary recordings directory;
then every path to a person on every line must let a free operator take the call within 15 s
of the answer. A long notice makes it fail, so the test can fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.config.loader import load_config
from ivr.config.timing import LIMIT_SECONDS, estimate_seconds, time_to_person
from ivr.config.validate import validate_directory
from ivr.prompts import build_prompts

pytestmark = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="espeak-ng and sox are installed by ./test.sh",
)


def _built(config_dir: Path) -> Path:
    recordings = config_dir.parent / "recordings"
    build_prompts(load_config(config_dir, recordings))
    return recordings


def test_every_path_on_every_line_reaches_a_person_within_15_s(config_copy: Path) -> None:
    recordings = _built(config_copy)
    bundle = load_config(config_copy, recordings)
    timing = time_to_person(bundle)

    over = [f"{p.line} {p.path}: {p.describe()}" for p in timing.over(LIMIT_SECONDS)]
    assert not over, "\n".join(over)
    assert all(not p.estimated for p in timing.paths), "every figure is from a built file"

    lines = {p.line for p in timing.paths}
    numbers = {line.number for line in bundle.lines.lines}
    assert lines == {"12345"} | numbers, "12345 and every line of lines.yaml"
    subcentres = {s.line for s in timing.subcentres}
    assert subcentres == {"95598", "12366", "11185", "12121"}, "reported apart"

    paths = {(p.line, p.path) for p in timing.paths}
    assert ("12345", "nothing pressed") in paths
    assert ("12345", "keys 0") in paths
    assert ("12345", "keys 4") in paths, "a key that picks a skill"
    assert ("12345", "keys *9 (nothing)") in paths, "the emergency menu, then nothing"
    assert ("12345", "keys (wrong keys twice)") in paths
    assert ("12345", "accessibility") in paths
    assert ("12393", "nothing pressed") in paths, "a merged line"
    assert ("12333", "no menu") in paths, "a parallel line without a menu"
    assert not any(p.path.startswith("keys 2") for p in timing.paths), "2 is a lookup"

    merged = next(p for p in timing.paths if (p.line, p.path) == ("12393", "nothing pressed"))
    assert merged.must_hear == ("line_moved", "call_recorded")
    assert merged.must_hear_seconds <= 5 + 3, "a moved-line notice <= 5 s, the recording notice"
    assert 0 < merged.piece_seconds <= 2.0 and merged.step_seconds == 1.0
    hotline = next(p for p in timing.paths if (p.line, p.path) == ("12345", "nothing pressed"))
    assert hotline.must_hear == ("call_recorded",)
    welcome = bundle.prompt_seconds("welcome")
    assert welcome is not None and welcome <= 3.0, "the welcome takes at most 3 s"

    # check-config agrees: no warning at all on the shipped config with its prompts built
    result = validate_directory(config_copy, recordings)
    assert result.problems == [] and result.warnings == []
    assert result.timing is not None and result.timing.worst() == timing.worst()


def test_a_long_notice_breaks_the_rule_and_check_config_says_where(config_copy: Path) -> None:
    menu = config_copy / "menu.yaml"
    long_notice = (
        "通话将录音。为了提高服务质量，请您在通话中保持耐心，"
        "我们的工作人员将认真听取您的诉求，并依法依规为您办理，感谢您的理解与支持。"
    )
    text = menu.read_text().replace("通话将录音。", long_notice, 1)
    menu.write_text(text)
    recordings = _built(config_copy)
    bundle = load_config(config_copy, recordings)
    seconds = bundle.prompt_seconds("call_recorded")
    assert seconds is not None and seconds > LIMIT_SECONDS - 2

    timing = time_to_person(bundle)
    over = timing.over(LIMIT_SECONDS)
    assert {p.line for p in over} >= {"12345", "12393"}
    worst = timing.worst()
    assert worst is not None and worst.seconds > LIMIT_SECONDS

    result = validate_directory(config_copy, recordings)
    assert result.problems == []
    warned = [w for w in result.warnings if w.code == "HL-CFG-090"]
    assert len(warned) == len({p.line for p in over}), "one warning per line"
    first = next(w for w in warned if "line 12345 " in w.message)
    assert first.file == str(config_copy / "lines.yaml")
    assert (first.line, first.column) == _pos(config_copy / "lines.yaml", '"12345"')
    assert "call_recorded" in first.message and "over 15 s" in first.message


def test_a_long_announcement_is_a_warning(config_copy: Path) -> None:
    menu = config_copy / "menu.yaml"
    menu.write_text(
        menu.read_text().replace(
            "原号码已并入12345。",
            "您拨打的号码已经并入呼和浩特市12345政务服务便民热线，原号码不再使用，请记住新号码。",
            1,
        )
    )
    recordings = _built(config_copy)
    result = validate_directory(config_copy, recordings)
    warned = [w for w in result.warnings if w.code == "HL-CFG-091"]
    assert len(warned) == 1 and "'line_moved'" in warned[0].message
    assert (warned[0].line, warned[0].column) == _pos(menu, "line_moved:")


def test_prompts_not_built_are_estimated_from_their_text(config_copy: Path) -> None:
    bundle = load_config(config_copy, config_copy.parent / "recordings")
    timing = time_to_person(bundle)
    assert timing.paths and all(p.estimated for p in timing.paths)
    assert not timing.over(LIMIT_SECONDS)
    # the estimate is near the real thing (within a second on the shipped prompts)
    recordings = _built(config_copy)
    built = load_config(config_copy, recordings)
    for name in ("welcome", "line_moved", "call_recorded", "main_menu"):
        real = built.prompt_seconds(name)
        assert real is not None
        assert abs(estimate_seconds(built.prompt_text(name)) - real) < 1.0, name


def _pos(path: Path, needle: str) -> tuple[int, int]:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)
