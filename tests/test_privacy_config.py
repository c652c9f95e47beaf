"""config/privacy.yaml as an admin meets it: checked with the other admin files (problems at
their file:line:column, listed by `hotline check-config`), defaults when it is left out, and
`hotline purge [--dry-run]` from the console on the server's SQLite."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from ivr.config.loader import check_config, load_config
from ivr.config.privacy_models import PrivacyFile
from ivr.db.database import Database
from ivr.db.tables import CallRow

HOTLINE = [sys.executable, "-m", "ivr.cli"]


def hotline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_the_shipped_file_and_the_defaults_agree(config_copy: Path) -> None:
    shipped = load_config(config_copy).privacy
    assert shipped == PrivacyFile()  # the file says the defaults out loud
    (config_copy / "privacy.yaml").unlink()
    left_out = load_config(config_copy).privacy
    assert left_out.playback.roles == ["supervisor", "admin"]
    assert not left_out.playback.operator_own_calls
    assert (left_out.retention.recordings_days, left_out.retention.tickets_days) == (365, None)


def test_problems_at_their_line_and_column(config_copy: Path) -> None:
    path = config_copy / "privacy.yaml"
    path.write_text(
        "playback:\n"
        "  roles: [supervisor, department]\n"
        "  replay: true\n"
        "retention:\n"
        "  recordings_days: 0\n"
        '  daily_at: "25:00"\n',
        encoding="utf-8",
    )
    found = {(p.line, p.code) for p in check_config(config_copy) if p.file == str(path)}
    assert found == {(2, "HL-CFG-005"), (3, "HL-CFG-004"), (5, "HL-CFG-005"), (6, "HL-CFG-005")}
    result = hotline("check-config", str(config_copy))
    assert result.returncode == 1
    assert f"{path}:2:" in result.stdout and "departments never play" in result.stdout
    assert f"{path}:3:3: playback: unknown key 'replay'" in result.stdout


def test_hotline_purge_from_the_console(config_copy: Path) -> None:
    var = config_copy.parent / "var"
    recordings = config_copy.parent / "recordings"
    old = recordings / "calls" / "20200101" / "old.wav"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"RIFF")
    var.mkdir(exist_ok=True)
    db = Database(f"sqlite:///{var / 'hotline.db'}")
    db.upgrade()
    day = dt.date(2020, 1, 1)
    with db.session() as s:
        for uid in ("old", "fresh"):
            when = (
                dt.datetime.now(dt.UTC)
                if uid == "fresh"
                else dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
            )
            s.add(
                CallRow(
                    uniqueid=uid, caller="139", dialled="12345", started_at=when,
                    day=when.date() if uid == "fresh" else day, outcome="answered",
                    recording="calls/20200101/old.wav" if uid == "old" else None,
                )
            )  # fmt: skip
    db.close()
    env = dict(
        os.environ,
        HOTLINE_CONFIG_DIR=str(config_copy),
        HOTLINE_RECORDINGS_DIR=str(recordings),
        HOTLINE_VAR_DIR=str(var),
    )
    env.pop("HOTLINE_DATABASE_URL", None)
    dry = hotline("purge", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would delete: recordings 1" in dry.stdout and "call_records 1" in dry.stdout
    assert old.is_file()
    done = hotline("purge", env=env)
    assert done.returncode == 0, done.stderr
    assert "deleted: recordings 1" in done.stdout and not old.exists()
    with sqlite3.connect(var / "hotline.db") as con:
        assert [r[0] for r in con.execute("SELECT uniqueid FROM call_records")] == ["fresh"]
        audit = con.execute(
            "SELECT actor, role, action FROM audit_log WHERE action = 'retention.purge'"
        ).fetchall()
    assert len(audit) == 1 and audit[0][0].startswith("cli:") and audit[0][1] == "cli"
