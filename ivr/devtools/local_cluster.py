"""The whole scale-out set on one machine (``hotline cluster up|down|status``, the e2e tests of
``tests/e2e/test_scale_out.py``; docs/scale-out.md "The whole set on one machine").

On loopback, each part on ports of its own and in a directory of its own under ``home``
(``var/cluster/``):

* a Redis Cluster, 3 masters with a replica each (:class:`~.redis_cluster.LocalRedisCluster`,
  ``redis/``);
* a PostgreSQL kept between ``up`` and ``down`` (``pg/``), migrated by ``hotline db upgrade``;
* two ``hotline serve --queue-wait`` (``server1/``, ``server2/``: pid file, ``serve.log``),
  both on the same Redis Cluster and PostgreSQL URLs;
* two Asterisk boxes, each a chrooted local Asterisk in a root of its own (the second a copy
  of the first), configured as boxes behind Kamailio, each naming both servers in its FastAGI
  failover list (box 1 server 1 first, box 2 server 2 first); the recordings directory (prompts
  and recordings) is one directory, bind-mounted at the same path into both;
* Kamailio (``kamailio/``) with both boxes in its dispatcher: the SIP entry.

``up`` starts them in that order and writes ``cluster.json`` (ports, roots) as it goes; ``down``
stops what runs, in reverse order, and is idempotent; :meth:`LocalCluster.status` lists every
part. Failures are :class:`~.redis_cluster.ClusterError` with an ``HL-CLU`` id, one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ivr.asterisk import conf, kamailio, local
from ivr.config.loader import load_config
from ivr.devtools.cluster_parts import (
    Kamailio,
    PartStatus,
    Postgres,
    Server,
    copy_root,
    default_roots,
    free_port,
)
from ivr.devtools.redis_cluster import ClusterError, LocalRedisCluster
from queueing.ami import SECRET_FILE, ensure_secret_file

STATE = "cluster.json"
BOXES = 2
SERVERS = 2


@dataclass
class Box:
    root: Path
    sip_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"


@dataclass
class Layout:
    """Where every part listens (``cluster.json``)."""

    pg_port: int
    kamailio_port: int
    servers: list[Server]
    boxes: list[Box]
    ping_interval: int = 2
    started: list[str] = field(default_factory=list)  # the parts up started, in order

    def to_json(self) -> str:
        return json.dumps(
            {
                "pg_port": self.pg_port,
                "kamailio_port": self.kamailio_port,
                "ping_interval": self.ping_interval,
                "servers": [[str(s.var), s.agi_port, s.http_port] for s in self.servers],
                "boxes": [[str(b.root), b.sip_port] for b in self.boxes],
                "started": self.started,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Layout:
        d = json.loads(text)
        return cls(
            d["pg_port"],
            d["kamailio_port"],
            [Server(Path(v), a, h) for v, a, h in d["servers"]],
            [Box(Path(r), p) for r, p in d["boxes"]],
            d.get("ping_interval", 2),
            list(d.get("started", [])),
        )


class LocalCluster:
    """The set under ``home``, for the admin config in ``config_dir`` and the prompts and
    recordings in ``recordings_dir``; the boxes run in ``roots`` (two)."""

    def __init__(
        self,
        home: Path,
        *,
        config_dir: Path,
        recordings_dir: Path,
        roots: list[Path] | None = None,
        ping_interval: int = 2,
    ) -> None:
        self.home = home.resolve()
        self.config_dir = config_dir.resolve()
        self.recordings_dir = recordings_dir.resolve()
        self.roots = roots or default_roots()
        self.ping_interval = ping_interval
        self.redis = LocalRedisCluster(self.home / "redis")
        state = self.home / STATE
        self.layout: Layout | None = Layout.from_json(state.read_text()) if state.exists() else None

    # -- where things are
    @property
    def database_url(self) -> str:
        assert self.layout is not None
        return self.postgres.url

    @property
    def postgres(self) -> Postgres:
        return Postgres(self.home / "pg", self.layout.pg_port if self.layout else 0)

    @property
    def kamailio(self) -> Kamailio:
        exe = shutil.which("kamailio") or "/usr/sbin/kamailio"
        return Kamailio(
            self.home / "kamailio", self.layout.kamailio_port if self.layout else 0, exe
        )

    @property
    def servers(self) -> list[Server]:
        return self.layout.servers if self.layout else []

    @property
    def boxes(self) -> list[Box]:
        return self.layout.boxes if self.layout else []

    def base_env(self) -> dict[str, str]:
        """The settings every hotline process of the set shares."""
        return dict(
            os.environ,
            HOTLINE_CONFIG_DIR=str(self.config_dir),
            HOTLINE_RECORDINGS_DIR=str(self.recordings_dir),
            HOTLINE_REDIS_URL=self.redis.url,
            HOTLINE_DATABASE_URL=self.database_url,
        )

    def _save(self) -> None:
        assert self.layout is not None
        (self.home / STATE).write_text(self.layout.to_json() + "\n")

    def _started(self, part: str) -> None:
        assert self.layout is not None
        self.layout.started.append(part)
        self._save()

    # -- up
    def check(self) -> None:
        """What ``up`` needs, before anything starts (HL-CLU-020 ... 022)."""
        if os.geteuid() != 0:
            raise ClusterError("[HL-CLU-020] the local cluster needs root (chroot, mounts): sudo")
        if shutil.which("kamailio") is None and not Path("/usr/sbin/kamailio").exists():
            raise ClusterError("[HL-CLU-021] kamailio is not installed (apt-get install kamailio)")
        if self.layout is not None and self.running_parts():
            raise ClusterError(
                f"[HL-CLU-022] the local cluster in {self.home} still runs "
                f"({', '.join(self.running_parts())}): `hotline cluster down` first"
            )
        for root in self.roots:
            if local.status(root).running:
                raise ClusterError(f"[HL-CLU-022] an Asterisk already runs in {root}")

    def up(self) -> Layout:
        self.check()
        self.home.mkdir(parents=True, exist_ok=True)
        servers = [
            Server(self.home / f"server{i}", free_port(), free_port())
            for i in range(1, SERVERS + 1)
        ]
        boxes = [Box(root, free_port(udp=True)) for root in self.roots[:BOXES]]
        self.layout = Layout(free_port(), free_port(udp=True), servers, boxes, self.ping_interval)
        self._save()
        try:
            self._up()
        except BaseException:
            self.down()
            raise
        return self.layout

    def _up(self) -> None:
        self.redis.start()
        self._started("redis")
        self.postgres.start()
        self._started("postgres")
        env = self.base_env()
        secret = self.home / SECRET_FILE  # box 1's AMI, for every server's callback dialler
        ensure_secret_file(secret)
        for server in self.servers:
            server.var.mkdir(parents=True, exist_ok=True)
            shutil.copy2(secret, server.var / SECRET_FILE)
        self._hotline(env, "db", "upgrade")
        self._hotline(env, "prompts", "build")
        for i, server in enumerate(self.servers, 1):
            server.start(env, local.project_dir())
            self._started(f"server{i}")
        copy_root(None, self.roots[0])
        for root in self.roots[1:BOXES]:
            copy_root(self.roots[0], root)
        for i, box in enumerate(self.boxes, 1):
            self._install_box(i, box)
            local.start(box.root, self._binds())
            self._started(f"box{i}")
        self._start_kamailio()
        self._started("kamailio")

    def restart_box(self, index: int) -> None:
        """Start box ``index`` (1-based) again, after it was stopped or killed."""
        box = self.boxes[index - 1]
        local.stop(box.root)  # what a killed one left mounted
        local.start(box.root, self._binds())

    def _hotline(self, env: dict[str, str], *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "ivr.cli", *args],
            env=env, capture_output=True, text=True, check=False, cwd=local.project_dir(),
        )  # fmt: skip
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
            raise ClusterError(f"[HL-CLU-023] `hotline {' '.join(args)}` failed: {last[0]}")

    def agents(self) -> tuple[tuple[conf.Agent, ...], str]:
        """The operators' SIP accounts, as every box and Kamailio have them (development
        passwords kept in ``home/asterisk-secrets.json``)."""
        bundle = load_config(self.config_dir, self.recordings_dir)
        agents, source = conf.load_agents(bundle, self.home / conf.DEV_SECRETS_FILE, dev=True)
        return tuple(agents), source

    def box_options(self, index: int, box: Box) -> conf.ConfOptions:
        """Box ``index`` (1-based): behind Kamailio, both servers in its failover list (its
        own first), the callback dialler's AMI on box 1 only (one AMI port on loopback)."""
        assert self.layout is not None
        bundle = load_config(self.config_dir, self.recordings_dir)
        urls = [s.agi_url for s in self.servers]
        shift = (index - 1) % len(urls)
        agents, source = self.agents()
        moh = self.recordings_dir / "moh"
        return conf.ConfOptions(
            agi_urls=tuple(urls[shift:] + urls[:shift]),
            sip_bind="127.0.0.1",
            sip_port=box.sip_port,
            carrier_match=("127.0.0.1",),
            process_agi=conf.process_agi_for_paths(
                config_dir=self.config_dir,
                recordings_dir=self.recordings_dir,
                var_dir=self.home / f"process{index}",
                redis_url=self.redis.url,
                database_url=self.database_url,
            ),
            moh_dir=moh if conf.ensure_moh(moh) is not None else None,
            agents=agents,
            agents_source=source,
            ami=conf.ami_user(bundle.queue.dialler, self.home) if index == 1 else None,
            websocket=None,
            kamailio=f"sip:127.0.0.1:{self.layout.kamailio_port}",
        )

    def _install_box(self, index: int, box: Box) -> None:
        bundle = load_config(self.config_dir, self.recordings_dir)
        files = conf.static_files()
        files.update(conf.generate(bundle, self.box_options(index, box)))
        # RTP ports of its own (box 1 10000-14999, box 2 15000-19999): the boxes share one
        # address here, and one range would be shared by all of them
        first = 10000 + 5000 * (index - 1)
        files["rtp.conf"] = f"[general]\nrtpstart = {first}\nrtpend = {first + 4999}\n"
        local.install_config(box.root, None, files, modules=conf.static_modules())
        # a name of its own in every UNIQUEID (``box1-1733...``): two boxes number their
        # channels alike, and the queue, the live calls and the records key calls by it
        options = box.root / "etc/asterisk/asterisk.conf"  # [options] is its last section
        options.write_text(options.read_text() + f"systemname = box{index}\n")

    def _binds(self) -> list[Path]:
        """What each box sees at the same path: the project (the process script), the Python
        the virtualenv runs on, the config, the shared recordings, and ``home``."""
        wanted = [local.project_dir(), Path(sys.base_prefix).resolve(), self.config_dir,
                  self.recordings_dir, self.home]  # fmt: skip
        out: list[Path] = []
        for path in wanted:
            if path.parts[:2] == ("/", "usr") or any(p == path or p in path.parents for p in out):
                continue
            path.mkdir(parents=True, exist_ok=True)
            out = [p for p in out if path not in p.parents] + [path]
        return out

    def _start_kamailio(self) -> None:
        assert self.layout is not None
        kam = self.kamailio
        agents, _ = self.agents()
        opts = kamailio.KamailioOptions(
            boxes=tuple(b.address for b in self.boxes),
            listen="127.0.0.1",
            port=self.layout.kamailio_port,
            ping_interval=self.layout.ping_interval,
            agents=agents,
            run_dir=kam.workdir / "run",
        )
        kam.workdir.mkdir(parents=True, exist_ok=True)
        for name, text in kamailio.generate(opts, kam.workdir).items():
            if name == kamailio.CONFIG_FILE:  # its log into kamailio.log, not syslog
                text = text.replace("log_stderror=no", "log_stderror=yes")
            path = kam.workdir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        kam.start(kam.workdir / kamailio.CONFIG_FILE)

    # -- down, status
    def down(self) -> list[str]:
        """Stop every part that runs, the last started first; the parts stopped."""
        stopped: list[str] = []
        if self.layout is None:
            if self.redis.running():
                self.redis.stop()
                stopped.append("redis")
            return stopped
        if self.kamailio.stop():
            stopped.append("kamailio")
        for i, box in reversed(list(enumerate(self.boxes, 1))):
            if local.status(box.root).running or local.mounts_under(box.root):
                local.stop(box.root)
                stopped.append(f"box{i}")
        for i, server in reversed(list(enumerate(self.servers, 1))):
            if server.stop():
                stopped.append(f"server{i}")
        if self.postgres.stop():
            stopped.append("postgres")
        if self.redis.running():
            self.redis.stop()
            stopped.append("redis")
        self.layout.started = []
        self._save()
        return stopped

    def status(self) -> list[PartStatus]:
        if self.layout is None:
            return [PartStatus("cluster", f"never started in {self.home}", False)]
        parts = [
            PartStatus("redis", self.redis.url, self.redis.running() and self.redis.healthy()),
            PartStatus("postgres", self.database_url, self.postgres.running()),
        ]
        for i, s in enumerate(self.servers, 1):
            where = f"{s.agi_url} http://127.0.0.1:{s.http_port} pid {s.pid()} ({s.var})"
            parts.append(PartStatus(f"server{i}", where, s.running()))
        kam = self.kamailio
        for i, b in enumerate(self.boxes, 1):
            st = local.status(b.root)
            flags = kam.box_flags(b.address) if kam.running() else ""
            where = f"sip udp {b.address} pid {st.pid} root {b.root}"
            where += f" (Kamailio: {flags})" if flags else ""
            parts.append(PartStatus(f"box{i}", where, st.running))
        where = f"sip udp 127.0.0.1:{kam.port} pid {kam.pid()} (the SIP entry)"
        parts.append(PartStatus("kamailio", where, kam.running()))
        return parts

    def running_parts(self) -> list[str]:
        return [p.part for p in self.status() if p.up]

    def summary(self) -> list[str]:
        """What runs where, for people (``up`` prints it)."""
        assert self.layout is not None
        lines = [
            f"SIP entry: udp 127.0.0.1:{self.layout.kamailio_port} (Kamailio: citizens call "
            "here, operators' phones register here)",
        ]
        for i, b in enumerate(self.boxes, 1):
            opts = self.box_options(i, b)
            lines.append(f"box {i}: Asterisk sip udp {b.address}, root {b.root}, "
                         f"FastAGI {' then '.join(opts.agi_urls)}")  # fmt: skip
        for i, s in enumerate(self.servers, 1):
            lines.append(f"server {i}: http://127.0.0.1:{s.http_port} {s.agi_url} log {s.log}")
        lines += [
            f"recordings: {self.recordings_dir} (bind-mounted into both boxes)",
            f"HOTLINE_REDIS_URL={self.redis.url}",
            f"HOTLINE_DATABASE_URL={self.database_url}",
        ]
        return lines
