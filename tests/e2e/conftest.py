"""The whole stack for end-to-end tests: a real Asterisk 22 (the local chroot of
:mod:`ivr.asterisk.local`, built with debootstrap when missing), a real redis-server, our
``hotline serve`` process, and the Asterisk config from ``asterisk_conf/`` plus the generated
parts, exactly as ``hotline asterisk up`` installs it. SIPp places the calls (see sipp.py).

Test-only differences from the shipped config, kept in a copy under the session's temporary
directory: the emergency lines dial ``Local/<110..122>@hotline-e2e-target`` (a context in
``extensions-site.conf`` that answers, notes the call in AstDB and hangs up), and so do
queue.yaml's transfer targets (the desk's transfer buttons), and the process
AGI script writes its journal to a var directory of its own, so that the tests can tell which
layer served a call.

The server runs with ``--queue-wait`` (the Redis queue's waiter: music on hold, then Dial of the
operator) and its HTTP API, and its ``queue.yaml`` is a test copy (:data:`QUEUE_SETTINGS`):
no overflow rule, no default widening to the general operators (:meth:`Stack.set_widen`
turns it on for a test) and no callback offer (a silent caller just waits in its skill until
it hangs up or an operator is free), short ring and wrap-up times, and the longest heartbeat
timeout (an hour).
Its callback dialler (:data:`DIALLER_SETTINGS`) logs in to the stack's Asterisk, whose AMI
user and ``[hotline-callback]`` are generated as ``hotline asterisk up`` makes them; only
test_callback.py's callers ask for a callback (through a server of its own).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis as redis_lib
import yaml

from ivr.asterisk import conf, local
from ivr.config.loader import load_config
from queueing import keys as queue_keys
from queueing.ami import ensure_secret_file
from tests.api_client import api_token, call_api
from tests.conftest import free_port
from tests.e2e.sipp import PCAP_DIR, Operator, SippCall, free_udp_port

PROJECT = local.project_dir()
E2E_CACHE = PROJECT / ".cache" / "e2e"
TARGET_CONTEXT = "hotline-e2e-target"
SITE_CONF = f"""\
; e2e tests: where the emergency dial strings of the test config lead
[{TARGET_CONTEXT}]
exten => _X.,1,Answer()
 same => n,Set(DB(hotline-e2e/${{CALLERID(num)}})=${{EXTEN}})
 same => n,Wait(1)
 same => n,Hangup()
"""

# queue.yaml of the stack (merged into the shipped one): see the module docstring
QUEUE_SETTINGS: dict[str, Any] = {
    "ring_timeout": 8,
    "wrapup_seconds": 1,
    "heartbeat_seconds": 3600,
}
# queue.yaml `dialler:` of the stack: every server of the stack dials callbacks through the
# stack's own Asterisk (its AMI on a port of the session, the secret in a file of the
# session); short times for test_callback.py (the only test whose callers ask for one)
DIALLER_SETTINGS: dict[str, Any] = {
    "enabled": True,
    "citizen_ring_timeout": 6,
    "retry_after_seconds": 5,
    "max_attempts": 2,
}


T = TypeVar("T")


def poll(fetch: Callable[[], T | None], what: Callable[[], str], timeout: float = 60.0) -> T:
    """``fetch()`` until it returns something (not None); fail with ``what()`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout}s: {what()}")
        time.sleep(0.25)


def _requirements() -> str | None:
    if os.geteuid() != 0:
        return "needs root: the local Asterisk runs in a chroot with bind mounts"
    if shutil.which("sipp") is None or not (PCAP_DIR / "dtmf_2833_1.pcap").exists():
        return "needs SIPp and its RFC 2833 pcaps (Debian sip-tester; ./test.sh installs it)"
    if not (local.is_ready(local.default_root()) or shutil.which("debootstrap")):
        return "needs debootstrap to build the Asterisk root (./test.sh installs it)"
    return None


def _acquire_root(wait: float = 240.0) -> tuple[Path, int]:
    """A root for this session, and the open lock file that keeps it ours.

    Several test sessions may run at once in one checkout (and a developer's ``hotline
    asterisk up``), and one root runs one Asterisk. Each session takes an exclusive lock
    (``<root>.lock``) on the first free root: the project's, else ``<root>-e2e``, else
    ``<root>-e2e2`` (built on first use, about a minute). A root whose Asterisk runs without a
    lock (a developer's) is passed over. ``$HOTLINE_E2E_ASTERISK_ROOT`` forces a root."""
    return _acquire_roots(1, wait)[0]


def _acquire_roots(n: int, wait: float = 240.0) -> list[tuple[Path, int]]:
    """``n`` roots at once (the local cluster's boxes take two), as :func:`_acquire_root`;
    beyond the three roots above, ``<root>-e2e3`` ... (built or copied on first use)."""
    env = os.environ.get("HOTLINE_E2E_ASTERISK_ROOT", "").strip()
    base = local.default_root()
    extra = [base.with_name(f"{base.name}-e2e{i}") for i in range(3, 3 + n)]
    candidates = (
        [Path(env).resolve()]
        if env and n == 1
        else [base, base.with_name(base.name + "-e2e"), base.with_name(base.name + "-e2e2")]
    )
    if n > 1:
        candidates += extra
    deadline = time.monotonic() + wait
    while True:
        taken: list[tuple[Path, int]] = []
        for root in candidates:
            if len(taken) == n:
                break
            root.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{root}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if root.exists() and local.status(root).running:
                os.close(fd)  # a developer's Asterisk: leave it alone
                continue
            taken.append((root, fd))
        if len(taken) == n:
            return taken
        for _, fd in taken:
            os.close(fd)
        if time.monotonic() > deadline:
            pytest.fail(f"not {n} free Asterisk roots among {', '.join(map(str, candidates))}")
        time.sleep(1.0)


@dataclass
class Stack:
    root: Path
    work: Path
    config_dir: Path
    recordings: Path
    var: Path
    var_process: Path
    redis_url: str
    agi_port: int
    sip_port: int
    http_port: int
    server: subprocess.Popen[bytes]
    opts: conf.ConfOptions
    log_start: int = 0  # messages.log offset when this session's Asterisk started
    calls: list[SippCall] = field(default_factory=list)

    # -- Asterisk
    def start_asterisk(self) -> None:
        """Start Asterisk in the stack's root with the installed config, the project, the
        work directory and the virtualenv's Python bind-mounted (the session's start, and a
        test's after it killed the box)."""
        self.log_start = local.log_offset(self.root)
        binds = [PROJECT, self.work]
        prefix = Path(sys.base_prefix).resolve()
        if prefix.parts[:2] != ("/", "usr"):
            binds.append(prefix)  # the Python the project's virtualenv runs on
        local.start(self.root, binds)

    def rx(self, command: str) -> str:
        return local.rx(self.root, command)

    def install(self, opts: conf.ConfOptions | None = None) -> list[str]:
        """Install the config for ``opts`` (default: the normal one) and reload it; return
        the WARNING/ERROR lines the reload logged."""
        files = conf.static_files()
        bundle = load_config(self.config_dir, self.recordings)
        files.update(conf.generate(bundle, opts or self.opts))
        files["extensions-site.conf"] = SITE_CONF
        local.install_config(self.root, None, files, modules=conf.static_modules())
        if local.status(self.root).running:
            return local.reload_config(self.root)
        return []

    def channels(self) -> list[list[str]]:
        """``core show channels concise``: channel!context!exten!prio!state!app!data!cid!..."""
        out = self.rx("core show channels concise")
        return [line.split("!") for line in out.splitlines() if "!" in line]

    def channel_of(self, caller: str) -> list[str] | None:
        """The caller's own channel: the one from the carrier showing ``caller`` (an
        operator's or a colleague's leg of the call may show the caller's number too), else
        any SIP channel showing it."""
        mine = [f for f in self.channels() if len(f) > 7 and f[7] == caller]
        for prefix in ("PJSIP/carrier-", "PJSIP/"):
            found = [f for f in mine if f[0].startswith(prefix)]
            if found:
                return found[0]
        return None

    def wait_channel(self, caller: str, app: str, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            fields = self.channel_of(caller)
            if fields is not None and fields[5] == app:
                return fields
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no channel of {caller} in {app} after {timeout}s: {self.channels()}"
                )
            time.sleep(0.2)

    def hangup(self, caller: str) -> None:
        fields = self.channel_of(caller)
        if fields is not None:
            self.rx(f"channel request hangup {fields[0]}")

    def log_since(self, offset: int, contains: str = "") -> list[str]:
        path = self.root / "var/log/asterisk/messages.log"
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        return [line for line in text.splitlines() if contains in line]

    def agistatus(self, uniqueid: str, offset: int, timeout: float = 10.0) -> str:
        """AGISTATUS after the FastAGI session, from the dialplan's failover log line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_since(offset, f"hotline {uniqueid} "):
                m = re.search(r"FastAGI \S+ did not finish the call \(AGISTATUS=(\w+)", line)
                if m:
                    return m.group(1)
                if re.search(r"served by fastagi", line):
                    return "SUCCESS"
            assert time.monotonic() < deadline, f"no dialplan log line for {uniqueid}"
            time.sleep(0.2)

    # -- calls and records
    def call(self, number: str, caller: str, **kwargs: Any) -> SippCall:
        sipp = SippCall.start(self.work / "sipp" / caller, self.sip_port, number, caller, **kwargs)
        self.calls.append(sipp)
        return sipp

    @staticmethod
    def _journal(path: Path) -> list[dict[str, Any]]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def _database(self) -> list[dict[str, Any]]:
        """The server's call records: ``call_records`` in its SQLite database."""
        path = self.var / "hotline.db"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM call_records ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []
        finally:
            db.close()
        out = []
        for row in rows:
            rec = dict(row)
            for key in ("path", "events", "messages"):
                if isinstance(rec.get(key), str):
                    rec[key] = json.loads(rec[key])
            out.append(rec)
        return out

    def record(self, caller: str, *, process: bool = False, timeout: float = 150.0) -> Any:
        """The first call record of ``caller``: in the server's database, or in the process
        script's journal; waiting for it to be written."""
        deadline = time.monotonic() + timeout
        while True:
            records = (
                self._journal(self.var_process / "calls.jsonl") if process else self._database()
            )
            for rec in records:
                if rec["caller"] == caller:
                    return rec
            if self.server.poll() is not None:
                raise AssertionError(f"hotline serve exited: {self.serve_log()}")
            if time.monotonic() > deadline:
                where = "the process journal" if process else "the server's database"
                raise AssertionError(f"no call record of {caller} in {where} after {timeout}s")
            time.sleep(0.25)

    def serve_log(self) -> str:
        return (self.work / "serve.log").read_text("utf-8", "replace")[-3000:]

    # -- servers (failover tests: test_failover.py)
    def start_server(
        self,
        var: Path,
        agi_port: int,
        http_port: int,
        *,
        log_name: str = "serve.log",
        database_url: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``hotline serve --queue-wait`` with the stack's config, prompts and Redis on
        these ports, writing into ``var`` (``database_url``: e.g. the stack's database, so
        that the records and queue_log of every server are in one place); return once it
        serves (its pid file is written, after the FastAGI and HTTP listeners)."""
        env = dict(
            os.environ,
            HOTLINE_CONFIG_DIR=str(self.config_dir),
            HOTLINE_RECORDINGS_DIR=str(self.recordings),
            HOTLINE_VAR_DIR=str(var),
            HOTLINE_REDIS_URL=self.redis_url,
            HOTLINE_AGI_HOST="127.0.0.1",
            HOTLINE_AGI_PORT=str(agi_port),
        )
        if self.opts.websocket is not None:  # the desks' browser phones, after a restart too
            ws = f"ws://127.0.0.1:{self.opts.websocket.port}/ws"
            env.setdefault("HOTLINE_WEBRTC_WS_URL", ws)
        if database_url is not None:
            env["HOTLINE_DATABASE_URL"] = database_url
        pidfile = var / "hotline.pid"
        pidfile.unlink(missing_ok=True)  # a killed server's
        serve = ["serve", "--queue-wait", "--http-port", str(http_port)]
        with open(self.work / log_name, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ivr.cli", *serve],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work,
            )
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip() == str(proc.pid)):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                text = (self.work / log_name).read_text("utf-8", "replace")[-3000:]
                raise AssertionError(f"hotline serve did not start: {text}")
            time.sleep(0.05)
        return proc

    def restart_server(self) -> subprocess.Popen[bytes]:
        """Start the stack's server again (same ports, var and database) after a test stopped
        or killed it; the session's teardown stops the new one."""
        if self.server.poll() is None:
            raise AssertionError("the stack's server still runs")
        self.server = self.start_server(self.var, self.agi_port, self.http_port)
        return self.server

    def uniqueid(self, caller: str) -> str | None:
        """The Asterisk UNIQUEID of ``caller``'s inbound channel (``concise`` field 13)."""
        fields = self.channel_of(caller)
        return fields[13] if fields is not None and len(fields) > 13 else None

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of the server's database (read only; [] before it is migrated)."""
        path = self.var / "hotline.db"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql, args).fetchall()]
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()

    def queue_events(self, callid: str) -> list[str]:
        rows = self.query("SELECT event FROM queue_log WHERE callid = ? ORDER BY id", callid)
        return [r["event"] for r in rows]

    def set_widen(self, after_seconds: float | None) -> None:
        """queue.yaml ``widen.after_seconds`` for the stack's server (SIGHUP, as ``hotline
        reload`` does); returns once the server runs the new config."""
        path = self.config_dir / "queue.yaml"
        conf_yaml = yaml.safe_load(path.read_text("utf-8"))
        conf_yaml["widen"]["after_seconds"] = after_seconds
        path.write_text(yaml.safe_dump(conf_yaml, allow_unicode=True), "utf-8")
        status = self.var / "reload-status.json"
        before = status.stat().st_mtime_ns if status.exists() else 0
        self.server.send_signal(signal.SIGHUP)
        poll(
            lambda: (status.exists() and status.stat().st_mtime_ns != before) or None,
            lambda: f"no reload of the stack's server\n{self.serve_log()}",
            timeout=30,
        )
        assert json.loads(status.read_text())["ok"], status.read_text()

    def menu_done(self, uniqueid: str) -> bool:
        """Whether the call's walk through the menu is over and it waits for a person: the
        caller is queued from the answer on, so ENTERQUEUE alone says nothing about the menu;
        the live-call registry's snapshot of the record does (a ``queue`` event of the walk,
        or an operator offered during the menu)."""
        centre = load_config(self.config_dir, self.recordings).queue.settings.centre
        client = redis_lib.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            snap = client.hget(queue_keys.call(uniqueid, centre), "snapshot")
        finally:
            client.close()
        if not snap:
            return False
        for event in json.loads(snap).get("events", []):
            if event["kind"] == "offer" or (
                event["kind"] == "queue" and not event["detail"].endswith("(answer)")
            ):
                return True
        return False

    def wait_queued(self, caller: str, timeout: float = 150.0) -> str:
        """Wait until ``caller`` waits in the operator queue (its ENTERQUEUE is in queue_log)
        with the menu behind it (:meth:`menu_done`); return its uniqueid."""
        deadline = time.monotonic() + timeout
        while True:
            uid = self.uniqueid(caller)
            if uid and "ENTERQUEUE" in self.queue_events(uid) and self.menu_done(uid):
                return uid
            if self.server.poll() is not None:
                raise AssertionError(f"hotline serve exited: {self.serve_log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{caller} is not in the queue after {timeout}s ({uid})")
            time.sleep(0.25)

    def wait_events(self, callid: str, expected: set[str], timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.queue_events(callid)
            if expected <= set(events):
                return events
            if time.monotonic() > deadline:
                raise AssertionError(f"queue_log of {callid}: {events}, expected {expected}")
            time.sleep(0.25)

    # -- the HTTP API of the server (agent desk)
    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.var / 'hotline.db'}"

    def http(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The staff API with a supervisor's API token (``/api/...``)."""
        token = api_token(self.database_url)
        return call_api(self.http_port, token, method, path, body)

    def agent(self, agent_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.http("GET", f"/api/agents/{agent_id}")
        return out

    def login(self, agent_id: str, *, ready: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = self.http("POST", f"/api/agents/{agent_id}/login", {"ready": ready})
        return out

    def logout(self, agent_id: str) -> None:
        if self.agent(agent_id).get("state") not in (None, "offline"):
            self.http("POST", f"/api/agents/{agent_id}/logout", {})

    def wait_queue_empty(self, timeout: float = 60.0) -> None:
        """Wait until nobody waits in any skill: a caller left in Redis by an earlier test
        (the process script's, whose lease then runs out) would take the next ready agent."""
        deadline = time.monotonic() + timeout
        while True:
            skills = self.http("GET", "/api/queue/metrics")["skills"]
            waiting = {k: s["waiting"] for k, s in skills.items() if s["waiting"]}
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"callers still waiting after {timeout}s: {waiting}")
            time.sleep(0.5)

    def sip_agent(self, agent_id: str) -> conf.Agent:
        return next(a for a in self.opts.agents if a.agent_id == agent_id)

    def softphone(self, agent_id: str, workdir: Path, **kwargs: Any) -> Operator:
        """Operator ``agent_id``'s softphone (a SIPp UAS under ``workdir/op<id>``),
        registered as its PJSIP endpoint; ``kwargs`` as :meth:`Operator.start`."""
        agent = self.sip_agent(agent_id)
        assert agent.endpoint is not None, f"{agent_id} has no SIP account"
        return Operator.start(
            workdir / f"op{agent_id}", self.sip_port, agent.endpoint, agent.password, **kwargs
        )

    def finish(self, sipp: SippCall, *, hang_up: bool = True) -> None:
        """Hang the call up from Asterisk's side (if asked) and check SIPp's verdict."""
        if hang_up:
            self.hangup(sipp.caller)
        rc = sipp.wait(30)
        assert rc == 0, f"SIPp exit {rc}\n{sipp.errors()}"


@pytest.fixture(scope="session")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    root, lock = _acquire_root()
    # A session stopped with SIGTERM (a CI timeout, kill) still tears down: no Asterisk, mounts,
    # server or SIPp left behind.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # The stack's server lives for the whole session (its reaper and lease renewer keep
    # working): it gets a Redis database of its own, so other tests' flushes and the
    # queue state machine never share keys with it.
    own_db = redis_url.rsplit("/", 1)[0] + "/3"
    try:
        yield from _stack(root, own_db, tmp_path_factory)
    finally:
        signal.signal(signal.SIGTERM, previous)
        os.close(lock)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stack(root: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    local.ensure_root(root)  # about a minute when it has to be built

    work = tmp_path_factory.mktemp("e2e")
    config_dir = work / "config"
    shutil.copytree(PROJECT / "config", config_dir)
    menu = config_dir / "menu.yaml"
    text = menu.read_text("utf-8")
    for number in ("110", "119", "120", "122"):
        text = text.replace(f"PJSIP/{number}@carrier", f"Local/{number}@{TARGET_CONTEXT}")
    menu.write_text(text, "utf-8")
    queue_yaml = config_dir / "queue.yaml"
    queue_conf = yaml.safe_load(queue_yaml.read_text("utf-8"))
    queue_conf["settings"].update(QUEUE_SETTINGS)
    queue_conf["overflow"] = {}
    queue_conf["widen"] = {**queue_conf.get("widen", {}), "after_seconds": None}
    queue_conf["callback"]["enabled"] = False
    for target in queue_conf.get("transfers", {}).get("targets", {}).values():
        # the desk's transfers to 110 ... lead where the menu's emergency lines do
        target["dial"] = re.sub(r"^PJSIP/(\d+)@carrier$", rf"Local/\1@{TARGET_CONTEXT}",
                                target["dial"])  # fmt: skip
    ami_secret = work / "ami-secret"
    ensure_secret_file(ami_secret)
    queue_conf["dialler"].update(DIALLER_SETTINGS, port=free_port(), secret=f"file:{ami_secret}")
    queue_yaml.write_text(yaml.safe_dump(queue_conf, allow_unicode=True), "utf-8")
    recordings = E2E_CACHE / "recordings"  # kept between runs: prompts are rebuilt if changed
    var, var_process = work / "var", work / "var-process"
    agi_port, sip_port, http_port = free_port(), free_udp_port(), free_port()
    ws_port = free_port()  # Asterisk's WebSocket for the desks' browser phones
    env = dict(
        os.environ,
        HOTLINE_CONFIG_DIR=str(config_dir),
        HOTLINE_RECORDINGS_DIR=str(recordings),
        HOTLINE_VAR_DIR=str(var),
        HOTLINE_REDIS_URL=redis_url,
        HOTLINE_AGI_HOST="127.0.0.1",
        HOTLINE_AGI_PORT=str(agi_port),
        HOTLINE_WEBRTC_WS_URL=f"ws://127.0.0.1:{ws_port}/ws",
    )
    hotline = [sys.executable, "-m", "ivr.cli"]
    built = subprocess.run(
        [*hotline, "prompts", "build"], env=env, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stdout + built.stderr

    process = conf.process_agi_for_paths(
        config_dir=config_dir, recordings_dir=recordings, var_dir=var_process, redis_url=redis_url
    )
    moh = E2E_CACHE / "moh"
    conf.ensure_moh(moh)
    # the operators of agents.yaml, as `hotline asterisk up` makes them (random passwords,
    # in var/ where the server finds the browser phones')
    agents, source = conf.load_agents(
        load_config(config_dir, recordings), var / conf.DEV_SECRETS_FILE, dev=True
    )
    opts = conf.ConfOptions(
        agi_urls=(f"agi://127.0.0.1:{agi_port}/hotline",),
        sip_bind="127.0.0.1",
        sip_port=sip_port,
        carrier_match=("127.0.0.1",),
        process_agi=process,
        moh_dir=moh,
        agents=tuple(agents),
        agents_source=source,
        static_queue_timeout=30,
        ami=conf.ami_user(load_config(config_dir, recordings).queue.dialler, None),
        websocket=conf.WebSocketOptions(bind="127.0.0.1", port=ws_port),
    )
    log = open(work / "serve.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [*hotline, "serve", "--queue-wait", "--http-port", str(http_port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
    )
    stk = Stack(
        root,
        work,
        config_dir,
        recordings,
        var,
        var_process,
        redis_url,
        agi_port,
        sip_port,
        http_port,
        server,
        opts,
    )
    try:
        deadline = time.monotonic() + 30
        while not (var / "hotline.pid").exists():
            assert server.poll() is None, stk.serve_log()
            assert time.monotonic() < deadline, "hotline serve did not start"
            time.sleep(0.05)
        stk.install()
        stk.start_asterisk()
        yield stk
    finally:
        for sipp in stk.calls:
            sipp.kill()
        try:
            if local.status(root).running:
                local.rx(root, "channel request hangup all")
        finally:
            local.stop(root)
            server = stk.server  # a test may have restarted it (Stack.restart_server)
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(40)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            log.close()


def dead_agi_urls(n: int) -> tuple[str, ...]:
    """FastAGI URLs on which nothing listens."""
    return tuple(f"agi://127.0.0.1:{free_port()}/hotline" for _ in range(n))


def with_options(stack: Stack, **changes: Any) -> conf.ConfOptions:
    return replace(stack.opts, **changes)
