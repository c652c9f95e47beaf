"""``/api/supervision``: what a supervisor reviews and does to tickets.

Lists (nearest deadline first): ``extensions`` (延期 asked by departments, to approve or
reject: not by the one who asked), ``returned`` (退单, reviewed and re-dispatched to the right
department), ``supervised`` (督办, with why), ``overdue``, ``dissatisfied`` (a 回访 where the
citizen was not satisfied or the problem not solved: redo it, 重办, counted on the ticket).
Actions go through the ticket lifecycle (its checks and history rows, the account as actor):
approve or reject an extension, remind (催办, counted), put under supervision (督办),
re-dispatch a returned ticket, redo a dissatisfied one. Each item says why it is on its list
(the department's reason for an extension or a return, the 回访's note and satisfaction);
``/api/supervision/counts`` gives the length of every list at once (the review page's tabs)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ivr.db.tables import TicketRow
from ivr.tickets.service import TicketService, utcnow
from ivr.web.appkeys import QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import BAD_BODY, ApiError
from ivr.web.portal_routes import portal_ticket
from ivr.web.portal_schemas import PortalTicket
from ivr.web.routing import SUPERVISION, ApiRoute, WebPart
from ivr.web.ticket_routes import TICKETS_KEY, run_ticket_call, ticket_service

VIEWS = ("extensions", "returned", "supervised", "overdue", "dissatisfied")


class ReviewItem(BaseModel):
    ticket: PortalTicket
    department: str | None
    department_name: str
    reasons: list[str] = Field(description="督办: why (repeated, overdue, manual ...)")
    why: str = Field(
        "", description="the department's reason (延期, 退单) or the 回访's note (不满意)"
    )
    satisfaction: int | None = Field(None, description="回访: 5 very satisfied .. 1 very not")
    solved: bool | None = Field(None, description="回访: the problem solved, as the citizen says")


class ReviewList(BaseModel):
    view: str
    items: list[ReviewItem]
    total: int


class ReviewCounts(BaseModel):
    extensions: int
    returned: int
    supervised: int
    overdue: int
    dissatisfied: int


# the action whose latest note says why a ticket is on a list
WHY = {"extensions": ["extend_request"], "returned": ["return"], "dissatisfied": ["callback"]}


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=1000)


class RedispatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    department: str = Field(min_length=1, max_length=40, description="where it belongs")
    note: str = Field("", max_length=1000)


def _items(
    service: TicketService, rows: list[tuple[TicketRow, list[str]]], tz: str, view: str
) -> list[ReviewItem]:
    now = utcnow()
    cat = service.catalogue
    why = service.latest_notes([t.id for t, _ in rows], WHY[view]) if view in WHY else {}
    return [
        ReviewItem(
            ticket=portal_ticket(service, t, tz, now, reveal=True),
            department=t.department,
            department_name=cat.department_name(t.department),
            reasons=reasons,
            why=why.get(t.id, ""),
            satisfaction=t.satisfaction,
            solved=t.solved,
        )
        for t, reasons in rows
    ]


async def review(request: web.Request) -> web.Response:
    service = ticket_service(request)
    view = request.query.get("view", "extensions")
    limit = request.query.get("limit", "100")
    if view not in VIEWS or not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise ApiError(400, BAD_BODY, f"view is one of {', '.join(VIEWS)}; limit 1..500")
    tz = request.app[QUEUE_KEY].settings.timezone

    def read() -> ReviewList:
        rows: list[tuple[TicketRow, list[str]]]
        if view == "supervised":
            every = service.supervised()
            rows, total = every[: int(limit)], len(every)
        elif view == "overdue":
            found, total = service.list_tickets(overdue=True, limit=int(limit))
            rows = [(t, []) for t in found]
        else:
            found, total = service.review_list(view, int(limit))
            rows = [(t, []) for t in found]
        return ReviewList(view=view, items=_items(service, rows, tz, view), total=total)

    return web.json_response((await run_ticket_call(read)).model_dump())


async def counts(request: web.Request) -> web.Response:
    service = ticket_service(request)

    def read() -> ReviewCounts:
        return ReviewCounts(
            extensions=service.review_list("extensions", 0)[1],
            returned=service.review_list("returned", 0)[1],
            supervised=len(service.supervised()),
            overdue=service.list_tickets(overdue=True, limit=0)[1],
            dissatisfied=service.review_list("dissatisfied", 0)[1],
        )

    return web.json_response((await run_ticket_call(read)).model_dump())


def _action(action: str, body_model: type[NoteBody] | type[RedispatchBody]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        body = await read_body(request, body_model, json_only=True)
        service = ticket_service(request)
        who = principal_of(request)
        number = request.match_info["number"]
        tz = request.app[QUEUE_KEY].settings.timezone
        params: dict[str, Any] = {}
        if isinstance(body, RedispatchBody):
            params["department"] = body.department

        def act() -> PortalTicket:
            service.act(number, action, actor=who.username, note=body.note, **params)
            return portal_ticket(
                service, service.get(number), tz, utcnow(), service.history(number), reveal=True
            )

        return web.json_response((await run_ticket_call(act)).model_dump())

    return handler


ACTIONS = (
    ("extend-approve", "extend_approve", NoteBody, "approve a department's extension (延期)"),
    ("extend-reject", "extend_reject", NoteBody, "reject a department's extension"),
    ("remind", "remind", NoteBody, "remind the department (催办, counted)"),
    ("supervise", "supervise", NoteBody, "put the ticket under supervision (督办)"),
    ("redispatch", "redispatch", RedispatchBody, "send a returned ticket (退单) on, reviewed"),
    ("redo", "redo", NoteBody, "redo a ticket the citizen was not satisfied with (重办)"),
)


def supervision_part() -> WebPart:
    """The supervisors' ticket review, on the ticket part's service (add that part first)."""

    def install(app: web.Application) -> None:
        assert TICKETS_KEY in app, "add the ticket part before the supervision part"

    routes = [
        ApiRoute(
            "GET", "/api/supervision/tickets", review, SUPERVISION,
            "tickets to review (?view=extensions|returned|supervised|overdue|dissatisfied)",
            response="ReviewList", errors=(400,),
        ),
        ApiRoute(
            "GET", "/api/supervision/counts", counts, SUPERVISION,
            "how many tickets each review list holds (the review page's tabs)",
            response="ReviewCounts",
        ),
    ]  # fmt: skip
    for suffix, action, model, summary in ACTIONS:
        routes.append(
            ApiRoute(
                "POST",
                f"/api/supervision/tickets/{{number}}/{suffix}",
                _action(action, model),
                SUPERVISION,
                summary,
                body=model.__name__,
                response="PortalTicket",
                errors=(400, 403, 404, 409),
            )
        )
    return WebPart(
        routes=routes,
        models=(NoteBody, RedispatchBody, ReviewCounts, ReviewItem, ReviewList),
        install=install,
    )
