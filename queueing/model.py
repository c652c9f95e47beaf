"""The operator queue's values: what a caller asks for and gets, what an agent is, what the
reaper found. Plain frozen dataclasses, no Redis: :mod:`queueing.queue` fills them."""

from __future__ import annotations

from dataclasses import dataclass

from queueing.errors import QueueError as QueueError  # re-exported: raised by the queue

# Strict ordering (priority_seconds: null): priority first, then enqueue time in ms.
_PRIORITY_SPAN = 10**13  # larger than any epoch-milliseconds value until the year 2286


@dataclass(frozen=True)
class QueueRequest:
    uniqueid: str
    caller: str
    line: str
    skill: str
    priority: int
    enqueued_at: float  # epoch seconds of the original enqueue

    def score(self, priority_ms: int | None = None) -> int:
        """The place in the queue, lowest first. ``priority_ms`` is what one priority point
        is worth in waiting time; None orders by priority strictly."""
        ms = int(self.enqueued_at * 1000)
        if priority_ms is None:
            return (100 - self.priority) * _PRIORITY_SPAN + ms
        return ms - self.priority * priority_ms


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1 = next to be answered; 0 = being offered to an agent
    resumed: bool  # True when the caller already held this place
    state: str = "waiting"  # waiting, offered, connected
    agent: str = ""
    skill: str = ""


@dataclass(frozen=True)
class Offer:
    """An agent reserved for a caller: dial ``interface``."""

    uniqueid: str
    agent: str
    interface: str


@dataclass(frozen=True)
class AfterCall:
    """The agent once a call is completed: its new state (``wrapup``, ``ready``, ``paused``,
    ``offline``, or ``reserved`` when it was offered its next caller at once) and that next
    caller's uniqueid (``""`` unless reserved)."""

    state: str
    next_call: str


@dataclass(frozen=True)
class CallbackResult:
    """``status``: ``callback`` (``ref`` is this caller), ``merged`` (``ref`` is the pending
    callback of the same number), or the entry's state when it could not become a callback
    (``offered``: an agent was just reserved; ``gone``)."""

    status: str
    ref: str
    position: int

    @property
    def ok(self) -> bool:
        return self.status in ("callback", "merged")


@dataclass(frozen=True)
class CallbackFailure:
    """What became of a callback that did not reach its caller: ``retry`` (back to its place
    later) or ``closed`` (attempts used up: a missed-call task); ``attempts`` so far."""

    state: str
    attempts: int


@dataclass(frozen=True)
class WaitInfo:
    position: int  # 0 when not waiting (offered, connected or gone)
    state: str  # waiting, offered, connected, gone
    skill: str
    agent: str
    staffed: int  # agents logged in and not paused for the skill
    waiting: int
    eta_seconds: float | None  # None when nobody is staffed
    # some agent is logged in for the skill, paused ones included (they come back): the
    # overflow rules' "nobody there" (no_agents) is ``not present``
    present: bool = True


@dataclass(frozen=True)
class AgentState:
    id: str
    name: str
    interface: str
    skills: dict[str, int]
    state: str  # offline, paused, ready, reserved, busy, wrapup
    reason: str
    since: float  # epoch seconds
    call: str  # uniqueid of the caller offered or connected
    pending: str  # pause or logout, after the current call


@dataclass(frozen=True)
class LiveCall:
    """What Redis knew of a call when this server registered it (``call_started``)."""

    server: str  # the server that held the call before this one ("" if new)
    attempt: int  # the attempt number that server registered (0 if new)
    done: bool  # an operator already answered it (or it was otherwise served)
    agent: str  # the agent that answered, "" if none
    # the record of the earlier attempt as that server last stored it (JSON, "" if none): the
    # path before the break, when that server died before it could write the record itself
    snapshot: str = ""


@dataclass(frozen=True)
class LostCall:
    """A live call whose server died and which did not come back: to be closed."""

    uniqueid: str
    server: str
    attempt: int
    done: bool
    snapshot: str  # JSON text the last call_started/call_note stored ("" if none)


@dataclass(frozen=True)
class AgentMirror:
    """A logged-in agent as a server remembers it, to re-create it when Redis forgot."""

    id: str
    name: str
    interface: str
    skills: str  # "a:5,b:3"
    state: str
    reason: str
    idle_since: str  # epoch ms
    call: str


@dataclass(frozen=True)
class TickResult:
    wrapups: int
    logouts: int
    reaped: int
    lost: tuple[LostCall, ...] = ()  # live calls taken by this reaper, to be closed
    epoch: str = ""  # the epoch token in Redis now ("" when not asked)
    forgot: bool = False  # the epoch was missing or not the one asked about: Redis forgot
    agents: tuple[AgentMirror, ...] | None = None  # the logged-in agents, when asked
