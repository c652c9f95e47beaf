"""FastAGI benchmark: our server running a menu.yaml, panoramisk, and a bare asyncio floor.

A load generator plays Asterisk's side of FastAGI with N concurrent calls. Each call runs a
typical menu: answer, two prompts, collect a digit, set variables, end. The three servers get
exactly the same load: the commands our engine sends for that menu are recorded on the first
call, and the other two servers send that same list.

One Python load generator saturates before the servers do on 2 cores, so calls/s proves
little. The headline figure is each server's CPU time per call, read from /proc/PID/stat
(utime + stime) before and after each round. To make that trustworthy on a small, noisy
machine: the load generator runs on one core and every server on another (sched_setaffinity);
the three servers run side by side and are measured in interleaved rounds (ours, panoramisk,
bare; then panoramisk, bare, ours; ...), and the median round counts; a round is long enough
(seconds of CPU) that the 10 ms clock tick does not matter. Also printed: calls/s, p50/p99
command turnaround, RSS of the idle server (the import baseline), RSS with 1,000 and 5,000
calls held open and the slope between them (KiB per held call), and pyst2 process AGI started
once per call, the way Asterisk does. See docs/benchmarks.md.

    .venv/bin/python bench/fastagi_bench.py            # the full run (about 3 minutes)
    .venv/bin/python bench/fastagi_bench.py --quick    # a smoke run (about 30 s)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MENU_DIR = ROOT / "bench" / "menu"
TICK = os.sysconf("SC_CLK_TCK")
HOLD_COMMAND = "WAIT FOR DIGIT"

# --------------------------------------------------------------------------- the servers


async def serve_ours(port_file: Path) -> None:
    from ivr.agi.channel import AGIChannel, call_info_from_env
    from ivr.agi.server import FastAGIServer
    from ivr.agi.session import AGISession
    from ivr.config.loader import load_config
    from ivr.engine.menu import MenuEngine
    from ivr.engine.record import CallRecord
    from queueing.queue import QueuePlace, QueueRequest

    class NullQueue:
        async def enqueue(self, request: QueueRequest) -> QueuePlace:
            return QueuePlace(1, False)

    class NullStore:
        async def save(self, record: CallRecord) -> None:
            return None

    engine = MenuEngine(load_config(MENU_DIR), NullQueue(), NullStore())

    async def handle(session: AGISession) -> None:
        await engine.run(AGIChannel(session), call_info_from_env(session.env))

    server = FastAGIServer(handle, "127.0.0.1", 0)
    await server.start()
    port_file.write_text(str(server.port))  # noqa: ASYNC240 - once, before any call
    await asyncio.Event().wait()


async def serve_panoramisk(port_file: Path, commands: list[str]) -> None:
    from panoramisk.fast_agi import Application

    app = Application()

    async def handle(request: object) -> None:
        for command in commands:
            await request.send_command(command)  # type: ignore[attr-defined]

    app.add_route("hotline", handle)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=4096)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240
    await asyncio.Event().wait()


async def serve_bare(port_file: Path, commands: list[str]) -> None:
    """The floor: read the header, write each command, read one reply line each."""
    encoded = [(c + "\n").encode() for c in commands]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\n", b""):
            pass
        for command in encoded:
            writer.write(command)
            if not await reader.readline():
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240
    await asyncio.Event().wait()


# --------------------------------------------------------------------------- Asterisk's side


def header(uid: int) -> bytes:
    fields = {
        "agi_request": "agi://127.0.0.1/hotline",
        "agi_channel": f"PJSIP/carrier-{uid:08x}",
        "agi_language": "zh",
        "agi_type": "PJSIP",
        "agi_uniqueid": f"1763870000.{uid}",
        "agi_version": "22.5.2",
        "agi_callerid": "13800138000",
        "agi_calleridname": "张三",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "12345",
        "agi_rdnis": "unknown",
        "agi_context": "hotline-inbound",
        "agi_extension": "12345",
        "agi_priority": "1",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140000000000000",
        "agi_network": "yes",
        "agi_network_script": "hotline",
    }
    return ("".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n").encode()


def reply_for(command: bytes) -> bytes:
    if command.startswith(b"STREAM FILE"):
        return b"200 result=0 endpos=16000\n"
    if command.startswith(b"WAIT FOR DIGIT"):
        return b"200 result=49\n"  # the caller presses 1
    if command.startswith(b"SET VARIABLE"):
        return b"200 result=1\n"
    return b"200 result=0\n"


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
    failed: int = 0


async def one_call(
    port: int, uid: int, load: Load, hold: Hold | None = None, record: bool = False
) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        load.failed += 1
        return
    writer.write(header(uid))
    sent = time.perf_counter()
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            load.turnaround.append(time.perf_counter() - sent)
            if record:
                load.commands_seen.append(line.decode().rstrip("\n"))
            if hold is not None and line.startswith(HOLD_COMMAND.encode()):
                await hold.arrive()
            writer.write(reply_for(line))
            sent = time.perf_counter()
    except OSError:
        load.failed += 1
    finally:
        writer.close()


async def run_load(port: int, calls: int, concurrency: int, load: Load) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def guarded(uid: int) -> None:
        async with sem:
            await one_call(port, uid, load)

    t0 = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(calls)))
    return time.perf_counter() - t0


async def hold_open(port: int, n: int, pid: int) -> int:
    """Hold ``n`` calls open at the digit wait; return the server's RSS in KiB then."""
    load, hold = Load(), Hold(n)
    gate = asyncio.Semaphore(500)  # connect at most 500 at a time: stay within the backlog

    async def call(uid: int) -> None:
        async with gate:
            pass
        await one_call(port, uid, load, hold)

    tasks = [asyncio.create_task(call(10**6 + i)) for i in range(n)]
    try:
        async with asyncio.timeout(120):
            await hold.all_in.wait()
        await asyncio.sleep(0.2)  # let the server settle (e.g. free what it read)
        rss = rss_kib(pid)
    except TimeoutError:
        raise RuntimeError(f"only {hold.count} of {n} calls reached the hold") from None
    finally:
        hold.release.set()
        await asyncio.gather(*tasks)
    if load.failed:
        raise RuntimeError(f"{load.failed} of {n} held calls failed")
    return rss


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process, from /proc/PID/stat (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
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
    rss_held_kib: dict[int, int] = field(default_factory=dict)


def start_server(kind: str, workdir: Path, commands: list[str], cpus: set[int] | None) -> Server:
    port_file = workdir / f"{kind}.port"
    port_file.unlink(missing_ok=True)
    cmd_file = workdir / "commands.json"
    cmd_file.write_text(json.dumps(commands))
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, str(port_file), str(cmd_file)],
        stderr=subprocess.DEVNULL,
    )
    if cpus:
        os.sched_setaffinity(proc.pid, cpus)
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {kind} server did not start")
        time.sleep(0.02)
    time.sleep(0.3)
    return Server(kind, proc, int(port_file.read_text()), rss_kib(proc.pid))


async def measure_round(server: Server, calls: int, concurrency: int) -> None:
    load = Load()
    pid = server.proc.pid
    cpu0, gen0 = cpu_seconds(pid), cpu_seconds(os.getpid())
    wall = await run_load(server.port, calls, concurrency, load)
    cpu, gen = cpu_seconds(pid) - cpu0, cpu_seconds(os.getpid()) - gen0
    server.rounds.append(
        {
            "cpu_ms_per_call": 1000 * cpu / calls,
            "calls_per_s": calls / wall,
            "generator_cpu_ms_per_call": 1000 * gen / calls,
        }
    )
    server.turnaround += load.turnaround
    server.failed += load.failed


def process_agi(calls: int, commands_expected: int, cpus: set[int] | None) -> dict[str, float]:
    """pyst2 process AGI, started once per call as Asterisk starts a script."""
    redis = shutil.which("redis-server")
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    port = 6400 + os.getpid() % 1000
    rproc = (
        subprocess.Popen(
            [str(redis), "--port", str(port), "--save", "", "--dir", str(tmp)],
            stdout=subprocess.DEVNULL,
        )
        if redis
        else None
    )
    env = dict(
        os.environ,
        HOTLINE_CONFIG_DIR=str(MENU_DIR),
        HOTLINE_VAR_DIR=str(tmp),
        HOTLINE_REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )
    script = [sys.executable, str(ROOT / "agi_scripts" / "hotline.agi")]
    try:
        time.sleep(0.3) if rproc else None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        for uid in range(calls):
            proc = subprocess.Popen(
                script,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            if cpus:
                os.sched_setaffinity(proc.pid, cpus)
            assert proc.stdin and proc.stdout
            proc.stdin.write(header(uid))
            proc.stdin.flush()
            seen = 0
            for line in proc.stdout:
                seen += 1
                if seen <= commands_expected:
                    proc.stdin.write(reply_for(line))
                else:
                    # the menu's commands are done and the script keeps the caller company in
                    # the queue (the FastAGI servers measured hand it over): the caller hangs
                    # up, as Asterisk tells a process script
                    if seen == commands_expected + 1:
                        proc.stdin.write(b"HANGUP\n")
                    proc.stdin.write(b"511 Command Not Permitted on a dead channel\n")
                proc.stdin.flush()
            proc.stdin.close()
            proc.wait()
            if seen < commands_expected:
                raise RuntimeError(
                    f"process AGI sent {seen} commands, expected {commands_expected}"
                )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        if rproc:
            rproc.terminate()
            rproc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"calls": calls, "calls_per_s": calls / wall, "cpu_ms_per_call": 1000 * cpu / calls}


async def discover_commands(port: int) -> list[str]:
    load = Load()
    await one_call(port, 0, load, record=True)
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
        "p50_ms": 1000 * pct(server.turnaround, 0.50),
        "p99_ms": 1000 * pct(server.turnaround, 0.99),
        "failed": server.failed,
        "rss_mib_idle": server.rss_idle_kib / 1024,
    }
    for n in rss_at:
        row[f"rss_mib_{n}"] = server.rss_held_kib[n] / 1024
    if len(rss_at) >= 2:
        lo, hi = rss_at[0], rss_at[-1]
        slope = (server.rss_held_kib[hi] - server.rss_held_kib[lo]) / (hi - lo)
        row["kib_per_held_call"] = slope
    return row


KINDS = ("ours", "panoramisk", "bare")
DIGITS = {"calls_per_s": 0, "failed": 0}


async def run_rounds(
    servers: dict[str, Server], rounds: int, calls: int, concurrency: int, warmup: int
) -> None:
    for server in servers.values():
        await run_load(server.port, warmup, concurrency, Load())
    for r in range(rounds):
        # interleaved, and each server takes each position in turn
        order = KINDS[r % 3 :] + KINDS[: r % 3]
        for kind in order:
            await measure_round(servers[kind], calls, concurrency)
        line = "  ".join(
            f"{kind} {servers[kind].rounds[-1]['cpu_ms_per_call']:.3f}" for kind in KINDS
        )
        print(f"round {r + 1}/{rounds}: ms CPU per call: {line}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "PORT_FILE", "COMMANDS"))
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per server")
    parser.add_argument("--calls", type=int, default=3000, help="calls per server per round")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--process-calls", type=int, default=30)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to separate cores")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    if args.serve:
        kind, port_file, cmd_file = args.serve
        commands = json.loads(Path(cmd_file).read_text())
        serve = {
            "ours": lambda: serve_ours(Path(port_file)),
            "panoramisk": lambda: serve_panoramisk(Path(port_file), commands),
            "bare": lambda: serve_bare(Path(port_file), commands),
        }[kind]
        asyncio.run(serve())
        return 0

    rounds, calls, concurrency, rss_at = args.rounds, args.calls, args.concurrency, [1000, 5000]
    process_calls, warmup = args.process_calls, 1000
    if args.quick:
        rounds, calls, rss_at, process_calls, warmup = 2, 1000, [1000], 5, 300
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

    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    servers: dict[str, Server] = {}
    commands: list[str] = []
    t_start = time.monotonic()
    try:
        servers["ours"] = start_server("ours", workdir, commands, server_cpus)
        commands = asyncio.run(discover_commands(servers["ours"].port))
        print(
            f"menu: {len(commands)} commands per call: "
            + ", ".join(c.split(' "')[0] for c in commands)
        )
        for kind in KINDS[1:]:
            servers[kind] = start_server(kind, workdir, commands, server_cpus)
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
        asyncio.run(run_rounds(servers, rounds, calls, concurrency, warmup))
        for server in servers.values():
            for n in rss_at:
                server.rss_held_kib[n] = asyncio.run(hold_open(server.port, n, server.proc.pid))
    finally:
        for server in servers.values():
            server.proc.terminate()
            server.proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    results: dict[str, dict[str, float]] = {k: summarize(s, rss_at) for k, s in servers.items()}
    results["process_agi"] = process_agi(process_calls, len(commands), server_cpus)

    print(
        f"\n{os.cpu_count()} cores; median of {rounds} rounds x {calls} calls; "
        f"RSS with N calls held open"
    )
    cols = {
        "cpu_ms_per_call": "CPU ms/call",
        "cpu_min": "(min",
        "cpu_max": "max)",
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
    print("\nCPU time per call (medians):")
    verdict = True
    for name, value in ratios.items():
        op, limit = limits[name]
        ok = value <= limit if op == "<=" else value >= limit
        verdict &= ok
        print(f"  {name:<20} {value:8.2f}   target {op} {limit:<5} {'OK' if ok else 'MISSED'}")
    print(f"  ours / panoramisk round by round: {min(per_round):.2f} .. {max(per_round):.2f}")
    most = max(rss_at)
    held_ok = results["ours"]["failed"] == 0 and most in servers["ours"].rss_held_kib
    verdict &= (held_ok and most >= 5000) or bool(args.quick)
    print(
        f"  concurrent calls held in one process: {most}   target >= 5000 "
        f"{'OK' if held_ok and most >= 5000 else 'MISSED' if not args.quick else '(quick run)'}"
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
