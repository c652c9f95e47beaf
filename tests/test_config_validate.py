"""Every class of config problem, reported at its file:line:column with a readable message.

Each test copies the shipped ``config/`` into ``tmp_path``, breaks one thing, and checks the
problem's code, file, line and column (found from the edited text, so the tests don't depend
on line numbers of the shipped files).
"""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from ivr.config.loader import check_config, load_config
from ivr.config.validate import validate_directory
from ivr.errors import ConfigError, Problem

SHIPPED = Path(__file__).resolve().parent.parent / "config"


class Cfg:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def read(self, name: str) -> str:
        return (self.dir / name).read_text(encoding="utf-8")

    def write(self, name: str, text: str) -> None:
        (self.dir / name).write_text(text, encoding="utf-8")

    def replace(self, name: str, old: str, new: str) -> None:
        text = self.read(name)
        assert old in text, f"{old!r} not in {name}"
        self.write(name, text.replace(old, new, 1))

    def append(self, name: str, extra: str) -> None:
        self.write(name, self.read(name) + extra)

    def pos(self, name: str, needle: str, nth: int = 1) -> tuple[int, int]:
        """1-based line and column of the ``nth`` occurrence of ``needle``."""
        seen = 0
        for number, line in enumerate(self.read(name).splitlines(), start=1):
            start = 0
            while (col := line.find(needle, start)) >= 0:
                seen += 1
                if seen == nth:
                    return number, col + 1
                start = col + 1
        raise AssertionError(f"{needle!r} #{nth} not in {name}")

    def problems(self) -> list[Problem]:
        return check_config(self.dir)

    def expect(self, code: str, name: str, needle: str, nth: int = 1) -> Problem:
        """Exactly the problem with ``code`` at the position of ``needle`` in ``name``."""
        line, column = self.pos(name, needle, nth)
        problems = self.problems()
        found = [p for p in problems if p.code == code]
        assert found, f"no {code} in {[str(p) for p in problems]}"
        where = [p for p in found if p.file == str(self.dir / name) and p.line == line]
        assert where, f"{code} not at {name}:{line}: {[str(p) for p in found]}"
        problem = where[0]
        assert problem.column == column, str(problem)
        assert str(problem).startswith(f"{self.dir / name}:{line}:{column}: ")
        return problem


@pytest.fixture
def cfg(tmp_path: Path) -> Cfg:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED, directory)
    return Cfg(directory)


# -- the shipped config ------------------------------------------------------------------


def test_shipped_config_has_no_problems() -> None:
    assert check_config(SHIPPED) == []


def test_copy_has_no_problems(cfg: Cfg) -> None:
    assert cfg.problems() == []


# -- files and YAML ----------------------------------------------------------------------


def test_yaml_syntax_error(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '      "2": ticket_lookup\n', '      "2": [ticket_lookup\n')
    problems = cfg.problems()
    assert [p.code for p in problems] == ["HL-CFG-001"]
    assert problems[0].file == str(cfg.dir / "menu.yaml")
    line, _ = cfg.pos("menu.yaml", '"3": leave_message')  # the parser notices on the next line
    assert problems[0].line == line
    assert "YAML" in problems[0].message


def test_not_a_mapping(cfg: Cfg) -> None:
    cfg.write("accessibility.yaml", "- 1\n- 2\n")
    problem = cfg.expect("HL-CFG-001", "accessibility.yaml", "- 1")
    assert "mapping" in problem.message


def test_required_file_missing(cfg: Cfg) -> None:
    (cfg.dir / "lines.yaml").unlink()
    problems = cfg.problems()
    assert [(p.code, p.file, p.line) for p in problems] == [
        ("HL-CFG-002", str(cfg.dir / "lines.yaml"), 1)
    ]
    assert "lines.yaml is missing" in problems[0].message


def test_optional_files_missing_take_defaults(cfg: Cfg) -> None:
    (cfg.dir / "accessibility.yaml").unlink()
    assert cfg.problems() == []
    (cfg.dir / "hours.yaml").unlink()
    # Without hours.yaml there are no schedules, so departments that name one are refused.
    problems = cfg.problems()
    assert problems and {p.code for p in problems} == {"HL-CFG-013"}
    text = cfg.read("departments.yaml").replace("    hours: office\n", "")
    cfg.write("departments.yaml", text)
    bundle = load_config(cfg.dir)
    assert bundle.accessibility.callers == []
    assert bundle.hours.schedules == {}


def test_empty_required_file_lists_missing_keys(cfg: Cfg) -> None:
    cfg.write("departments.yaml", "# nothing yet\n")
    problem = cfg.expect("HL-CFG-006", "departments.yaml", "# nothing")
    assert "departments" in problem.message


def test_duplicate_key(cfg: Cfg) -> None:
    cfg.append("departments.yaml", "  water:\n    name: 又一个供水\n    skill: water\n")
    problem = cfg.expect("HL-CFG-003", "departments.yaml", "water:", nth=2)
    assert "'water' is given twice" in problem.message
    first_line, _ = cfg.pos("departments.yaml", "water:")
    assert f"departments.yaml:{first_line}:3" in problem.message


# -- pydantic: unknown keys, wrong types, missing keys ----------------------------------


def test_unknown_key_at_key(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  timeout: 5 ", "  timout: 5 ")
    problem = cfg.expect("HL-CFG-004", "menu.yaml", "timout")
    assert problem.message == "settings: unknown key 'timout'"


def test_unknown_key_in_node(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "    max_digits: 20\n", "    max_digit: 20\n")
    problem = cfg.expect("HL-CFG-004", "menu.yaml", "max_digit:")
    assert "nodes.ticket_lookup" in problem.message


def test_wrong_type_at_value(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  timeout: 5 ", "  timeout: soon ")
    problem = cfg.expect("HL-CFG-005", "menu.yaml", "soon")
    assert problem.message.startswith("settings.timeout: bad value 'soon'")


def test_unquoted_number_hints_quotes(cfg: Cfg) -> None:
    cfg.replace("lines.yaml", '  - number: "12333"', "  - number: 12333")
    problem = cfg.expect("HL-CFG-005", "lines.yaml", "12333")
    assert "lines.2.number" in problem.message
    assert 'write it in quotes: "12333"' in problem.message


def test_bad_dtmf_key_at_key(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '      "9": main\n', '      "x9": main\n')
    problem = cfg.expect("HL-CFG-005", "menu.yaml", '"x9"')
    assert "bad key 'x9'" in problem.message


def test_unknown_node_type(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "    type: lookup\n", "    type: lookat\n")
    problem = cfg.expect("HL-CFG-005", "menu.yaml", "lookat")
    assert "unknown node type 'lookat'" in problem.message


def test_missing_required_key(cfg: Cfg) -> None:
    cfg.replace("lines.yaml", "  name: 呼和浩特市12345政务服务便民热线\n", "")
    problem = cfg.expect("HL-CFG-006", "lines.yaml", "hotline:")
    assert problem.message == "hotline: missing required key 'name'"


# -- references --------------------------------------------------------------------------


def test_option_points_nowhere(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '"1": policy', '"1": polcy')
    problem = cfg.expect("HL-CFG-010", "menu.yaml", "polcy")
    assert "options.1 points to 'polcy'" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("    next: message_done\n", "    next: nowhere\n", "nowhere"),
        ("    open: housing_fund\n", "    open: nowhere\n", "nowhere"),
        ("    closed: housing_fund_closed\n", "    closed: nowhere\n", "nowhere"),
        ("    on_fail: transfer_failed\n", "    on_fail: nowhere\n", "nowhere"),
        ("    timeout: 4\n", "    timeout: 4\n    on_no_input: nowhere\n", "nowhere"),
        ("    timeout: 4\n", "    timeout: 4\n    on_invalid: nowhere\n", "nowhere"),
        ("  entry: main", "  entry: nowhere", "nowhere"),
        ("  emergency: emergency", "  emergency: nowhere", "nowhere"),
    ],
)
def test_references_to_missing_nodes(cfg: Cfg, old: str, new: str, needle: str) -> None:
    cfg.replace("menu.yaml", old, new)
    problem = cfg.expect("HL-CFG-010", "menu.yaml", needle)
    assert "'nowhere'" in problem.message


def test_fallback_points_nowhere(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  fallback: operator ", "  fallback: nobody ")
    problem = cfg.expect("HL-CFG-010", "menu.yaml", "nobody")
    assert problem.message == "settings.fallback: no node named 'nobody'"


def test_line_entry_points_nowhere(cfg: Cfg) -> None:
    cfg.replace("lines.yaml", "entry: housing_fund_hours", "entry: housing_fund_hour")
    problem = cfg.expect("HL-CFG-010", "lines.yaml", "housing_fund_hour")
    assert "line 12329" in problem.message


def test_unknown_prompt(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "prompt: [welcome, main_menu]", "prompt: [welcome, main_menuu]")
    problem = cfg.expect("HL-CFG-011", "menu.yaml", "main_menuu")
    assert problem.message == "node 'main': no prompt named 'main_menuu'"


def test_unknown_reprompt(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "reprompt: [main_menu]", "reprompt: [main_menu2]")
    problem = cfg.expect("HL-CFG-011", "menu.yaml", "main_menu2")
    assert problem.message == "node 'main': no prompt named 'main_menu2'"


def test_unknown_invalid_prompt(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  invalid_prompt: invalid", "  invalid_prompt: wrong_key")
    cfg.expect("HL-CFG-011", "menu.yaml", "wrong_key")


def test_unknown_line_announcement(cfg: Cfg) -> None:
    cfg.replace(
        "lines.yaml",
        "    department: education\n",
        "    department: education\n    announcement: edu_moved\n",
    )
    problem = cfg.expect("HL-CFG-011", "lines.yaml", "edu_moved")
    assert "no prompt named 'edu_moved'" in problem.message


def test_merged_line_needs_line_moved_prompt(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  line_moved:\n", "  line_gone:\n")
    problems = [p for p in cfg.problems() if p.code == "HL-CFG-011"]
    merged = cfg.read("lines.yaml").count("    mode: merged\n")
    assert merged > 40
    assert len(problems) == merged
    line, col = cfg.pos("lines.yaml", "merged", nth=2)  # nth=1 is in the header comment
    assert (problems[0].line, problems[0].column) == (line, col)
    assert "'line_moved'" in problems[0].message


def test_unknown_department_in_hours_node(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "department: housing_fund", "department: housing_fnd")
    problem = cfg.expect("HL-CFG-012", "menu.yaml", "housing_fnd")
    assert "no department named 'housing_fnd'" in problem.message


def test_unknown_department_in_line(cfg: Cfg) -> None:
    cfg.replace("lines.yaml", "department: gas", "department: gass")
    cfg.expect("HL-CFG-012", "lines.yaml", "gass")


def test_unknown_schedule(cfg: Cfg) -> None:
    cfg.replace("departments.yaml", "    hours: office", "    hours: offce")
    problem = cfg.expect("HL-CFG-013", "departments.yaml", "offce")
    assert "no schedule named 'offce'" in problem.message


def test_unknown_emergency_line(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", 'emergency: "119"', 'emergency: "911"')
    problem = cfg.expect("HL-CFG-014", "menu.yaml", '"911"')
    assert "no emergency line '911'" in problem.message


# -- menu keys ---------------------------------------------------------------------------


def test_duplicate_dtmf_key(cfg: Cfg) -> None:
    cfg.replace(
        "menu.yaml",
        '      "6": housing_fund_hours\n',
        '      "6": housing_fund_hours\n      "1": dialect\n',
    )
    problem = cfg.expect("HL-CFG-020", "menu.yaml", '"1": dialect')
    assert "menu 'main': key '1' is given twice" in problem.message


def test_option_uses_operator_key(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '      "9": main\n', '      "9": main\n      "0": operator\n')
    problem = cfg.expect("HL-CFG-021", "menu.yaml", '"0": operator')
    assert "operator key" in problem.message


def test_option_uses_emergency_key(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '      "9": main\n', '      "9": main\n      "*9": emergency\n')
    problem = cfg.expect("HL-CFG-021", "menu.yaml", '"*9": emergency')
    assert "emergency key" in problem.message


def test_option_prefix_of_emergency_key(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '      "9": main\n', '      "9": main\n      "*": main\n')
    problem = cfg.expect("HL-CFG-022", "menu.yaml", '"*": main')
    assert "'*' is a prefix of '*9'" in problem.message


def test_option_prefix_of_option(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '      "9": main\n', '      "9": main\n      "91": dialect\n')
    problem = cfg.expect("HL-CFG-022", "menu.yaml", '"9": main')
    assert "'9' is a prefix of '91'" in problem.message


# -- the graph ---------------------------------------------------------------------------


def test_unreachable_node(cfg: Cfg) -> None:
    cfg.append("menu.yaml", "\n  orphan:\n    type: queue\n    skill: general\n")
    problem = cfg.expect("HL-CFG-030", "menu.yaml", "orphan:")
    assert "'orphan' cannot be reached" in problem.message


def test_line_entry_makes_node_reachable(cfg: Cfg) -> None:
    cfg.append("menu.yaml", "\n  education_desk:\n    type: queue\n    skill: education\n")
    assert [p.code for p in cfg.problems()] == ["HL-CFG-030"]
    cfg.replace(
        "lines.yaml",
        "    department: education\n",
        "    department: education\n    entry: education_desk\n",
    )
    assert cfg.problems() == []


def test_fallback_must_reach_a_person(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  fallback: operator ", "  fallback: ticket_lookup ")
    problem = cfg.expect("HL-CFG-031", "menu.yaml", "ticket_lookup ")
    assert "does not lead to a person" in problem.message


def test_fallback_via_play_and_hours_is_fine(cfg: Cfg) -> None:
    # housing_fund_hours: open -> a queue; closed -> play -> the operator queue.
    cfg.replace("menu.yaml", "  fallback: operator ", "  fallback: housing_fund_hours ")
    assert [p.code for p in cfg.problems() if p.code == "HL-CFG-031"] == []


def test_loop_without_a_person(cfg: Cfg) -> None:
    cfg.replace(
        "menu.yaml",
        '      "6": housing_fund_hours\n',
        '      "6": housing_fund_hours\n      "7": loop_a\n',
    )
    cfg.append(
        "menu.yaml",
        "\n  loop_a:\n    type: play\n    prompt: [welcome]\n    next: loop_b\n"
        "\n  loop_b:\n    type: lookup\n    prompt: [lookup_ask]\n    next: loop_a\n",
    )
    problems = cfg.problems()
    assert [p.code for p in problems] == ["HL-CFG-032"]
    problem = cfg.expect("HL-CFG-032", "menu.yaml", "loop_a:")
    assert "nodes loop_a, loop_b form a loop with no way out to a person" in problem.message


def test_loop_through_a_menu_escapes_via_operator_key(cfg: Cfg) -> None:
    # message_done -> main is a loop, but main's operator key (and silence) reach a person.
    assert "next: main" in cfg.read("menu.yaml")
    assert cfg.problems() == []


# -- prompts -----------------------------------------------------------------------------


def test_prompt_file_missing(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  welcome:\n", "  welcome:\n    file: sounds/welcome.wav\n")
    problem = cfg.expect("HL-CFG-040", "menu.yaml", "sounds/welcome.wav")
    assert "'sounds/welcome.wav' not found" in problem.message
    (cfg.dir / "sounds").mkdir()
    (cfg.dir / "sounds" / "welcome.wav").write_bytes(b"RIFF")
    assert cfg.problems() == []


def test_prompt_without_text_or_file(cfg: Cfg) -> None:
    busy = "  queue_busy:\n    text: 坐席正忙，请您耐心等待，我们将尽快为您服务。\n"
    cfg.replace("menu.yaml", busy, "  queue_busy: {}\n")
    problem = cfg.expect("HL-CFG-041", "menu.yaml", "queue_busy:")
    assert problem.message == "prompt 'queue_busy' has neither text nor file"


# -- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["6960110", "04716960110", "+864716960110", "864716960110"])
def test_number_listed_twice_after_normalising(cfg: Cfg, alias: str) -> None:
    cfg.replace(
        "lines.yaml",
        '  - number: "6606877"\n',
        f'  - number: "6606877"\n    aliases: ["{alias}"]\n',
    )
    problem = cfg.expect("HL-CFG-050", "lines.yaml", f'"{alias}"]')
    first_line, first_col = cfg.pos("lines.yaml", '"6960110"')
    assert f"lines.yaml:{first_line}:{first_col}" in problem.message
    assert "(both are 6960110)" in problem.message


def test_line_number_equal_to_hotline(cfg: Cfg) -> None:
    cfg.replace("lines.yaml", '  - number: "6606877"', '  - number: "12345"')
    problem = cfg.expect("HL-CFG-050", "lines.yaml", '"12345"', nth=2)
    assert "listed twice" in problem.message


def test_accessibility_number_listed_twice(cfg: Cfg) -> None:
    cfg.append("accessibility.yaml", '  - number: "04716512001"\n    group: elderly\n')
    problem = cfg.expect("HL-CFG-050", "accessibility.yaml", '"04716512001"')
    line, col = cfg.pos("accessibility.yaml", '"6512001"')
    assert f"accessibility.yaml:{line}:{col}" in problem.message


# -- dial strings and transfers ----------------------------------------------------------


def test_bad_dial_in_emergency_lines(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '"120": PJSIP/120@carrier', '"120": "120"')
    problem = cfg.expect("HL-CFG-060", "menu.yaml", '"120"', nth=2)
    assert "not an Asterisk dial string" in problem.message


def test_bad_dial_in_transfer_node(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '    emergency: "110"\n', "    dial: PJSIP/a b\n")
    problem = cfg.expect("HL-CFG-060", "menu.yaml", "PJSIP/a b")
    assert "nodes.police.dial" in problem.message


def test_bad_dial_in_line_transfer(cfg: Cfg) -> None:
    cfg.replace("lines.yaml", "transfer: PJSIP/11185@carrier", "transfer: carrier/11185")
    problem = cfg.expect("HL-CFG-060", "lines.yaml", "carrier/11185")
    assert "lines." in problem.message


def test_subcentre_without_transfer(cfg: Cfg) -> None:
    cfg.replace("lines.yaml", "    transfer: PJSIP/12121@carrier\n", "")
    line, _ = cfg.pos("lines.yaml", '"12121"')
    problems = [p for p in cfg.problems() if p.code == "HL-CFG-061"]
    assert len(problems) == 1
    assert problems[0].line == line + 3  # the mode: line of that entry
    assert "line 12121 is a subcentre line but has no 'transfer'" in problems[0].message


def test_transfer_with_both_dial_and_emergency(cfg: Cfg) -> None:
    cfg.replace(
        "menu.yaml", '    emergency: "110"\n', '    emergency: "110"\n    dial: PJSIP/110@carrier\n'
    )
    problem = cfg.expect("HL-CFG-062", "menu.yaml", "police:")
    assert "exactly one of 'dial' and 'emergency'" in problem.message


def test_transfer_with_neither(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '    emergency: "122"\n', "")
    cfg.expect("HL-CFG-062", "menu.yaml", "traffic_police:")


# -- hours -------------------------------------------------------------------------------


def test_time_range_end_before_start(cfg: Cfg) -> None:
    cfg.replace("hours.yaml", '"13:30-17:30"', '"17:30-13:30"')
    problem = cfg.expect("HL-CFG-070", "hours.yaml", '"17:30-13:30"')
    assert "must end after it starts" in problem.message


def test_time_range_after_midnight(cfg: Cfg) -> None:
    cfg.replace("hours.yaml", '"00:00-24:00"', '"00:00-24:30"')
    cfg.expect("HL-CFG-070", "hours.yaml", '"00:00-24:30"')


def test_time_range_malformed(cfg: Cfg) -> None:
    cfg.replace("hours.yaml", '"09:00-16:00"', '"9:00-16:00"')
    problem = cfg.expect("HL-CFG-005", "hours.yaml", '"9:00-16:00"')
    assert "schedules.weekend_service.open.0" in problem.message


def test_unknown_timezone(cfg: Cfg) -> None:
    cfg.replace("hours.yaml", "timezone: Asia/Shanghai", "timezone: Asia/Hohhot")
    cfg.expect("HL-CFG-071", "hours.yaml", "Asia/Hohhot")


def test_duplicate_override(cfg: Cfg) -> None:
    cfg.append("hours.yaml", "  - date: 2025-12-31\n    workday: false\n")
    problem = cfg.expect("HL-CFG-072", "hours.yaml", "2025-12-31", nth=2)
    assert "overridden twice" in problem.message


# -- all at once -------------------------------------------------------------------------


def test_load_config_reports_every_problem(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", '"9": main', '"9": mian')
    cfg.replace("lines.yaml", "department: gas", "department: gass")
    cfg.replace("hours.yaml", '"13:30-17:30"', '"17:30-13:30"')
    cfg.append("menu.yaml", "\n  orphan:\n    type: queue\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg.dir)
    codes = sorted(p.code for p in info.value.problems)
    assert codes == ["HL-CFG-010", "HL-CFG-012", "HL-CFG-030", "HL-CFG-070"]
    text = str(info.value)
    assert text.startswith("[HL-CFG-000] config refused, 4 problem(s)")
    line, col = cfg.pos("menu.yaml", "mian")
    assert f"{cfg.dir / 'menu.yaml'}:{line}:{col}: " in text


def test_a_broken_node_does_not_hide_other_problems(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "    type: lookup\n", "    type: lookat\n")
    cfg.replace("menu.yaml", '"9": main', '"9": mian')
    problems = cfg.problems()
    # The broken node is reported once; references to it are not reported again.
    assert [p.code for p in problems] == ["HL-CFG-010", "HL-CFG-005"]
    cfg.expect("HL-CFG-005", "menu.yaml", "lookat")
    cfg.expect("HL-CFG-010", "menu.yaml", "mian")


def test_a_broken_department_does_not_hide_other_problems(cfg: Cfg) -> None:
    cfg.replace("departments.yaml", "    skill: housing_fund\n", "    skill: Housing-Fund\n")
    cfg.replace(
        "departments.yaml",
        "    skill: social_security\n    hours: office\n",
        "    skill: social_security\n    hours: offce\n",
    )
    problems = cfg.problems()
    codes = sorted(p.code for p in problems)
    # housing_fund is broken (005); lines and the hours node that name it are not reported.
    assert codes == ["HL-CFG-005", "HL-CFG-013"], [str(p) for p in problems]
    cfg.expect("HL-CFG-005", "departments.yaml", "Housing-Fund")


def test_union_value_gives_one_problem(cfg: Cfg) -> None:
    cfg.replace("hours.yaml", "    days: workdays\n", "    days: weekdays\n")
    problems = cfg.problems()
    assert [p.code for p in problems] == ["HL-CFG-005"]
    problem = cfg.expect("HL-CFG-005", "hours.yaml", "weekdays")
    assert "'workdays' or 'everyday'; or Input should be a valid list" in problem.message


# -- warnings: the config loads, but a promise may not be kept ----------------------------


def warnings_of(cfg: Cfg) -> list[Problem]:
    result = validate_directory(cfg.dir, cfg.dir.parent / "recordings")
    assert result.problems == [], [str(p) for p in result.problems]
    return result.warnings


def expect_warning(cfg: Cfg, code: str, name: str, needle: str, skip: int = 0) -> Problem:
    """The warning at ``needle`` (``skip`` characters into it)."""
    line, column = cfg.pos(name, needle)
    column += skip
    found = [w for w in warnings_of(cfg) if w.code == code]
    assert found, f"no {code}"
    where = [w for w in found if w.file == str(cfg.dir / name) and w.line == line]
    assert where, f"{code} not at {name}:{line}: {[str(w) for w in found]}"
    assert where[0].column == column, str(where[0])
    return where[0]


def test_shipped_config_has_no_warnings() -> None:
    result = validate_directory(SHIPPED, SHIPPED.parent / "recordings")
    assert result.problems == [] and result.warnings == [], [str(w) for w in result.warnings]


def test_notice_names_a_prompt(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "notice: [call_recorded]", "notice: [call_recorded, no_such]")
    problem = cfg.expect("HL-CFG-011", "menu.yaml", "no_such")
    assert "settings.notice" in problem.message


def test_notice_defaults_to_the_recording_notice(cfg: Cfg) -> None:
    cfg.replace("menu.yaml", "  notice: [call_recorded]", "")
    assert load_config(cfg.dir).menu.settings.notice == ["call_recorded"]
    text = cfg.read("menu.yaml")
    start = text.index("  call_recorded:\n")
    cfg.write("menu.yaml", text[:start] + text[text.index("  line_moved:", start) :])
    problem = cfg.expect("HL-CFG-011", "menu.yaml", "settings:")
    assert "settings.notice: no prompt named 'call_recorded'" in problem.message


def test_skill_nobody_serves(cfg: Cfg) -> None:
    # a parallel line (it does not widen) for a department whose skill no operator has
    cfg.replace(
        "lines.yaml",
        "    department: labour_inspection\n    mode: merged\n",
        "    department: labour_inspection\n    mode: parallel\n",
    )
    warning = expect_warning(cfg, "HL-CFG-092", "lines.yaml", "labour_inspection")
    assert "'labour_inspection'" in warning.message and "line 6963110" in warning.message
    assert "does not widen" in warning.message


def test_skill_only_one_operator_serves(cfg: Cfg) -> None:
    cfg.replace("agents.yaml", "dialect: 9, social_security: 5,", "dialect: 9,")
    warning = expect_warning(cfg, "HL-CFG-093", "menu.yaml", "skill: social_security", 7)
    assert "only operator 1003" in warning.message and "line 12333" in warning.message


def test_a_merged_line_widens_to_the_general_operators(cfg: Cfg) -> None:
    # medical_insurance has one specialist, but its merged line widens: no warning
    assert not [w for w in warnings_of(cfg) if "medical_insurance" in w.message]


def test_operator_the_local_asterisk_cannot_ring(cfg: Cfg) -> None:
    cfg.replace("agents.yaml", "interface: PJSIP/1002", "interface: PJSIP/2002")
    cfg.replace("agents.yaml", "interface: Local/1005@operators", "interface: Local/1005@desk")
    cfg.replace("agents.yaml", "interface: PJSIP/1004", "interface: SIP/1004")
    warning = expect_warning(cfg, "HL-CFG-094", "agents.yaml", "PJSIP/2002")
    assert "agent '1002'" in warning.message and "'2002'" in warning.message
    warning = expect_warning(cfg, "HL-CFG-094", "agents.yaml", "Local/1005@desk")
    assert "context 'desk'" in warning.message
    expect_warning(cfg, "HL-CFG-094", "agents.yaml", "SIP/1004")


def test_studio_recording_in_the_wrong_format(cfg: Cfg) -> None:
    studio = cfg.dir.parent / "recordings" / "studio"
    studio.mkdir(parents=True)
    with wave.open(str(studio / "welcome.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\0" * 4 * 4410)
    warning = expect_warning(cfg, "HL-CFG-095", "menu.yaml", "welcome:")
    assert "44100 Hz, 2 channel(s)" in warning.message


def test_warnings_do_not_refuse_the_config(cfg: Cfg) -> None:
    cfg.replace("agents.yaml", "interface: PJSIP/1002", "interface: PJSIP/2002")
    assert cfg.problems() == []
    load_config(cfg.dir)
