"""Stopping a background task for good.

A cancel that lands inside a redis-py call can be swallowed (seen with redis-py 8.2 under
load: the phone watch's loop went on probing after its cancel, and its ``stop()`` waited for
ever; a cancel turned into an error that a loop riding out Redis outages catches and retries
looks the same). So a task is cancelled again until it ends; the loops also check a closing
flag of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

#: Seconds a cancelled task has to end (its own clean-up) before it is cancelled again.
RECANCEL_SECONDS = 1.0


async def stop_task(task: asyncio.Task[Any] | None, again: float = RECANCEL_SECONDS) -> None:
    """Cancels ``task`` and waits until it has ended, cancelling it again every ``again``
    seconds while it runs on. What it ended with (its cancel, an error) is not raised: a
    background task being stopped has nothing more to say to the one stopping it."""
    if task is None or task is asyncio.current_task():
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=again)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
