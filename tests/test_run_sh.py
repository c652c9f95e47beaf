"""``./run.sh``, the README's first command, as a supervisor: a hotline server killed with
SIGKILL is back within seconds while Redis keeps running, and Ctrl-C stops the server and
the Redis that run.sh started (and nothing it did not start).

Run without the local Asterisk (``HOTLINE_NO_ASTERISK``): its chroot is covered by the
end-to-end tests; here the point is what happens to the processes around a crash.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.conftest import ROOT, free_port
from tests.test_outages import poll


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def interruptible() -> None:
    """Ctrl-C reaches run.sh as in a terminal: a test run started in the background (``cmd
    &`` in a script, as CI may) has SIGINT ignored, and bash cannot trap a signal that was
    ignored when it started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_run_sh_restarts_a_crashed_server_and_stops_what_it_started(tmp_path: Path) -> None:
    var = tmp_path / "var"
    redis_port, http_port, citizen_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        HOTLINE_NO_ASTERISK="1",
        HOTLINE_VAR_DIR=str(var),
        HOTLINE_RECORDINGS_DIR=str(tmp_path / "recordings"),  # its prompts, not the checkout's
        HOTLINE_REDIS_PORT=str(redis_port),
        HOTLINE_HTTP_PORT=str(http_port),
        HOTLINE_CITIZEN_PORT=str(citizen_port),
        HOTLINE_AGI_PORT=str(free_port()),
    )
    env.pop("HOTLINE_REDIS_URL", None)
    env.pop("HOTLINE_DATABASE_URL", None)
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
    run = subprocess.Popen(
        [str(ROOT / "run.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=interruptible,
    )
    pidfile = var / "hotline.pid"
    client = redis.Redis(port=redis_port)

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

    def citizen_page() -> str:
        """The citizens' form, on a listener of its own, without an account."""
        with urllib.request.urlopen(f"http://127.0.0.1:{citizen_port}/", timeout=2) as r:
            return str(r.read().decode())

    def output() -> str:
        return (tmp_path / "run.log").read_text("utf-8", "replace")[-3000:]

    try:
        first = poll(server_pid, "the hotline server to start", 180)
        poll(http_up, "the HTTP API", 30)
        assert "网上诉求" in citizen_page()
        assert client.ping()
        os.kill(first, signal.SIGKILL)
        second = poll(lambda: server_pid(not_this=first), f"a new server\n{output()}", 30)
        poll(http_up, "the HTTP API of the restarted server", 30)
        assert client.ping(), "Redis went down with the server"
        assert "starting it again" in output()

        run.send_signal(signal.SIGINT)  # Ctrl-C
        assert run.wait(60) == 0 or not alive(second), output()
        assert not alive(second), "the server still runs after Ctrl-C"
        with pytest.raises(redis.ConnectionError):
            client.ping()  # the Redis run.sh started is stopped with it
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in filter(None, [server_pid()]):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)
        client.close()
        log.close()
