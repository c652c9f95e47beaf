"""The shipped config: it loads, it describes Hohhot's 12345 with 56 merged lines, it routes."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from ivr.config.bundle import ConfigBundle, normalize_number
from ivr.config.loader import check_config, load_config
from ivr.config.models import DIAL_STRING_RE, LineMode, MenuNode, QueueNode, TransferNode

SHIPPED = Path(__file__).resolve().parent.parent / "config"


@pytest.fixture(scope="module")
def bundle() -> ConfigBundle:
    return load_config(SHIPPED)


def test_shipped_config_loads(bundle: ConfigBundle) -> None:
    assert check_config(SHIPPED) == []
    assert bundle.directory == SHIPPED
    assert bundle.recordings_dir == SHIPPED.parent / "recordings"
    assert re.fullmatch(r"[0-9a-f]{12}", bundle.version)
    assert bundle.loaded_at.tzinfo is not None
    assert bundle.lines.hotline.number == "12345"
    assert bundle.lines.hotline.name == "呼和浩特市12345政务服务便民热线"
    assert bundle.lines.hotline.area_code == "0471"


def test_recordings_dir_can_be_given(tmp_path: Path) -> None:
    assert load_config(SHIPPED, tmp_path / "rec").recordings_dir == tmp_path / "rec"


def test_version_follows_the_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "config"
    shutil.copytree(SHIPPED, copy)
    first = load_config(copy).version
    assert load_config(copy).version == first
    (copy / "accessibility.yaml").write_text(
        (copy / "accessibility.yaml").read_text(encoding="utf-8") + "# edited\n",
        encoding="utf-8",
    )
    assert load_config(copy).version != first


def test_fifty_six_legacy_lines(bundle: ConfigBundle) -> None:
    lines = bundle.lines.lines
    assert len(lines) == 56
    modes = {mode: [line for line in lines if line.mode is mode] for mode in LineMode}
    assert len(modes[LineMode.MERGED]) >= 40
    assert {line.number for line in modes[LineMode.PARALLEL]} >= {"12333", "12329", "6919999"}
    assert {line.number for line in modes[LineMode.SUBCENTRE]} >= {"12366", "95598"}
    for line in modes[LineMode.SUBCENTRE]:
        assert line.transfer and DIAL_STRING_RE.match(line.transfer)
    for line in lines:
        assert line.department in bundle.departments.departments
    numbers = [normalize_number(n, "0471") for line in lines for n in (line.number, *line.aliases)]
    assert len(numbers) == len(set(numbers))
    assert "12345" not in numbers
    for emergency in ("110", "119", "120", "122"):
        assert emergency not in numbers  # emergency lines are never merged


def test_menu_follows_the_national_rule(bundle: ConfigBundle) -> None:
    menu = bundle.menu
    s = menu.settings
    assert s.operator_key == "0" and s.emergency_key == "*9"
    assert s.max_no_input <= 1 and s.max_invalid <= 2
    assert isinstance(menu.nodes[s.fallback], QueueNode)
    main = menu.nodes[s.entry]
    assert isinstance(main, MenuNode)
    assert main.on_no_input in (None, s.fallback)
    assert "请稍候，马上为您接通人工" in bundle.prompt_text("main_menu")  # waiting is enough
    assert bundle.prompt_text("line_moved") == "原号码已并入12345。"
    assert s.notice == ["call_recorded"]
    assert bundle.prompt_text("call_recorded") == "通话将录音。"
    emergency_text = bundle.prompt_text("emergency_menu")
    for word in ("报警请按1", "火警请按2", "急救请按3", "交通事故请按4"):
        assert word in emergency_text
    assert set(menu.emergency_lines) == {"110", "119", "120", "122"}
    transfers = {n.emergency for n in menu.nodes.values() if isinstance(n, TransferNode)}
    assert transfers == {"110", "119", "120", "122"}


def test_shipped_prompts_have_text_and_no_files(bundle: ConfigBundle) -> None:
    for name, prompt in bundle.menu.prompts.items():
        assert prompt.text, name
        assert prompt.file is None, name


# -- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize("dialled", ["12345", "+8612345", "", "unknown", "s", "9999999"])
def test_route_to_the_hotline(bundle: ConfigBundle, dialled: str) -> None:
    route = bundle.route(dialled)
    assert route.line is None and route.mode is None
    assert route.number == "12345"


@pytest.mark.parametrize(
    "dialled", ["6960110", "04716960110", "+864716960110", "+8647169601 10", "86 0471 6960110"]
)
def test_route_merged_line_in_any_form(bundle: ConfigBundle, dialled: str) -> None:
    route = bundle.route(dialled)
    assert route.number == "6960110"
    assert route.mode is LineMode.MERGED
    assert route.line is not None and route.line.department == "approval"


def test_route_merged_by_alias(bundle: ConfigBundle) -> None:
    route = bundle.route("0471-6961234")
    assert route.line is not None and route.line.number == "12393"
    assert route.mode is LineMode.MERGED


def test_route_parallel(bundle: ConfigBundle) -> None:
    route = bundle.route("12329")
    assert route.mode is LineMode.PARALLEL
    assert route.line is not None and route.line.entry == "housing_fund_hours"
    assert bundle.line_skill(route.line) == "housing_fund"
    alias = bundle.route("+86 471 6282333")
    assert alias.line is not None and alias.line.number == "12333"
    assert alias.mode is LineMode.PARALLEL


def test_route_subcentre(bundle: ConfigBundle) -> None:
    route = bundle.route("12366")
    assert route.mode is LineMode.SUBCENTRE
    assert route.line is not None and route.line.transfer == "PJSIP/12366@carrier"


def test_route_falls_back_to_the_extension(bundle: ConfigBundle) -> None:
    assert bundle.route("unknown", "12315").number == "12315"
    assert bundle.route("", "04716963553").number == "6963553"


def test_line_skill(bundle: ConfigBundle) -> None:
    assert bundle.line_skill(None) == "general"
    assert bundle.line_skill(bundle.route("6960120").line) == "enterprise"  # line's own skill
    assert bundle.line_skill(bundle.route("6920101").line) == "housing"  # department's skill


def test_accessibility(bundle: ConfigBundle) -> None:
    assert bundle.is_accessible("13800471001")
    assert bundle.is_accessible("+8613800471001")
    assert bundle.is_accessible("04716512001")
    assert bundle.is_accessible("6512002")
    assert not bundle.is_accessible("13800000000")


def test_department_hours(bundle: ConfigBundle) -> None:
    friday_morning = dt.datetime(2025, 9, 26, 9, 0)
    national_day = dt.datetime(2025, 10, 2, 9, 0)
    assert bundle.department_open("housing_fund", friday_morning)
    assert not bundle.department_open("housing_fund", national_day)
    assert bundle.department_open("heating", national_day)  # no hours: always open
    assert bundle.calendar.is_workday(dt.date(2025, 12, 31))  # the sample override


def test_problem_files_are_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(SHIPPED, tmp_path / "config")
    (tmp_path / "config" / "menu.yaml").unlink()
    monkeypatch.chdir(tmp_path)
    problems = check_config(Path("config"))
    assert [str(p) for p in problems] == [
        "config/menu.yaml:1:1: required file menu.yaml is missing from config [HL-CFG-002]"
    ]
