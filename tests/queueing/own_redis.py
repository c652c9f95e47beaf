"""A redis-server of the test's own, on a fixed free port, that the test can restart (with or
without persistence) or flush, to see what the hotline does when Redis forgets."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis

from tests.conftest import free_port


class OwnRedis:
    def __init__(self, workdir: Path, *, appendonly: bool = False) -> None:
        self.workdir = workdir
        self.appendonly = appendonly
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        server = shutil.which("redis-server")
        assert server is not None, "redis-server is not installed"
        args = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        args += ["--save", "", "--appendonly", "yes" if self.appendonly else "no"]
        args += ["--appendfsync", "always"] if self.appendonly else []
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert self.proc.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        client.close()
        return self

    def stop(self) -> None:
        """Kill it (SIGKILL: what it did not persist is gone)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flushall(self) -> None:
        client = redis.Redis(port=self.port)
        client.flushall()
        client.close()


async def apoll(fetch: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """``await fetch()`` until it returns something true; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
