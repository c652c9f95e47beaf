"""Live notices of the queue over Redis pub/sub: what a desk (an operator's browser) shows the
moment it happens, on whichever hotline server the browser is connected to.

The queue script (:file:`lua/queue.lua`) publishes on the centre's channel
(:func:`queueing.keys.notices`) in the same step as the change it tells, so that no notice
falls between a change and its publication, and it costs no extra round trip:

- ``offer``: a caller (or a callback) is offered to an agent, who is ``reserved`` for it
  (the screen-pop; a caller re-offered after a server failover is offered again);
- ``offer-ended``: that offer ended without an answer: ``reason`` ``noanswer`` (``detail``:
  the Dial status), ``abandon`` (the caller hung up, or its lease expired: ``detail``
  ``hangup`` / ``lease``), an overflow action or ``key`` (the caller left the queue),
  ``lease`` (a callback no dialler took), ``callback`` (the callback did not reach the
  citizen);
- ``connected``: the agent answered (``busy``);
- ``agent``: the agent's state changed: ``ready``, ``paused`` (with its reason), ``wrapup``,
  ``offline`` (with its reason).

Pub/sub delivers to whoever listens at that moment and keeps nothing. A subscriber that lost
Redis gets a ``resync`` notice once it is subscribed again: what it shows may have changed
meanwhile; it reads the current state back (:func:`current_call`: the caller an agent is
offered or talking to, from the agent's hash), as a browser that connects (or reconnects)
does.

Must not import: anything of ``ivr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from queueing import keys
from queueing.client import CLUSTER_SCHEME, cluster_client, cluster_nodes, is_cluster
from queueing.pump import Outage

log = logging.getLogger(__name__)

#: the state an agent is in after each kind of notice (``agent`` notices carry their own)
IMPLIED_STATE = {"offer": "reserved", "connected": "busy"}


@dataclass(frozen=True)
class Notice:
    """One live notice. ``at`` is the queue's clock (epoch seconds) at the change."""

    kind: str  # offer, offer-ended, connected, agent; resync (from the subscriber itself)
    at: float
    agent: str = ""
    uniqueid: str = ""
    state: str = ""  # the agent's state after the change ("" for offer-ended and resync)
    reason: str = ""  # agent: the pause or logout reason; offer-ended: why it ended
    detail: str = ""  # offer-ended: the Dial status or the abandon reason
    skill: str = ""  # offer
    caller: str = ""  # offer
    entry: str = ""  # offer: call | callback


def parse_notice(raw: bytes | str) -> Notice | None:
    """A notice as the script publishes it (TAB-separated: kind, ms, agent, uniqueid, then
    the kind's fields); None for anything else on the channel."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    parts = text.split("\t")
    if len(parts) < 7:
        return None
    kind, ms, agent, uid, a, b, c = parts[:7]
    try:
        at = int(ms) / 1000
    except ValueError:
        return None
    if kind == "offer":
        return Notice(kind, at, agent, uid, "reserved", skill=a, caller=b, entry=c or "call")
    if kind == "offer-ended":
        return Notice(kind, at, agent, uid, reason=a, detail=b)
    if kind == "connected":
        return Notice(kind, at, agent, uid, "busy")
    if kind == "agent":
        return Notice(kind, at, agent, state=a, reason=b)
    return None


@dataclass(frozen=True)
class AgentCall:
    """The caller an agent has right now: ``state`` ``reserved`` (offered, ringing) or
    ``busy`` (talking)."""

    agent: str
    uniqueid: str
    state: str

    @property
    def offered(self) -> bool:
        return self.state == "reserved"


async def current_call(
    client: aioredis.Redis, agent_id: str, centre: str = keys.DEFAULT_CENTRE
) -> AgentCall | None:
    """What ``agent_id`` is offered or talking to now, from its hash (one round trip); None
    when it has no caller. A (re)connecting desk asks this to show the current offer."""
    state, call = await client.hmget(keys.agent(agent_id, centre), ["state", "call"])
    st = _text(state)
    uid = _text(call)
    if st in ("reserved", "busy") and uid:
        return AgentCall(agent_id, uid, st)
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _listener(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url, retry=Retry(NoBackoff(), 0), health_check_interval=15, socket_keepalive=True
    )


class NoticeSubscriber:
    """Subscribes to a centre's notices and yields them (:meth:`notices`), for as long as it
    runs. When Redis goes away (a restart, a failover) it says so once (``HL-QUE-029``),
    subscribes again with back-off (``backoff`` doubling up to ``backoff_max`` seconds),
    says when it works again, and yields a ``resync`` notice.

    One subscriber per process is enough: it fans the notices out to the process's desks.
    Its connection is its own (a client without redis-py's silent retries, which would
    re-subscribe without telling that notices were missed).

    On a Redis Cluster (a ``redis+cluster://`` URL) the script's ``PUBLISH`` reaches the
    subscribers of every node (the cluster bus carries it), so the subscriber listens on one
    seed node of the URL and moves to the next when that one fails; its reads
    (:meth:`current_call`) go through a cluster client."""

    def __init__(
        self,
        url: str,
        centre: str = keys.DEFAULT_CENTRE,
        *,
        backoff: float = 0.1,
        backoff_max: float = 5.0,
        poll: float = 1.0,
        channel: str | None = None,
    ) -> None:
        self.centre = centre
        self.channel = channel or keys.notices(centre)  # another channel: read :meth:`messages`
        if is_cluster(url):
            self.client = cluster_client(url)
            auth = url[len(CLUSTER_SCHEME) :].split("/", 1)[0].rpartition("@")[0]
            at = f"{auth}@" if auth else ""
            self._listeners = [_listener(f"redis://{at}{h}:{p}/0") for h, p in cluster_nodes(url)]
        else:
            self.client = _listener(url)
            self._listeners = [self.client]
        self._turn = 0  # the listener in use (the next one after a failure)
        self.backoff, self.backoff_max, self.poll = backoff, backoff_max, poll
        #: set while subscribed (cleared while Redis is away)
        self.subscribed = asyncio.Event()
        self.outage = Outage("HL-QUE-029", "live notices subscriber")
        self.resubscribed = 0  # times it subscribed again after losing Redis
        self._closed = False

    async def notices(self) -> AsyncIterator[Notice]:
        """Every notice of the centre, until :meth:`close` (then the iteration ends)."""
        async for raw in self.messages():
            if raw is None:
                yield Notice("resync", time.time())
            elif (notice := parse_notice(raw)) is not None:
                yield notice

    async def messages(self) -> AsyncIterator[str | None]:
        """Every message of the channel as text, and None once subscribed again after losing
        Redis (messages were missed), until :meth:`close`."""
        delay = self.backoff
        lost = False
        while not self._closed:
            listener = self._listeners[self._turn % len(self._listeners)]
            pubsub = listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                self.outage.over()
                delay = self.backoff
                if lost:
                    lost = False
                    self.resubscribed += 1
                    yield None
                while not self._closed:
                    msg = await pubsub.get_message(True, timeout=self.poll)
                    if msg is None or msg.get("type") != "message":
                        continue
                    yield _text(msg["data"])
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                if self._closed:
                    break
                lost = True
                self._turn += 1
                self.outage.failed(exc, "subscribing again with back-off; desks miss notices")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
        self.subscribed.clear()

    async def current_call(self, agent_id: str) -> AgentCall | None:
        """:func:`current_call` on this subscriber's connection."""
        return await current_call(self.client, agent_id, self.centre)

    async def close(self) -> None:
        """Stop: :meth:`notices` ends within ``poll`` seconds."""
        self._closed = True
        await self.client.aclose()
        for listener in self._listeners:
            if listener is not self.client:
                await listener.aclose()
