"""Wallboard benchmark: what 50 wall screens cost the server while calls come at 20/s.

The server is ``hotline serve --queue-wait --http-port`` as deployed (its own process, the
SQLite store, a real redis-server) on the shipped config with bench operators added, logged
in and ready. Calls are put into the Redis queue at a steady rate (``RedisQueue.enqueue``, as a
FastAGI session does), offered to an operator at once, answered (CONNECT) and completed, so
that every call makes queue notices. The same load runs twice in one run: with no wallboard
connected (the peer: the server's CPU for the calls alone), then with N wallboard sockets
(a supervisor's API token). Printed: boards received per second per socket, the server's CPU
per second in each round, and the difference per board built (the board is built once and
sent to every socket). The limit: a wallboard costs at most 10 % of one core.

    .venv/bin/python bench/wallboard_bench.py            # 50 boards, 20 calls/s, 20 s a round
    .venv/bin/python bench/wallboard_bench.py --quick    # 5 boards, 10 calls/s, 3 s a round
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.desk_bench import serve  # noqa: E402
from bench.fastagi_bench import Deployment, cpu_seconds  # noqa: E402
from queueing.queue import QueueRequest, RedisQueue  # noqa: E402

LIMIT_CORE_SHARE = 0.10


async def load(queue: RedisQueue, rate: float, seconds: float, tag: str) -> int:
    """Calls at ``rate`` for ``seconds``: each offered, answered and completed at once."""
    calls = int(rate * seconds)
    started = time.monotonic()
    for i in range(calls):
        uid = f"wb-{tag}-{i}"
        caller = f"1390471{i % 999:04d}"
        place = await queue.enqueue(QueueRequest(uid, caller, "12345", "general", 0, time.time()))
        agent = place.agent
        if agent:
            await queue.connect(uid, agent)
            await queue.complete(uid, agent, "caller")
        else:
            await queue.abandon(uid)
        await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))
    return calls


async def run(args: argparse.Namespace) -> int:
    boards, rate, seconds = (5, 10.0, 3.0) if args.quick else (args.boards, args.rate, 20.0)
    dep = Deployment.create(agents=40)
    proc = None
    try:
        served = await serve(dep, "wallboard_bench")
        proc, port, token, queue = served.proc, served.port, served.token, served.queue

        t0, cpu0 = time.monotonic(), cpu_seconds(proc.pid)
        await load(queue, rate, seconds, "alone")
        alone = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)

        received = [0] * boards
        session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"},
                                        connector=aiohttp.TCPConnector(limit=0))  # fmt: skip

        async def board(i: int, ready: asyncio.Event) -> None:
            url = f"ws://127.0.0.1:{port}/api/wallboard/socket"
            async with session.ws_connect(url) as ws:
                async for msg in ws:
                    if (
                        msg.type == aiohttp.WSMsgType.TEXT
                        and json.loads(msg.data)["type"] == "board"
                    ):
                        received[i] += 1
                        if all(received):
                            ready.set()

        ready = asyncio.Event()
        screens = [asyncio.create_task(board(i, ready)) for i in range(boards)]
        await asyncio.wait_for(ready.wait(), 30)
        received[:] = [0] * boards
        t0, cpu0 = time.monotonic(), cpu_seconds(proc.pid)
        await load(queue, rate, seconds, "boards")
        took = time.monotonic() - t0
        with_boards = (cpu_seconds(proc.pid) - cpu0) / took
        for t in screens:
            t.cancel()
        await asyncio.gather(*screens, return_exceptions=True)
        await session.close()
        await queue.close()
        per_socket = sum(received) / boards / took
        extra = max(0.0, with_boards - alone)
        ok = extra <= LIMIT_CORE_SHARE
        print(f"wallboard: {boards} boards connected, calls at {rate:g}/s, {took:.0f} s a round")
        print(f"  boards received      {per_socket:6.2f} /s per socket "
              f"({sum(received) / took:,.0f} messages/s in all)")  # fmt: skip
        print(f"  server CPU, no board {alone * 100:6.1f} % of a core (the calls alone: peer)")
        print(f"  server CPU, {boards} boards {with_boards * 100:6.1f} % of a core")
        print(f"  the boards' cost     {extra * 100:6.1f} % of a core, "
              f"{extra / max(per_socket, 1e-9) * 1000:.2f} ms CPU per board built   "
              f"limit {LIMIT_CORE_SHARE * 100:.0f} %  {'OK' if ok else 'MISSED'}")  # fmt: skip
        return 0 if ok else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        dep.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run (seconds)")
    parser.add_argument("--boards", type=int, default=50, help="wallboards connected (50)")
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second (20)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
