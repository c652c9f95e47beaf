"""HotlineService.stop past its limit ends the calls still going, even one whose first
cancel is swallowed (as a cancel landing in a redis-py call can be): the server's stop
does not wait for ever."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.hotline import HotlineService


async def test_a_call_still_going_after_the_limit_is_ended_even_if_it_swallows_a_cancel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    swallowed = 0

    async def a_call_that_rides_out_one_cancel() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # a cancel turned into an error the waiter retries

    service = HotlineService(None, None, None)  # type: ignore[arg-type]
    call = asyncio.create_task(a_call_that_rides_out_one_cancel())
    service._sessions["1790000001.1"] = call
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(service.stop(menu_grace=10, limit=0.05), 10)
    assert call.cancelled() and swallowed == 1
    assert "HL-SRV-012" in caplog.text
