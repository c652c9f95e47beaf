"""config/notify.yaml as an admin meets it: the shipped file says the defaults out loud, a
problem is told at its file:line:column by `hotline check-config` and by the admin console's
editor, and the ticket commands refuse a broken file with its place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ivr.config.editing import EDITABLE, ConfigEditor
from ivr.config.loader import check_config, load_config, load_notify
from ivr.config.notify_models import NotifyFile
from ivr.errors import ConfigError
from tests.conftest import ROOT

HOTLINE = [sys.executable, "-m", "ivr.cli"]
BROKEN = (
    "sms:\n"
    "  enabled: true\n"
    "  gateway: http\n"
    "  templates:\n"
    "    receipt: '工单{number}，请拨打{phone}'\n"
    "  hours: {start: '8:00', end: '21:00'}\n"
    "delivery:\n"
    "  max_attempts: 0\n"
    "  retries: 3\n"
)


def test_the_shipped_file_and_the_defaults_agree(config_copy: Path) -> None:
    assert load_config(config_copy).notify == NotifyFile()
    assert not NotifyFile().sms.enabled  # no SMS until an admin sets a gateway up
    (config_copy / "notify.yaml").unlink()
    assert load_config(config_copy).notify == NotifyFile()
    assert load_notify(config_copy) == NotifyFile()
    assert "notify.yaml" in EDITABLE


def test_problems_at_their_line_and_column(config_copy: Path) -> None:
    path = config_copy / "notify.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    found = sorted((p.line, p.code) for p in check_config(config_copy) if p.file == str(path))
    assert found == [(5, "HL-CFG-005"), (6, "HL-CFG-005"), (8, "HL-CFG-005"), (9, "HL-CFG-004")]
    result = subprocess.run(
        [*HOTLINE, "check-config", str(config_copy)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"{path}:5:" in result.stdout and "uses {phone}; it may use" in result.stdout
    assert f"{path}:9:3: delivery: unknown key 'retries'" in result.stdout
    with pytest.raises(ConfigError) as refused:
        load_notify(config_copy)  # what the ticket commands do with it
    assert f"{path}:9:3" in str(refused.value)
    path.write_text("sms:\n  enabled: true\n  gateway: http\n", encoding="utf-8")
    (problem,) = check_config(config_copy)
    assert (problem.file, problem.line) == (str(path), 2)
    assert "gateway 'http' needs an 'http:' section" in problem.message


def test_the_admin_console_checks_a_draft(config_copy: Path, tmp_path: Path) -> None:
    editor = ConfigEditor(config_copy, ROOT / "recordings", tmp_path / "history")
    problems = editor.check("notify.yaml", BROKEN)
    assert {(p.file, p.line) for p in problems} >= {("notify.yaml", 5), ("notify.yaml", 9)}
    good = editor.read("notify.yaml").text.replace("enabled: false", "enabled: true")
    assert editor.check("notify.yaml", good) == []
