"""``hotline cluster up|down|status`` without root: what each box is configured with (both
servers in its FastAGI failover list, behind Kamailio), the layout kept between commands, and
the commands' answers on a set that never ran. The set itself runs in
tests/e2e/test_scale_out.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ivr.devtools.cluster_parts import Server
from ivr.devtools.local_cluster import Box, Layout, LocalCluster
from tests.conftest import ROOT


def cluster(tmp_path: Path) -> LocalCluster:
    return LocalCluster(
        tmp_path / "cluster",
        config_dir=ROOT / "config",
        recordings_dir=tmp_path / "recordings",
        roots=[tmp_path / "root1", tmp_path / "root2"],
    )


def laid_out(tmp_path: Path) -> LocalCluster:
    c = cluster(tmp_path)
    servers = [Server(tmp_path / f"s{i}", 7000 + i, 8000 + i) for i in (1, 2)]
    boxes = [Box(tmp_path / "root1", 5061), Box(tmp_path / "root2", 5062)]
    c.layout = Layout(5432, 5060, servers, boxes)
    return c


def test_each_box_names_both_servers_its_own_first_behind_kamailio(tmp_path: Path) -> None:
    c = laid_out(tmp_path)
    one, two = (c.box_options(i, b) for i, b in enumerate(c.boxes, 1))
    assert one.agi_urls == ("agi://127.0.0.1:7001/hotline", "agi://127.0.0.1:7002/hotline")
    assert two.agi_urls == ("agi://127.0.0.1:7002/hotline", "agi://127.0.0.1:7001/hotline")
    assert one.kamailio == two.kamailio == "sip:127.0.0.1:5060"
    assert (one.sip_port, two.sip_port) == (5061, 5062)
    assert two.ami is None and two.websocket is None  # one AMI port on loopback: box 1's
    # the process-AGI layer writes to the same PostgreSQL as the servers
    assert one.process_agi is not None and two.process_agi is not None
    summary = "\n".join(c.summary())
    assert "SIP entry: udp 127.0.0.1:5060" in summary
    assert "HOTLINE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/hotline" in summary


def test_the_layout_is_kept_between_commands(tmp_path: Path) -> None:
    c = laid_out(tmp_path)
    assert c.layout is not None
    c.layout.started = ["redis", "postgres"]
    c.home.mkdir(parents=True)
    c._save()
    again = cluster(tmp_path)
    assert again.layout == c.layout
    assert [p.part for p in again.status()] == [
        "redis", "postgres", "server1", "server2", "box1", "box2", "kamailio",
    ]  # fmt: skip
    assert not any(p.up for p in again.status())


def hotline(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_VAR_DIR": str(var)}
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", "cluster", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env, check=False,
    )  # fmt: skip


def test_status_and_down_of_a_set_that_never_ran(tmp_path: Path) -> None:
    status = hotline(tmp_path, "status")
    assert status.returncode == 1
    assert status.stdout.split()[:2] == ["cluster", "DOWN"]
    down = hotline(tmp_path, "down")
    assert (down.returncode, down.stdout.strip()) == (0, "not running")
    assert hotline(tmp_path, "down").returncode == 0  # idempotent
