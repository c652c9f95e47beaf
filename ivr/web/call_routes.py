"""``/api/agents/{agent_id}/transfer`` and ``/api/transfers/targets``: the desk's transfer
buttons (emergency lines, departments' seat groups, sub-centres, a colleague), carried out
by :class:`queueing.transfer.TransferService` through AMI (docs/transfers.md).

An operator transfers only its own caller (403 ``HL-WEB-004`` for another agent); a
supervisor or admin any agent's. Refusals keep the service's ids: no call connected 409
``HL-QUE-080``, an unknown target or a mode it does not take 400 ``HL-QUE-081``, AMI away
503 ``HL-QUE-082``, Asterisk refused 502 ``HL-QUE-083``, a transfer already under way or no
consultation to end 409 ``HL-QUE-084``; a server without transfers 503 ``HL-WEB-031`` (its
target list is empty, ``available: false``).
Every transfer is written to the audit table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from ivr.web.agent_routes import audit
from ivr.web.appkeys import AGENTS_KEY, QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import FORBIDDEN, ApiError
from ivr.web.routing import DESK, ApiRoute, WebPart
from queueing.notices import current_call
from queueing.transfer import COLLEAGUE, TransferError, TransferResult, TransferService

TRANSFERS_AWAY = "HL-WEB-031"
TRANSFERS_KEY: web.AppKey[Callable[[], TransferService | None]] = web.AppKey("transfers")


class TransferBody(BaseModel):
    target: str = Field(
        pattern=r"^([A-Za-z0-9_]{1,32}|agent:[A-Za-z0-9_.-]{1,40})$",
        description="a target key of GET /api/transfers/targets, or agent:<id> (a colleague)",
    )
    mode: Literal["blind", "threeway", "consult"] = "blind"


class ConsultBody(BaseModel):
    action: Literal["join", "cancel"] = Field(
        description="join: the consulted party joins the caller (three-way); cancel: hang "
        "it up and go back to the caller"
    )


class TransferOut(BaseModel):
    uniqueid: str
    agent: str
    target: str
    mode: str
    state: str = Field(description="released, conference, consulting, joined or cancelled")
    operator_channel: str


class TargetOut(BaseModel):
    key: str
    name: str
    kind: str = Field(description="emergency, department or subcentre")
    modes: list[str]


class TargetsOut(BaseModel):
    available: bool = Field(description="false: this server has no transfers (no buttons)")
    targets: list[TargetOut]
    colleague_prefix: str = Field(COLLEAGUE, description="send agent:<id> for a colleague")


MODELS: tuple[type[BaseModel], ...] = (
    TransferBody,
    ConsultBody,
    TransferOut,
    TargetOut,
    TargetsOut,
)


async def _service(request: web.Request, agent_id: str) -> TransferService:
    """The service; without one, 409 when the agent has no call to transfer anyway (what the
    desk shows first), else 503 ``HL-WEB-031``."""
    service = request.app[TRANSFERS_KEY]()
    if service is None:
        queue = request.app[QUEUE_KEY]
        call = await current_call(queue.client, agent_id, queue.centre)
        if call is None or call.offered:
            raise ApiError(409, "HL-QUE-080", f"agent {agent_id} is not talking to a caller")
        raise ApiError(
            503,
            TRANSFERS_AWAY,
            "transfers are not available on this server: queue.yaml transfers or the AMI "
            "user (dialler) is off",
        )
    return service


def _agent(request: web.Request) -> str:
    """The agent acted on: one of agents.yaml, and an operator's own."""
    agent_id = request.match_info["agent_id"]
    if agent_id not in request.app[AGENTS_KEY]().by_id():
        raise ApiError(
            404, "HL-QUE-030", f"agent {agent_id!r} is not in agents.yaml: add it, then reload"
        )
    who = principal_of(request)
    if who.role == "operator" and who.agent_id != agent_id:
        raise ApiError(
            403,
            FORBIDDEN,
            f"operator account {who.username} is agent {who.agent_id}; "
            f"only a supervisor transfers agent {agent_id}'s caller",
            {"agent_id": agent_id, "yours": who.agent_id},
        )
    return agent_id


def _out(result: TransferResult) -> web.Response:
    body = TransferOut(
        uniqueid=result.uniqueid,
        agent=result.agent,
        target=result.target,
        mode=result.mode,
        state=result.state,
        operator_channel=result.operator_channel,
    )
    return web.json_response(body.model_dump())


async def transfer(request: web.Request) -> web.Response:
    agent_id = _agent(request)
    body = await read_body(request, TransferBody)
    service = await _service(request, agent_id)
    try:
        result = await service.transfer(agent_id, body.target, body.mode)
    except TransferError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    after = {"call": result.uniqueid, "target": result.target, "mode": result.mode}
    await audit(request, "agent.transfer", f"agent:{agent_id}", None, after)
    return _out(result)


async def consult(request: web.Request) -> web.Response:
    agent_id = _agent(request)
    body = await read_body(request, ConsultBody)
    service = await _service(request, agent_id)
    try:
        result = await service.finish(agent_id, body.action)
    except TransferError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    after = {"call": result.uniqueid, "target": result.target, "state": result.state}
    await audit(request, f"agent.transfer-{body.action}", f"agent:{agent_id}", None, after)
    return _out(result)


async def targets(request: web.Request) -> web.Response:
    service = request.app[TRANSFERS_KEY]()
    out = TargetsOut(
        available=service is not None,
        targets=[
            TargetOut(key=t.key, name=t.name, kind=t.kind, modes=list(t.modes))
            for t in (service.targets() if service is not None else [])
        ],
    )
    return web.json_response(out.model_dump())


def calls_part(
    service: TransferService | Callable[[], TransferService | None] | None,
) -> WebPart:
    """The transfer routes on ``service`` (or the function returning the current one; None:
    transfers are off, the routes answer 503 ``HL-WEB-031``)."""
    current: Callable[[], TransferService | None]
    if service is None or isinstance(service, TransferService):
        fixed = service
        current = lambda: fixed  # noqa: E731
    else:
        current = service

    def install(app: web.Application) -> None:
        app[TRANSFERS_KEY] = current

    agent_path = "/api/agents/{agent_id}/transfer"
    return WebPart(
        routes=(
            ApiRoute(
                "POST",
                agent_path,
                transfer,
                DESK,
                "transfer the agent's caller: blind, three-way or consult first (AMI)",
                body="TransferBody",
                response="TransferOut",
                errors=(400, 404, 409, 502, 503),
                own_agent=True,
            ),
            ApiRoute(
                "POST",
                agent_path + "/consult",
                consult,
                DESK,
                "end the agent's consultation: join the caller (three-way) or cancel",
                body="ConsultBody",
                response="TransferOut",
                errors=(400, 404, 409, 502, 503),
                own_agent=True,
            ),
            ApiRoute(
                "GET",
                "/api/transfers/targets",
                targets,
                DESK,
                "read the transfer targets (the desk's buttons)",
                response="TargetsOut",
            ),
        ),
        models=MODELS,
        install=install,
    )
