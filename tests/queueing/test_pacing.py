"""The queue-wait loop paces itself: a channel that answers every wait at once (a broken
channel, or a peer replying without waiting) cannot make it spin."""

from __future__ import annotations

import asyncio
import time

import pytest

from ivr.config.queue_models import QueueFile, QueueSettings
from ivr.engine.channel import DialResult, RecordResult, wait_paced
from ivr.engine.record import CallRecord
from ivr.errors import AGIHangup
from ivr.queuewait.waiter import RedisQueueWaiter
from queueing.hub import QueueHub
from queueing.queue import QueueRequest

CHUNK = 0.2  # the shortest wait_chunk_seconds queue.yaml allows
RUN = 1.2  # seconds the caller waits before hanging up


class InstantChannel:
    """Answers every command at once; every wait returns ``key`` ("" as a timeout would)."""

    def __init__(self, key: str = "", run: float = RUN) -> None:
        self.key = key
        self.commands = 0
        self.waits = 0
        self.until = time.monotonic() + run

    def _step(self) -> None:
        self.commands += 1
        if time.monotonic() > self.until:
            raise AGIHangup("caller hung up")

    async def answer(self) -> None:
        self._step()

    async def play(self, prompt: str, escape_digits: str = "") -> str:
        self._step()
        return ""

    async def wait_digit(self, timeout: float) -> str:
        self._step()
        self.waits += 1
        return self.key

    async def record(
        self, path: str, fmt: str, escape_digits: str, max_seconds: float, silence_seconds: float
    ) -> RecordResult:
        self._step()
        return RecordResult(f"{path}.{fmt}", "silence")

    async def set_variable(self, name: str, value: str) -> None:
        self._step()

    async def music_on_hold(self, on: bool, moh_class: str = "default") -> None:
        self._step()

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
        self._step()
        return DialResult("NOANSWER")

    async def start_recording(self, path: str) -> None:
        self._step()

    async def evaluate(self, expression: str) -> str:
        self._step()
        return ""


@pytest.mark.parametrize("key", ["", "5"], ids=["timeout-at-once", "ignored-key-at-once"])
async def test_a_channel_answering_every_wait_at_once_does_not_make_the_wait_spin(
    hub: QueueHub, key: str
) -> None:
    options = QueueFile(settings=QueueSettings(wrapup_seconds=0, wait_chunk_seconds=CHUNK))
    waiter = RedisQueueWaiter(hub, options=options, callbacks=False)
    request = QueueRequest("c1", "13800000000", "12345", "general", 0, time.time())
    place = await hub.queue.enqueue(request)
    ch = InstantChannel(key)
    record = CallRecord("c1", "13800000000", "", "12345", "PJSIP/trunk", "v1")
    with pytest.raises(AGIHangup):
        await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)
    # one wait per CHUNK of the RUN seconds (and the music around them), not thousands
    assert 3 <= ch.waits <= RUN / CHUNK + 2, ch.waits
    assert ch.commands <= 4 * (RUN / CHUNK + 2), ch.commands


async def test_wait_paced_returns_a_key_the_loop_acts_on_at_once() -> None:
    ch = InstantChannel("1", run=60)
    t = time.monotonic()
    assert await wait_paced(ch, 0.5, acts_on="1") == "1"
    assert time.monotonic() - t < 0.25
    t = time.monotonic()
    assert await wait_paced(ch, 0.3, acts_on="") == "1"  # ignored: the rest of its interval
    assert time.monotonic() - t >= 0.29
