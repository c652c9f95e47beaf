"""How many concurrent SIP calls the whole stack carries without a failed call.

The stack is the end-to-end one of ``tests/e2e/conftest.py`` (a real Asterisk 22 in its
chroot, a real redis-server, ``hotline serve --queue-wait``, the test copy of the config).
Unlike ``tests/e2e/test_load.py`` (one SIPp process per caller, so that SIPp saturates
first), one SIPp process places all the calls of a step: the caller scenario of
``tests/e2e/sipp.py`` (INVITE, ``0`` pressed 3 s after the answer as RFC 2833 events from a
pcap, then it waits for the hotline's BYE), each call with its own caller number
(``<prefix><call number>``), ``-r`` calls per second up to ``-l N`` at once and ``-m N`` in all.

For N = 50, 75, 100, 125, ... (``--start``, ``--step``, ``--max``), a step:

1. places the N calls; every caller hears the welcome, presses 0 and waits in the Redis queue
   with music on hold (nobody is ready yet), until all N inbound channels are up at once;
2. then four operators (SIPp UAS softphones registered as 1001-1004, as in test_load.py:
   ring 0.5 s, talk 2 s) go ready and answer the callers one after another; after each call
   the caller hears the survey and the hotline hangs up;
3. counts the failed calls: SIPp's own count (a call that did not go as scripted: an
   unexpected message, a timeout) and the calls not recorded as ``answered`` by an operator;
4. prints CPU per process over the step (average and peak of 1 s samples, in % of one core):
   the SIPp caller process, the operators' SIPp, Asterisk, ``hotline serve``, redis-server,
   and the whole machine.

It stops after the first step with a failed call (or ``--max``) and names what saturates
first: the process closest to its ceiling at its peak (one core for the single-threaded ones,
SIPp, ``hotline serve`` and Redis; every core for Asterisk and for the machine).

    sudo .venv/bin/python -m bench.sip_capacity [--start 50] [--step 25] [--max 400]

Needs root (the Asterisk chroot), sipp with Debian sip-tester's pcaps, redis-server, as the
e2e tests do; it takes a free Asterisk root like an e2e session (see conftest.py).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest
import redis

from ivr.asterisk import local
from tests.e2e.conftest import Stack, _acquire_root, _requirements, _stack
from tests.e2e.sipp import Operator, free_media_port, free_udp_port, scenario_xml

OPERATORS = ("1001", "1002", "1003", "1004")
TICK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


# -- CPU accounting -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` (its threads included), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Usage:
    """CPU of a group of processes over one step, in % of one core."""

    name: str
    cores: int  # its ceiling: 1 for a single-threaded process, NCPU for Asterisk
    samples: list[float] = field(default_factory=list)
    total: float = 0.0
    seconds: float = 0.0

    @property
    def average(self) -> float:
        return 100 * self.total / self.seconds if self.seconds else 0.0

    @property
    def peak(self) -> float:
        return max(self.samples, default=0.0)

    @property
    def fill(self) -> float:
        """The peak as a share of its ceiling."""
        return self.peak / (100 * self.cores)


Pids = list[int] | Callable[[], list[int]]


def _pids(source: Pids) -> list[int]:
    return source() if callable(source) else source


class Sampler:
    """Samples the CPU of named process groups (pids may come and go) and of the machine.

    A group's pids are a list (appended to as processes start) or a function asked at each
    sample; a pid first seen after the start counts from zero (it started since)."""

    def __init__(self, groups: dict[str, tuple[int, Pids]]) -> None:
        self.groups = groups  # name -> (ceiling in cores, pids)
        self.usage = {name: Usage(name, cores) for name, (cores, _) in groups.items()}
        self.usage["machine"] = Usage("machine", NCPU)
        self._last: dict[int, float] = {}
        self._at = time.monotonic()
        self._busy = machine_busy()
        for _, pids in groups.values():
            for pid in _pids(pids):
                self._last[pid] = cpu_seconds(pid) or 0.0

    def sample(self) -> None:
        now = time.monotonic()
        dt = now - self._at
        if dt < 0.5:
            return
        for name, (_, pids) in self.groups.items():
            used = 0.0
            for pid in _pids(pids):
                cpu = cpu_seconds(pid)
                if cpu is None:
                    continue
                used += cpu - self._last.get(pid, 0.0)
                self._last[pid] = cpu
            u = self.usage[name]
            u.samples.append(100 * used / dt)
            u.total += used
            u.seconds += dt
        busy = machine_busy()
        d_busy, d_total = busy[0] - self._busy[0], busy[1] - self._busy[1]
        m = self.usage["machine"]
        share = d_busy / d_total if d_total else 0.0
        m.samples.append(100 * NCPU * share)
        m.total += share * NCPU * dt
        m.seconds += dt
        self._busy, self._at = busy, now


# -- the step -------------------------------------------------------------------------------


@dataclass
class Step:
    calls: int
    peak: int = 0
    sipp_ok: int = 0
    sipp_failed: int = 0
    answered: int = 0
    recorded: int = 0
    keyed: int = 0  # pressed 0 (RFC 2833 from the pcap), not queued by silence
    elapsed: float = 0.0
    usage: dict[str, Usage] = field(default_factory=dict)
    note: str = ""

    @property
    def failed(self) -> int:
        return max(self.sipp_failed, self.calls - self.answered)


def stop_sipp(sipp: subprocess.Popen[bytes]) -> None:
    """Stop a SIPp that has not finished: SIGINT (it writes its statistics and exits), then
    SIGKILL if it does not within 20 s."""
    sipp.send_signal(signal.SIGINT)
    try:
        sipp.wait(20)
    except subprocess.TimeoutExpired:
        sipp.kill()
        sipp.wait()


def inbound_channels(stack: Stack) -> int:
    return sum(1 for f in stack.channels() if f[0].startswith("PJSIP/carrier-"))


def sipp_counts(stat_file: Path) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's statistics file (its last line)."""
    if not stat_file.exists():
        return 0, 0
    with open(stat_file, encoding="utf-8", errors="replace") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) < 2:
        return 0, 0
    head, last = rows[0], rows[-1]
    return int(last[head.index("SuccessfulCall(C)")]), int(last[head.index("FailedCall(C)")])


def answered(stack: Stack, prefix: str) -> tuple[int, int, int]:
    """(recorded, answered by an operator, reached the queue by the key 0) calls of callers
    starting with ``prefix``."""
    rows = stack.query(
        "SELECT outcome, agent, digits FROM call_records WHERE caller LIKE ?", prefix + "%"
    )
    ok = sum(1 for r in rows if r["outcome"] == "answered" and r["agent"] in OPERATORS)
    keyed = sum(1 for r in rows if str(r["digits"] or "").startswith("0"))
    return len(rows), ok, keyed


def run_step(
    stack: Stack, n: int, index: int, rate: float, phones: list[Operator], redis_pid: int
) -> Step:
    step = Step(n)
    workdir = stack.work / "capacity" / f"step{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    stack.wait_queue_empty(timeout=120)
    prefix = f"1380{index:02d}9"  # caller numbers <prefix><call number>: unique per step
    xml = workdir / "callers.sipp.xml"
    xml.write_text(
        scenario_xml(f"{prefix}[call_number]", "市民", [(3.0, "0")], None, workdir / "keys.pcap"),
        "utf-8",
    )
    budget = 180 + 3 * n  # the queue drains about one call per second (four operators)
    stat_file = workdir / "stat.csv"
    cmd = [
        *("sipp", f"127.0.0.1:{stack.sip_port}", "-sf", str(xml), "-s", "12345"),
        *("-l", str(n), "-m", str(n), "-r", str(rate), "-rp", "1000"),
        *("-i", "127.0.0.1", "-p", str(free_udp_port())),
        *("-mi", "127.0.0.1", "-mp", str(free_media_port())),
        *("-nostdin", "-timeout", f"{budget}s", "-timeout_error"),
        *("-trace_err", "-trace_stat", "-stf", str(stat_file), "-fd", "1"),
    ]
    with open(workdir / "sipp.out", "wb") as log:
        sipp = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    status = local.status(stack.root)
    assert status.pid is not None, "Asterisk is not running"
    sampler = Sampler(
        {
            "SIPp callers": (1, [sipp.pid]),
            "SIPp operators": (min(len(phones), NCPU), [p.proc.pid for p in phones if p.proc]),
            "Asterisk": (NCPU, [status.pid]),
            "hotline serve": (1, [stack.server.pid]),
            "redis": (1, [redis_pid]),
        }
    )
    started = time.monotonic()
    logged_in = False
    try:
        # 1. every call up at once, waiting in the queue
        deadline = started + 60 + n / rate
        while sipp.poll() is None:
            sampler.sample()
            step.peak = max(step.peak, inbound_channels(stack))
            if step.peak >= n:
                break
            if time.monotonic() > deadline:
                step.note = f"only {step.peak} of {n} calls up at once"
                break
            time.sleep(0.5)
        # 2. the operators answer them
        for agent in OPERATORS:
            stack.login(agent)
        logged_in = True
        deadline = started + budget + 30
        while sipp.poll() is None and time.monotonic() < deadline:
            sampler.sample()
            step.peak = max(step.peak, inbound_channels(stack))
            time.sleep(1.0)
        if sipp.poll() is None:
            step.note += " SIPp did not finish in time"
            stop_sipp(sipp)
        step.elapsed = time.monotonic() - started
        sampler.sample()
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
        if logged_in:
            for agent in OPERATORS:
                with suppress(OSError):
                    stack.logout(agent)
    step.sipp_ok, step.sipp_failed = sipp_counts(stat_file)
    # the records are written when each call ends: wait for the last ones
    deadline = time.monotonic() + 30
    while True:
        step.recorded, step.answered, step.keyed = answered(stack, prefix)
        if step.recorded >= n or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    step.usage = sampler.usage
    if step.keyed < step.recorded:
        step.note += f" only {step.keyed} of {step.recorded} callers' key 0 was heard"
    for phone in phones:
        if phone.proc is not None and phone.proc.poll() is not None:
            step.note += f" operator {phone.user} stopped ({phone.proc.returncode})"
    return step


# -- the stack ------------------------------------------------------------------------------


@contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (./test.sh installs it)")
    port = free_udp_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""],
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
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.05)
    client.close()
    try:
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def e2e_stack(base: Path, redis_url: str) -> Iterator[Stack]:
    """The e2e stack of tests/e2e/conftest.py, outside pytest."""
    reason = _requirements()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    root, lock = _acquire_root()
    factory = pytest.TempPathFactory(
        given_basetemp=base / "stack",
        retention_count=1,
        retention_policy="all",
        trace=lambda *args: None,
        _ispytest=True,
    )
    own_db = redis_url.rsplit("/", 1)[0] + "/3"
    stacks = cast("Generator[Stack, None, None]", _stack(root, own_db, factory))
    try:
        yield next(stacks)
    finally:
        stacks.close()  # the fixture's teardown: Asterisk, server, SIPp
        os.close(lock)


# -- report ---------------------------------------------------------------------------------

COLUMNS = ("SIPp callers", "SIPp operators", "Asterisk", "hotline serve", "redis", "machine")


def header() -> str:
    cpu = " | ".join(f"{c} avg/peak" for c in COLUMNS)
    return f"| calls | peak at once | failed | answered | time | {cpu} |"


def row(step: Step) -> str:
    cpu = " | ".join(
        f"{step.usage[c].average:.0f}/{step.usage[c].peak:.0f}%" if c in step.usage else "-"
        for c in COLUMNS
    )
    failed = f"{step.failed} (SIPp {step.sipp_failed})"
    return (
        f"| {step.calls} | {step.peak} | {failed} | {step.answered}/{step.recorded} | "
        f"{step.elapsed:.0f} s | {cpu} |"
    )


def saturation(usage: dict[str, Usage]) -> str:
    """The process group closest to its ceiling at its peak, and the machine's peak."""
    parts = sorted((u for u in usage.values() if u.name != "machine"), key=lambda u: -u.fill)
    first = parts[0]
    machine = usage["machine"]
    ceiling = "one core" if first.cores == 1 else f"{first.cores} cores"
    out = (
        f"closest to its ceiling: {first.name}, peak {first.peak:.0f}% "
        f"({100 * first.fill:.0f}% of {ceiling}); machine peak {machine.peak:.0f}% of "
        f"{100 * NCPU}%"
    )
    if machine.fill > 0.95:
        out += " (the machine's CPUs are full: everything competes for them)"
    return out


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--start", type=int, default=50)
    parser.add_argument("--step", type=int, default=25)
    parser.add_argument("--max", type=int, default=400)
    parser.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (the Asterisk chroot)", file=sys.stderr)
        return 2
    # SIGTERM (a timeout, kill) still tears down: no Asterisk, mounts, server or SIPp left
    signal.signal(signal.SIGTERM, _interrupt)
    base = Path(tempfile.mkdtemp(prefix="sip-capacity-"))
    print(f"work directory {base}; {NCPU} CPUs; load average {os.getloadavg()}", flush=True)
    steps: list[Step] = []
    try:
        with redis_server(base) as (redis_url, redis_proc), e2e_stack(base, redis_url) as stack:
            phones = []
            try:
                for agent_id in OPERATORS:
                    phone = stack.softphone(
                        agent_id, stack.work, ring=0.5, talk=2.0, once=False, timeout=6 * 3600
                    )
                    phones.append(phone)
                print(header(), flush=True)
                print("|" + "---|" * (5 + len(COLUMNS)), flush=True)
                n, index = args.start, 1
                while n <= args.max:
                    step = run_step(stack, n, index, args.rate, phones, redis_proc.pid)
                    steps.append(step)
                    print(row(step) + (f" {step.note.strip()}" if step.note else ""), flush=True)
                    print(f"  {saturation(step.usage)}", flush=True)
                    if step.failed or step.peak < n:
                        break
                    n += args.step
                    index += 1
            finally:
                for phone in phones:
                    phone.stop()
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    if not steps:
        return 1
    carried = [s.calls for s in steps if not s.failed and s.peak >= s.calls]
    last = steps[-1]
    print(
        f"\ncarried without a failed call: {max(carried) if carried else 'none'} concurrent "
        f"calls; load average at the end {os.getloadavg()}"
    )
    if last.failed or last.peak < last.calls:
        print(f"first failure at {last.calls}: {last.failed} failed; {saturation(last.usage)}")
        failures = sorted((base / "stack").glob("**/capacity/**/*_errors.log"))
        if args.keep and failures:
            print(f"SIPp errors: {failures[-1]}")
    else:
        print(f"no failure up to --max {args.max}; at {last.calls}: {saturation(last.usage)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
