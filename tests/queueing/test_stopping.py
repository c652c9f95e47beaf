"""queueing/stopping.py: a background task is stopped for good even when a cancel is
swallowed inside the call it was in (as one landing in a redis-py call under load was)."""

from __future__ import annotations

import asyncio

from queueing.stopping import stop_task


class SwallowsCancels:
    """A loop that rides out its first ``times`` cancels (what a cancel turned into an error
    the loop retries looks like), then ends on the next."""

    def __init__(self, times: int) -> None:
        self.times, self.swallowed = times, 0

    async def run(self) -> None:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if self.swallowed == self.times:
                    raise
                self.swallowed += 1


async def test_a_loop_that_swallows_a_cancel_is_cancelled_again_until_it_ends() -> None:
    loop = SwallowsCancels(2)
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.02)
    await asyncio.wait_for(stop_task(task, again=0.05), 5)
    assert task.cancelled() and loop.swallowed == 2


async def test_a_task_that_ended_with_an_error_is_stopped_quietly() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await stop_task(task)
    await stop_task(None)
    assert isinstance(task.exception(), RuntimeError)


async def test_a_task_is_given_time_for_its_clean_up_before_it_is_cancelled_again() -> None:
    cleaned = asyncio.Event()

    async def cleans_up() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.2)  # shorter than `again`: not interrupted
            cleaned.set()

    task = asyncio.create_task(cleans_up())
    await asyncio.sleep(0)
    await stop_task(task, again=1.0)
    assert cleaned.is_set()
