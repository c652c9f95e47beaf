"""Queue benchmark on a Redis Cluster against a single Redis, in one run (issue 18).

Starts its own redis-server and its own local Redis Cluster (3 masters with a replica each,
:mod:`ivr.devtools.redis_cluster`), and on each: callers waiting, agents paused; then p50/p99
of enqueue, assign (an agent going ready takes the head caller) and complete (which hands the
agent its next caller); round trips per queue operation (EVALSHA calls the servers counted,
over every master, per operation: a redirection or a retry would show as more than one);
throughput of full cycles (enqueue + complete + connect) with one centre, and with several
centres at once (each centre's keys carry its hash tag: one centre lives on one master, the
cluster spreads the centres: the EVALSHA calls per master are printed). Last, on the
cluster, the pause a failover makes: the master of the centre is killed (SIGKILL) and the
time until a queue operation succeeds again on its promoted replica is measured.

Both servers run on this machine's two cores beside the client: the cluster's six nodes
and the single server share them, so the figures compare round trips and latency, not what
three machines would carry.

    .venv/bin/python -m bench.cluster_bench [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from bench.queue_bench import loadavg, pct, single_redis, timed
from ivr.config.queue_models import AgentSpec, QueueSettings
from ivr.devtools.redis_cluster import LocalRedisCluster
from queueing import keys
from queueing.client import redis_client
from queueing.events import EventJournal
from queueing.queue import QueueRequest, RedisQueue

Counter = Callable[[], dict[int, int]]  # port -> EVALSHA calls so far


def evalsha_calls(ports: list[int]) -> dict[int, int]:
    out = {}
    for port in ports:
        with redis.Redis(port=port) as c:
            stats: dict[str, Any] = c.info("commandstats")
            out[port] = int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
    return out


def delta(after: dict[int, int], before: dict[int, int]) -> dict[int, int]:
    return {p: after[p] - before.get(p, 0) for p in after}


class Floor:
    """One centre's queue with callers waiting and agents paused."""

    def __init__(self, url: str, centre: str) -> None:
        settings = QueueSettings(wrapup_seconds=0, centre=centre)
        self.q = RedisQueue(redis_client(url), settings, server=f"bench-{centre}")
        self.q.journal = EventJournal()
        self.t0 = time.time()
        self.n = 0
        self.calls: dict[str, str] = {}

    def request(self) -> QueueRequest:
        self.n += 1
        return QueueRequest(f"c{self.n}", "138", "12345", "general", 0, self.t0 + self.n / 1000)

    async def fill(self, waiting: int, agents: int) -> list[str]:
        for _ in range(waiting):
            await self.q.enqueue(self.request())
        ids = [f"a{i}" for i in range(agents)]
        for aid in ids:
            await self.q.login(
                AgentSpec(id=aid, name=aid, interface=f"PJSIP/{aid}", skills={"general": 5})
            )
        return ids

    async def cycles(self, deadline: float, workers: int) -> int:
        """Enqueue + complete (next caller handed over) + connect, ``workers`` at once."""
        ids = list(self.calls)
        done = 0

        async def worker(mine: list[str]) -> None:
            nonlocal done
            i = 0
            while time.perf_counter() < deadline:
                aid = mine[i % len(mine)]
                i += 1
                await self.q.enqueue(self.request())
                uid = (await self.q.complete_call(self.calls[aid], aid)).next_call
                await self.q.connect(uid, aid)
                self.calls[aid] = uid
                done += 3

        await asyncio.gather(*(worker(ids[w::workers]) for w in range(workers)))
        if self.q.journal is not None:
            self.q.journal.acknowledged((2**63, 0), inclusive=True)
        return done


async def measure(
    label: str, url: str, ports: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    flush = redis_client(url)
    await flush.flushdb()
    await flush.aclose()
    floor = Floor(url, "hotline")
    ids = await floor.fill(args.waiting, args.agents)
    q = floor.q
    before = evalsha_calls(ports)
    lat: dict[str, list[float]] = {}
    lat["enqueue"] = await timed(lambda: q.enqueue(floor.request()), args.agents)
    lat["assign"] = []
    for aid in ids:
        t = time.perf_counter()
        await q.ready(aid)
        lat["assign"].append(time.perf_counter() - t)
    for aid in ids:
        floor.calls[aid] = (await q.agent(aid)).call
        await q.connect(floor.calls[aid], aid)
    it = iter(ids)

    async def complete_one() -> None:
        aid = next(it)
        floor.calls[aid] = (await q.complete_call(floor.calls[aid], aid)).next_call

    lat["complete"] = await timed(complete_one, len(ids))
    ops = 4 * len(ids)  # enqueue, ready, connect, complete per agent
    per_op = sum(delta(evalsha_calls(ports), before).values()) / ops
    for aid in ids:
        await q.connect(floor.calls[aid], aid)
    rates = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        n = await floor.cycles(t + args.round_seconds, args.concurrency)
        rates.append(n / (time.perf_counter() - t))
    # several centres at once, each on its own hash tag
    floors = [Floor(url, f"centre{i}") for i in range(args.centres)]
    for f in floors:
        for aid in await f.fill(args.concurrency * 2, args.concurrency):
            await f.q.ready(aid)
            f.calls[aid] = (await f.q.agent(aid)).call
            await f.q.connect(f.calls[aid], aid)
    before = evalsha_calls(ports)
    t = time.perf_counter()
    deadline = t + args.round_seconds * args.rounds
    each = max(1, args.concurrency // args.centres)
    done = await asyncio.gather(*(f.cycles(deadline, each) for f in floors))
    spread = delta(evalsha_calls(ports), before)
    many = sum(done) / (time.perf_counter() - t)
    for f in [floor, *floors]:
        await f.q.close()
    return {
        "label": label,
        "lat": lat,
        "per_op": per_op,
        "rate": statistics.median(rates),
        "many": many,
        "spread": spread,
    }


async def failover_pause(cluster: LocalRedisCluster) -> float:
    """Seconds from the SIGKILL of the centre's master to the first queue operation that
    succeeds again (on the promoted replica)."""
    floor = Floor(cluster.url, "hotline")
    await floor.q.enqueue(floor.request())
    master = cluster.master_of(keys.events("hotline"))
    with master.client() as c:
        c.wait(1, 5000)
    t = time.perf_counter()
    cluster.kill(master, signal.SIGKILL)
    while True:
        try:
            await floor.q.wait_info("c1")
            break
        except Exception:
            if time.perf_counter() - t > 60:
                raise
            await asyncio.sleep(0.05)
    pause = time.perf_counter() - t
    await floor.q.close()
    return pause


def report(results: list[dict[str, Any]], args: argparse.Namespace, pause: float) -> None:
    print(f"\n{'':10} {'single Redis':>26}   {'Redis Cluster (3+3)':>26}")
    print(f"{'operation':10} {'p50 ms':>12} {'p99 ms':>12}   {'p50 ms':>12} {'p99 ms':>12}")
    for name in ("enqueue", "assign", "complete"):
        cells = [f"{pct(r['lat'][name], 0.5):12.3f} {pct(r['lat'][name], 0.99):12.3f}"
                 for r in results]  # fmt: skip
        print(f"{name:10} {'   '.join(cells)}")
    single, cluster = results
    print(
        f"round trips per queue operation (EVALSHA calls / ops): single {single['per_op']:.2f}, "
        f"cluster {cluster['per_op']:.2f}"
    )
    print(
        f"queue operations/s, one centre, concurrency {args.concurrency}: single "
        f"{single['rate']:,.0f}, cluster {cluster['rate']:,.0f}"
    )
    print(
        f"queue operations/s, {args.centres} centres at once: single {single['many']:,.0f}, "
        f"cluster {cluster['many']:,.0f}"
    )
    homes = cluster["homes"]
    per_master = ", ".join(
        f"{cluster['spread'][p]:,} ({homes[p]} centres)" for p in sorted(homes, key=homes.get)
    )
    print(
        f"EVALSHA calls per cluster master with {args.centres} centres: {per_master} "
        "(one centre: all on one master)"
    )
    print(f"failover pause (SIGKILL of the centre's master to the next queue op): {pause:.1f} s")


async def run(args: argparse.Namespace) -> int:
    print(f"load average at start: {loadavg()}")
    results = []
    with single_redis() as port:
        results.append(await measure("single", f"redis://127.0.0.1:{port}/0", [port], args))
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalRedisCluster(Path(tmp)).start()
        try:
            masters = [n.port for n in cluster.nodes if n.role() == "master"]
            results.append(await measure("cluster", cluster.url, masters, args))
            homes = [cluster.master_of(keys.events(f"centre{i}")).port for i in range(args.centres)]
            results[-1]["homes"] = {p: homes.count(p) for p in masters}
            pause = await failover_pause(cluster)
        finally:
            cluster.stop()
    report(results, args, pause)
    print(f"load average at the end: {loadavg()}")
    checks = [
        ("one round trip per operation on the cluster", abs(results[1]["per_op"] - 1) < 0.01),
        ("cluster assign p99 < 2 ms", pct(results[1]["lat"]["assign"], 0.99) < 2.0),
        ("failover pause < 10 s", pause < 10.0),
    ]
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--centres", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--round-seconds", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="a short run (the tests run it)")
    args = parser.parse_args()
    if args.quick:
        args.waiting, args.agents, args.rounds, args.round_seconds = 300, 60, 1, 0.3
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
