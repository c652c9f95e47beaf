"""``./run.sh`` with its real Asterisk: the hotline server killed with SIGKILL is back within
seconds, the Asterisk run.sh started keeps running through it (same process), and a call
placed after the restart reaches the new server and is recorded. Ctrl-C then stops the
server, the Asterisk and the Redis that run.sh started.

run.sh's Asterisk runs in its own root: an overlay on the session's Asterisk root (its files
read-only underneath, nothing copied), so that it can run beside the session's Asterisk.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ivr.asterisk import local
from tests.conftest import ROOT, free_port
from tests.e2e.conftest import Stack
from tests.e2e.sipp import SippCall, free_udp_port
from tests.test_outages import poll
from tests.test_run_sh import alive, interruptible

pytestmark = pytest.mark.asterisk


@contextlib.contextmanager
def overlay_root(lower: Path, where: Path) -> Iterator[Path]:
    upper, work, merged = where / "upper", where / "work", where / "root"
    for d in (upper, work, merged):
        d.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={upper},workdir={work}", str(merged)],
        check=True,
    )  # fmt: skip
    # the session's Asterisk state file is not this root's
    (merged / local.STATE_NAME).unlink(missing_ok=True)
    try:
        yield merged
    finally:
        with contextlib.suppress(Exception):
            local.stop(merged, timeout=10)
        for mount in local.mounts_under(merged):
            subprocess.run(["umount", "-l", str(mount)], check=False)
        subprocess.run(["umount", "-l", str(merged)], check=False)


def records(var: Path, caller: str) -> list[str] | None:
    path = var / "hotline.db"
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT outcome FROM call_records WHERE caller = ?", (caller,)).fetchall()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return [r[0] for r in rows] or None


def test_a_killed_server_leaves_asterisk_running_and_comes_back(
    stack: Stack, tmp_path: Path
) -> None:
    var = tmp_path / "var"
    redis_port, http_port, sip_port = free_port(), free_port(), free_udp_port()
    with overlay_root(stack.root, tmp_path / "asterisk") as root:
        env = dict(
            os.environ,
            HOTLINE_ASTERISK_ROOT=str(root),
            HOTLINE_VAR_DIR=str(var),
            HOTLINE_RECORDINGS_DIR=str(tmp_path / "recordings"),  # not the checkout's
            HOTLINE_REDIS_PORT=str(redis_port),
            HOTLINE_HTTP_PORT=str(http_port),
            HOTLINE_AGI_PORT=str(free_port()),
            HOTLINE_SIP_PORT=str(sip_port),
        )
        for name in ("HOTLINE_REDIS_URL", "HOTLINE_DATABASE_URL", "HOTLINE_NO_ASTERISK"):
            env.pop(name, None)
        log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
        run = subprocess.Popen(
            [str(ROOT / "run.sh")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=interruptible,
        )
        client = redis.Redis(port=redis_port)
        pidfile = var / "hotline.pid"

        def output() -> str:
            return (tmp_path / "run.log").read_text("utf-8", "replace")[-3000:]

        def server_pid(not_this: int = 0) -> int | None:
            try:
                pid = int(pidfile.read_text())
            except (FileNotFoundError, ValueError):
                return None
            return pid if pid != not_this and alive(pid) else None

        def http_up() -> bool:
            """The staff API answers with the API token run.sh made for its curl examples."""
            try:
                token = (var / "api-token").read_text().strip()
                req = urllib.request.Request(
                    f"http://127.0.0.1:{http_port}/api/queue/metrics",
                    headers={"Authorization": f"Bearer {token}"},
                )
                with urllib.request.urlopen(req, timeout=2):
                    return True
            except OSError:
                return False

        try:
            first = poll(server_pid, "the hotline server to start (see run.log)", 240)
            poll(http_up, "the HTTP API", 30)
            asterisk = local.status(root)
            assert asterisk.running and asterisk.pid, f"run.sh started no Asterisk\n{output()}"

            os.kill(first, signal.SIGKILL)
            second = poll(lambda: server_pid(not_this=first), f"a new server\n{output()}", 30)
            poll(http_up, "the HTTP API of the restarted server", 30)
            after = local.status(root)
            assert after.running and after.pid == asterisk.pid, "Asterisk went down with it"
            assert "starting it again" in output()

            # the line works: a call after the restart reaches the new server and is recorded
            call = SippCall.start(tmp_path / "sipp", sip_port, "12345", "13800000777",
                                  hangup_after=6)  # fmt: skip
            assert call.wait(60) == 0, call.errors()
            outcomes = poll(lambda: records(var, "13800000777"), "the call's record", 60)
            # queued at answer, nobody logged in: hanging up is an abandon
            assert len(outcomes) == 1 and outcomes[0] == "abandoned", outcomes

            run.send_signal(signal.SIGINT)  # Ctrl-C
            run.wait(90)
            assert not alive(second), "the server still runs after Ctrl-C"
            assert not local.status(root).running, "the Asterisk run.sh started still runs"
            with pytest.raises(redis.ConnectionError):
                client.ping()
        finally:
            print(output())  # shown when the test fails
            if run.poll() is None:
                run.kill()
                run.wait()
            for pid in filter(None, [server_pid()]):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(redis.ConnectionError):
                client.shutdown(nosave=True)
            client.close()
            log.close()
