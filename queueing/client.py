"""The connection to the Redis queue: the one Lua script (:file:`lua/queue.lua`) run by
``EVALSHA`` (loaded again when Redis restarted), the clock and the local day of the metrics,
the memory of what became of this process's callers. :class:`~queueing.queue.RedisQueue`
builds on it, through :class:`~queueing.recovery.Housekeeping`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Self, cast
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    NoScriptError,
    RedisClusterException,
    RedisClusterUnreachableError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queueing import keys
from queueing.errors import QueueError
from queueing.events import EventJournal
from queueing.options import PlainQueueOptions, QueueOptions

#: Redis connections a process may hold at once. When all are busy a command waits for one
#: (up to ``POOL_WAIT_SECONDS``) instead of failing: redis-py's default pool refuses the
#: 101st concurrent command with "Too many connections", which 200 desks reconnecting at
#: once (or a burst of callers) reach (bench/desk_bench.py found it).
POOL_CONNECTIONS = 256
POOL_WAIT_SECONDS = 5.0
#: Connections per cluster node. redis-py's cluster client refuses a command when all are
#: busy (MaxConnectionsError) rather than waiting as the single client's pool does: room for
#: bursts (desks reconnecting at once) four times the single pool.
CLUSTER_CONNECTIONS = 4 * POOL_CONNECTIONS
_FATE_MAX = 20_000  # callers whose fate is remembered (see RedisQueue.fate)


@dataclass
class LiveMemo:
    """A live call registered by this process (call_started), as it last told Redis."""

    attempt: int
    snapshot: str
    done: bool
    agent: str


def _script(name: str) -> str:
    return resources.files("queueing").joinpath("lua", name).read_text()


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def default_server_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


#: The URL scheme of a Redis Cluster: ``redis+cluster://host:port,host:port,...`` (any
#: nodes of it; the client learns the others and which serves which slot). The nodes may
#: also be joined by ``+``: the dialplan's process-AGI arguments cannot hold a comma.
CLUSTER_SCHEME = "redis+cluster://"


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def _netloc(url: str) -> tuple[str, str]:
    """``user:password`` (or "") and the nodes of a ``redis+cluster://`` URL."""
    rest = url[len(CLUSTER_SCHEME) :].split("/", 1)[0]
    creds, _, nodes = rest.rpartition("@")
    return creds, nodes


def cluster_auth(url: str) -> tuple[str | None, str | None]:
    """``username`` / ``password`` of a ``redis+cluster://user:password@...`` URL (Redis's
    ``requirepass``: ``redis+cluster://:PASSWORD@host:port,...``), for every node."""
    user, _, password = _netloc(url)[0].partition(":")
    return (unquote(user) or None, unquote(password) or None)


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The seed nodes of a ``redis+cluster://`` URL (a path such as ``/0`` is ignored: a
    cluster has one database)."""
    rest = _netloc(url)[1]
    out = []
    for part in rest.replace("+", ",").split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise QueueError(f"not host:port in the Redis Cluster URL: {part!r}", code="HL-CLU-010")
        out.append((host.strip("[]"), int(port)))
    return out


#: what a cluster says while it cannot serve a slot: no node reachable, a slot without a
#: master (``CLUSTERDOWN``), a slot moving (``TRYAGAIN``), a master gone (``MASTERDOWN``)
_CLUSTER_AWAY = (RedisClusterUnreachableError, ClusterDownError, TryAgainError, MasterDownError)


class _Cluster(RedisCluster):
    """redis-py's asyncio RedisCluster whose "cluster away" errors are connection errors, as
    a single Redis's are: every path of the hotline that waits out a Redis outage (music on,
    503 for the desks, the hub's loops) takes a failover the same way. Other cluster errors
    (a cross-slot command: a bug) stay as they are."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except _CLUSTER_AWAY as exc:
            raise RedisConnectionError(f"Redis Cluster unavailable: {exc}") from exc


class _RedisConnection(aioredis.Connection):
    """redis-py's connection, writing a command without a task of its own. With a socket
    timeout set (redis-py 8 sets 5 s by default) redis-py wraps every write in
    ``asyncio.wait_for``, which on Python 3.11 makes a task and a timer per command (about
    3 % of the server's CPU per call, issue 13) and may swallow a cancel that lands as the
    write ends (CPython gh-86296: a stopping loop then runs on). Here the write runs under
    ``asyncio.timeout`` in the caller's task; a timeout is still redis-py's
    ``TimeoutError`` (the connection dropped, the command retried as before). Reads keep
    redis-py's own timeout."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        timeout = self.socket_timeout
        if not timeout:
            await super().send_packed_command(command, check_health)
            return
        self.socket_timeout = None  # redis-py's wait_for is skipped when there is none
        try:
            async with asyncio.timeout(timeout):
                await super().send_packed_command(command, check_health)
        except TimeoutError:  # asyncio's: redis-py dropped the connection on the cancel
            raise RedisTimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout


def cluster_client(url: str) -> aioredis.Redis:
    """A Redis Cluster client (redis-py's asyncio RedisCluster) for a ``redis+cluster://``
    URL. Every key of a centre carries the centre's hash tag (:mod:`queueing.keys`), so every
    script, pipeline and multi-key command of the queue goes to one node. A command that hits
    a node that died is sent again after the client re-reads the cluster's slots (a failover
    takes a few seconds: the retries back off for about that long). Typed as a plain client:
    it answers the same commands."""
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), 8)
    nodes = [ClusterNode(host, port) for host, port in cluster_nodes(url)]
    username, password = cluster_auth(url)
    client = _Cluster(
        startup_nodes=nodes,
        retry=retry,
        max_connections=CLUSTER_CONNECTIONS,
        socket_timeout=POOL_WAIT_SECONDS,
        socket_connect_timeout=1.0,
        username=username,
        password=password,
    )
    return cast(aioredis.Redis, client)


def redis_client(url: str) -> aioredis.Redis:
    """A client for ``url`` as the queue uses it. A command on a pooled connection that a
    Redis restart broke is sent again on a fresh one (redis-py's from_url retries nothing):
    after a restart the first request of each connection does not fail. Busy connections
    make a command wait (:data:`POOL_CONNECTIONS`), not fail. A ``redis+cluster://`` URL
    gives a cluster client (:func:`cluster_client`)."""
    if is_cluster(url):
        return cluster_client(url)
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 3)
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        connection_class=_RedisConnection,  # rediss:// and unix:// keep redis-py's own
    )
    return aioredis.Redis(connection_pool=pool)


@dataclass
class QueueClient:
    """The queue's connection and clock (the base of :class:`~queueing.queue.RedisQueue`)."""

    client: aioredis.Redis
    settings: QueueOptions = field(default_factory=PlainQueueOptions)
    clock: Callable[[], float] = time.time
    server: str = field(default_factory=default_server_id)

    #: events this process wrote, until the sink has them (set by the hub that pumps them)
    journal: EventJournal | None = None

    def __post_init__(self) -> None:
        # an agent was logged in, readied, paused or logged out through this client: the
        # hub refreshes its mirror of the operators at its next tick, not a few seconds later
        self.agents_changed = False
        self.live: dict[str, LiveMemo] = {}  # live calls registered here (call_started)
        # what became of callers this process handled: "closed" (completed, abandoned, left,
        # callback) or "skill:NAME" (moved), so that a re-assertion after Redis forgot does
        # not bring a closed caller back, and puts a moved one in its new skill
        self.fate: OrderedDict[str, str] = OrderedDict()
        self.centre = self.settings.centre
        self.base = keys.base(self.centre)
        self.events_key = keys.events(self.centre)
        self._tz = ZoneInfo(self.settings.timezone)
        self._lua = keys.LUA_PRELUDE + _script("queue.lua")
        self._sha = hashlib.sha1(self._lua.encode()).hexdigest()
        self._shard = ""  # the Redis Cluster node serving the centre, as last seen ("" single)
        # today's date string, valid while the clock is in [_day_from, _day_until)
        self._day = ""
        self._day_from = self._day_until = 0.0

    @classmethod
    def from_url(cls, url: str, settings: QueueOptions | None = None) -> Self:
        """The queue on a client of :func:`redis_client`."""
        return cls(redis_client(url), settings or PlainQueueOptions())

    async def close(self) -> None:
        await self.client.aclose()

    # -- plumbing -------------------------------------------------------------------------

    def shard(self) -> str:
        """The Redis Cluster master serving the centre's hash tag as the client knows it now
        (``host:port``); "" on a single Redis. No round trip: the client re-reads the slots
        after a command met a node that died or a slot that moved."""
        find = getattr(self.client, "get_node_from_key", None)
        if find is None:
            return ""
        try:
            node = find(self.events_key)
        except RedisClusterException:  # the slot has no master right now: as last seen
            return self._shard
        return "" if node is None else str(node.name)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def today(self) -> str:
        return self._today(self.clock())

    def _today(self, t: float) -> str:
        """The local date at epoch ``t`` (YYYY-MM-DD), worked out once a day: the string is
        kept until the next local midnight."""
        if self._day_from <= t < self._day_until:
            return self._day
        day = dt.datetime.fromtimestamp(t, self._tz).date()
        start = dt.datetime.combine(day, dt.time(), self._tz).timestamp()
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self._tz).timestamp()
        self._day = day.isoformat()
        if self._date(start) == day and self._date(end) != day and self._date(end - 0.001) == day:
            self._day_from, self._day_until = start, end
        else:  # the clocks changed around midnight and the bounds are off: no shortcut
            self._day_from = self._day_until = 0.0
        return self._day

    def _date(self, t: float) -> dt.date:
        return dt.datetime.fromtimestamp(t, self._tz).date()

    async def _call(self, op: str, *args: str | int | float) -> Any:
        t = self.clock()
        now_ms = int(t * 1000)
        argv = (self.events_key, self.base, op, now_ms, self._today(t), *args)
        try:
            try:
                reply = await self.client.evalsha(self._sha, 1, *argv)
            except NoScriptError:  # a restarted or flushed server: load it and go on
                self._sha = await self.client.script_load(self._lua)
                reply = await self.client.evalsha(self._sha, 1, *argv)
        except ResponseError as exc:
            text = str(exc)
            if text.startswith("HL-QUE-"):
                code, _, message = text.partition(" ")
                raise QueueError(message, code=code) from None
            raise
        # {events, result}: the events this operation appended to the stream
        if reply[0] and self.journal is not None:
            self.journal.add(now_ms, reply[0])
        return reply[1] if len(reply) > 1 else None

    def _fated(self, uniqueid: str, fate: str = "closed") -> None:
        self.fate[uniqueid] = fate
        self.fate.move_to_end(uniqueid)
        if len(self.fate) > _FATE_MAX:
            self.fate.popitem(last=False)

    @staticmethod
    def _ms(seconds: float) -> int:
        return int(seconds * 1000)
