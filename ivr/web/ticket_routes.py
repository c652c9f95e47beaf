"""``/api/tickets`` and ``/api/catalogue``: the desk's ticket form (受理) and the tickets it
files.

``POST /api/tickets`` accepts a ticket and, in the same request, does what the operator chose:
answer on the spot and finish (直接办结), dispatch to a department (派单; the catalogue's
dispatch map fills in the department when none is named), merge into an earlier open ticket
(并单), or keep it at the centre. With the call's uniqueid the ticket takes the number
reserved for that call (the screen-pop's) and a retried form gives the same ticket back, not
a second one: the chosen action is applied only while the ticket is still just accepted.

Operators, supervisors and admins file and read tickets here; departments have their own
portal. The lifecycle's refusals keep their ids: no such ticket 404 ``HL-TKT-003``, a state
that does not allow the action 409 ``HL-TKT-002``, someone else's change at the same moment
409 ``HL-TKT-005``, a wrong value 400 ``HL-TKT-004``."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr.db.tables import TicketEventRow, TicketRow
from ivr.errors import HotlineError
from ivr.tickets.errors import (
    BadTicketInput,
    ConcurrentUpdate,
    OwnExtensionRefused,
    TicketNotFound,
    TransitionRefused,
)
from ivr.tickets.lifecycle import STATE_NAMES, State
from ivr.tickets.service import TicketService
from ivr.web.appkeys import QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import ApiError
from ivr.web.routing import DESK, ApiRoute, WebPart
from ivr.web.ticket_schemas import (
    MODELS,
    CatalogueOut,
    CategoryOut,
    DepartmentOut,
    TicketEventOut,
    TicketForm,
    TicketOut,
    TypeOut,
)

TICKETS_AWAY = "HL-WEB-011"
TICKETS_KEY: web.AppKey[Callable[[], TicketService | None]] = web.AppKey("tickets")


class ReservedNumbers(Protocol):
    """The numbers reserved for calls in Redis (:class:`ivr.records.ticketno.RedisTicketNumbers`):
    the form's ticket takes its call's even before the reservation reached the database."""

    async def reserved(self, uniqueid: str) -> str | None: ...


NUMBERS_KEY: web.AppKey[ReservedNumbers | None] = web.AppKey("numbers")

# the lifecycle's refusals as HTTP statuses (their ids stay theirs)
_STATUS: tuple[tuple[type[HotlineError], int], ...] = (
    (TicketNotFound, 404),
    (TransitionRefused, 409),
    (ConcurrentUpdate, 409),
    (OwnExtensionRefused, 403),
    (BadTicketInput, 400),
)


def ticket_service(request: web.Request) -> TicketService:
    service = request.app[TICKETS_KEY]()
    if service is None:
        raise ApiError(
            503,
            TICKETS_AWAY,
            "tickets are not available on this server: its ticket catalogue was refused at "
            "start (hotline check-config names the problem); fix it and restart",
        )
    return service


async def run_ticket_call(call: Callable[[], Any]) -> Any:
    """A ticket operation in a worker thread, its refusals as API errors."""
    try:
        return await asyncio.to_thread(call)
    except HotlineError as exc:
        for kind, status in _STATUS:
            if isinstance(exc, kind):
                raise ApiError(status, exc.code, exc.message) from None
        raise


def iso(tz: dt.tzinfo | str, at: dt.datetime) -> str:
    """A stored time (UTC) as ISO 8601 in the centre's zone ``tz``, with the offset."""
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(tz).isoformat(timespec="seconds")


def events_out(tz: dt.tzinfo | str, events: list[TicketEventRow]) -> list[TicketEventOut]:
    """A ticket's history, oldest first, times in the centre's zone."""
    return [
        TicketEventOut(
            at=iso(tz, e.at),
            actor=e.actor,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            note=e.note,
        )
        for e in events
    ]


def ticket_out(
    service: TicketService,
    ticket: TicketRow,
    tz: dt.tzinfo,
    merged_into: str | None = None,
    events: list[TicketEventRow] | None = None,
) -> TicketOut:
    cat = service.catalogue
    state = State(ticket.state)
    return TicketOut(
        number=ticket.number,
        state=ticket.state,
        state_name=STATE_NAMES[state],
        type=ticket.type,
        type_name=cat.type_name(ticket.type),
        category=ticket.category,
        category_name=cat.category_name(ticket.category),
        department=ticket.department,
        department_name=cat.department_name(ticket.department),
        caller=ticket.caller,
        caller_name=ticket.caller_name,
        confidential=ticket.confidential,
        dialled=ticket.dialled,
        content=ticket.content,
        address=ticket.address,
        reply=ticket.reply,
        accepted_at=iso(tz, ticket.accepted_at),
        accepted_by=ticket.accepted_by,
        deadline=iso(tz, ticket.deadline),
        merged_into=merged_into,
        call_uniqueid=ticket.call_uniqueid,
        events=events_out(tz, events or []),
    )


def _read(service: TicketService, number: str, tz: dt.tzinfo) -> TicketOut:
    ticket = service.get(number)
    merged = service.number_by_id(ticket.merged_into) if ticket.merged_into else None
    return ticket_out(service, ticket, tz, merged, service.history(number))


def _file(
    service: TicketService, form: TicketForm, actor: str, tz: dt.tzinfo, reserved: str | None
) -> TicketOut:
    """Accept, then the chosen action while the ticket is still just accepted (a retry of
    the same call's form finds it done and changes nothing)."""
    if form.action == "merge" and not form.merge_into:
        raise BadTicketInput("merge: name the earlier ticket to merge into (merge_into)")
    if form.action == "answer" and not form.reply.strip():
        raise BadTicketInput("answer: the reply given to the citizen is required")
    ticket = service.accept(
        caller=form.caller,
        type=form.type,
        category=form.category,
        actor=actor,
        content=form.content,
        caller_name=form.caller_name,
        address=form.address,
        call_uniqueid=form.call_uniqueid,
        dialled=form.dialled,
        confidential=form.confidential,
        reserved_number=reserved,
    )
    if ticket.state == State.ACCEPTED.value and form.action != "accept":
        params: dict[str, Any] = {}
        if form.action == "answer":
            params["reply"] = form.reply
        elif form.action == "dispatch":
            params["department"] = form.department
        else:
            params["into"] = form.merge_into
        service.act(ticket.number, form.action, actor=actor, note=form.note, **params)
    return _read(service, ticket.number, tz)


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[QUEUE_KEY].settings.timezone)


async def file_ticket(request: web.Request) -> web.Response:
    form = await read_body(request, TicketForm, json_only=True)
    service = ticket_service(request)
    actor = principal_of(request).username
    numbers, reserved = request.app[NUMBERS_KEY], None
    if numbers is not None and form.call_uniqueid:
        reserved = await numbers.reserved(form.call_uniqueid)
    tz = _zone(request)
    out: TicketOut = await run_ticket_call(lambda: _file(service, form, actor, tz, reserved))
    return web.json_response(out.model_dump())


async def get_ticket(request: web.Request) -> web.Response:
    service = ticket_service(request)
    number = request.match_info["number"]
    out: TicketOut = await run_ticket_call(lambda: _read(service, number, _zone(request)))
    return web.json_response(out.model_dump())


def catalogue_out(service: TicketService) -> CatalogueOut:
    cat = service.catalogue
    return CatalogueOut(
        types=[
            TypeOut(code=code, name=t.name, deadline_days=t.deadline_days)
            for code, t in cat.types.items()
        ],
        categories=[
            CategoryOut(
                path=info.path,
                name=info.name,
                parent=info.path.rpartition(".")[0] or None,
                department=cat.default_department(info.path),
            )
            for info in cat.categories.values()
        ],
        departments=[
            DepartmentOut(code=code, name=d.name, phone=d.phone)
            for code, d in cat.departments.items()
        ],
    )


async def get_catalogue(request: web.Request) -> web.Response:
    return web.json_response(catalogue_out(ticket_service(request)).model_dump())


def tickets_part(
    tickets: Callable[[], TicketService | None], numbers: ReservedNumbers | None = None
) -> WebPart:
    """The ticket routes on the service ``tickets()`` returns (None: refused catalogue);
    ``numbers``: the calls' reserved numbers in Redis (the server's)."""

    def install(app: web.Application) -> None:
        app[TICKETS_KEY] = tickets
        app[NUMBERS_KEY] = numbers

    return WebPart(
        routes=(
            ApiRoute(
                "POST",
                "/api/tickets",
                file_ticket,
                DESK,
                "file a ticket (受理) and answer, dispatch or merge it in the same step",
                body="TicketForm",
                response="TicketOut",
                errors=(400, 404, 409),
            ),
            ApiRoute(
                "GET",
                "/api/tickets/{number}",
                get_ticket,
                DESK,
                "read a ticket with its history",
                response="TicketOut",
                errors=(404,),
            ),
            ApiRoute(
                "GET",
                "/api/catalogue",
                get_catalogue,
                DESK,
                "read the ticket catalogue: types, categories (cascading), departments",
                response="CatalogueOut",
            ),
        ),
        models=MODELS,
        install=install,
    )
