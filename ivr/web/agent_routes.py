"""``/api/agents...``: an operator's state in the Redis queue (log in, ready, pause, log out,
heartbeat) and the agents' states.

An operator account acts only on its own agent id (403 ``HL-WEB-004`` for another); a
supervisor or admin on any. Every change (not the heartbeat) is written to the audit table:
who, when, which agent, its state before and after. The change is made first and then
audited: if the database is away the change stands and the audit row is logged in full
(``HL-WEB-008``), so the queue never waits on the database."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.config.queue_models import AgentSpec
from ivr.web.appkeys import (
    ACCOUNTS_KEY,
    AGENTS_KEY,
    PAUSE_REASONS_KEY,
    QUEUE_KEY,
    principal_of,
)
from ivr.web.bodies import read_body
from ivr.web.errors import AUDIT_LOST, FORBIDDEN, ApiError
from ivr.web.schemas import LoginBody, LogoutBody, PauseBody, agent_out
from queueing.queue import AgentState, RedisQueue

log = logging.getLogger(__name__)

BAD_PAUSE_REASON = "HL-WEB-014"


def zone(request: web.Request) -> ZoneInfo:
    """The centre's zone (``queue.yaml`` ``settings.timezone``), where "today" is too."""
    return ZoneInfo(request.app[QUEUE_KEY].settings.timezone)


def agent_json(queue: RedisQueue, state: AgentState) -> dict[str, Any]:
    """An agent's state as the API and the desk's socket send it (times in the centre's zone)."""
    return agent_out(state, ZoneInfo(queue.settings.timezone)).model_dump()


def _agent_json(request: web.Request, state: AgentState) -> dict[str, Any]:
    return agent_json(request.app[QUEUE_KEY], state)


def agent_spec(request: web.Request) -> AgentSpec:
    agent_id = request.match_info["agent_id"]
    spec = request.app[AGENTS_KEY]().by_id().get(agent_id)
    if spec is None:
        raise ApiError(
            404, "HL-QUE-030", f"agent {agent_id!r} is not in agents.yaml: add it, then reload"
        )
    return spec


def check_own(request: web.Request, spec: AgentSpec) -> None:
    who = principal_of(request)
    if who.role == "operator" and who.agent_id != spec.id:
        raise ApiError(
            403,
            FORBIDDEN,
            f"operator account {who.username} is agent {who.agent_id}; "
            f"only a supervisor changes agent {spec.id}",
            {"agent_id": spec.id, "yours": who.agent_id},
        )


def _brief(state: AgentState) -> dict[str, str]:
    return {
        "state": state.state,
        "reason": state.reason,
        "pending": state.pending,
        "interface": state.interface,
    }


async def audit(request: web.Request, action: str, target: str, before: Any, after: Any) -> None:
    """One audit row for a change already made; logged in full if the database is away."""
    who = principal_of(request)
    address = request.remote or ""
    try:
        await asyncio.to_thread(
            request.app[ACCOUNTS_KEY].audit,
            who,
            action,
            target,
            before=before,
            after=after,
            address=address,
        )
    except (OperationalError, InterfaceError) as exc:
        row = {
            "actor": who.username,
            "action": action,
            "target": target,
            "before": before,
            "after": after,
            "address": address,
        }
        log.error(
            "[%s] audit row not written (database: %s): %s",
            AUDIT_LOST,
            exc.orig,
            json.dumps(row, ensure_ascii=False),
        )


async def _change(
    request: web.Request, action: str, do: Callable[[AgentSpec], Awaitable[None]]
) -> web.Response:
    spec = agent_spec(request)
    check_own(request, spec)
    queue = request.app[QUEUE_KEY]
    before = await queue.agent(spec.id)
    await do(spec)
    after = await queue.agent(spec.id)
    if action != "heartbeat":
        await audit(request, f"agent.{action}", f"agent:{spec.id}", _brief(before), _brief(after))
    return web.json_response(_agent_json(request, after))


def phone_of(spec: AgentSpec, phone: str) -> AgentSpec:
    """The agent as the queue logs it in: ringing its desk phone, or its browser phone
    (400 ``HL-WEB-070`` when agents.yaml gives it none)."""
    if phone != "browser":
        return spec
    if spec.browser_interface is None:
        raise ApiError(
            400,
            "HL-WEB-070",
            f"agent {spec.id} has no browser phone (agents.yaml webrtc): log in with the "
            "desk phone",
            {"agent_id": spec.id},
        )
    return spec.model_copy(update={"interface": spec.browser_interface})


async def login(request: web.Request) -> web.Response:
    body = await read_body(request, LoginBody)
    queue = request.app[QUEUE_KEY]

    async def do(spec: AgentSpec) -> None:
        await queue.login(phone_of(spec, body.phone), ready=body.ready)

    return await _change(request, "login", do)


async def ready(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]

    async def do(spec: AgentSpec) -> None:
        await queue.ready(spec.id)

    return await _change(request, "ready", do)


#: a pause without a reason of the desk's (the API's default)
PLAIN_PAUSE = "pause"


def check_pause_reason(request: web.Request, reason: str) -> None:
    """A pause's reason must be one of queue.yaml's ``settings.pause_reasons`` (what the
    desk offers and the reports count), or the plain ``pause``: 400 ``HL-WEB-014``."""
    reasons = request.app.get(PAUSE_REASONS_KEY)
    if reasons is None:
        return
    known = reasons()
    if reason != PLAIN_PAUSE and reason not in known:
        listed = ", ".join(f"{code} ({label})" for code, label in known.items())
        raise ApiError(
            400,
            BAD_PAUSE_REASON,
            f"pause reason {reason!r} is not one of queue.yaml settings.pause_reasons: "
            f"{listed}, or {PLAIN_PAUSE}",
            {"reason": reason, "known": [*known, PLAIN_PAUSE]},
        )


async def pause(request: web.Request) -> web.Response:
    body = await read_body(request, PauseBody)
    check_pause_reason(request, body.reason)
    queue = request.app[QUEUE_KEY]

    async def do(spec: AgentSpec) -> None:
        await queue.pause(spec.id, body.reason)

    return await _change(request, "pause", do)


async def logout(request: web.Request) -> web.Response:
    body = await read_body(request, LogoutBody)
    queue = request.app[QUEUE_KEY]

    async def do(spec: AgentSpec) -> None:
        await queue.logout(spec.id, body.reason)

    return await _change(request, "logout", do)


async def heartbeat(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]

    async def do(spec: AgentSpec) -> None:
        await queue.heartbeat(spec.id)

    return await _change(request, "heartbeat", do)


async def get_agent(request: web.Request) -> web.Response:
    spec = agent_spec(request)
    return web.json_response(_agent_json(request, await request.app[QUEUE_KEY].agent(spec.id)))


async def list_agents(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]
    out = [_agent_json(request, await queue.agent(a.id)) for a in request.app[AGENTS_KEY]().agents]
    return web.json_response(out)
