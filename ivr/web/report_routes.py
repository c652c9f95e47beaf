"""``/api/reports``: the daily, weekly and monthly reports in the browser, for supervisors
and admins - the same report as ``hotline report`` (:mod:`ivr.reports`), made when asked
(the figures as they are now), as HTML with its charts, Markdown and CSV (one file per
table, and all of them in a zip).

``GET /api/reports/{kind}/{label}/index.html`` (``day/2020-02-09``, ``week/2020-W07``,
``month/2020-02``) makes the report into the server's ``var/reports/web/<kind>-<label>/``
and answers its HTML; the charts, the CSV of each table (``report-2020-02-departments.csv``)
and their zip (``report-2020-02-csv.zip``) beside it are then read from there by their names
(relative links of the HTML); a narrative saved for the report (突出问题, 意见和建议,
解决较好的问题) is in it. ``/reports`` is the page that picks the period, and edits and
publishes a report's narrative (:mod:`ivr.web.publication_routes`)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from ivr.reports import build_report, parse_period
from ivr.reports.publications import Publications
from ivr.reports.render import write_report
from ivr.tickets.errors import BadTicketInput
from ivr.web.errors import BAD_BODY, NO_ROUTE, ApiError
from ivr.web.publication_routes import PUBLICATION_MODELS, PUBLICATION_ROUTES
from ivr.web.routing import SUPERVISION, ApiRoute, WebPart
from ivr.web.ticket_routes import TICKETS_KEY, run_ticket_call, ticket_service

DIR_KEY: web.AppKey[Path] = web.AppKey("reports_dir", Path)
TYPES = {
    ".html": "text/html",
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".png": "image/png",
    ".zip": "application/zip",
}
FILE = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def _period(kind: str, label: str) -> tuple[str, str]:
    try:
        if kind not in ("day", "week", "month"):
            raise BadTicketInput(kind)
        period = parse_period(**{kind: label})
    except BadTicketInput:
        raise ApiError(
            400, BAD_BODY, "a report is day/YYYY-MM-DD, week/YYYY-Www or month/YYYY-MM"
        ) from None
    return period.kind, period.label


async def report_file(request: web.Request) -> web.StreamResponse:
    kind, label = _period(request.match_info["kind"], request.match_info["label"])
    name = request.match_info["file"]
    if not FILE.match(name) or Path(name).suffix not in TYPES:
        raise ApiError(404, NO_ROUTE, f"no such report file: {name}")
    folder = request.app[DIR_KEY] / f"{kind}-{label}"
    if name == "index.html":
        service = ticket_service(request)

        def make() -> Path:
            period = parse_period(**{kind: label})
            tz = service.deadlines.calendar.tz
            report = build_report(service.db, service.catalogue, period, tz=tz)
            saved = Publications(service.db, service.catalogue, tz).saved(period)
            written = write_report(report, folder, saved)
            return next(p for p in written if p.suffix == ".html")

        page = await run_ticket_call(make)
        return web.Response(body=page.read_bytes(), content_type="text/html", charset="utf-8")
    path = folder / name
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(404, NO_ROUTE, f"no such report file: {name} (open index.html first)")
    body = await asyncio.to_thread(path.read_bytes)
    headers = {}
    if path.suffix in (".csv", ".zip"):
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return web.Response(body=body, content_type=TYPES[path.suffix], headers=headers)


def reports_part(directory: Path) -> WebPart:
    """The reports, made into ``directory`` (on the ticket part's service: add it first)."""

    def install(app: web.Application) -> None:
        assert TICKETS_KEY in app, "add the ticket part before the reports part"
        app[DIR_KEY] = directory

    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                "/api/reports/{kind}/{label}/{file}",
                report_file,
                SUPERVISION,
                "a report (index.html: made now, with its charts and CSV beside it)",
                response_schema={"type": "string"},
                errors=(400, 404),
            ),
            *PUBLICATION_ROUTES,
        ),
        models=PUBLICATION_MODELS,
        install=install,
    )
