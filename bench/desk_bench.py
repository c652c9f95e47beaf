"""Desk notice benchmark: from the queue's offer to the screen-pop at the operator's socket.

The server is ``hotline serve --queue-wait --http-port`` as deployed (its own process, the
composition root, the SQLite store in its var directory, a real redis-server), on the shipped
config/ (copied) with N bench operators added to agents.yaml, logged in and ready. N desk
WebSockets (``/api/desk/socket?agent=ID``, a supervisor's API token: one per agent) are open
at once, each waiting for its ``hello``. Calls then arrive at a steady rate straight into the
Redis queue (``RedisQueue.enqueue``, as a FastAGI session puts its caller there): the queue's
Lua offers each one to a ready operator and publishes the notice; the server's subscriber
builds the screen-pop (the call's entry, a ticket number reserved from Redis, the caller's
earlier tickets and calls from the database) and sends it to that operator's socket. The
figure is the time from the enqueue (the offer) to the ``offer`` message read by the client
socket, p50 and p99; the caller then hangs up, which frees the operator.

Printed beside it, measured in the same run: the floor, a bare Redis PUBLISH to a subscriber
in this process at the same rate (what pub/sub alone costs), the limit (p99 within a second:
the pop must be up while the operator's phone rings), and the server's CPU per offer.

    .venv/bin/python bench/desk_bench.py            # 200 sockets, 20 calls/s for 30 s
    .venv/bin/python bench/desk_bench.py --quick    # 20 sockets, 10 calls/s for 3 s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fastagi_bench import Deployment, cpu_seconds, free_port, pct  # noqa: E402
from ivr.config.loader import load_config  # noqa: E402
from queueing.queue import QueueRequest, RedisQueue  # noqa: E402

LIMIT_P99_MS = 1000.0  # the pop must be up while the phone rings (it rings for seconds)


def hotline(dep: Deployment, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "ivr.cli", *args], env=dep.env, cwd=ROOT, input=stdin,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"hotline {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def start_server(dep: Deployment) -> tuple[subprocess.Popen[bytes], int]:
    http = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--queue-wait", "--http-port", str(http)],
        env=dict(dep.env, HOTLINE_AGI_PORT=str(free_port())),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(dep.tmp / "serve.log").open("wb"),  # read on a failure
    )
    return proc, http


async def healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("hotline serve --http-port did not come up")
            await asyncio.sleep(0.1)


async def pubsub_floor(url: str, n: int, rate: float) -> list[float]:
    """Bare Redis pub/sub at the same rate: PUBLISH to a subscriber here, in ms."""
    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.subscribe("bench-floor")
    got: list[float] = []

    async def read() -> None:
        while len(got) < n:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                got.append((time.perf_counter() - float(msg["data"])) * 1000)

    reader = asyncio.create_task(read())
    for _ in range(n):
        await client.publish("bench-floor", repr(time.perf_counter()))
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(reader, 10)
    await pubsub.aclose()
    await client.aclose()
    return got


@dataclass
class Served:
    """``hotline serve --http-port`` up on a deployment, its bench operators ready, a
    supervisor's API token, and the queue as the load generator drives it."""

    proc: subprocess.Popen[bytes]
    port: int
    token: str
    queue: RedisQueue
    agents: list[str]


async def serve(dep: Deployment, label: str) -> Served:
    proc, port = start_server(dep)
    try:
        await healthy(port, proc)
        hotline(dep, "user", "add", "bench", "--role", "supervisor", "--password-stdin",
                stdin="bench password 1\n")  # fmt: skip
        token = hotline(dep, "user", "token", "bench", "--label", label).strip()
        await dep.operators_ready()
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise
    bundle = load_config(dep.config)
    queue = RedisQueue.from_url(dep.redis_url, bundle.queue.settings)
    agents = [a.id for a in bundle.agents.agents if a.id.startswith("9")]
    return Served(proc, port, token, queue, agents)


async def run(args: argparse.Namespace) -> int:
    sockets, rate, seconds = (20, 10.0, 3.0) if args.quick else (args.sockets, args.rate, 30.0)
    dep = Deployment.create(agents=sockets)
    proc: subprocess.Popen[bytes] | None = None
    try:
        served = await serve(dep, "desk_bench")
        proc, port, token = served.proc, served.port, served.token
        queue, agents = served.queue, served.agents
        sent: dict[str, float] = {}
        latency: list[float] = []
        arrived: dict[str, asyncio.Event] = {}
        hellos = 0
        headers = {"Authorization": f"Bearer {token}"}
        # no connection limit: every desk keeps its socket open all the run
        session = aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0))

        async def desk(agent: str, ready: asyncio.Event) -> None:
            nonlocal hellos
            url = f"ws://127.0.0.1:{port}/api/desk/socket?agent={agent}"
            async with session.ws_connect(url, heartbeat=None) as ws:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        raise SystemExit(f"desk socket of {agent}: {msg.type.name} {msg.data}")
                    data = json.loads(msg.data)
                    if data["type"] == "hello":
                        hellos += 1
                        if hellos == len(agents):
                            ready.set()
                    elif data["type"] == "offer":
                        uid = data["pop"]["uniqueid"]
                        if uid in sent:
                            latency.append((time.perf_counter() - sent[uid]) * 1000)
                            arrived[uid].set()

        async def heartbeats() -> None:  # as each desk sends them (else the reaper logs out)
            while True:
                for a in agents:
                    await queue.heartbeat(a)
                await asyncio.sleep(5)

        ready = asyncio.Event()
        desks = [asyncio.create_task(desk(a, ready)) for a in agents]
        desks.append(asyncio.create_task(heartbeats()))
        await asyncio.wait_for(ready.wait(), 60)
        floor = await pubsub_floor(dep.redis_url, max(20, int(rate * seconds)), rate)

        async def one(uid: str, caller: str) -> None:
            arrived[uid] = asyncio.Event()
            sent[uid] = time.perf_counter()
            await queue.enqueue(QueueRequest(uid, caller, "12345", "general", 0, time.time()))
            with contextlib.suppress(TimeoutError):  # counted as lost
                await asyncio.wait_for(arrived[uid].wait(), 10)
            await queue.abandon(uid)  # the caller hangs up: the operator is free again

        calls = int(rate * seconds)
        cpu0 = cpu_seconds(proc.pid)
        started = time.monotonic()
        tasks = []
        for i in range(calls):
            caller = f"1390471{i % 500:04d}"
            tasks.append(asyncio.create_task(one(f"desk-bench-{i}", caller)))
            await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))
        await asyncio.gather(*tasks)
        cpu = cpu_seconds(proc.pid) - cpu0
        for t in desks:
            t.cancel()
        await asyncio.gather(*desks, return_exceptions=True)
        await session.close()
        await queue.close()
        lost = calls - len(latency)
        p50, p99 = pct(latency, 0.5), pct(latency, 0.99)
        print(f"desk notices: {len(agents)} sockets open, {calls} calls at {rate:g}/s "
              f"through hotline serve --http-port")  # fmt: skip
        print(f"  offer -> socket   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   "
              f"max {max(latency, default=float('nan')):7.1f} ms   {lost} lost")  # fmt: skip
        print(f"  bare Redis pub/sub p50 {pct(floor, 0.5):6.2f} ms   p99 {pct(floor, 0.99):6.2f} ms"
              "   (the floor, same rate)")  # fmt: skip
        print(f"  limit             p99 {LIMIT_P99_MS:7.0f} ms   "
              f"({'met' if p99 <= LIMIT_P99_MS and not lost else 'MISSED'})")  # fmt: skip
        print(
            f"  server CPU per offer {cpu / max(calls, 1) * 1000:6.2f} ms "
            "(the pop, its socket, and the call's queue events to the database)"
        )
        return 0 if p99 <= LIMIT_P99_MS and not lost else 1
    except BaseException:
        log = dep.tmp / "serve.log"
        if log.exists():
            print("hotline serve's log, its end:", file=sys.stderr)
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        dep.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (seconds)")
    parser.add_argument("--sockets", type=int, default=200, help="operator sockets (200)")
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second (20)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
