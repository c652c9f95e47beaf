"""Shared fixtures: a real redis-server started by the suite, the shipped config."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from ivr.config import warn
from ivr.config.bundle import ConfigBundle
from ivr.config.loader import load_config
from ivr.devtools.redis_cluster import ClusterError, LocalRedisCluster
from queueing.queue import RedisQueue
from tests import watchdog

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"


_WATCH: list[watchdog.Watch] = []


def pytest_configure(config: pytest.Config) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    release = (lambda: capture.suspend_global_capture(in_=False)) if capture else (lambda: None)
    watch = watchdog.arm_from_environment(release)
    if watch is not None:
        _WATCH.append(watch)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Tells the watch (tests/watchdog.py) which test runs, and for how long it may."""
    for watch in _WATCH:
        marker = item.get_closest_marker("timeout")
        timeout = marker.args[0] if marker and marker.args else item.config.getini("timeout")
        watch.item(item.nodeid, float(timeout or 0))
    try:
        return (yield)
    finally:
        for watch in _WATCH:
            watch.item(None)


@pytest.fixture(autouse=True)
def calendar_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock of the calendar-ahead warning (HL-CFG-096), frozen mid-year: a test's
    warnings do not depend on the day it runs (tests of that warning set their own)."""
    moment = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(warn, "clock", lambda: moment)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """A real Redis Cluster (3 masters with a replica each) on loopback ports, for this test
    session only. Tests that kill a node start a cluster of their own."""
    try:
        cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    except ClusterError as exc:
        pytest.fail(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_url(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A real redis-server on a free loopback port, for this test session only; with
    ``HOTLINE_TEST_REDIS=cluster``, the session's Redis Cluster instead (every test that
    takes this fixture then runs on the cluster)."""
    if os.environ.get("HOTLINE_TEST_REDIS") == "cluster":
        yield request.getfixturevalue("redis_cluster").url
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: run ./test.sh, which installs it")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def queue_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """The URL the queue fixtures use (``rq``, ``hub``): the suite's Redis, or (param
    ``cluster``) the session's Redis Cluster (tests/queueing/conftest.py says which tests
    take both)."""
    if getattr(request, "param", "redis") == "cluster":
        return str(request.getfixturevalue("redis_cluster").url)
    return redis_url


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[RedisQueue]:
    q = RedisQueue.from_url(redis_url)
    await q.client.flushdb()
    yield q
    await q.close()


@pytest.fixture(scope="session")
def config() -> ConfigBundle:
    return load_config(CONFIG_DIR)


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped config directory (and an empty recordings dir)."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    (tmp_path / "recordings" / "studio").mkdir(parents=True)
    return target
