"""``POST /api/agents/{agent_id}/spy``: a supervisor listens to, whispers to or barges into an
operator's call from the wallboard (docs/wallboard.md). Asterisk's ChanSpy does it, on the
supervisor's own phone (agents.yaml ``supervisors``), through AMI (:class:`queueing.ami.AMIClient`):

1. the operator's call: the agent's hash (``busy``) gives the caller's uniqueid, and the
   operator's channel is the caller's ``BRIDGEPEER`` (AMI ``Getvar``, as transfers find it);
2. AMI ``Originate`` (asynchronous) of the supervisor's phone into the application
   ``ChanSpy(<operator's channel>,<options>)``: ``q`` no beep nor channel name, ``E`` ends
   when the operator's channel hangs up; ``w`` whisper (the operator hears the supervisor,
   the caller does not), ``B`` barge (both hear the supervisor). The answer comes once
   Asterisk took the Originate: the phone is ringing.

Refusals: the account has no phone in agents.yaml 409 ``HL-WEB-052``; the operator is not
talking to a caller 409 ``HL-WEB-050``; the phone is the operator's own 409 ``HL-WEB-054``;
AMI off (queue.yaml ``dialler``) or unreachable 503 ``HL-WEB-051``; Asterisk refused the
Originate 502 ``HL-WEB-053``. Every spy is written to the audit table (``agent.spy``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ivr.web.agent_routes import audit
from ivr.web.appkeys import AGENTS_KEY, QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import ApiError
from ivr.web.routing import SUPERVISION, ApiRoute, WebPart
from queueing.errors import AMIError
from queueing.notices import current_call

log = logging.getLogger(__name__)

NO_CALL = "HL-WEB-050"
AMI_AWAY = "HL-WEB-051"
NO_PHONE = "HL-WEB-052"
REFUSED = "HL-WEB-053"
OWN_PHONE = "HL-WEB-054"
#: ChanSpy's options per mode (Asterisk 22 app_chanspy): q quiet, E exit when the spied-on
#: channel hangs up, w whisper to the spied-on channel, B barge into both sides of its call
OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
WORDS = {"listen": "监听", "whisper": "耳语", "barge": "强插"}


class Manager(Protocol):
    """What the route asks of :class:`queueing.ami.AMIClient`."""

    async def action(self, name: str, *extra: tuple[str, str], **fields: Any) -> dict[str, str]: ...


MANAGER_KEY: web.AppKey[Callable[[], Manager | None]] = web.AppKey("spy_manager")


class SpyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["listen", "whisper", "barge"] = Field(
        description="listen: hear both sides; whisper: the operator hears you, the caller "
        "does not; barge: both hear you"
    )


class SpyOut(BaseModel):
    agent: str
    mode: str
    uniqueid: str = Field(description="the caller's channel")
    operator_channel: str = Field(description="the channel ChanSpy listens to")
    phone: str = Field(description="the supervisor's phone, ringing now")
    options: str = Field(description="ChanSpy's options")
    state: str = Field("ringing", description="ringing: answer the phone to start")


MODELS: tuple[type[BaseModel], ...] = (SpyBody, SpyOut)


def _no_call(agent_id: str) -> ApiError:
    return ApiError(409, NO_CALL, f"agent {agent_id} is not talking to a caller: nothing to hear")


def _away(exc: object) -> ApiError:
    return ApiError(
        503,
        AMI_AWAY,
        f"Asterisk's manager interface (AMI) is not available ({exc}): check Asterisk and "
        "queue.yaml dialler",
    )


async def _operator_channel(ami: Manager, uniqueid: str, agent_id: str) -> str:
    """The operator's channel: the caller's ``BRIDGEPEER`` (none: the call is not bridged)."""
    try:
        peer = await ami.action("Getvar", Channel=uniqueid, Variable="BRIDGEPEER")
    except (AMIError, OSError, TimeoutError) as exc:
        raise _away(exc) from None
    channel = peer.get("Value", "") if peer.get("Response") == "Success" else ""
    if not channel:
        raise _no_call(agent_id)
    return channel


async def spy(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    agents = request.app[AGENTS_KEY]()
    spec = agents.by_id().get(agent_id)
    if spec is None:
        raise ApiError(
            404, "HL-QUE-030", f"agent {agent_id!r} is not in agents.yaml: add it, then reload"
        )
    body = await read_body(request, SpyBody)
    who = principal_of(request)
    phone = agents.phone_of(who.username)
    if phone is None:
        raise ApiError(
            409,
            NO_PHONE,
            f"account {who.username} has no phone: an admin adds it to agents.yaml "
            "supervisors (user, phone), then reloads",
            {"user": who.username},
        )
    if phone.phone == spec.interface:
        raise ApiError(409, OWN_PHONE, f"{phone.phone} is agent {agent_id}'s own phone")
    queue = request.app[QUEUE_KEY]
    call = await current_call(queue.client, agent_id, queue.centre)
    if call is None or call.offered:
        raise _no_call(agent_id)
    ami = request.app[MANAGER_KEY]()
    if ami is None:
        raise _away("queue.yaml dialler is off")
    operator = await _operator_channel(ami, call.uniqueid, agent_id)
    options = OPTIONS[body.mode]
    try:
        reply = await ami.action(
            "Originate",
            Channel=phone.phone,
            Application="ChanSpy",
            Data=f"{operator},{options}",
            Timeout=int(phone.ring_timeout * 1000),
            CallerID=f'"{WORDS[body.mode]} {agent_id}" <{agent_id}>',
            Async="true",
        )
    except (AMIError, OSError, TimeoutError) as exc:
        raise _away(exc) from None
    if reply.get("Response") != "Success":
        raise ApiError(
            502,
            REFUSED,
            f"Asterisk refused to ring {phone.phone}: {reply.get('Message', '')}",
            {"phone": phone.phone},
        )
    after = {"call": call.uniqueid, "mode": body.mode, "channel": operator, "phone": phone.phone}
    await audit(request, "agent.spy", f"agent:{agent_id}", None, after)
    log.info("%s %s agent %s (%s) on %s", who.username, body.mode, agent_id, operator, phone.phone)
    out = SpyOut(
        agent=agent_id,
        mode=body.mode,
        uniqueid=call.uniqueid,
        operator_channel=operator,
        phone=phone.phone,
        options=options,
    )
    return web.json_response(out.model_dump())


def spy_part(manager: Callable[[], Manager | None]) -> WebPart:
    """The spy route, on the AMI connection ``manager()`` returns (None: AMI is off, the
    route answers 503 ``HL-WEB-051``)."""

    def install(app: web.Application) -> None:
        app[MANAGER_KEY] = manager

    return WebPart(
        routes=(
            ApiRoute(
                "POST",
                "/api/agents/{agent_id}/spy",
                spy,
                SUPERVISION,
                "listen to, whisper to or barge into the agent's call on your own phone (ChanSpy)",
                body="SpyBody",
                response="SpyOut",
                errors=(400, 404, 409, 502, 503),
            ),
        ),
        models=MODELS,
        install=install,
    )
