"""Every Redis key the hotline queue uses, in one place, for Python and for Lua.

All keys of one call centre (``centre``, default ``hotline``) share the hash tag
``{q:CENTRE}``, so that every Lua script of the queue runs on one Redis Cluster slot. One tag
per centre, not per skill, is deliberate: an agent with several skills is offered callers of
all of them, and taking the agent out of every skill's ready set must happen in the same
atomic script as taking the caller. Separate centres (another city, a training floor) get
separate tags and can live on separate shards.

:data:`LUA_PRELUDE` defines the same names for the Lua scripts (``K.waiting(skill)`` ...);
each script gets the centre's base prefix as ``ARGV[1]`` and the events stream as ``KEYS[1]``
(so that a cluster client routes the call to the right shard).
"""

from __future__ import annotations

PREFIX = "hotline"
DEFAULT_CENTRE = "hotline"


def tag(centre: str = DEFAULT_CENTRE) -> str:
    return f"{{q:{centre}}}"


def base(centre: str = DEFAULT_CENTRE) -> str:
    """The prefix every key of the centre starts with."""
    return f"{PREFIX}:{tag(centre)}:"


def waiting(skill: str, centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set of waiting callers' uniqueids, scored by the ordering rule (lowest first)."""
    return f"{base(centre)}waiting:{skill}"


def arrivals(skill: str, centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set of waiting callers by original enqueue time (ms): the longest wait."""
    return f"{base(centre)}arrivals:{skill}"


def entry(uniqueid: str, centre: str = DEFAULT_CENTRE) -> str:
    """Hash of one queued caller (caller, line, skill, priority, enqueue time, state ...)."""
    return f"{base(centre)}entry:{uniqueid}"


def leases(centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set uniqueid -> lease deadline (ms), renewed by the session that holds it."""
    return f"{base(centre)}leases"


def skills(centre: str = DEFAULT_CENTRE) -> str:
    """Set of every skill a caller or an agent has used (for metrics)."""
    return f"{base(centre)}skills"


def agent(agent_id: str, centre: str = DEFAULT_CENTRE) -> str:
    """Hash of one agent: name, interface, skills, state, reason, idle_since ..."""
    return f"{base(centre)}agent:{agent_id}"


def agents(centre: str = DEFAULT_CENTRE) -> str:
    """Set of logged-in agents."""
    return f"{base(centre)}agents"


def ready(skill: str, centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set of ready agents for a skill, best level first, then longest idle."""
    return f"{base(centre)}ready:{skill}"


def staffed(skill: str, centre: str = DEFAULT_CENTRE) -> str:
    """Set of agents staffed for a skill (logged in and not paused), for the wait estimate."""
    return f"{base(centre)}staffed:{skill}"


def heartbeats(centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set agent -> heartbeat deadline (ms)."""
    return f"{base(centre)}heartbeats"


def wrapup(centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set agent -> end of wrap-up (ms)."""
    return f"{base(centre)}wrapup"


def inbox(server: str, centre: str = DEFAULT_CENTRE) -> str:
    """List of offers (``uniqueid TAB agent TAB interface``) for one FastAGI server process."""
    return f"{base(centre)}inbox:{server}"


def callbacks(centre: str = DEFAULT_CENTRE) -> str:
    """List of callback offers (``uniqueid TAB agent TAB interface``) for the diallers."""
    return f"{base(centre)}callbacks"


def callback_callers(centre: str = DEFAULT_CENTRE) -> str:
    """Hash caller number -> uniqueid of its pending callback (one callback per number)."""
    return f"{base(centre)}cbcallers"


def callback_retries(centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set uniqueid -> when (ms) a callback that did not reach its caller is due again;
    it then goes back to its place in the waiting set (its original score)."""
    return f"{base(centre)}cbretry"


def diallers(centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set server -> until when (ms) its callback dialler is logged in to AMI."""
    return f"{base(centre)}diallers"


def events(centre: str = DEFAULT_CENTRE) -> str:
    """Stream of queue events, read by the event pump into the event sink."""
    return f"{base(centre)}events"


def stats(day: str, centre: str = DEFAULT_CENTRE) -> str:
    """Hash of one day's counters per skill (``SKILL:offered`` ...); day is YYYY-MM-DD."""
    return f"{base(centre)}stats:{day}"


def epoch(centre: str = DEFAULT_CENTRE) -> str:
    """String: a random token set once by the first server that finds it missing. A server
    that finds it gone (Redis restarted without persistence, FLUSHALL, a failover that lost
    writes) or changed knows Redis forgot, and re-asserts what it knows."""
    return f"{base(centre)}epoch"


def reaper_at(centre: str = DEFAULT_CENTRE) -> str:
    """String: when (ms) a reaper last ran. A long gap means every server was away: heartbeats
    missed meanwhile are not held against the agents."""
    return f"{base(centre)}reaper_at"


def calls(centre: str = DEFAULT_CENTRE) -> str:
    """Sorted set uniqueid -> lease deadline (ms) of every call a hotline server is serving
    (in the menu, waiting, talking, in the survey), renewed by that server."""
    return f"{base(centre)}calls"


def call(uniqueid: str, centre: str = DEFAULT_CENTRE) -> str:
    """Hash of one call in progress: server, attempt, done, the record so far (JSON); what
    another server needs to close it (``server-lost``) when its own server died."""
    return f"{base(centre)}call:{uniqueid}"


def ticket_counter(day: str, centre: str = DEFAULT_CENTRE) -> str:
    """Hash of the ticket numbers handed out on ``day`` (YYYYMMDD): the block claimed from the
    database (``next`` .. ``limit``) and the one claimed ahead (``nlimit``); expires after 3
    days (ivr/records/ticketno.py)."""
    return f"{base(centre)}ticketseq:{day}"


def ticket_numbers(centre: str = DEFAULT_CENTRE) -> str:
    """Hash uniqueid -> the ticket number reserved for that call (so a call keeps its number
    across re-offers and failover)."""
    return f"{base(centre)}ticketno"


def notices(centre: str = DEFAULT_CENTRE) -> str:
    """Pub/sub channel of the centre's live notices (offers, their end, answers, agent
    states), published by the queue script in the step that made the change
    (:mod:`queueing.notices`). A channel, not a key: nothing is stored, and in Redis Cluster
    a PUBLISH reaches the subscribers of every node (docs/queue.md)."""
    return f"{base(centre)}notices"


def config_saves(centre: str = DEFAULT_CENTRE) -> str:
    """Pub/sub channel of the admin console's saves (:mod:`ivr.configsync`): the server that
    took a save publishes the database row's id, every server reads the rows newer than the
    ones it applied. A channel, not a key: the record is the database's ``config_saves``."""
    return f"{base(centre)}config-saves"


def transfer(uniqueid: str, centre: str = DEFAULT_CENTRE) -> str:
    """Hash of an operator's transfer of one call (:mod:`queueing.transfer`): mode, target,
    agent, the operator's and the third party's channels; expires after a day."""
    return f"{base(centre)}transfer:{uniqueid}"


def transfer_legs(uniqueid: str, centre: str = DEFAULT_CENTRE) -> str:
    """List of the legs of a call's transfer (JSON: at, kind, detail), written by the
    transfer service and read into the call record by the call's session; expires after a
    day."""
    return f"{base(centre)}transferlegs:{uniqueid}"


def purge_day(day: str, centre: str = DEFAULT_CENTRE) -> str:
    """String set (``SET NX``) by the one server that runs the day's retention purge
    (:mod:`ivr.privacy.daily`); expires after two days. Not a queue key: no Lua reads it."""
    return f"{base(centre)}purge:{day}"


def citizen_limit(kind: str, subject: str, centre: str = DEFAULT_CENTRE) -> str:
    """Counter of one rate limit of the citizens' pages (``kind``: submit-address,
    submit-phone, lookup-address, lookup-ticket) for one ``subject`` (a digest of the client
    address, phone or ticket number: no number in clear), expiring with its window."""
    return f"{base(centre)}citizen:{kind}:{subject}"


def hotspots(centre: str = DEFAULT_CENTRE) -> str:
    """String: the hot issues (热点诉求) of the last window as JSON, written by every
    ``hotline serve`` every ``refresh_minutes`` (:mod:`ivr.hotspots.refresh`) and read by the
    wallboard; expires after three refreshes. Not a queue key: no Lua reads it."""
    return f"{base(centre)}hotspots"


#: The same names for Lua. ``B`` is the base prefix (ARGV[1]).
LUA_PRELUDE = """
local B = ARGV[1]
local K = {}
function K.waiting(s) return B .. 'waiting:' .. s end
function K.arrivals(s) return B .. 'arrivals:' .. s end
function K.entry(u) return B .. 'entry:' .. u end
function K.leases() return B .. 'leases' end
function K.skills() return B .. 'skills' end
function K.agent(a) return B .. 'agent:' .. a end
function K.agents() return B .. 'agents' end
function K.ready(s) return B .. 'ready:' .. s end
function K.staffed(s) return B .. 'staffed:' .. s end
function K.heartbeats() return B .. 'heartbeats' end
function K.wrapup() return B .. 'wrapup' end
function K.inbox(s) return B .. 'inbox:' .. s end
function K.callbacks() return B .. 'callbacks' end
function K.cbcallers() return B .. 'cbcallers' end
function K.cbretry() return B .. 'cbretry' end
function K.diallers() return B .. 'diallers' end
function K.events() return B .. 'events' end
function K.stats(d) return B .. 'stats:' .. d end
function K.epoch() return B .. 'epoch' end
function K.reaper_at() return B .. 'reaper_at' end
function K.calls() return B .. 'calls' end
function K.call(u) return B .. 'call:' .. u end
function K.notices() return B .. 'notices' end
"""


def phone_watch(centre: str = DEFAULT_CENTRE) -> str:
    """String: the server whose browser-phone watcher probes now (queueing/phonewatch.py),
    a lease of two probe periods."""
    return f"{base(centre)}phonewatch"
