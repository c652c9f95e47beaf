"""FastAGI benchmark: the hotline server as deployed, panoramisk, and a bare asyncio floor.

"ours" is ``hotline serve --queue-wait`` itself (``python -m ivr.cli serve --queue-wait``, the
composition root the product runs), on a real redis-server, with the SQLite store of call
records and tickets, on the shipped config/ (copied; queue.yaml with wrap-up 0 and the AMI
dialler off, agents.yaml with bench operators added, who are logged in and ready). Each call
takes the product's most common path: a citizen calls 12345, is placed in the queue at the
answer, hears the must-hear notice while a free operator is reserved, is put through (Dial
answered), and after the operator hangs up is asked the keypad survey and does not press.

A load generator plays Asterisk's side (:class:`ivr.agi.simulator.FakeAsterisk`, the tests'
fake Asterisk 22) with N concurrent calls. panoramisk and the bare floor replay exactly the AGI
command lines our server sent on a first call (recorded, then handed to them), and get the
same replies, so the three write the same bytes per call.

One Python load generator saturates before the servers do on 2 cores, so calls/s proves
little. The headline figure is each server's CPU time per call, read from /proc/PID/stat
(utime + stime) before and after each round. To make that trustworthy on a small, noisy
machine: the load generator runs on one core and every server on another (sched_setaffinity);
the three servers run side by side and are measured in interleaved rounds (ours, panoramisk,
bare; then panoramisk, bare, ours; ...), and the median round counts; a round is long enough
(seconds of CPU) that the 10 ms clock tick does not matter. Also printed: the redis-server's
CPU per call (ours only: the peers have no queue), calls/s, p50/p99 command turnaround, RSS of
the idle server (the import baseline), RSS with 1,000 and 5,000 calls held open and the slope
between them (KiB per held call), and pyst2 process AGI started once per call, the way
Asterisk does. ``--soak N`` instead runs N calls through our server alone at a steady rate and
prints how its anonymous RSS grows after warm-up (KiB per 10,000 calls; the whole RSS also
counts the SQLite file's memory map, which comes and goes). See docs/benchmarks.md.

    .venv/bin/python bench/fastagi_bench.py            # the full run (about 10 minutes)
    .venv/bin/python bench/fastagi_bench.py --quick    # a smoke run (under a minute)
    .venv/bin/python bench/fastagi_bench.py --soak 500000 --rate 100  # the soak (85 minutes)
    .venv/bin/python bench/fastagi_bench.py --soak 2000 --quick  # a quick soak (< 1 minute)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The product's modules the bench uses, all here (the server itself runs as `hotline serve`)
from ivr.agi.simulator import FakeAsterisk  # noqa: E402
from ivr.config.loader import load_config  # noqa: E402
from queueing.errors import QueueError  # noqa: E402
from queueing.queue import RedisQueue  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
HOLD_COMMAND = b"WAIT FOR DIGIT"
DIAL = b'EXEC "Dial"'  # the operator is dialled: the call reached a person
PROMPT = b"STREAM FILE"
#: how long a prompt plays before Asterisk answers STREAM FILE (real prompts take seconds; an
#: instant reply would end the must-hear notice before the operator's offer reaches the call)
PROMPT_SECONDS = 0.1
BENCH_AGENTS = 120  # operators added to agents.yaml, logged in and ready
_uids = itertools.count(1)
UID_BASE = int(time.time())

# --------------------------------------------------------------------------- the deployment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Deployment:
    """What `hotline serve` runs on: a config directory, a redis-server, a var directory."""

    tmp: Path
    config: Path
    redis_url: str
    redis: subprocess.Popen[bytes]
    env: dict[str, str]
    alive: KeepAlive | None = None

    @classmethod
    def create(cls, agents: int = BENCH_AGENTS) -> Deployment:
        redis = shutil.which("redis-server")
        if redis is None:
            raise SystemExit("redis-server is not installed")
        tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
        config = tmp / "config"
        shutil.copytree(ROOT / "config", config)
        (tmp / "recordings" / "studio").mkdir(parents=True)
        queue = yaml.safe_load((config / "queue.yaml").read_text(encoding="utf-8"))
        queue["settings"]["wrapup_seconds"] = 0  # an operator takes the next call at once
        queue["dialler"]["enabled"] = False  # no Asterisk AMI here
        (config / "queue.yaml").write_text(yaml.safe_dump(queue, allow_unicode=True))
        people = yaml.safe_load((config / "agents.yaml").read_text(encoding="utf-8"))
        people["agents"] += [
            {"id": f"9{i:03d}", "name": f"bench {i}", "interface": f"PJSIP/9{i:03d}",
             "skills": {"general": 5}}
            for i in range(agents)
        ]  # fmt: skip
        (config / "agents.yaml").write_text(yaml.safe_dump(people, allow_unicode=True))
        port = free_port()
        proc = subprocess.Popen(
            [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(tmp)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        env = dict(
            os.environ,
            HOTLINE_CONFIG_DIR=str(config),
            HOTLINE_RECORDINGS_DIR=str(tmp / "recordings"),
            HOTLINE_VAR_DIR=str(tmp / "var"),
            HOTLINE_REDIS_URL=url,
            PYTHONPATH=str(ROOT),
        )
        env.pop("HOTLINE_DATABASE_URL", None)  # the SQLite store in var/
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        return cls(tmp, config, url, proc, env)

    async def operators_ready(self) -> None:
        bundle = load_config(self.config)
        queue = RedisQueue.from_url(self.redis_url, bundle.queue.settings)
        try:
            for spec in bundle.agents.agents:
                if spec.id.startswith("9"):
                    await queue.login(spec, ready=True)
        finally:
            await queue.close()

    def keep_operators_alive(self) -> None:
        """Send the bench operators' heartbeats from now on, as their desks would."""
        self.alive = KeepAlive(self)
        self.alive.start()

    def settle(self, server: Server, seconds: float = 20.0) -> None:
        """Wait until the server is idle again (logging in the operators costs it a moment:
        their events go to the queue_log rows), so that no round pays for that."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            c0 = cpu_seconds(server.proc.pid)
            time.sleep(0.5)
            if cpu_seconds(server.proc.pid) - c0 < 0.025:
                return

    def redis_cpu(self) -> float:
        return cpu_seconds(self.redis.pid)

    def close(self) -> None:
        if self.alive is not None:
            self.alive.stop()
        self.redis.terminate()
        self.redis.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class KeepAlive:
    """The bench operators' heartbeats, every third of ``heartbeat_seconds``, from a thread of
    the bench (the load generator's core). A desk sends them; without them the reaper logs
    every operator out a minute after the log-in, and from then on every caller would wait
    out the queue and leave a message: not the path measured (as the runs before session 13
    did)."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._main, name="heartbeats", daemon=True)
        self.lost: list[str] = []

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def _main(self) -> None:
        asyncio.run(self._beat())

    async def _beat(self) -> None:
        bundle = load_config(self.dep.config)
        every = bundle.queue.settings.heartbeat_seconds / 3
        queue = RedisQueue.from_url(self.dep.redis_url, bundle.queue.settings)
        ids = [a.id for a in bundle.agents.agents if a.id.startswith("9")]
        try:
            while not self.stopping.is_set():
                for agent in ids:
                    try:
                        await queue.heartbeat(agent)
                    except QueueError as exc:  # logged out after all: the figures would lie
                        print(f"heartbeat of bench operator {agent}: {exc}", flush=True)
                        self.lost.append(agent)
                await asyncio.to_thread(self.stopping.wait, every)
        finally:
            await queue.close()


# --------------------------------------------------------------------------- Asterisk's side


class Hold:
    """Holds calls at the digit wait until released; ``all_in`` is set once ``n`` are held."""

    def __init__(self, n: int) -> None:
        self.n, self.count = n, 0
        self.all_in, self.release = asyncio.Event(), asyncio.Event()

    async def arrive(self) -> None:
        self.count += 1
        if self.count >= self.n:
            self.all_in.set()
        await self.release.wait()


@dataclass
class Load:
    turnaround: list[float] = field(default_factory=list)
    commands_seen: list[str] = field(default_factory=list)
    commands: int = 0
    calls: int = 0
    failed: int = 0
    answered: int = 0  # calls that dialled an operator


async def one_call(port: int, load: Load, hold: Hold | None = None, record: bool = False) -> None:
    """One call as Asterisk 22 plays it (the tests' FakeAsterisk): the caller does not press
    a key; a Dial is answered; the caller stays on the line until the server closes."""
    uid = next(_uids)
    fake = FakeAsterisk(
        to="12345", caller=f"138{uid % 10**8:08d}", uniqueid=f"{UID_BASE}.{uid}",
        dial_status="ANSWER", answered_seconds=90, language="zh",
    )  # fmt: skip
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    except OSError:
        load.failed += 1
        return
    writer.write(fake.header().encode())
    sent = time.perf_counter()
    held = False
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            load.turnaround.append(time.perf_counter() - sent)
            load.commands += 1
            text = line.decode().rstrip("\n")
            if record:
                load.commands_seen.append(text)
            if line.startswith(DIAL):
                load.answered += 1
            if hold is not None and not held and line.startswith(HOLD_COMMAND):
                held = True
                await hold.arrive()
            reply = ("\n".join(fake.respond(text)) + "\n").encode()
            if line.startswith(PROMPT):
                await asyncio.sleep(PROMPT_SECONDS)
            writer.write(reply)
            sent = time.perf_counter()
        load.calls += 1
    except OSError:
        load.failed += 1
    finally:
        writer.close()


async def run_load(port: int, calls: int, concurrency: int, load: Load) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def guarded() -> None:
        async with sem:
            await one_call(port, load)

    t0 = time.perf_counter()
    await asyncio.gather(*(guarded() for _ in range(calls)))
    return time.perf_counter() - t0


async def hold_open(port: int, n: int, pid: int) -> int:
    """Hold ``n`` calls open at their first digit wait; return the server's RSS in KiB then."""
    load, hold = Load(), Hold(n)
    gate = asyncio.Semaphore(500)  # connect at most 500 at a time: stay within the backlog

    async def call() -> None:
        async with gate:
            pass
        await one_call(port, load, hold)

    tasks = [asyncio.create_task(call()) for _ in range(n)]
    try:
        async with asyncio.timeout(180):
            await hold.all_in.wait()
        await asyncio.sleep(0.2)  # let the server settle (e.g. free what it read)
        rss = rss_kib(pid)
    except TimeoutError:
        raise RuntimeError(f"only {hold.count} of {n} calls reached the hold") from None
    finally:
        hold.release.set()
        async with asyncio.timeout(600):
            await asyncio.gather(*tasks)
    if load.failed:
        raise RuntimeError(f"{load.failed} of {n} held calls failed")
    return rss


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of the whole process, from /proc/PID/stat (clock ticks); of one of its
    threads with ``tid`` (/proc/PID/task/TID/stat: the main thread's TID is the PID)."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int, kind: str = "VmRSS") -> int:
    """``VmRSS`` of /proc/PID/status in KiB, or another of its figures: ``RssAnon`` (the
    process's own memory: heap, Python's arenas, stacks) or ``RssFile`` (mapped files)."""
    prefix = kind + ":"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(prefix):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Server:
    kind: str
    proc: subprocess.Popen[bytes]
    port: int
    rss_idle_kib: int = 0
    rounds: list[dict[str, float]] = field(default_factory=list)
    turnaround: list[float] = field(default_factory=list)
    failed: int = 0
    calls: int = 0
    answered: int = 0  # measured calls that dialled an operator
    rss_held_kib: dict[int, int] = field(default_factory=dict)


def pin(pid: int, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(pid, cpus)


def start_ours(dep: Deployment, cpus: set[int] | None) -> Server:
    """`hotline serve --queue-wait`, as deployed (its own process, its own event loop)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--queue-wait"],
        env=dict(dep.env, HOTLINE_AGI_PORT=str(port)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pin(proc.pid, cpus)
    pidfile = dep.tmp / "var" / "hotline.pid"
    deadline = time.monotonic() + 60
    while not pidfile.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("hotline serve did not start (try it: hotline serve --queue-wait)")
        time.sleep(0.05)
    time.sleep(0.5)
    return Server("ours", proc, port, rss_kib(proc.pid))


def start_peer(kind: str, workdir: Path, commands: list[str], cpus: set[int] | None) -> Server:
    port_file = workdir / f"{kind}.port"
    port_file.unlink(missing_ok=True)
    cmd_file = workdir / "commands.json"
    cmd_file.write_text(json.dumps(commands))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "agi_peers.py"), kind, str(port_file), str(cmd_file)],
        stderr=subprocess.DEVNULL,
    )
    pin(proc.pid, cpus)
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {kind} server did not start")
        time.sleep(0.02)
    time.sleep(0.3)
    return Server(kind, proc, int(port_file.read_text()), rss_kib(proc.pid))


async def measure_round(server: Server, calls: int, concurrency: int, dep: Deployment) -> None:
    load = Load()
    pid = server.proc.pid
    cpu0, gen0, red0 = cpu_seconds(pid), cpu_seconds(os.getpid()), dep.redis_cpu()
    loop0 = cpu_seconds(pid, pid)  # the event loop's thread (our server's main thread)
    wall = await run_load(server.port, calls, concurrency, load)
    cpu, gen = cpu_seconds(pid) - cpu0, cpu_seconds(os.getpid()) - gen0
    loop = cpu_seconds(pid, pid) - loop0
    red = dep.redis_cpu() - red0
    server.rounds.append(
        {
            "cpu_ms_per_call": 1000 * cpu / calls,
            "loop_cpu_ms_per_call": 1000 * loop / calls,
            "calls_per_s": calls / wall,
            "generator_cpu_ms_per_call": 1000 * gen / calls,
            "redis_cpu_ms_per_call": 1000 * red / calls,
            "commands_per_call": load.commands / max(1, load.calls),
        }
    )
    server.turnaround += load.turnaround
    server.failed += load.failed
    server.calls += load.calls
    server.answered += load.answered


def process_agi(dep: Deployment, calls: int, cpus: set[int] | None) -> dict[str, float]:
    """pyst2 process AGI, started once per call as Asterisk starts a script, on the same
    deployment (Redis, the SQLite store, the operators) and the same caller."""
    script = [sys.executable, str(ROOT / "agi_scripts" / "hotline.agi")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    commands = 0
    for _ in range(calls):
        uid = next(_uids)
        fake = FakeAsterisk(
            to="12345", caller=f"138{uid % 10**8:08d}", uniqueid=f"{UID_BASE}.{uid}",
            dial_status="ANSWER", answered_seconds=90, language="zh", script="",
        )  # fmt: skip
        proc = subprocess.Popen(
            script, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dep.env,
        )  # fmt: skip
        pin(proc.pid, cpus)
        assert proc.stdin and proc.stdout
        proc.stdin.write(fake.header().encode())
        proc.stdin.flush()
        for line in proc.stdout:
            commands += 1
            try:
                proc.stdin.write(
                    ("\n".join(fake.respond(line.decode().rstrip("\n"))) + "\n").encode()
                )
                proc.stdin.flush()
            except BrokenPipeError:
                break
        proc.stdin.close()
        proc.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "calls": calls,
        "calls_per_s": calls / wall,
        "cpu_ms_per_call": 1000 * cpu / calls,
        "commands_per_call": commands / calls,
    }


async def discover_commands(port: int) -> list[str]:
    load = Load()
    await one_call(port, load, record=True)
    return load.commands_seen


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(server: Server, rss_at: list[int]) -> dict[str, float]:
    cpu = [r["cpu_ms_per_call"] for r in server.rounds]
    row: dict[str, float] = {
        "cpu_ms_per_call": median(cpu),
        "cpu_min": min(cpu),
        "cpu_max": max(cpu),
        "calls_per_s": median([r["calls_per_s"] for r in server.rounds]),
        "generator_cpu_ms_per_call": median(
            [r["generator_cpu_ms_per_call"] for r in server.rounds]
        ),
        "commands_per_call": median([r["commands_per_call"] for r in server.rounds]),
        "p50_ms": 1000 * pct(server.turnaround, 0.50),
        "p99_ms": 1000 * pct(server.turnaround, 0.99),
        "failed": server.failed,
        "rss_mib_idle": server.rss_idle_kib / 1024,
    }
    if server.kind == "ours":
        row["redis_cpu_ms_per_call"] = median([r["redis_cpu_ms_per_call"] for r in server.rounds])
        row["loop_cpu_ms_per_call"] = median([r["loop_cpu_ms_per_call"] for r in server.rounds])
        row["threads_cpu_ms_per_call"] = median(
            [r["cpu_ms_per_call"] - r["loop_cpu_ms_per_call"] for r in server.rounds]
        )
    for n in rss_at:
        row[f"rss_mib_{n}"] = server.rss_held_kib[n] / 1024
    if len(rss_at) >= 2:
        lo, hi = rss_at[0], rss_at[-1]
        slope = (server.rss_held_kib[hi] - server.rss_held_kib[lo]) / (hi - lo)
        row["kib_per_held_call"] = slope
    return row


KINDS = ("ours", "panoramisk", "bare")
DIGITS = {"calls_per_s": 0, "failed": 0, "commands_per_call": 1}


async def run_rounds(
    servers: dict[str, Server], rounds: int, calls: int, concurrency: int, warmup: int,
    dep: Deployment,
) -> None:  # fmt: skip
    for server in servers.values():
        await run_load(server.port, warmup, concurrency, Load())
    for r in range(rounds):
        # interleaved, and each server takes each position in turn
        order = KINDS[r % 3 :] + KINDS[: r % 3]
        for kind in order:
            await measure_round(servers[kind], calls, concurrency, dep)
        line = "  ".join(
            f"{kind} {servers[kind].rounds[-1]['cpu_ms_per_call']:.3f}" for kind in KINDS
        )
        print(f"round {r + 1}/{rounds}: ms CPU per call: {line}", flush=True)


# --------------------------------------------------------------------------- the soak


def slope_per_10k(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of RSS (KiB) over calls, in KiB per 10,000 calls."""
    n = len(points)
    mx = sum(c for c, _ in points) / n
    my = sum(r for _, r in points) / n
    sxx = sum((c - mx) ** 2 for c, _ in points)
    sxy = sum((c - mx) * (r - my) for c, r in points)
    return 10_000 * sxy / sxx if sxx else float("nan")


async def soak_calls(
    server: Server, calls: int, rate: float, concurrency: int, warmup: int, every: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], Load, float]:
    """``calls`` calls started at ``rate`` per second (at most ``concurrency`` at once); the
    server's memory sampled every ``every`` finished calls once ``warmup`` have finished: the
    points of its anonymous RSS (judged), and of its whole RSS (``rss``, printed)."""
    load = Load()
    sem = asyncio.Semaphore(concurrency)
    points: list[tuple[int, int]] = []
    rss: list[tuple[int, int]] = []
    done = 0

    async def call() -> None:
        nonlocal done
        try:
            await one_call(server.port, load)
        finally:
            sem.release()
        done += 1
        if done >= warmup and (done - warmup) % every == 0:
            points.append((done, rss_kib(server.proc.pid, "RssAnon")))
            rss.append((done, rss_kib(server.proc.pid)))

    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    last_report = t0
    for i in range(calls):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await sem.acquire()
        task = asyncio.create_task(call())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        now = time.perf_counter()
        if now - last_report > 30:
            last_report = now
            whole = rss_kib(server.proc.pid) / 1024
            anon = rss_kib(server.proc.pid, "RssAnon") / 1024
            print(f"  {done:>9,} calls, RSS {whole:.1f} MiB (anonymous {anon:.1f}), "
                  f"{done / (now - t0):.0f} calls/s, {load.answered:,} reached an operator",
                  flush=True)  # fmt: skip
    await asyncio.gather(*tasks)
    return points, rss, load, time.perf_counter() - t0


def soak(args: argparse.Namespace, server_cpus: set[int] | None) -> int:
    calls, rate = args.soak, args.rate
    warmup = min(max(500, calls // 5), calls // 2)
    every = max(100, (calls - warmup) // 50)
    limit = args.soak_limit
    dep = Deployment.create()
    server: Server | None = None
    try:
        server = start_ours(dep, server_cpus)
        asyncio.run(dep.operators_ready())
        dep.keep_operators_alive()
        dep.settle(server)
        print(
            f"soak: {calls:,} calls through hotline serve --queue-wait at {rate:g} calls/s "
            f"(at most {args.concurrency} at once); RSS sampled every {every:,} calls after "
            f"a warm-up of {warmup:,}",
            flush=True,
        )
        rss0, anon0 = rss_kib(server.proc.pid), rss_kib(server.proc.pid, "RssAnon")
        points, rss, load, wall = asyncio.run(
            soak_calls(server, calls, rate, args.concurrency, warmup, every)
        )
        rss1, anon1 = rss_kib(server.proc.pid), rss_kib(server.proc.pid, "RssAnon")
    finally:
        if server is not None:
            server.proc.terminate()
            server.proc.wait()
        dep.close()
    slope = slope_per_10k(points) if len(points) >= 2 else float("nan")
    print(
        f"\n{load.calls:,} calls in {wall:.0f} s ({load.calls / wall:.0f} calls/s), "
        f"{load.failed} failed, {load.commands / max(1, load.calls):.1f} commands per call, "
        f"{load.answered:,} reached an operator (Dial)"
    )
    lo, hi = min(r for _, r in rss), max(r for _, r in rss)
    print(
        f"RSS: {rss0 / 1024:.1f} MiB idle, {rss[0][1] / 1024:.1f} MiB after the warm-up, "
        f"{rss1 / 1024:.1f} MiB at the end (samples {lo / 1024:.0f}-{hi / 1024:.0f} MiB: the "
        f"SQLite file's memory map comes and goes)\n"
        f"anonymous RSS: {anon0 / 1024:.1f} MiB idle, {points[0][1] / 1024:.1f} MiB after the "
        f"warm-up, {anon1 / 1024:.1f} MiB at the end"
    )
    ok = slope <= limit and load.failed == 0 and load.answered == load.calls
    judged = "OK" if ok else "MISSED"
    if args.quick:
        judged = "(quick run: too short to judge)"
    print(
        f"anonymous RSS growth after warm-up: {slope:.1f} KiB per 10k calls   target <= "
        f"{limit:g} {judged}   (whole RSS: {slope_per_10k(rss):.1f}, with the file map)"
    )
    if args.json:
        figures = {"points": points, "rss_points": rss, "slope": slope}
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0 if ok or args.quick else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per server")
    parser.add_argument("--calls", type=int, default=3000, help="calls per server per round")
    parser.add_argument("--concurrency", type=int, default=50, help="calls at once")
    parser.add_argument("--process-calls", type=int, default=30)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to separate cores")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--soak", type=int, metavar="N", help="N calls through our server")
    parser.add_argument("--rate", type=float, default=50.0, help="soak: calls started per s")
    parser.add_argument(
        "--soak-limit", type=float, default=64.0, help="soak: KiB per 10k calls allowed"
    )
    args = parser.parse_args()

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    # The load generator on one core, every server on another: the servers never compete
    # with the generator (or each other: only one is loaded at a time) for a core.
    usable = sorted(os.sched_getaffinity(0))
    gen_cpus: set[int] | None = None
    server_cpus: set[int] | None = None
    if len(usable) >= 2 and not args.no_pin:
        gen_cpus, server_cpus = {usable[0]}, {usable[1]}
        os.sched_setaffinity(0, gen_cpus)
    if args.soak:
        return soak(args, server_cpus)

    rounds, calls, concurrency, rss_at = args.rounds, args.calls, args.concurrency, [1000, 5000]
    process_calls, warmup = args.process_calls, 1000
    if args.quick:
        rounds, calls, rss_at, process_calls, warmup = 2, 200, [300], 2, 50

    dep = Deployment.create()
    workdir = dep.tmp / "peers"
    workdir.mkdir()
    servers: dict[str, Server] = {}
    commands: list[str] = []
    t_start = time.monotonic()
    try:
        servers["ours"] = start_ours(dep, server_cpus)
        asyncio.run(dep.operators_ready())
        dep.keep_operators_alive()
        dep.settle(servers["ours"])
        commands = asyncio.run(discover_commands(servers["ours"].port))
        print(
            "ours: hotline serve --queue-wait (python -m ivr.cli), a real redis-server, the "
            "SQLite store, the shipped config/ (wrap-up 0, no AMI dialler, "
            f"{BENCH_AGENTS} bench operators ready)"
        )
        print(
            "path: a caller to 12345 is queued at the answer, hears the notice, is put through "
            "to a free operator (Dial answered), then the survey (no key)"
        )
        print(
            f"panoramisk and the bare floor replay the {len(commands)} AGI command lines our "
            "server sent on a first call: " + ", ".join(c.split(' "')[0] for c in commands)
        )
        for kind in KINDS[1:]:
            servers[kind] = start_peer(kind, workdir, commands, server_cpus)
        pinning = (
            f"load generator on CPU {min(gen_cpus)}, servers on CPU {min(server_cpus)}"
            if gen_cpus and server_cpus
            else "not pinned"
        )
        print(
            f"{rounds} interleaved rounds of {calls} calls per server, concurrency "
            f"{concurrency}; {pinning}",
            flush=True,
        )
        asyncio.run(run_rounds(servers, rounds, calls, concurrency, warmup, dep))
        for server in servers.values():
            for n in rss_at:
                server.rss_held_kib[n] = asyncio.run(hold_open(server.port, n, server.proc.pid))
        process = process_agi(dep, process_calls, server_cpus)
    finally:
        for server in servers.values():
            server.proc.terminate()
            server.proc.wait()
        dep.close()
    results: dict[str, dict[str, float]] = {k: summarize(s, rss_at) for k, s in servers.items()}
    results["process_agi"] = process

    print(
        f"\n{os.cpu_count()} cores; median of {rounds} rounds x {calls} calls; "
        f"RSS with N calls held open"
    )
    cols = {
        "cpu_ms_per_call": "CPU ms/call",
        "cpu_min": "(min",
        "cpu_max": "max)",
        "loop_cpu_ms_per_call": "loop ms/call",
        "redis_cpu_ms_per_call": "redis ms/call",
        "commands_per_call": "cmds/call",
        "calls_per_s": "calls/s",
        "generator_cpu_ms_per_call": "gen ms/call",
        "p50_ms": "p50 ms",
        "p99_ms": "p99 ms",
        "failed": "failed",
        "rss_mib_idle": "RSS idle MiB",
        **{f"rss_mib_{n}": f"RSS {n} MiB" for n in rss_at},
    }
    if len(rss_at) >= 2:
        cols["kib_per_held_call"] = "KiB/held call"
    widths = {c: max(9, len(label) + 2) for c, label in cols.items()}
    print(f"{'server':<12}" + "".join(f"{label:>{widths[c]}}" for c, label in cols.items()))
    for kind, row in results.items():
        print(
            f"{kind:<12}"
            + "".join(
                f"{row[c]:>{widths[c]}.{DIGITS.get(c, 3)}f}" if c in row else f"{'-':>{widths[c]}}"
                for c in cols
            )
        )

    ours = results["ours"]["cpu_ms_per_call"]
    per_round = [
        o["cpu_ms_per_call"] / p["cpu_ms_per_call"]
        for o, p in zip(servers["ours"].rounds, servers["panoramisk"].rounds, strict=True)
    ]
    ratios = {
        "ours / panoramisk": ours / results["panoramisk"]["cpu_ms_per_call"],
        "ours / bare floor": ours / results["bare"]["cpu_ms_per_call"],
        "process AGI / ours": results["process_agi"]["cpu_ms_per_call"] / ours,
    }
    limits = {
        "ours / panoramisk": ("<=", 1.0),
        "ours / bare floor": ("<=", 1.3),
        "process AGI / ours": (">=", 30.0),
    }
    print("\nCPU time per call of the server process (medians; the same command lines):")
    verdict = True
    for name, value in ratios.items():
        op, limit = limits[name]
        ok = value <= limit if op == "<=" else value >= limit
        verdict &= ok
        print(f"  {name:<20} {value:8.2f}   target {op} {limit:<5} {'OK' if ok else 'MISSED'}")
    print(f"  ours / panoramisk round by round: {min(per_round):.2f} .. {max(per_round):.2f}")
    mine = servers["ours"]
    path_ok = mine.answered == mine.calls
    verdict &= path_ok
    print(
        f"  ours: {mine.answered:,} of {mine.calls:,} measured calls reached an operator "
        f"(Dial): {'the path compared' if path_ok else 'MISSED: not the path compared'}"
    )
    most = max(rss_at)
    held_ok = results["ours"]["failed"] == 0 and most in servers["ours"].rss_held_kib
    verdict &= (held_ok and most >= 5000) or bool(args.quick)
    print(
        f"  concurrent calls held in one process: {most}   target >= 5000 "
        f"{'OK' if held_ok and most >= 5000 else 'MISSED' if not args.quick else '(quick run)'}"
    )
    loop = results["ours"]["loop_cpu_ms_per_call"]
    threads = results["ours"]["threads_cpu_ms_per_call"]  # median of the rounds' differences
    pan = results["panoramisk"]["cpu_ms_per_call"]
    print(
        f"  where ours goes: {loop:.2f} ms per call in its event loop's thread (the AGI lines, "
        f"the engine, the Redis client: {loop / pan:.2f} x panoramisk's whole process), "
        f"{threads:.2f} ms in its worker threads (the call-record store's transactions, "
        "the queue_log file)"
    )
    gen = results["ours"]["generator_cpu_ms_per_call"]
    print(
        f"\nThe load generator spends {gen:.2f} ms of CPU per call, our server {ours:.2f} ms: "
        + (
            "with a core each, the load generator saturates first."
            if gen > 1.15 * ours
            else "with a core each, the server saturates first."
            if ours > 1.15 * gen
            else "about the same, so calls/s measures the pair, not the server."
        )
    )
    print(f"total {time.monotonic() - t_start:.0f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "commands": commands,
                    "results": results,
                    "ratios": ratios,
                    "ours_vs_panoramisk_per_round": per_round,
                    "rounds": {k: s.rounds for k, s in servers.items()},
                },
                indent=1,
            )
        )
    return 0 if verdict else 1


if __name__ == "__main__":
    raise SystemExit(main())
