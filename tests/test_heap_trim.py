"""Freed heap pages handed back while the server runs (ivr.compose.heap): glibc's
malloc_trim is found and runs; the trimmer calls it on its interval and stops cleanly."""

from __future__ import annotations

import asyncio

from ivr.compose.heap import HeapTrimmer, malloc_trim


def test_glibc_malloc_trim_is_found_and_runs() -> None:
    trim = malloc_trim()
    assert trim is not None  # Debian: glibc
    assert trim(0) in (0, 1)  # 1: memory was released


async def test_the_trimmer_trims_on_its_interval_until_stopped() -> None:
    trimmer = HeapTrimmer(every=0.02)
    trimmer.start()
    deadline = asyncio.get_running_loop().time() + 10
    while trimmer.trims < 3:
        assert asyncio.get_running_loop().time() < deadline, "no trim within 10 s"
        await asyncio.sleep(0.01)
    await trimmer.stop()
    done = trimmer.trims
    await asyncio.sleep(0.1)
    assert trimmer.trims == done


async def test_without_malloc_trim_nothing_runs() -> None:
    trimmer = HeapTrimmer(every=0.01)
    trimmer.trim = None  # a C library without it (musl)
    trimmer.start()
    await asyncio.sleep(0.05)
    assert trimmer.trims == 0
    await trimmer.stop()
