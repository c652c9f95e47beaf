"""The whole scale-out set on one machine (issue 18, docs/scale-out.md "The whole set on one
machine"): :class:`ivr.devtools.local_cluster.LocalCluster`, as ``hotline cluster up`` starts
it (Redis Cluster, PostgreSQL, two ``hotline serve``, two Asterisk boxes behind Kamailio),
on two Asterisk roots of its own (the session's ``stack`` holds another).

* Many callers (``$HOTLINE_SCALE_CALLERS``, default 100), placed by ONE SIPp process at
  Kamailio, are spread over both boxes and all answered by operators whose softphones (SIPp
  UAS) registered with Kamailio, in their order of entry into the queue across the boxes;
  one record per call in PostgreSQL.
* A box SIGKILLed with a caller waiting on it: Kamailio's probes take it out, the next call
  goes to the other box and is answered, and the caller of the dead box gets a ``pbx-lost``
  record.

The operators log in through the HTTP API of server 1 and of server 2 (any server serves any
desk), with a supervisor's token made in the shared database."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import yaml
from sqlalchemy import create_engine, text

from ivr.asterisk import conf, local
from ivr.asterisk.pids import running_pid, wait_gone
from ivr.config.loader import load_config
from ivr.devtools.local_cluster import Box, LocalCluster
from queueing import keys as queue_keys
from tests.api_client import api_token, call_api
from tests.e2e.conftest import (
    E2E_CACHE,
    PROJECT,
    QUEUE_SETTINGS,
    _acquire_roots,
    _requirements,
    poll,
)
from tests.e2e.sipp import (
    Operator,
    SippCall,
    free_media_port,
    free_udp_port,
    scenario_xml,
    via_proxy_uac,
)

pytestmark = pytest.mark.asterisk

CALLERS = int(os.environ.get("HOTLINE_SCALE_CALLERS", "100"))
OPERATORS = ("1001", "1002", "1003", "1004", "1005")
PING = 1  # Kamailio's probe interval in this set (seconds)


@dataclass
class ScaleSet:
    cluster: LocalCluster
    work: Path
    agents: dict[str, conf.Agent]

    @property
    def kam_port(self) -> int:
        assert self.cluster.layout is not None
        return self.cluster.layout.kamailio_port

    def http(self, server: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        token = api_token(self.cluster.database_url)
        return call_api(self.cluster.servers[server].http_port, token, method, path, body)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        engine = create_engine(self.cluster.database_url)
        try:
            with engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def records(self, prefix: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT uniqueid, caller, outcome, agent, outcome_detail FROM call_records "
            "WHERE caller LIKE :p",
            p=prefix + "%",
        )

    def waiting(self) -> int:
        skills = self.http(0, "GET", "/api/queue/metrics")["skills"]
        return sum(int(s["waiting"]) for s in skills.values())

    def box_flags(self, box: Box) -> str:
        return self.cluster.kamailio.box_flags(box.address)

    def phone(self, agent_id: str, workdir: Path, **kwargs: Any) -> Operator:
        """Operator ``agent_id``'s softphone (a SIPp UAS) registered with Kamailio."""
        agent = self.agents[agent_id]
        assert agent.endpoint is not None
        return Operator.start(
            workdir / f"op{agent_id}", self.kam_port, agent.endpoint, agent.password,
            proxy=True, **kwargs,
        )  # fmt: skip

    def phones(self, workdir: Path, **kwargs: Any) -> list[Operator]:
        return [self.phone(agent_id, workdir, **kwargs) for agent_id in OPERATORS]

    def login_all(self) -> None:
        for i, agent_id in enumerate(OPERATORS):  # half on each server's API
            assert self.http(i % 2, "POST", f"/api/agents/{agent_id}/login", {"ready": True})

    def logout_all(self) -> None:
        for agent_id in OPERATORS:
            with contextlib.suppress(OSError):
                self.http(0, "POST", f"/api/agents/{agent_id}/logout", {})


def _config(work: Path) -> Path:
    """The e2e stack's config copy: no overflow, widening or callback; short ring and wrap-up
    times; no callback dialler (one AMI on loopback is box 1's)."""
    config_dir = work / "config"
    shutil.copytree(PROJECT / "config", config_dir)
    path = config_dir / "queue.yaml"
    q = yaml.safe_load(path.read_text("utf-8"))
    q["settings"].update(QUEUE_SETTINGS)
    q["overflow"] = {}
    q["widen"] = {**q.get("widen", {}), "after_seconds": None}
    q["callback"]["enabled"] = False
    q["dialler"]["enabled"] = False
    path.write_text(yaml.safe_dump(q, allow_unicode=True), "utf-8")
    return config_dir


@contextlib.contextmanager
def scale_set(work: Path) -> Iterator[ScaleSet]:
    """The whole set up on two Asterisk roots of its own (taken as an e2e session takes one),
    its config a test copy under ``work``; down, and the roots given back, on the way out
    (also used by bench/scale_bench.py)."""
    taken = _acquire_roots(2, wait=600)
    home = Path(tempfile.mkdtemp(prefix="hotline-scale-"))  # PostgreSQL's user must reach it
    home.chmod(0o755)
    cluster = LocalCluster(
        home / "cluster",
        config_dir=_config(work),
        recordings_dir=E2E_CACHE / "recordings",
        roots=[root for root, _ in taken],
        ping_interval=PING,
    )
    try:
        started = time.monotonic()
        cluster.up()
        print(f"\nthe set is up in {time.monotonic() - started:.0f}s:")
        print("\n".join(cluster.summary()), flush=True)
        agents = {a.agent_id: a for a in cluster.agents()[0]}
        yield ScaleSet(cluster, work, agents)
    finally:
        try:
            print("stopped:", ", ".join(cluster.down()))
        finally:
            for _, fd in taken:
                os.close(fd)
            shutil.rmtree(home, ignore_errors=True)


def missing() -> str | None:
    """Why the set cannot run here (None: it can)."""
    reason = _requirements()
    if reason:
        return reason
    if shutil.which("kamailio") is None and not Path("/usr/sbin/kamailio").exists():
        return "kamailio is not installed (scripts/bootstrap.sh installs it)"
    return None


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleSet]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    with scale_set(tmp_path_factory.mktemp("scale")) as s:
        yield s


def sipp_counts(stat_file: Path) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's statistics file."""
    with open(stat_file, encoding="utf-8", errors="replace") as f:
        rows = list(csv.reader(f, delimiter=";"))
    head, last = rows[0], rows[-1]
    return int(last[head.index("SuccessfulCall(C)")]), int(last[head.index("FailedCall(C)")])


def place_callers(scale: ScaleSet, workdir: Path, prefix: str, n: int) -> subprocess.Popen[bytes]:
    """ONE SIPp process placing ``n`` calls at Kamailio (as bench/sip_capacity.py does): each
    caller ``<prefix><call number>`` presses 0 three seconds after the answer and waits."""
    workdir.mkdir(parents=True, exist_ok=True)
    xml = workdir / "callers.sipp.xml"
    body = scenario_xml(f"{prefix}[call_number]", "市民", [(3.0, "0")], None, workdir / "keys.pcap")
    xml.write_text(via_proxy_uac(body), "utf-8")
    cmd = [
        *("sipp", f"127.0.0.1:{scale.kam_port}", "-sf", str(xml), "-s", "12345"),
        *("-l", str(n), "-m", str(n), "-r", "10", "-rp", "1000"),
        *("-i", "127.0.0.1", "-p", str(free_udp_port())),
        *("-mi", "127.0.0.1", "-mp", str(free_media_port())),
        *("-nostdin", "-timeout", f"{300 + 3 * n}s", "-timeout_error"),
        *("-trace_err", "-trace_stat", "-stf", str(workdir / "stat.csv"), "-fd", "1"),
    ]
    with open(workdir / "sipp.out", "wb") as log:
        return subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def calls_processed(box: Box) -> int:
    out = local.rx(box.root, "core show channels count")
    line = next(x for x in out.splitlines() if "processed" in x)
    return int(line.split()[0])


@pytest.mark.timeout(900)
def test_callers_spread_over_both_boxes_are_answered_in_queue_order(
    scale: ScaleSet, tmp_path: Path
) -> None:
    n, prefix = CALLERS, "1391"
    before = [calls_processed(b) for b in scale.cluster.boxes]
    phones = scale.phones(tmp_path, ring=0.5, talk=1.0, once=False, timeout=600)
    sipp = place_callers(scale, tmp_path / "callers", prefix, n)
    started = time.monotonic()
    try:
        # every caller waits in the one queue (on either box, either server) ...
        poll(
            lambda: scale.waiting() >= n or None,
            lambda: f"{scale.waiting()} of {n} callers waiting",
            timeout=120 + n / 5,
        )
        queued = time.monotonic() - started
        # ... then the operators go ready and answer them all
        scale.login_all()
        assert sipp.wait(300 + 3 * n) == 0, (tmp_path / "callers" / "sipp.out").read_text()
        took = time.monotonic() - started
        ok, failed = sipp_counts(tmp_path / "callers" / "stat.csv")
        assert (ok, failed) == (n, 0)
        recs = poll(
            lambda: r if len(r := scale.records(prefix)) >= n else None,
            lambda: f"{len(scale.records(prefix))} of {n} records",
            timeout=60,
        )
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
        scale.logout_all()
        for phone in phones:
            phone.stop()
    # one record per call, every one answered by an operator
    assert len(recs) == n and len({r["caller"] for r in recs}) == n, recs
    assert {r["outcome"] for r in recs} == {"answered"}, [
        r for r in recs if r["outcome"] != "answered"
    ]
    assert {r["agent"] for r in recs} <= set(OPERATORS)
    # both boxes carried calls
    per_box = [calls_processed(b) - c for b, c in zip(scale.cluster.boxes, before, strict=True)]
    assert all(p > 0 for p in per_box), per_box
    log = scale.cluster.kamailio.log.read_text("utf-8", "replace")
    dispatched = [log.count(f"to box sip:{b.address}") for b in scale.cluster.boxes]
    assert all(d > 0 for d in dispatched) and sum(dispatched) >= n, dispatched
    # in queue order across the boxes: no caller connected after one who entered the queue
    # as many places behind it as there are operators (who answer at once, in parallel)
    order = _queue_order([r["uniqueid"] for r in recs], scale)
    print(f"\n{n} callers: all waiting after {queued:.0f}s, all answered after {took:.0f}s; "
          f"calls per box {per_box}, Kamailio dispatched {dispatched}; {order}")  # fmt: skip


def _queue_order(uids: list[str], scale: ScaleSet) -> str:
    events = scale.rows(
        "SELECT callid, event, id, at FROM queue_log "
        "WHERE event IN ('ENTERQUEUE', 'CONNECT') ORDER BY at, id"
    )
    wanted = set(uids)
    events = [e for e in events if e["callid"] in wanted]
    enter = [e["callid"] for e in events if e["event"] == "ENTERQUEUE"]
    connect = [e["callid"] for e in events if e["event"] == "CONNECT"]
    assert sorted(enter) == sorted(uids) and sorted(connect) == sorted(uids), (enter, connect)
    place = {uid: i for i, uid in enumerate(enter)}
    worst = 0
    for i, uid in enumerate(connect):
        for later in connect[i + 1 :]:
            worst = max(worst, place[uid] - place[later])
    assert worst < len(OPERATORS), f"a caller was overtaken by one {worst} places behind it"
    exact = sum(1 for i, uid in enumerate(connect) if place[uid] == i)
    return (
        f"{exact} of {len(uids)} connected exactly in entry order, none overtaken by more "
        f"than {worst}"
    )


def _box_of(scale: ScaleSet, caller: str) -> int | None:
    """The index (0-based) of the box whose channels carry ``caller``."""
    for i, box in enumerate(scale.cluster.boxes):
        if local.status(box.root).running and caller in local.rx(
            box.root, "core show channels concise"
        ):
            return i
    return None


@pytest.mark.timeout(600)
def test_a_killed_box_is_taken_out_and_its_caller_gets_a_pbx_lost_record(
    scale: ScaleSet, tmp_path: Path
) -> None:
    first = ["13920000001", "13920000002"]  # round robin: one on each box
    calls = [
        SippCall.start(tmp_path / c, scale.kam_port, "12345", c, keys=[(3.0, "0")], proxy=True)
        for c in first
    ]
    phone: Operator | None = None
    victim: int | None = None
    try:
        where = poll(
            lambda: w if None not in (w := [_box_of(scale, c) for c in first]) else None,
            lambda: f"callers on boxes {[_box_of(scale, c) for c in first]}",
            timeout=30,
        )
        assert set(where) == {0, 1}, where  # one caller on each box
        poll(lambda: scale.waiting() >= 2 or None, lambda: f"{scale.waiting()} waiting", 60)
        dead = where[1]
        assert dead is not None
        victim = dead
        lost, kept = first[1], first[0]
        box = scale.cluster.boxes[dead]
        pid = running_pid(box.root)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        assert wait_gone(pid, box.root, 10.0), "Asterisk still runs after SIGKILL"
        log = scale.cluster.kamailio.log
        # Kamailio's OPTIONS probes take the dead box out
        poll(
            lambda: scale.box_flags(box).startswith("I") or None,
            lambda: f"Kamailio still sends to {box.address}: {scale.box_flags(box)}",
            timeout=5 * PING + 10,
        )
        out_after = time.monotonic() - killed
        sent_to_dead = log.read_text("utf-8", "replace").count(f"to box sip:{box.address}")
        # the caller of the dead box: pbx-lost, naming the box
        rec = poll(
            lambda: next((r for r in scale.records(lost) if r["outcome"] == "pbx-lost"), None),
            lambda: f"records of {lost}: {scale.records(lost)}",
            timeout=30,
        )
        assert "127.0.0.1" in rec["outcome_detail"], rec
        # a new call goes to the other box; the operator answers the one that waited, then it
        new = "13920000003"
        calls.append(
            SippCall.start(
                tmp_path / new, scale.kam_port, "12345", new, keys=[(3.0, "0")], proxy=True
            )
        )
        assert poll(lambda: _box_of(scale, new), lambda: f"{new} on no box", 30) == 1 - dead
        phone = scale.phone("1001", tmp_path, ring=0.5, talk=1.0, once=False)
        assert scale.http(1, "POST", "/api/agents/1001/login", {"ready": True})
        for caller in (kept, new):
            got = poll(partial(_record, scale, caller), partial(str, f"no record of {caller}"), 120)
            assert (got["outcome"], got["agent"]) == ("answered", "1001"), got
        assert log.read_text("utf-8", "replace").count(f"to box sip:{box.address}") == sent_to_dead
        print(f"\nbox {dead + 1} killed: Kamailio took it out after {out_after:.1f}s "
              f"(probes every {PING}s); its caller pbx-lost; the next call answered on box "
              f"{2 - dead}")  # fmt: skip
    finally:
        for call in calls:
            call.kill()
        with contextlib.suppress(OSError):
            scale.http(0, "POST", "/api/agents/1001/logout", {})
        if phone is not None:
            phone.stop()
        if victim is not None:
            scale.cluster.restart_box(victim + 1)


def _uniqueid(scale: ScaleSet, caller: str) -> str | None:
    """``caller``'s inbound channel's UNIQUEID on whichever box carries it."""
    for box in scale.cluster.boxes:
        if not local.status(box.root).running:
            continue
        for line in local.rx(box.root, "core show channels concise").splitlines():
            fields = line.split("!")
            if len(fields) > 13 and fields[0].startswith("PJSIP/") and caller in fields[7]:
                return fields[13]
    return None


def _menu_done(scale: ScaleSet, uid: str) -> bool | None:
    """As the stack's ``menu_done``: the live call's snapshot has its ``queue`` step."""
    node = scale.cluster.redis.nodes[0]
    centre = load_config(scale.cluster.config_dir, scale.cluster.recordings_dir)
    client = redis_lib.RedisCluster(host="127.0.0.1", port=node.port, decode_responses=True)
    try:
        snap = client.hget(queue_keys.call(uid, centre.queue.settings.centre), "snapshot")
    finally:
        client.close()
    events = json.loads(snap).get("events", []) if snap else []
    return (
        any(e["kind"] == "queue" and not e["detail"].endswith("(answer)") for e in events) or None
    )


@pytest.mark.timeout(600)
def test_a_killed_server_s_callers_re_enter_on_the_other_and_keep_their_order(
    scale: ScaleSet, tmp_path: Path
) -> None:
    numbers = ("13930000001", "13930000002", "13930000003", "13930000004")
    calls: list[SippCall] = []
    first = scale.cluster.servers[0]
    try:
        uids = _place_one_by_one(scale, tmp_path, numbers, calls)
        on_box = [int(u.split("-", 1)[0].removeprefix("box")) for u in uids]  # systemname
        assert sorted(set(on_box)) == [1, 2], on_box
        # server 1 is box 1's first FastAGI host: it holds box 1's callers; kill it
        pid = first.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        poll(lambda: (not first.running()) or None, lambda: "server 1 still runs", 10)
        moved = [u for u, b in zip(uids, on_box, strict=True) if b == 1]
        poll(
            lambda: all(_events(scale, u, "RESUME") for u in moved) or None,
            lambda: f"not resumed on server 2: {[_events(scale, u, '') for u in moved]}",
            timeout=90,
        )
        assert all(c.proc.poll() is None for c in calls), "a caller was dropped"
        connects = _answer_all(scale, tmp_path, numbers)
        assert connects == uids, (connects, uids)  # the order of their first entry
        print(f"\nserver 1 killed: {len(moved)} callers of box 1 resumed on server 2; all "
              f"{len(uids)} answered in their order")  # fmt: skip
    finally:
        for call in calls:
            call.kill()
        if not first.running():
            first.start(scale.cluster.base_env(), PROJECT)


def _events(scale: ScaleSet, uid: str, event: str) -> list[str]:
    rows = scale.rows("SELECT event FROM queue_log WHERE callid = :u ORDER BY id", u=uid)
    return [r["event"] for r in rows if not event or r["event"] == event]


def _record(scale: ScaleSet, caller: str) -> dict[str, Any] | None:
    return next(iter(scale.records(caller)), None)


def _place_one_by_one(
    scale: ScaleSet, tmp_path: Path, numbers: tuple[str, ...], calls: list[SippCall]
) -> list[str]:
    """Callers through Kamailio, each waiting in the queue before the next calls (their SIPp
    calls appended to ``calls``, for the caller to hang up whatever happens): their
    UNIQUEIDs, in their order of entry."""
    uids: list[str] = []
    for number in numbers:
        calls.append(
            SippCall.start(
                tmp_path / number, scale.kam_port, "12345", number, keys=[(3.0, "0")], proxy=True
            )
        )
        uid = poll(partial(_uniqueid, scale, number), partial(str, f"{number}: no box"), 30)
        poll(partial(_menu_done, scale, uid), partial(str, f"{uid} in the menu"), 60)
        uids.append(uid)
    return uids


def _answer_all(scale: ScaleSet, tmp_path: Path, numbers: tuple[str, ...]) -> list[str]:
    """Operator 1001 (registered at Kamailio, logged in on server 2) answers every caller;
    their records, one each, answered; the order in which they were put through."""
    phone = scale.phone("1001", tmp_path, ring=0.5, talk=1.0, once=False)
    try:
        assert scale.http(1, "POST", "/api/agents/1001/login", {"ready": True})
        uids = []
        for number in numbers:
            rec = poll(partial(_record, scale, number), partial(str, f"no record of {number}"), 120)
            assert (rec["outcome"], rec["agent"]) == ("answered", "1001"), rec
            assert len(scale.records(number)) == 1, scale.records(number)
            uids.append(rec["uniqueid"])
        return [
            e["callid"]
            for e in scale.rows(
                "SELECT callid FROM queue_log WHERE event = 'CONNECT' ORDER BY at, id"
            )
            if e["callid"] in uids
        ]
    finally:
        with contextlib.suppress(OSError):
            scale.http(1, "POST", "/api/agents/1001/logout", {})
        phone.stop()


@pytest.mark.timeout(600)
def test_postgres_restarted_under_calls_loses_and_doubles_nothing(
    scale: ScaleSet, tmp_path: Path
) -> None:
    """PostgreSQL stopped, then callers on both boxes are answered: the servers journal what
    they cannot write; PostgreSQL back, every call has one record and one CONNECT."""
    numbers = ("13950000001", "13950000002", "13950000003")
    pg = scale.cluster.postgres
    calls: list[SippCall] = []
    phone = scale.phone("1002", tmp_path, ring=0.5, talk=1.0, once=False)
    try:
        assert scale.http(0, "POST", "/api/agents/1002/login", {"ready": True})
        pg.stop()
        assert not pg.running()
        for number in numbers:  # answered while the database is away: no caller can tell
            calls.append(
                SippCall.start(
                    tmp_path / number, scale.kam_port, "12345", number, keys=[(3.0, "0")],
                    proxy=True,
                )
            )  # fmt: skip
        for call in calls:
            assert call.wait(120) == 0, call.errors()
        pg.start()
        for number in numbers:
            rec = poll(partial(_record, scale, number), partial(str, f"no record of {number}"), 120)
            assert (rec["outcome"], rec["agent"]) == ("answered", "1002"), rec
        uids = [r["uniqueid"] for n in numbers for r in scale.records(n)]
        assert len(uids) == len(numbers), uids  # one record each
        for uid in uids:
            poll(partial(_events, scale, uid, "CONNECT"), partial(str, f"no CONNECT of {uid}"), 60)
            assert _events(scale, uid, "CONNECT") == ["CONNECT"], _events(scale, uid, "")
        print(f"\nPostgreSQL stopped and started under {len(numbers)} calls: one record and "
              "one CONNECT each")  # fmt: skip
    finally:
        for call in calls:
            call.kill()
        if not pg.running():
            pg.start()
        with contextlib.suppress(OSError):
            scale.http(0, "POST", "/api/agents/1002/logout", {})
        phone.stop()


@pytest.mark.timeout(600)
def test_a_killed_redis_master_loses_no_caller_and_keeps_the_order(
    scale: ScaleSet, tmp_path: Path
) -> None:
    """The Redis master of the centre's slot SIGKILLed with callers waiting on both boxes:
    its replica takes over, the servers re-assert their callers, nobody is dropped and the
    operator answers them in their order of entry. (Last in this module: the cluster has a
    master without a replica afterwards.)"""
    numbers = ("13960000001", "13960000002", "13960000003", "13960000004")
    calls: list[SippCall] = []
    redis = scale.cluster.redis
    centre = load_config(scale.cluster.config_dir, scale.cluster.recordings_dir)
    key = queue_keys.events(centre.queue.settings.centre)
    try:
        uids = _place_one_by_one(scale, tmp_path, numbers, calls)
        master = redis.master_of(key)
        replica = redis.replica_of(master)
        redis.kill(master)
        killed = time.monotonic()
        poll(
            lambda: redis.master_of(key).port == replica.port or None,
            lambda: f"{replica.address} not promoted ({redis.status()})",
            timeout=30,
        )
        promoted = time.monotonic() - killed
        assert all(c.proc.poll() is None for c in calls), "a caller was dropped"
        poll(
            lambda: scale.waiting() >= len(numbers) or None,
            lambda: f"{scale.waiting()} of {len(numbers)} waiting after the failover",
            timeout=30,
        )
        connects = _answer_all(scale, tmp_path, numbers)
        assert connects == uids, (connects, uids)  # the order of their entry
        print(f"\nRedis master {master.address} killed: {replica.address} promoted after "
              f"{promoted:.1f}s; {len(numbers)} callers answered in their order")  # fmt: skip
    finally:
        for call in calls:
            call.kill()
