"""``hotline cluster redis up|status|down`` and the ``redis+cluster://`` setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ivr.asterisk.conf_options import dialplan_redis_url
from queueing.client import cluster_auth, cluster_nodes, redis_client
from queueing.errors import QueueError
from tests.conftest import ROOT, free_port


def test_a_cluster_url_names_its_nodes_and_its_password() -> None:
    url = "redis+cluster://:p%40ss@10.0.0.1:6379,10.0.0.2:6380/0"
    assert cluster_nodes(url) == [("10.0.0.1", 6379), ("10.0.0.2", 6380)]
    assert cluster_auth(url) == (None, "p@ss")
    assert cluster_auth("redis+cluster://h:1") == (None, None)
    # as the dialplan passes it to the process-AGI script (no comma in an argument)
    assert dialplan_redis_url(url) == "redis+cluster://:p%40ss@10.0.0.1:6379+10.0.0.2:6380/0"
    assert cluster_nodes(dialplan_redis_url(url)) == cluster_nodes(url)
    assert dialplan_redis_url("redis://h:1/0") == "redis://h:1/0"
    with pytest.raises(QueueError) as bad:
        cluster_nodes("redis+cluster://10.0.0.1:6379,10.0.0.2")
    assert str(bad.value) == "[HL-CLU-010] not host:port in the Redis Cluster URL: '10.0.0.2'"


async def test_a_cluster_out_of_reach_is_a_redis_outage_like_any() -> None:
    """The hotline's Redis-away paths catch connection errors: a cluster none of whose nodes
    answers raises one too (not redis-py's RedisClusterUnreachableError)."""
    client = redis_client(f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}")
    with pytest.raises(RedisConnectionError, match="Redis Cluster unavailable"):
        await client.get("x")
    await client.aclose()


def hotline(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_VAR_DIR": str(var)}
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", "cluster", "redis", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env, check=False,
    )  # fmt: skip


def test_up_status_down(tmp_path: Path) -> None:
    up = hotline(tmp_path, "up")
    try:
        assert up.returncode == 0, up.stderr
        url = up.stdout.strip().removeprefix("HOTLINE_REDIS_URL=")
        assert len(cluster_nodes(url)) == 6
        again = hotline(tmp_path, "up")
        assert again.returncode == 1 and again.stderr.startswith("[HL-CLU-002]")
        status = hotline(tmp_path, "status")
        assert status.returncode == 0
        roles = [line.split()[-1] for line in status.stdout.splitlines()[1:]]
        assert sorted(roles) == ["master"] * 3 + ["slave"] * 3
    finally:
        down = hotline(tmp_path, "down")
    assert down.stdout.strip() == "stopped"
    status = hotline(tmp_path, "status")
    assert (status.returncode, status.stdout.strip()) == (3, "not running")
