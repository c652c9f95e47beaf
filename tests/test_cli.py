"""The ``hotline`` command as an admin and a newcomer use it: a real server process, the call
simulator, reload through the CLI, and the call journal."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

HOTLINE = [sys.executable, "-m", "ivr.cli"]


def hotline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "sub",
    [[], ["check-config"], ["serve"], ["reload"], ["call"], ["prompts"], ["prompts", "build"]],
)
def test_every_subcommand_has_help(sub: list[str]) -> None:
    result = hotline(*sub, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: hotline" in result.stdout


def test_check_config_reports_file_line_column(config_copy: Path) -> None:
    assert hotline("check-config", str(config_copy)).returncode == 0
    lines = config_copy / "lines.yaml"
    text = lines.read_text()
    rows = text.splitlines(keepends=True)
    bad_line = next(i for i, ln in enumerate(rows, 1) if ln.strip() == "mode: merged")
    rows[bad_line - 1] = rows[bad_line - 1].replace("merged", "merge")
    lines.write_text("".join(rows))
    result = hotline("check-config", str(config_copy))
    assert result.returncode == 1
    assert f"{lines}:{bad_line}:" in result.stdout or f"lines.yaml:{bad_line}:" in result.stdout
    assert "merge" in result.stdout


class Server:
    def __init__(self, config_dir: Path, redis_url: str) -> None:
        self.port = free_port()
        self.var = config_dir.parent / "var"
        self.env = dict(
            os.environ,
            HOTLINE_CONFIG_DIR=str(config_dir),
            HOTLINE_RECORDINGS_DIR=str(config_dir.parent / "recordings"),
            HOTLINE_VAR_DIR=str(self.var),
            HOTLINE_REDIS_URL=redis_url,
            HOTLINE_AGI_PORT=str(self.port),
        )
        self.proc = subprocess.Popen(
            [*HOTLINE, "serve"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        pidfile = self.var / "hotline.pid"
        deadline = time.monotonic() + 60  # a loaded machine starts it slowly
        while not pidfile.exists():
            assert self.proc.poll() is None, self.proc.communicate()[0]
            if time.monotonic() > deadline:
                self.proc.kill()  # not left running when the test fails here
                pytest.fail(f"the server did not start: {self.proc.communicate()[0]}")
            time.sleep(0.02)

    def call(self, *args: str) -> str:
        result = hotline("call", "--port", str(self.port), *args, env=self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, out
        return out


@pytest.fixture
def server(config_copy: Path, redis_url: str) -> Iterator[Server]:
    srv = Server(config_copy, redis_url)
    yield srv
    if srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait()


def test_simulated_calls_reload_and_journal(server: Server, config_copy: Path) -> None:
    out = server.call("--to", "12345", "--from", "13800138000", "--digits", "0")
    # what the caller hears, with the prompt's text: the recording notice (the 0 pressed
    # during it counts: no welcome, no menu)
    assert "call_recorded: 通话将录音" in out and "welcome" not in out
    assert "operator queue, skill general" in out

    out = server.call("--to", "04714960000", "--from", "13900139000", "--digits", "0")
    assert "line_moved" in out and "已并入12345" in out
    assert "operator queue, skill heating" in out

    # An admin edits the menu and reloads: new calls take the new config.
    menu = config_copy / "menu.yaml"
    text = menu.read_text()
    anchor = "  operator:\n    type: queue\n"
    menu.write_text(text.replace(anchor, anchor + "    skill: night_shift\n", 1))
    result = hotline("reload", env=server.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reloaded" in result.stdout
    assert "skill night_shift" in server.call("--to", "12345", "--digits", "0")

    # A broken edit is refused with file:line, and the line stays up on the running config.
    menu.write_text(menu.read_text().replace("type: queue", "type: queu", 1))
    result = hotline("reload", env=server.env)
    assert result.returncode == 1
    assert "menu.yaml:" in result.stdout and "queu" in result.stdout
    assert "skill night_shift" in server.call("--to", "12345", "--digits", "0")

    # SIGHUP with a broken config (bypassing the CLI's own check) is refused by the server.
    status = server.var / "reload-status.json"
    before = status.stat().st_mtime_ns
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while status.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert json.loads(status.read_text())["ok"] is False
    assert "skill night_shift" in server.call("--to", "12345", "--digits", "0")

    server.stop()
    # Every call is in the database the server migrated at start (SQLite by default).
    db = sqlite3.connect(server.var / "hotline.db")
    rows = db.execute(
        "SELECT outcome, line_number, path, skill FROM call_records ORDER BY started_at"
    ).fetchall()
    assert len(rows) == 5
    assert [r[0] for r in rows] == ["queue"] * 5
    assert rows[1][1] == "4960000"
    assert json.loads(rows[1][2]) == ["main", "operator"]
    assert [r[3] for r in rows] == ["general", "heating", *["night_shift"] * 3]


def test_check_config_covers_the_ticket_catalogue(config_copy: Path) -> None:
    catalogue = config_copy / "tickets" / "catalogue.yaml"
    catalogue.write_text(catalogue.read_text() + "\nno_such_section: 1\n")
    result = hotline("check-config", str(config_copy))
    assert result.returncode == 1
    assert "catalogue.yaml:" in result.stdout and "no_such_section" in result.stdout


def test_queue_commands_with_redis_unreachable_say_so_in_one_line() -> None:
    import subprocess
    import sys

    from tests.conftest import free_port

    url = f"redis://:secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    for action in (["status"], ["agents"], ["login", "1001"]):
        r = subprocess.run(
            [sys.executable, "-m", "ivr.cli", "queue", "--redis-url", url, *action],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        lines = (r.stdout + r.stderr).strip().splitlines()
        assert r.returncode == 1
        assert len(lines) == 1 and lines[0].startswith("[HL-QUE-070] "), lines
        assert "secret" not in lines[0]
