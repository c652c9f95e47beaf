"""What the Redis queue reads of its options: small interfaces, and the defaults.

The admin files (``queue.yaml``, ``agents.yaml``) are read and validated by ``ivr.config``
(:mod:`ivr.config.queue_models`); its validated models satisfy these interfaces as they are,
so the queue takes them without a copy. :class:`PlainQueueOptions` holds the defaults of
queue.yaml's ``settings`` for a queue built without a config (tools, tests); a test checks
that they are those of ``ivr.config``.

Must not import: anything of ``ivr`` (nor the rest of ``queueing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class QueueOptions(Protocol):
    """queue.yaml ``settings`` as the queue and the hub read them (read only)."""

    @property
    def centre(self) -> str: ...  # the Redis hash tag of this queue
    @property
    def timezone(self) -> str: ...  # where "today" of the metrics is
    @property
    def wrapup_seconds(self) -> float: ...
    @property
    def lease_seconds(self) -> float: ...
    @property
    def heartbeat_seconds(self) -> float: ...
    @property
    def tick_seconds(self) -> float: ...
    @property
    def service_level_seconds(self) -> float: ...
    @property
    def default_handle_seconds(self) -> float: ...
    def priority_ms(self) -> int | None:
        """What one priority point is worth in waiting time; None: strict priority."""
        ...


@dataclass(frozen=True)
class PlainQueueOptions:
    """:class:`QueueOptions` with queue.yaml's defaults (no validation: a queue built
    without a config)."""

    centre: str = "hotline"
    timezone: str = "Asia/Shanghai"
    priority_seconds: float | None = 6.0
    wrapup_seconds: float = 10.0
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 60.0
    tick_seconds: float = 1.0
    service_level_seconds: float = 15.0
    default_handle_seconds: float = 180.0

    def priority_ms(self) -> int | None:
        return None if self.priority_seconds is None else int(self.priority_seconds * 1000)


class AgentProfile(Protocol):
    """An agent of agents.yaml as the queue logs it in."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def interface(self) -> str: ...  # Asterisk dial string
    def skills_arg(self) -> str:
        """``skill:level,...`` as the Lua script takes it."""
        ...


class DiallerOptions(Protocol):
    """queue.yaml ``dialler`` as the callback dialler reads it."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def secret(self) -> str: ...  # env:NAME or file:/path
    @property
    def context(self) -> str: ...
    @property
    def caller_id(self) -> str: ...
    @property
    def ring_timeout(self) -> float: ...
    @property
    def citizen_ring_timeout(self) -> float: ...
    @property
    def max_call_seconds(self) -> float: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def retry_after_seconds(self) -> float: ...
