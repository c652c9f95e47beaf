"""``/api/callbacks`` and ``/api/agents/{id}/call``: the operator's callback tasks — 回访
(follow-up of a finished ticket), 漏接回拨 (a caller who left the queue unanswered, or a
promised callback) and 留言 (a voice message) — and click-to-call.

The list is the tasks, oldest first; ``done`` closes one (a 回访 records the citizen's
satisfaction on its ticket), ``attempt`` records a call that did not reach the citizen and
keeps it open. Click-to-call rings the operator's own phone first and, once answered, the
citizen (the callback dialler's AMI Originate and its ``[hotline-callback]`` dialplan). An
operator who is ready is paused first (reason ``callback``), so that the queue offers it no
caller meanwhile; it goes ready again on the desk. Each click is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ivr.db.tables import CallbackTaskRow
from ivr.web.agent_routes import agent_spec, audit, check_own
from ivr.web.appkeys import QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import ApiError
from ivr.web.routing import DESK, ApiRoute, WebPart
from ivr.web.ticket_routes import TICKETS_KEY, iso, run_ticket_call, ticket_service
from queueing.callback import CallbackDialler
from queueing.errors import AMIError

NO_DIALLER = "HL-WEB-012"
AGENT_BUSY = "HL-WEB-013"
DIALLER_KEY: web.AppKey[Callable[[], CallbackDialler | None]] = web.AppKey("dialler")
KIND_NAMES = {"visit": "回访", "missed": "漏接回拨", "message": "留言"}


class TaskOut(BaseModel):
    id: int
    kind: str = Field(description="visit (回访), missed (漏接回拨), message (留言)")
    kind_name: str
    ref: str = Field(description="the ticket number (回访) or the call's uniqueid")
    caller: str
    created_at: str
    state: str = Field(description="open, done")
    attempts: int
    result: str
    note: str
    recording: str | None = Field(description="a voice message's recording")


class TaskList(BaseModel):
    tasks: list[TaskOut]
    total: int = Field(description="how many match in all (the list stops at limit)")


class TaskDone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: str = Field(min_length=1, max_length=1000, description="what came of the call")
    satisfaction: int | None = Field(None, ge=1, le=5, description="回访: 5 非常满意 .. 1")
    solved: bool | None = Field(None, description="回访: the citizen says it was solved")


class TaskAttempt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: str = Field(min_length=1, max_length=1000, description="e.g. 无人接听")


class CallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: int = Field(description="the callback task whose citizen to call")


class CallOut(BaseModel):
    status: Literal["ANSWER", "NOANSWER", "BUSY", "CONGESTION", "CHANUNAVAIL"] | str = Field(
        description="the operator's phone: ANSWER (the citizen is being dialled now) or why not"
    )
    number: str
    task_id: int


def _task_out(request: web.Request, t: CallbackTaskRow) -> dict[str, Any]:
    tz = request.app[QUEUE_KEY].settings.timezone
    return TaskOut(
        id=t.id,
        kind=t.kind,
        kind_name=KIND_NAMES.get(t.kind, t.kind),
        ref=t.ref,
        caller=t.caller,
        created_at=iso(tz, t.created_at),
        state=t.state,
        attempts=t.attempts,
        result=t.result,
        note=t.note,
        recording=t.recording,
    ).model_dump()


def _task_id(request: web.Request) -> int:
    raw = request.match_info["task_id"]
    if not raw.isdigit():
        raise ApiError(404, "HL-TKT-003", f"no callback task {raw!r}")
    return int(raw)


async def list_tasks(request: web.Request) -> web.Response:
    service = ticket_service(request)
    q = request.query
    kind = q.get("kind") or None
    if kind is not None and kind not in KIND_NAMES:
        raise ApiError(400, "HL-WEB-001", f"kind must be one of {', '.join(KIND_NAMES)}")
    open_only = q.get("open", "1") not in ("0", "false")
    limit = q.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise ApiError(400, "HL-WEB-001", "limit must be a number 1..500")
    rows, total = await run_ticket_call(
        lambda: service.list_callback_tasks(kind=kind, open_only=open_only, limit=int(limit))
    )
    out = TaskList.model_validate({"tasks": [_task_out(request, t) for t in rows], "total": total})
    return web.json_response(out.model_dump())


async def task_done(request: web.Request) -> web.Response:
    body = await read_body(request, TaskDone, json_only=True)
    service, task_id = ticket_service(request), _task_id(request)
    actor = principal_of(request).username
    task = await run_ticket_call(
        lambda: service.complete_callback(
            task_id,
            result=body.result,
            actor=actor,
            satisfaction=body.satisfaction,
            solved=body.solved,
        )
    )
    return web.json_response(_task_out(request, task))


async def task_attempt(request: web.Request) -> web.Response:
    body = await read_body(request, TaskAttempt, json_only=True)
    service, task_id = ticket_service(request), _task_id(request)
    task = await run_ticket_call(lambda: service.close_task(task_id, body.result, done=False))
    return web.json_response(_task_out(request, task))


async def call(request: web.Request) -> web.Response:
    spec = agent_spec(request)
    check_own(request, spec)  # who may, before what was sent
    body = await read_body(request, CallBody, json_only=True)
    service = ticket_service(request)
    task = await run_ticket_call(lambda: service.get_task(body.task_id))
    if task.state != "open":
        raise ApiError(409, "HL-TKT-002", f"callback task {task.id} is {task.state} already")
    dialler = request.app[DIALLER_KEY]()
    if dialler is None or not dialler.ready:
        raise ApiError(
            503,
            NO_DIALLER,
            "click-to-call needs this server's callback dialler logged in to Asterisk AMI "
            "(queue.yaml dialler.enabled; is Asterisk up?); call the citizen from the phone",
        )
    queue = request.app[QUEUE_KEY]
    state = await queue.agent(spec.id)
    if state.state in ("reserved", "busy") or state.state == "offline":
        raise ApiError(
            409,
            AGENT_BUSY,
            f"agent {spec.id} is {state.state}: click-to-call rings the operator's own phone, "
            "so the operator must be logged in and not on a call",
            {"state": state.state},
        )
    if state.state == "ready":  # no caller is offered while the operator calls out
        await queue.pause(spec.id, "callback")
    try:
        result = await dialler.click_to_call(
            spec.interface, spec.id, task.caller, f"task-{task.id}"
        )
    except (AMIError, OSError, TimeoutError) as exc:
        raise ApiError(503, NO_DIALLER, f"click-to-call failed: {exc}") from None
    await audit(
        request,
        "callback.call",
        f"callback:{task.id}",
        {"agent": spec.id, "state": state.state},
        {"number": task.caller, "status": result.status},
    )
    return web.json_response(
        CallOut(status=result.status, number=task.caller, task_id=task.id).model_dump()
    )


def callbacks_part(dialler: Callable[[], CallbackDialler | None]) -> WebPart:
    """The callback routes; the tickets come from the ticket part (:data:`TICKETS_KEY`), the
    click-to-call from ``dialler()`` (None: the dialler is off, HL-WEB-012)."""

    def install(app: web.Application) -> None:
        app[DIALLER_KEY] = dialler
        assert TICKETS_KEY in app, "add the ticket part before the callback part"

    task = "/api/callbacks/{task_id}"
    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                "/api/callbacks",
                list_tasks,
                DESK,
                "list callback tasks (?kind=visit|missed|message&open=1&limit=50), oldest first",
                response="TaskList",
                errors=(400,),
            ),
            ApiRoute(
                "POST",
                task + "/done",
                task_done,
                DESK,
                "close a callback task (a 回访 records the satisfaction on its ticket)",
                body="TaskDone",
                response="TaskOut",
                errors=(400, 404, 409),
            ),
            ApiRoute(
                "POST",
                task + "/attempt",
                task_attempt,
                DESK,
                "record a call that did not reach the citizen (the task stays open)",
                body="TaskAttempt",
                response="TaskOut",
                errors=(400, 404, 409),
            ),
            ApiRoute(
                "POST",
                "/api/agents/{agent_id}/call",
                call,
                DESK,
                "click-to-call: ring the operator's phone, then the task's citizen",
                body="CallBody",
                response="CallOut",
                errors=(400, 404, 409),
                own_agent=True,
            ),
        ),
        models=(CallBody, CallOut, TaskAttempt, TaskDone, TaskList, TaskOut),
        install=install,
    )
