"""``/api/portal``: the department portal. A department account sees its own department's
tickets only - another department's ticket is 404 ``HL-TKT-003``, as if it did not exist,
not a 403 that would tell it does - nearest deadline first, overdue and due-soon flagged,
with the working-day deadline on China's calendar; it signs for one (签收), replies and
finishes it (办结), returns it with a reason (退单) or asks for more working days (延期). Each
action goes through the ticket lifecycle (its checks, its history rows: who, when, what).

A caller who asked for confidentiality is shown to departments as ``***`` (number and name).
Supervisors and admins may look at any department's portal with ``?department=CODE``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ivr.accounts import Principal
from ivr.db.tables import TicketEventRow, TicketRow
from ivr.tickets.errors import TicketNotFound
from ivr.tickets.lifecycle import AT_DEPARTMENT, DONE, OPEN, STATE_NAMES, State
from ivr.tickets.service import TicketService, utcnow
from ivr.web.appkeys import QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import BAD_BODY, ApiError
from ivr.web.portal_schemas import (
    MODELS,
    ExtendBody,
    FinishBody,
    PortalList,
    PortalTicket,
    ReturnBody,
    SignBody,
)
from ivr.web.routing import ApiRoute, WebPart
from ivr.web.ticket_routes import TICKETS_KEY, events_out, iso, run_ticket_call, ticket_service

PORTAL: tuple[str, ...] = ("department", "supervisor", "admin")
HIDDEN = "***"
# open: at the department (dispatched, signed, handling); returned: sent back to 12345
_STATES = {
    "open": [s.value for s in AT_DEPARTMENT],
    "returned": [State.RETURNED.value],
    "done": [s.value for s in DONE],
    "all": None,
}


def _department(request: web.Request, who: Principal) -> str:
    if who.role == "department":
        if not who.department:
            raise ApiError(403, "HL-WEB-004", f"account {who.username} has no department")
        return who.department
    code = request.query.get("department", "")
    if not code:
        raise ApiError(400, BAD_BODY, "name the department: ?department=CODE")
    return code


def portal_ticket(
    service: TicketService,
    t: TicketRow,
    tz: str,
    now: dt.datetime,
    events: list[TicketEventRow] | None = None,
    *,
    reveal: bool = False,
) -> PortalTicket:
    """A ticket as the portal (and the supervisors' review) shows it; a confidential
    caller hidden unless ``reveal`` (the centre's own staff)."""
    cat = service.catalogue
    hide = t.confidential and not reveal
    open_ = State(t.state) in OPEN
    deadline = t.deadline if t.deadline.tzinfo else t.deadline.replace(tzinfo=dt.UTC)
    soon = now + dt.timedelta(hours=cat.due_soon_hours)
    return PortalTicket(
        number=t.number,
        state=t.state,
        state_name=STATE_NAMES[State(t.state)],
        type_name=cat.type_name(t.type),
        category_name=cat.category_name(t.category),
        content=t.content,
        address=t.address,
        caller=HIDDEN if hide else t.caller,
        caller_name=HIDDEN if hide and t.caller_name else t.caller_name,
        confidential=t.confidential,
        accepted_at=iso(tz, t.accepted_at),
        deadline=iso(tz, deadline),
        # overdue: 0 (flagged as overdue; not counted back over the years a stale one has)
        working_days_left=max(0, service.deadlines.working_days_left(now, deadline))
        if deadline >= now
        else 0,
        overdue=open_ and deadline < now,
        due_soon=open_ and now <= deadline < soon,
        supervised=t.supervised,
        reminders=t.reminders,
        returns=t.returns,
        extension_requested=t.extension_requested,
        reply=t.reply,
        events=events_out(tz, events or []),
    )


def _own(service: TicketService, number: str, department: str) -> TicketRow:
    """The ticket, if it is ``department``'s; else as if there were no such ticket."""
    ticket = service.get(number)
    if ticket.department != department:
        raise TicketNotFound(f"no ticket {number} for department {department}")
    return ticket


def _json(model: BaseModel) -> web.Response:
    return web.json_response(model.model_dump())


async def list_tickets(request: web.Request) -> web.Response:
    service = ticket_service(request)
    department = _department(request, principal_of(request))
    state = request.query.get("state", "open")
    limit = request.query.get("limit", "100")
    if state not in _STATES or not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise ApiError(400, BAD_BODY, "state must be open, returned, done or all; limit 1..500")
    tz = request.app[QUEUE_KEY].settings.timezone

    def read() -> PortalList:
        now = utcnow()
        rows, total = service.list_tickets(
            states=_STATES[state], department=department, limit=int(limit), now=now
        )
        return PortalList(
            department=department,
            department_name=service.catalogue.department_name(department),
            tickets=[portal_ticket(service, t, tz, now) for t in rows],
            total=total,
        )

    return _json(await run_ticket_call(read))


async def get_ticket(request: web.Request) -> web.Response:
    service = ticket_service(request)
    department = _department(request, principal_of(request))
    number = request.match_info["number"]
    tz = request.app[QUEUE_KEY].settings.timezone

    def read() -> PortalTicket:
        ticket = _own(service, number, department)
        return portal_ticket(service, ticket, tz, utcnow(), service.history(number))

    return _json(await run_ticket_call(read))


async def _act(request: web.Request, steps: list[tuple[str, str, dict[str, Any]]]) -> web.Response:
    """Apply the lifecycle ``steps`` (action, note, params) to the department's own ticket;
    a step whose ticket is already past it (a retry) is skipped by the lifecycle's check."""
    service = ticket_service(request)
    who = principal_of(request)
    department = _department(request, who)
    number = request.match_info["number"]
    tz = request.app[QUEUE_KEY].settings.timezone

    def act() -> PortalTicket:
        _own(service, number, department)
        for action, note, params in steps:
            service.act(number, action, actor=who.username, note=note, **params)
        ticket = service.get(number)
        return portal_ticket(service, ticket, tz, utcnow(), service.history(number))

    return _json(await run_ticket_call(act))


async def sign(request: web.Request) -> web.Response:
    body = await read_body(request, SignBody, json_only=True)
    return await _act(request, [("sign", body.note, {})])


async def finish(request: web.Request) -> web.Response:
    body = await read_body(request, FinishBody, json_only=True)
    service = ticket_service(request)
    number = request.match_info["number"]
    state = (await run_ticket_call(lambda: service.get(number))).state
    steps: list[tuple[str, str, dict[str, Any]]] = []
    if state == State.DISPATCHED.value:
        steps.append(("sign", "", {}))
    if state in (State.DISPATCHED.value, State.SIGNED.value):
        steps.append(("handle", "", {}))
    steps.append(("finish", "", {"reply": body.reply}))
    return await _act(request, steps)


async def return_ticket(request: web.Request) -> web.Response:
    body = await read_body(request, ReturnBody, json_only=True)
    return await _act(request, [("return", body.reason, {})])


async def extend(request: web.Request) -> web.Response:
    body = await read_body(request, ExtendBody, json_only=True)
    return await _act(request, [("extend_request", body.reason, {"days": body.days})])


def portal_part() -> WebPart:
    """The portal's routes, on the ticket part's service (add the ticket part first)."""

    def install(app: web.Application) -> None:
        assert TICKETS_KEY in app, "add the ticket part before the portal part"

    one = "/api/portal/tickets/{number}"

    def action(suffix: str, handler: Any, summary: str, body: str) -> ApiRoute:
        return ApiRoute(
            "POST", one + suffix, handler, PORTAL, summary, body=body,
            response="PortalTicket", errors=(400, 404, 409),
        )  # fmt: skip

    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                "/api/portal/tickets",
                list_tickets,
                PORTAL,
                "the department's tickets, nearest deadline first (?state=open|returned|done|all)",
                response="PortalList",
                errors=(400,),
            ),
            ApiRoute(
                "GET",
                one,
                get_ticket,
                PORTAL,
                "one of the department's tickets with its history",
                response="PortalTicket",
                errors=(404,),
            ),
            action("/sign", sign, "sign for a ticket (签收)", "SignBody"),
            action("/finish", finish, "reply and finish (办结)", "FinishBody"),
            action("/return", return_ticket, "return it with a reason (退单)", "ReturnBody"),
            action("/extend", extend, "ask for more working days (延期)", "ExtendBody"),
        ),
        models=MODELS,
        install=install,
    )
