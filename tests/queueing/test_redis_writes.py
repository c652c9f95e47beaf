"""The queue's Redis connections write a command without a task of its own
(:class:`queueing.client._RedisConnection`): redis-py's ``asyncio.wait_for`` per write cost a task
and a timer per command, and may swallow a cancel (CPython gh-86296). A write that stalls
still times out as redis-py's ``TimeoutError``, and the connection is dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError

from queueing import client as client_module
from queueing.client import redis_client


async def test_commands_are_written_without_wait_for(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if redis_url.startswith("redis+cluster"):
        pytest.skip("the cluster client keeps redis-py's connections")
    r = redis_client(redis_url)
    calls: list[object] = []
    real = asyncio.wait_for

    async def counted(fut: Any, timeout: float | None) -> Any:
        calls.append(fut)
        return await real(fut, timeout)

    monkeypatch.setattr(asyncio, "wait_for", counted)
    try:
        await r.set("hl-test-writes", "1")
        assert await r.get("hl-test-writes") == b"1"
        pool = r.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        assert isinstance(connection, client_module._RedisConnection)
        assert connection.socket_timeout == 5  # the read timeout stands
        await pool.release(connection)
    finally:
        await r.delete("hl-test-writes")
        await r.aclose()
    assert calls == []


async def test_a_stalled_write_times_out_and_drops_the_connection(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if redis_url.startswith("redis+cluster"):
        pytest.skip("the cluster client keeps redis-py's connections")
    r = redis_client(redis_url + "?socket_timeout=0.3")
    stalled = asyncio.Event()

    async def stall(self: object, command: Iterable[bytes]) -> None:
        stalled.set()
        await asyncio.Event().wait()  # a peer that never reads

    try:
        await r.ping()
        connection = await r.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        monkeypatch.setattr(client_module._RedisConnection, "_send_packed_command", stall)
        with pytest.raises(RedisTimeoutError, match="Timeout writing to socket"):
            await connection.send_command("PING")
        assert stalled.is_set()
        assert not connection.is_connected
        assert connection.socket_timeout == 0.3
        monkeypatch.undo()
        await r.connection_pool.release(connection)
        assert await r.ping()  # the next command goes on a fresh connection
    finally:
        await r.aclose()
