"""Queue benchmark: 10,000 waiting callers, 2,000 agents, on a real redis-server.

Prints p50/p99 latency of enqueue, assign (an agent going ready takes the head caller) and
complete (which also hands the agent its next caller), full cycles per second on one core,
Redis round trips per operation, and - with the same client library and concurrency - the
rate of bare PING, the most a Python client gets out of this machine. Then compares with the
targets: assign p99 < 2 ms, one round trip per operation, queue ops >= 50 % of the PING rate.

    .venv/bin/python -m bench.queue_bench [--redis-url URL] [--waiting 10000] [--agents 2000]

Without --redis-url it starts its own redis-server on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from queueing.config import AgentSpec, QueueSettings
from queueing.queue import QueueRequest, RedisQueue


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def _commands(client: aioredis.Redis) -> tuple[int, int]:
    stats: dict[str, Any] = await client.info("commandstats")
    evalsha = stats.get("cmdstat_evalsha", {}).get("calls", 0)
    info: dict[str, Any] = await client.info("stats")
    return int(evalsha), int(info["total_commands_processed"])


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


async def run(url: str, waiting: int, agents: int, concurrency: int) -> int:
    client = aioredis.Redis.from_url(url)
    await client.flushdb()
    q = RedisQueue(client, QueueSettings(wrapup_seconds=0), server="bench")
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
    ev0, cmd0 = await _commands(client)
    # enqueue with ~10,000 waiting
    results["enqueue"] = await timed(lambda: q.enqueue(next_request()), 2000)
    rt_ops += 2000
    # assign: a paused agent goes ready and takes the head caller
    it = iter(specs)
    results["assign"] = await timed(lambda: q.ready(next(it).id), agents)
    rt_ops += agents
    # complete: each agent completes its call and is handed the next caller at once
    calls = {a.id: (await q.agent(a.id)).call for a in specs}
    for aid, uid in calls.items():
        await q.connect(uid, aid)
    rt_ops += agents
    ids = list(calls)
    pos = iter(range(agents))

    async def complete_one() -> None:
        aid = ids[next(pos)]
        await q.complete(calls[aid], aid)

    results["complete"] = await timed(complete_one, agents)
    rt_ops += agents
    ev1, cmd1 = await _commands(client)
    evalsha_per_op = (ev1 - ev0) / rt_ops
    # agent reads are plain HGETALLs (one per agent), not queue operations
    cmds_per_op = (cmd1 - cmd0 - 2 * agents) / rt_ops

    # throughput: full cycles (enqueue + connect + complete) with `concurrency` tasks
    for a in specs:
        calls[a.id] = (await q.agent(a.id)).call
        await q.connect(calls[a.id], a.id)
    cycles = 0
    lock = asyncio.Lock()

    async def worker(chunk: list[str], deadline: float) -> None:
        nonlocal cycles
        while time.perf_counter() < deadline:
            for aid in chunk:
                await q.enqueue(next_request())
                await q.complete(calls[aid], aid)
                uid = (await q.agent(aid)).call
                await q.connect(uid, aid)
                calls[aid] = uid
                async with lock:
                    cycles += 1

    seconds = 3.0
    deadline = time.perf_counter() + seconds
    chunks = [ids[i::concurrency] for i in range(concurrency)]
    t = time.perf_counter()
    await asyncio.gather(*(worker(c, deadline) for c in chunks))
    elapsed = time.perf_counter() - t
    cycle_rate = cycles / elapsed
    queue_op_rate = cycles * 3 / elapsed  # enqueue, complete, connect (the agent read aside)

    pings = 0

    async def pinger(deadline: float) -> None:
        nonlocal pings
        while time.perf_counter() < deadline:
            await client.ping()
            pings += 1

    t = time.perf_counter()
    deadline = t + seconds
    await asyncio.gather(*(pinger(deadline) for _ in range(concurrency)))
    ping_rate = pings / (time.perf_counter() - t)
    waiting_now = await client.zcard(f"hotline:{{q:{q.centre}}}:waiting:{skill}")

    print(f"\nwaiting callers at the end: {waiting_now}, agents: {agents}")
    print(f"{'operation':10} {'p50 ms':>8} {'p99 ms':>8} {'n':>6}")
    for name, values in results.items():
        print(f"{name:10} {pct(values, 0.5):8.3f} {pct(values, 0.99):8.3f} {len(values):6}")
    print(f"\nround trips per queue operation (EVALSHA calls / ops): {evalsha_per_op:.2f}")
    print(f"Redis commands per queue operation, incl. those inside Lua: {cmds_per_op:.1f}")
    print(
        f"cycles/s (enqueue+connect+complete, +1 agent read), concurrency {concurrency}: "
        f"{cycle_rate:,.0f}"
    )
    print(
        f"queue operations/s: {queue_op_rate:,.0f}   bare PING/s: {ping_rate:,.0f}   "
        f"ratio {queue_op_rate / ping_rate:.0%}"
    )
    print(f"mean assign {statistics.mean(results['assign']) * 1000:.3f} ms")
    checks = [
        ("assign p99 < 2 ms", pct(results["assign"], 0.99) < 2.0),
        ("one round trip per operation", abs(evalsha_per_op - 1.0) < 0.01),
        ("queue ops >= 50 % of PING", queue_op_rate >= 0.5 * ping_rate),
    ]
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    await q.close()
    return 0 if all(ok for _, ok in checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.redis_url:
        return asyncio.run(run(args.redis_url, args.waiting, args.agents, args.concurrency))
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed (or pass --redis-url)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), 0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("redis-server did not start") from None
                    time.sleep(0.02)
            return asyncio.run(run(url, args.waiting, args.agents, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
