"""``/api/report-publications``: a report's narrative sections (突出问题, 意见和建议, 解决较好的
问题) drafted by the system, edited by a supervisor or admin, then the report published and
kept as published (:mod:`ivr.reports.publications`). Part of the reports' :class:`WebPart`
(:func:`ivr.web.report_routes.reports_part`), on the ticket part's service.

- ``GET /api/report-publications``: the saved and published reports, latest first;
- ``GET /api/report-publications/{kind}/{label}``: the narrative saved, or the system's draft
  (``state: new``) when none was saved yet;
- ``POST /api/report-publications/{kind}/{label}`` ``{problems, suggestions, solved}``: save the
  edit (audited ``report.save``);
- ``POST /api/report-publications/{kind}/{label}/publish``: make the report with the saved
  narrative and keep it (audited ``report.publish``);
- ``GET /api/report-publications/{kind}/{label}/published`` (``?format=md``): the published
  report as it was published (HTML with its charts inside, or Markdown).

Refusals: 409 ``HL-RPT-001`` published already, 409 ``HL-RPT-002`` nothing saved to publish,
404 ``HL-RPT-003`` not published, 400 ``HL-WEB-001`` a bad period or body."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from pydantic import BaseModel, Field

from ivr.reports.figures import Period, parse_period
from ivr.reports.narrative import Narrative
from ivr.reports.publications import Publication, Publications
from ivr.tickets.errors import BadTicketInput
from ivr.web.appkeys import principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import BAD_BODY, ApiError
from ivr.web.routing import SUPERVISION, ApiRoute
from ivr.web.ticket_routes import run_ticket_call, ticket_service

TEXT = 20000  # characters per section at most


class NarrativeBody(BaseModel):
    problems: str = Field(max_length=TEXT)
    suggestions: str = Field(max_length=TEXT)
    solved: str = Field(max_length=TEXT)


class PublicationOut(BaseModel):
    kind: str
    label: str
    state: str  # new | draft | published
    problems: str
    suggestions: str
    solved: str
    edited_by: str | None
    edited_at: str | None
    published_by: str | None
    published_at: str | None
    published_url: str | None


class PublicationsOut(BaseModel):
    publications: list[PublicationOut]


BASE = "/api/report-publications"


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def out(p: Publication) -> PublicationOut:
    n = p.narrative
    url = f"{BASE}/{p.kind}/{p.label}/published" if p.state == "published" else None
    return PublicationOut(
        kind=p.kind,
        label=p.label,
        state=p.state,
        problems=n.problems,
        suggestions=n.suggestions,
        solved=n.solved,
        edited_by=p.edited_by,
        edited_at=_iso(p.edited_at),
        published_by=p.published_by,
        published_at=_iso(p.published_at),
        published_url=url,
    )


def _period(request: web.Request) -> Period:
    kind, label = request.match_info["kind"], request.match_info["label"]
    try:
        if kind not in ("day", "week", "month"):
            raise BadTicketInput(kind)
        return parse_period(**{kind: label})
    except BadTicketInput:
        raise ApiError(
            400, BAD_BODY, "a report is day/YYYY-MM-DD, week/YYYY-Www or month/YYYY-MM"
        ) from None


def _store(request: web.Request) -> Publications:
    service = ticket_service(request)
    return Publications(service.db, service.catalogue, service.deadlines.calendar.tz)


def _json(p: Publication) -> web.Response:
    return web.json_response(out(p).model_dump())


async def list_publications(request: web.Request) -> web.Response:
    found = await run_ticket_call(_store(request).recent)
    return web.json_response(PublicationsOut(publications=[out(p) for p in found]).model_dump())


async def get_publication(request: web.Request) -> web.Response:
    period, store = _period(request), _store(request)
    return _json(await run_ticket_call(lambda: store.get(period)))


async def save_publication(request: web.Request) -> web.Response:
    period, store = _period(request), _store(request)
    body = await read_body(request, NarrativeBody, json_only=True)
    text = Narrative(body.problems, body.suggestions, body.solved)
    who, address = principal_of(request), request.remote or ""
    return _json(await run_ticket_call(lambda: store.save(period, text, who, address)))


async def publish(request: web.Request) -> web.Response:
    period, store = _period(request), _store(request)
    who, address = principal_of(request), request.remote or ""
    return _json(await run_ticket_call(lambda: store.publish(period, who, address)))


async def published(request: web.Request) -> web.Response:
    period, store = _period(request), _store(request)
    text, page = await run_ticket_call(lambda: store.published(period))
    if request.query.get("format") == "md":
        return web.Response(text=text, content_type="text/markdown", charset="utf-8")
    return web.Response(text=page, content_type="text/html", charset="utf-8")


ONE = f"{BASE}/{{kind}}/{{label}}"
PUBLICATION_MODELS: tuple[type[BaseModel], ...] = (NarrativeBody, PublicationOut, PublicationsOut)
PUBLICATION_ROUTES = (
    ApiRoute(
        "GET",
        BASE,
        list_publications,
        SUPERVISION,
        "the saved and published reports, latest first",
        response="PublicationsOut",
    ),
    ApiRoute(
        "GET",
        ONE,
        get_publication,
        SUPERVISION,
        "a report's narrative sections: saved, or the system's draft (state new)",
        response="PublicationOut",
        errors=(400,),
    ),
    ApiRoute(
        "POST",
        ONE,
        save_publication,
        SUPERVISION,
        "save the edited narrative sections (a draft until published), audited",
        body="NarrativeBody",
        response="PublicationOut",
        errors=(400, 409),
    ),
    ApiRoute(
        "POST",
        f"{ONE}/publish",
        publish,
        SUPERVISION,
        "publish the report with its saved narrative; kept as published, audited",
        response="PublicationOut",
        errors=(400, 409),
    ),
    ApiRoute(
        "GET",
        f"{ONE}/published",
        published,
        SUPERVISION,
        "the published report as published (HTML with its charts; ?format=md Markdown)",
        response_schema={"type": "string"},
        errors=(400, 404),
        content_type="text/html",
    ),
)
