"""Queue benchmark: 10,000 waiting callers, 2,000 agents, on a real redis-server.

Prints p50/p99 latency of enqueue, assign (an agent going ready takes the head caller) and
complete (which also hands the agent its next caller), full cycles per second, Redis round
trips per operation, Redis's own time per queue operation, and - with the same client
library and concurrency - the rate of bare PING, the most a Python client gets out of this
machine. Then compares with the targets: assign p99 < 2 ms, one round trip per operation,
queue ops >= 50 % of the PING rate.

Queue cycles and PING run in alternating short rounds, and their medians are compared, so
that both see the same conditions on a machine that is doing other things too. The load
average is printed at the start and at the end.

    .venv/bin/python -m bench.queue_bench [--redis-url URL] [--waiting 10000] [--agents 2000]

Without --redis-url it starts its own redis-server on a free port. With --redis-url it empties
the database it is given (FLUSHDB) before the run, so it refuses a database that has
keys unless --flush says that may go (exit status 2, nothing deleted).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio as aioredis

from ivr.config.queue_models import AgentSpec, QueueSettings
from queueing.events import EventJournal
from queueing.queue import QueueRequest, RedisQueue


async def _keys_in(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return int(await client.dbsize())
    finally:
        await client.aclose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _commands(client: aioredis.Redis) -> tuple[int, int, float]:
    """EVALSHA calls, every command Redis ran (those inside Lua included), and the
    microseconds Redis spent in EVALSHA."""
    stats: dict[str, Any] = await client.info("commandstats")
    evalsha = stats.get("cmdstat_evalsha", {})
    info: dict[str, Any] = await client.info("stats")
    return (
        int(evalsha.get("calls", 0)),
        int(info["total_commands_processed"]),
        float(evalsha.get("usec", 0)),
    )


async def _redis_cpu(client: aioredis.Redis) -> float:
    """Seconds of CPU the redis-server has used (its main thread where it says so)."""
    info: dict[str, Any] = await client.info("cpu")
    if "used_cpu_user_main_thread" in info:
        return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


async def run(
    url: str, waiting: int, agents: int, concurrency: int, rounds: int, seconds: float
) -> int:
    print(f"load average at start: {loadavg()}")
    client = aioredis.Redis.from_url(url)
    await client.flushdb()
    q = RedisQueue(client, QueueSettings(wrapup_seconds=0), server="bench")
    # as in a server with an event sink: every operation's events are kept in the journal
    # until the sink has them; the pump forgets the acknowledged ones about once a second
    # (here: all of them, as if the sink kept up)
    journal = q.journal = EventJournal()

    async def prune_journal() -> None:
        while True:
            await asyncio.sleep(1.0)
            journal.acknowledged((2**63, 0), inclusive=True)

    pruner = asyncio.create_task(prune_journal())
    skill = "general"
    t0 = time.time()
    n = 0

    def next_request() -> QueueRequest:
        nonlocal n
        n += 1
        return QueueRequest(f"c{n}", "13800000000", "12345", skill, n % 3 * 10, t0 + n / 1000)

    print(f"setup: {waiting} waiting callers, {agents} agents (paused) ...", flush=True)
    for _ in range(waiting):
        await q.enqueue(next_request())
    specs = [
        AgentSpec(id=f"a{i}", name=f"a{i}", interface=f"PJSIP/{i}", skills={skill: 1 + i % 10})
        for i in range(agents)
    ]
    for spec in specs:
        await q.login(spec)

    results: dict[str, list[float]] = {}
    rt_ops = 0
    ev0, cmd0, usec0 = await _commands(client)
    # enqueue with ~10,000 waiting
    results["enqueue"] = await timed(lambda: q.enqueue(next_request()), 2000)
    rt_ops += 2000
    # assign: a paused agent goes ready and takes the head caller; each one just after a
    # bare PING, timed too: what this machine does to a round trip at the same moments
    results["assign"], ping_lat = [], []
    for spec in specs:
        t = time.perf_counter()
        await client.ping()
        ping_lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        await q.ready(spec.id)
        results["assign"].append(time.perf_counter() - t)
    rt_ops += agents
    # which caller each agent was offered: a plain HGETALL per agent, not a queue operation
    # (a desk learns it from the offer), left out of the counts below
    calls = {a.id: (await q.agent(a.id)).call for a in specs}
    for aid, uid in calls.items():
        await q.connect(uid, aid)
    rt_ops += agents
    # complete: each agent completes its call and is handed the next caller at once
    ids = list(calls)
    pos = iter(range(agents))

    async def complete_one() -> None:
        aid = ids[next(pos)]
        calls[aid] = (await q.complete_call(calls[aid], aid)).next_call

    results["complete"] = await timed(complete_one, agents)
    rt_ops += agents
    ev1, cmd1, usec1 = await _commands(client)
    evalsha_per_op = (ev1 - ev0) / rt_ops
    cmds_per_op = (cmd1 - cmd0 - 2 * agents) / rt_ops  # less the PINGs and agent reads
    redis_usec_per_op = (usec1 - usec0) / (ev1 - ev0)

    # throughput: full cycles (enqueue + complete, which hands the next caller + connect),
    # three queue operations, three round trips, with `concurrency` tasks; alternating with
    # rounds of bare PING at the same concurrency (ABBA order, so that neither always runs
    # first), compared by their medians
    for aid, uid in calls.items():
        await q.connect(uid, aid)
    turns = [itertools.cycle(ids[i::concurrency]) for i in range(concurrency)]
    queue_ops = 0

    async def queue_round(deadline: float) -> int:
        nonlocal queue_ops
        done = 0

        async def worker(turn: Iterator[str]) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                aid = next(turn)
                await q.enqueue(next_request())
                uid = (await q.complete_call(calls[aid], aid)).next_call
                await q.connect(uid, aid)
                calls[aid] = uid
                done += 3

        await asyncio.gather(*(worker(turn) for turn in turns))
        queue_ops += done
        return done

    async def ping_round(deadline: float) -> int:
        done = 0

        async def pinger() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await client.ping()
                done += 1

        await asyncio.gather(*(pinger() for _ in range(concurrency)))
        return done

    # CPU per operation, the client's (this process) and the redis-server's: what a rate
    # becomes when the two share one core (rather than each having its own) is their sum
    cpu: dict[str, list[tuple[float, float]]] = {"queue": [], "ping": []}

    async def rate(name: str, kind: Callable[[float], Awaitable[int]]) -> float:
        r0, c0 = await _redis_cpu(client), time.process_time()
        t = time.perf_counter()
        n = await kind(t + seconds)
        elapsed = time.perf_counter() - t
        c1, r1 = time.process_time(), await _redis_cpu(client)
        cpu[name].append(((c1 - c0) / n * 1e6, (r1 - r0) / n * 1e6))
        return n / elapsed

    op_rates: list[float] = []
    ping_rates: list[float] = []
    ev_a, _, _ = await _commands(client)
    print(f"\n{'round':>5} {'queue ops/s':>12} {'PING/s':>9} {'ratio':>6}")
    for r in range(rounds):
        if r % 2 == 0:
            op_rates.append(await rate("queue", queue_round))
            ping_rates.append(await rate("ping", ping_round))
        else:
            ping_rates.append(await rate("ping", ping_round))
            op_rates.append(await rate("queue", queue_round))
        ratio = op_rates[-1] / ping_rates[-1]
        print(f"{r + 1:5} {op_rates[-1]:12,.0f} {ping_rates[-1]:9,.0f} {ratio:6.0%}")
    ev_b, _, _ = await _commands(client)
    queue_op_rate = statistics.median(op_rates)
    ping_rate = statistics.median(ping_rates)
    paired = statistics.median(o / p for o, p in zip(op_rates, ping_rates, strict=True))
    waiting_now = await client.zcard(f"hotline:{{q:{q.centre}}}:waiting:{skill}")

    print(f"\nwaiting callers at the end: {waiting_now}, agents: {agents}")
    print(f"{'operation':10} {'p50 ms':>8} {'p99 ms':>8} {'n':>6}")
    for name, values in results.items():
        print(f"{name:10} {pct(values, 0.5):8.3f} {pct(values, 0.99):8.3f} {len(values):6}")
    print(
        f"{'PING':10} {pct(ping_lat, 0.5):8.3f} {pct(ping_lat, 0.99):8.3f} {len(ping_lat):6}"
        "   (bare, one before each assign)"
    )
    print(f"\nround trips per queue operation (EVALSHA calls / ops): {evalsha_per_op:.2f}")
    print(f"  in the throughput rounds: {(ev_b - ev_a) / queue_ops:.2f}")
    print(f"Redis commands per queue operation, incl. those inside Lua: {cmds_per_op:.1f}")
    print(f"Redis time per queue operation (EVALSHA usec_per_call): {redis_usec_per_op:.0f} us")
    print(
        f"cycles/s (enqueue+complete+connect), concurrency {concurrency}, median of "
        f"{rounds} rounds of {seconds:g} s: {queue_op_rate / 3:,.0f}"
    )
    print(
        f"queue operations/s: {queue_op_rate:,.0f}   bare PING/s: {ping_rate:,.0f}   "
        f"ratio of the medians {queue_op_rate / ping_rate:.0%} (median of the rounds' "
        f"ratios {paired:.0%})"
    )
    print("CPU per operation in those rounds (medians), this client + redis-server:")
    for name, label in (("queue", "queue op"), ("ping", "PING")):
        client_us = statistics.median(c for c, _ in cpu[name])
        redis_us = statistics.median(r for _, r in cpu[name])
        print(
            f"  {label:8} {client_us:6.0f} us + {redis_us:5.0f} us = {client_us + redis_us:6.0f} us"
        )
    print(f"mean assign {statistics.mean(results['assign']) * 1000:.3f} ms")
    print(f"load average at the end: {loadavg()}")
    checks = [
        ("assign p99 < 2 ms", pct(results["assign"], 0.99) < 2.0),
        ("one round trip per operation", abs(evalsha_per_op - 1.0) < 0.01),
        ("queue ops >= 50 % of PING", queue_op_rate >= 0.5 * ping_rate),
    ]
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    pruner.cancel()
    await q.close()
    return 0 if all(ok for _, ok in checks) else 1


@contextmanager
def single_redis() -> Iterator[int]:
    """A throwaway redis-server on a free loopback port (nothing kept on disk): its port,
    once it answers PING."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with redis.Redis(port=port) as c:
                        c.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise SystemExit("redis-server did not start") from None
                    time.sleep(0.02)
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", help="a Redis database the benchmark may empty")
    parser.add_argument(
        "--flush",
        action="store_true",
        help="with --redis-url: empty that database even if it has keys (FLUSHDB)",
    )
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6, help="alternating throughput rounds")
    parser.add_argument("--round-seconds", type=float, default=1.0)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run (the test suite runs it)"
    )
    args = parser.parse_args()
    if args.quick:
        args.waiting, args.agents, args.rounds, args.round_seconds = 500, 100, 2, 0.3

    def go(url: str) -> int:
        return asyncio.run(
            run(url, args.waiting, args.agents, args.concurrency, args.rounds, args.round_seconds)
        )

    if args.redis_url:
        keys = asyncio.run(_keys_in(args.redis_url))
        if keys and not args.flush:
            print(
                f"refused: {args.redis_url} holds {keys} keys and the benchmark empties the "
                "database it is given (FLUSHDB); pass --flush if they may go, or give an "
                "empty database (nothing was deleted)",
                file=sys.stderr,
            )
            return 2
        return go(args.redis_url)
    with single_redis() as port:
        return go(f"redis://127.0.0.1:{port}/0")


if __name__ == "__main__":
    raise SystemExit(main())
