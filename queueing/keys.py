"""Every Redis key the hotline uses, in one place.

Keys of one queue share the hash tag ``{q:SKILL}``, so that a Lua script touching several of
them runs on one Redis Cluster slot.
"""

from __future__ import annotations

PREFIX = "hotline"


def tag(skill: str) -> str:
    return f"{{q:{skill}}}"


def waiting(skill: str) -> str:
    """Sorted set of waiting callers' uniqueids, scored by priority then enqueue time."""
    return f"{PREFIX}:{tag(skill)}:waiting"


def entry(skill: str, uniqueid: str) -> str:
    """Hash with one waiting caller's details (caller, line, priority, enqueue time, ...)."""
    return f"{PREFIX}:{tag(skill)}:entry:{uniqueid}"
