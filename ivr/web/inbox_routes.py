"""``/api/inbox``: the operators' inbox (待办受理) of the tickets still just accepted (受理) -
the citizens' web requests, the items forwarded by upper-level platforms, any accepted ticket
left without action - the nearest deadline first, by channel (``?source=CODE``).

Each ticket comes with its channel's name, received time, content, caller (the centre's staff
see a confidential caller: only departments are shown ``***``, docs/accounts.md), the
department the dispatch map proposes, and its likely duplicates of any channel (same number,
or same address and category, within the catalogue's ``duplicate_days``) with the pair to
merge: the newer into the older. The actions go through the ticket lifecycle (its checks and
history rows, the account as actor): answer directly (直接办结, with the reply), dispatch
(派单, to the proposed department or another), merge (并单) into another ticket.

Operators, supervisors and admins; a channel the catalogue does not name is 400
``HL-WEB-080``; the lifecycle's refusals keep their ids (404 ``HL-TKT-003``, 409
``HL-TKT-002`` / ``HL-TKT-005``, 400 ``HL-TKT-004``)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr.db.tables import TicketRow
from ivr.tickets.duplicates import LikelyDuplicate, older
from ivr.tickets.lifecycle import OPEN, STATE_NAMES, State
from ivr.tickets.service import TicketService, utcnow
from ivr.web.appkeys import QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import BAD_BODY, ApiError
from ivr.web.inbox_schemas import (
    MODELS,
    AnswerBody,
    DispatchBody,
    InboxDuplicate,
    InboxDuplicates,
    InboxList,
    InboxSource,
    InboxTicket,
    MergeBody,
)
from ivr.web.routing import DESK, ApiRoute, WebPart
from ivr.web.ticket_routes import TICKETS_KEY, iso, run_ticket_call, ticket_out, ticket_service

UNKNOWN_SOURCE = "HL-WEB-080"


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def duplicate_out(
    service: TicketService, ticket: TicketRow, d: LikelyDuplicate, tz: str
) -> InboxDuplicate:
    cat, other = service.catalogue, d.ticket
    old, new = older(ticket, other)
    return InboxDuplicate(
        number=other.number,
        state=other.state,
        state_name=STATE_NAMES[State(other.state)],
        source=other.source,
        source_name=cat.source_name(other.source),
        accepted_at=iso(tz, other.accepted_at),
        caller=other.caller,
        address=other.address,
        category_name=cat.category_name(other.category),
        content=other.content[:200],
        reasons=list(d.reasons),
        merge_from=new.number,
        merge_into=old.number,
        can_merge=State(new.state) in OPEN and State(old.state) in OPEN,
    )


def inbox_ticket(
    service: TicketService, t: TicketRow, dups: list[LikelyDuplicate], tz: str, now: dt.datetime
) -> InboxTicket:
    cat = service.catalogue
    deadline = _aware(t.deadline)
    source = cat.sources.get(t.source)
    proposed = t.department or cat.default_department(t.category)
    return InboxTicket(
        number=t.number,
        state=t.state,
        state_name=STATE_NAMES[State(t.state)],
        source=t.source,
        source_name=cat.source_name(t.source),
        source_kind=source.kind if source else "upper",
        external_id=t.external_id,
        received_at=iso(tz, t.received_at) if t.received_at else None,
        accepted_at=iso(tz, t.accepted_at),
        accepted_by=t.accepted_by,
        deadline=iso(tz, deadline),
        overdue=deadline < now,
        due_soon=now <= deadline < now + dt.timedelta(hours=cat.due_soon_hours),
        type=t.type,
        type_name=cat.type_name(t.type),
        category=t.category,
        category_name=cat.category_name(t.category),
        content=t.content,
        address=t.address,
        caller=t.caller,  # the centre's staff see a confidential caller (departments: ***)
        caller_name=t.caller_name,
        confidential=t.confidential,
        department=proposed,
        department_name=cat.department_name(proposed),
        duplicates=[duplicate_out(service, t, d, tz) for d in dups],
    )


def _zone(request: web.Request) -> str:
    return str(request.app[QUEUE_KEY].settings.timezone)


async def list_inbox(request: web.Request) -> web.Response:
    service = ticket_service(request)
    source = request.query.get("source") or None
    limit = request.query.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 200:
        raise ApiError(400, BAD_BODY, "limit is 1..200")
    cat = service.catalogue
    if source is not None and source not in cat.sources:
        raise ApiError(
            400, UNKNOWN_SOURCE, f"no channel {source!r} in the catalogue; known: "
            f"{', '.join(cat.sources)}",
        )  # fmt: skip
    tz = _zone(request)

    def read() -> InboxList:
        rows, counts = service.inbox(source, int(limit))
        dups = service.duplicates(rows)
        now = utcnow()
        return InboxList(
            tickets=[inbox_ticket(service, t, dups.get(t.id, []), tz, now) for t in rows],
            total=counts.get(source, 0) if source else sum(counts.values()),
            sources=[
                InboxSource(code=code, name=s.name, kind=s.kind, waiting=counts.get(code, 0))
                for code, s in cat.sources.items()
            ],
            duplicate_days=cat.duplicate_days,
        )

    out: InboxList = await run_ticket_call(read)
    return web.json_response(out.model_dump())


async def duplicates_of(request: web.Request) -> web.Response:
    service = ticket_service(request)
    number = request.match_info["number"]
    tz = _zone(request)

    def read() -> InboxDuplicates:
        ticket = service.get(number)
        dups = service.duplicates([ticket]).get(ticket.id, [])
        return InboxDuplicates(
            number=number,
            duplicates=[duplicate_out(service, ticket, d, tz) for d in dups],
            duplicate_days=service.catalogue.duplicate_days,
        )

    out: InboxDuplicates = await run_ticket_call(read)
    return web.json_response(out.model_dump())


async def _act(request: web.Request, action: str, note: str, **params: Any) -> web.Response:
    """One lifecycle action on the ticket of the path, the account as actor; the ticket as
    the desk reads it (with its history) back."""
    service = ticket_service(request)
    actor = principal_of(request).username
    number = request.match_info["number"]
    tz = ZoneInfo(_zone(request))

    def act() -> Any:
        ticket = service.act(number, action, actor=actor, note=note, **params)
        merged = service.number_by_id(ticket.merged_into) if ticket.merged_into else None
        return ticket_out(service, ticket, tz, merged, service.history(number))

    out = await run_ticket_call(act)
    return web.json_response(out.model_dump())


async def answer(request: web.Request) -> web.Response:
    body = await read_body(request, AnswerBody, json_only=True)
    return await _act(request, "answer", body.note, reply=body.reply)


async def dispatch(request: web.Request) -> web.Response:
    body = await read_body(request, DispatchBody, json_only=True)
    return await _act(request, "dispatch", body.note, department=body.department or None)


async def merge(request: web.Request) -> web.Response:
    body = await read_body(request, MergeBody, json_only=True)
    return await _act(request, "merge", body.note, into=body.into)


def inbox_part() -> WebPart:
    """The inbox's routes, on the ticket part's service (add the ticket part first)."""

    def install(app: web.Application) -> None:
        assert TICKETS_KEY in app, "add the ticket part before the inbox part"

    one = "/api/inbox/{number}"

    def action(suffix: str, handler: Any, summary: str, body: str) -> ApiRoute:
        return ApiRoute(
            "POST", one + suffix, handler, DESK, summary, body=body,
            response="TicketOut", errors=(400, 404, 409),
        )  # fmt: skip

    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                "/api/inbox",
                list_inbox,
                DESK,
                "the accepted tickets waiting (受理), nearest deadline first, with their likely "
                "duplicates (?source=CODE&limit=N)",
                response="InboxList",
                errors=(400,),
            ),
            ApiRoute(
                "GET",
                one + "/duplicates",
                duplicates_of,
                DESK,
                "a ticket's likely duplicates of any channel (并单), oldest first",
                response="InboxDuplicates",
                errors=(404,),
            ),
            action("/answer", answer, "answer directly and finish (直接办结)", "AnswerBody"),
            action("/dispatch", dispatch, "dispatch to a department (派单)", "DispatchBody"),
            action("/merge", merge, "merge into another ticket (并单)", "MergeBody"),
        ),
        models=MODELS,
        install=install,
    )
