"""queue.yaml and agents.yaml: loaded with the rest of the config, problems at file:line:col."""

from __future__ import annotations

from pathlib import Path

from ivr.config.bundle import ConfigBundle
from ivr.config.loader import check_config


def test_shipped_queue_and_agents_load(config: ConfigBundle) -> None:
    assert config.queue.settings.service_level_seconds == 15
    assert config.queue.settings.priority_ms() == 6000
    ids = [a.id for a in config.agents.agents]
    assert ids[:2] == ["1001", "1002"] and len(ids) == len(set(ids))
    assert config.agents.by_id()["1005"].interface == "Local/1005@operators"


def test_agent_problems_are_reported_where_they_are(config_copy: Path) -> None:
    (config_copy / "agents.yaml").write_text(
        "agents:\n"
        "  - id: a1\n"
        "    name: A\n"
        "    interface: PJSIP/1001\n"
        "    skills: {general: 5, heatting: 3}\n"
        "    sip: {username: u1, secret: 'env:X'}\n"
        "  - id: a1\n"
        "    name: B\n"
        "    interface: 'PJSIP/1002&PJSIP/1003'\n"
        "    skills: {general: 5}\n"
        "    sip: {username: u1, secret: 'env:Y'}\n"
    )
    problems = check_config(config_copy)
    by_code = {p.code: p for p in problems}
    assert set(by_code) == {"HL-CFG-080", "HL-CFG-081", "HL-CFG-082", "HL-CFG-083"}, problems
    assert (by_code["HL-CFG-081"].line, by_code["HL-CFG-081"].column) == (5, 26)
    assert "heatting" in by_code["HL-CFG-081"].message
    assert (by_code["HL-CFG-080"].line, by_code["HL-CFG-082"].line) == (7, 9)
    assert by_code["HL-CFG-080"].file.endswith("agents.yaml")


def test_queue_settings_problems(config_copy: Path) -> None:
    (config_copy / "queue.yaml").write_text(
        "settings:\n  ring_timeout: 1\n  timezone: Mars/Base\n  wrapup: 5\n"
    )
    problems = check_config(config_copy)
    assert [(p.line, p.code) for p in problems] == [(2, "HL-CFG-005"), (4, "HL-CFG-004")]
    (config_copy / "queue.yaml").write_text("settings:\n  timezone: Mars/Base\n")
    problems = check_config(config_copy)
    assert [(p.line, p.column, p.code) for p in problems] == [(2, 13, "HL-CFG-071")]


def test_a_secret_is_a_reference_never_the_password(config_copy: Path) -> None:
    (config_copy / "agents.yaml").write_text(
        "agents:\n  - id: a1\n    name: A\n    interface: PJSIP/1\n    skills: {general: 5}\n"
        "    sip: {username: u1, secret: hunter2}\n"
    )
    problems = check_config(config_copy)
    assert [(p.line, p.code) for p in problems] == [(6, "HL-CFG-005")]
