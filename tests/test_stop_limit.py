"""HotlineService.stop past its limit ends the calls still going, even one whose first
cancel is swallowed (as a cancel landing in a redis-py call can be): the server's stop
does not wait for ever."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.hotline import HotlineService
from tests.queueing.test_stopping import SwallowsCancels


async def test_a_call_still_going_after_the_limit_is_ended_even_if_it_swallows_a_cancel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = HotlineService(None, None, None)  # type: ignore[arg-type]
    call_loop = SwallowsCancels(1)
    call = asyncio.create_task(call_loop.run())
    service._sessions["1790000001.1"] = call
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(service.stop(menu_grace=10, limit=0.05), 10)
    assert call.cancelled() and call_loop.swallowed == 1
    assert "HL-SRV-012" in caplog.text
