"""A local Redis Cluster for tests and development: 3 masters with a replica each, on
loopback ports, in a directory of its own (``hotline cluster redis up|down|status``, the
tests' ``redis_cluster`` fixture, ``bench/queue_bench.py --cluster``).

Each node is a ``redis-server --cluster-enabled yes`` with no persistence (what a SIGKILL
takes is gone, as in the failover tests); ``redis-cli --cluster create --cluster-replicas 1``
joins them. ``cluster-node-timeout`` is short (1 s) so that a killed master's replica takes
over within a few seconds, and ``cluster-replica-validity-factor 0`` lets a replica that
lagged behind take over anyway (the writes it missed are what the hotline servers re-assert).
Not for production: docs/scale-out.md says how the same pieces map onto several machines.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

NODES = 6  # 3 masters, 3 replicas
NODE_TIMEOUT_MS = 1000


class ClusterError(RuntimeError):
    """The local cluster could not be started (the message carries an HL- id)."""


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(int(s.getsockname()[1]))
    finally:
        for s in socks:
            s.close()
    return ports


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@dataclass
class Node:
    port: int
    pid: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def role(self) -> str:
        """``master``, ``slave`` or ``down``."""
        try:
            with self.client() as c:
                return str(c.info("replication")["role"])
        except redis.RedisError:
            return "down"


class LocalRedisCluster:
    """The six nodes under ``workdir`` (one subdirectory per port; ``ports`` lists them)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.nodes: list[Node] = []
        listed = workdir / "ports"
        if listed.exists():
            for line in listed.read_text().split():
                port, pid = line.split(":")
                self.nodes.append(Node(int(port), int(pid)))

    @property
    def url(self) -> str:
        """The hotline's setting for it (``HOTLINE_REDIS_URL``)."""
        return "redis+cluster://" + ",".join(n.address for n in self.nodes)

    def start(self, *, timeout: float = 30.0) -> LocalRedisCluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise ClusterError("[HL-CLU-001] redis-server and redis-cli are not installed")
        if self.running():
            raise ClusterError(f"[HL-CLU-002] a cluster is already running in {self.workdir}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.nodes = []
        ports = _free_ports(2 * NODES)  # each node's own, and its cluster bus port
        for port, bus in zip(ports[:NODES], ports[NODES:], strict=True):
            d = self.workdir / str(port)
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            args = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d)]
            args += ["--save", "", "--appendonly", "no", "--cluster-enabled", "yes"]
            args += ["--cluster-config-file", "nodes.conf", "--cluster-port", str(bus)]
            args += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
            args += ["--cluster-replica-validity-factor", "0", "--logfile", "redis.log"]
            proc = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            self.nodes.append(Node(port, proc.pid))
        self._save()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self._wait(lambda n=node: n.role() != "down", deadline, "a node did not start")
        create = [cli, "--cluster", "create", *(n.address for n in self.nodes)]
        done = subprocess.run(
            [*create, "--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            self.stop()
            raise ClusterError(f"[HL-CLU-003] redis-cli --cluster create failed: {done.stdout}")
        self._wait(self.healthy, deadline, "the cluster did not become ok")
        return self

    def _wait(self, ok: object, deadline: float, what: str) -> None:
        assert callable(ok)
        while not ok():
            if time.monotonic() > deadline:
                self.stop()
                raise ClusterError(f"[HL-CLU-004] {what} in time (see {self.workdir}/*/redis.log)")
            time.sleep(0.05)

    def _save(self) -> None:
        (self.workdir / "ports").write_text(" ".join(f"{n.port}:{n.pid}" for n in self.nodes))

    def running(self) -> bool:
        return any(_alive(n.pid) for n in self.nodes)

    def healthy(self) -> bool:
        """Every live node says ``cluster_state:ok`` and sees the 16384 slots assigned."""
        seen = 0
        for node in self.nodes:
            if not _alive(node.pid):
                continue
            try:
                with node.client() as c:
                    info = c.cluster("info")
            except redis.RedisError:
                return False
            if info.get("cluster_state") != "ok" or int(info.get("cluster_slots_ok", 0)) != 16384:
                return False
            seen += 1
        return seen > 0

    def master_of(self, key: str) -> Node:
        """The node serving ``key``'s slot now (asked of a live node)."""
        for node in self.nodes:
            if not _alive(node.pid):
                continue
            with node.client() as c:
                slot = int(c.cluster("keyslot", key))
                for start, end, primary, *_ in c.cluster("slots"):
                    if start <= slot <= end:
                        port = int(primary[1])
                        return next(n for n in self.nodes if n.port == port)
        raise ClusterError("[HL-CLU-004] no node of the cluster answers")

    def replica_of(self, master: Node) -> Node:
        for node in self.nodes:
            if node is master or not _alive(node.pid):
                continue
            try:
                with node.client() as c:
                    info = c.info("replication")
            except redis.RedisError:
                continue
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == master.port:
                return node
        raise ClusterError(f"[HL-CLU-004] {master.address} has no live replica")

    def kill(self, node: Node, sig: int = signal.SIGKILL) -> None:
        os.kill(node.pid, sig)
        if sig == signal.SIGKILL:
            while _alive(node.pid):
                try:
                    os.waitpid(node.pid, 0)
                except ChildProcessError:
                    time.sleep(0.01)

    def status(self) -> list[str]:
        """One line a node: address, role, state."""
        return [
            f"{n.address} pid {n.pid} {n.role() if _alive(n.pid) else 'down'}" for n in self.nodes
        ]

    def stop(self) -> None:
        for node in self.nodes:
            if _alive(node.pid):
                os.kill(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for node in self.nodes:
            while _alive(node.pid) and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(node.pid, os.WNOHANG)
                time.sleep(0.02)
            if _alive(node.pid):
                os.kill(node.pid, signal.SIGKILL)
        (self.workdir / "ports").unlink(missing_ok=True)
