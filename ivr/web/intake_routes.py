"""``POST /api/intake/items``: a batch of items forwarded by an upper-level platform, taken as
tickets (docs/intake.md), for supervisors and admins (a script sends it with an API token of
such an account: ``hotline user token NAME``; a browser session sends its CSRF token, as on
every change).

The body is JSON ``{"source": CODE, "items": [...], "default_category": ..., "dry_run": ...}``,
or a CSV file (``Content-Type: text/csv``) with ``?source=CODE`` (and optionally
``default_category``, ``dry_run=1``). The answer is the batch's report: its counts and one
entry per item (created with its ticket number, already there, or refused with its row,
column and id). A body over :data:`MAX_BODY` bytes or :data:`MAX_ITEMS` items is 413
``HL-IMP-005``; a body that is not a batch 400 ``HL-WEB-001``; a source that is not an
upper-level platform 400 ``HL-IMP-003``; a CSV file without its columns 400 ``HL-IMP-001``.
One audit row per batch (``intake.import``) with the counts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.db.errors import DatabaseUnavailable
from ivr.errors import HotlineError
from ivr.intake.importer import BatchReport, Importer
from ivr.intake.item import TOO_LARGE, IntakeError
from ivr.intake.parse import Parsed, read_csv, read_items
from ivr.tickets.service import TicketService
from ivr.web.appkeys import principal_of
from ivr.web.errors import BAD_BODY, ApiError
from ivr.web.routing import SUPERVISION, ApiRoute, WebPart
from ivr.web.ticket_routes import TICKETS_AWAY

MAX_BODY = 8 * 1024 * 1024  # bytes of one request
MAX_ITEMS = 10_000  # items of one request: answered within 15 s (docs/benchmarks.md)
INTAKE_KEY: web.AppKey[Callable[[], TicketService | None]] = web.AppKey("intake")


class IntakeBatch(BaseModel):
    """A batch as JSON: the platform and its items (each an object of the item's fields)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=20, description="a catalogue source of kind upper")
    items: list[Any] = Field(description="the items, each an object: see docs/intake.md")
    default_category: str | None = Field(
        None, max_length=120, description="for items whose category is missing or unknown"
    )
    category_map: dict[str, str] | None = Field(
        None, description="the platform's category names -> the catalogue's (path or name)"
    )
    dry_run: bool = Field(False, description="check every item, change nothing")


class IntakeOutcomeOut(BaseModel):
    where: str = Field(description="'item N' (JSON, from 1) or 'row N' (the CSV file's line)")
    external_id: str
    outcome: str = Field(description="created, already (there before) or refused")
    number: str | None = None
    state: str | None = None
    department: str | None = None
    error_id: str | None = None
    column: str | None = None
    message: str = ""


class IntakeCountsOut(BaseModel):
    created: int
    already: int
    refused: int


class IntakeReportOut(BaseModel):
    source: str
    dry_run: bool
    counts: IntakeCountsOut
    encoding: str
    ignored_columns: list[str]
    items: list[IntakeOutcomeOut]


async def _read(request: web.Request) -> bytes:
    """The body, refused past :data:`MAX_BODY` before it is all read."""
    too_large = ApiError(
        413,
        TOO_LARGE,
        f"the body is over {MAX_BODY // (1024 * 1024)} MiB: send the items in several "
        "requests, or import the file with `hotline import`",
    )
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    chunks, size = [], 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


async def _batch(request: web.Request) -> tuple[Parsed, str, dict[str, Any]]:
    """The items, their source, and the batch's options (``Importer.run``'s keywords)."""
    raw = await _read(request)
    if request.content_type == "text/csv":
        query = request.query
        if not query.get("source"):
            raise ApiError(400, BAD_BODY, "a CSV body needs ?source=CODE (the platform)")
        try:
            parsed = read_csv(raw)
        except IntakeError as exc:
            raise ApiError(400, exc.code, exc.message) from None
        options: dict[str, Any] = {
            "default_category": query.get("default_category"),
            "dry_run": _flag(query.get("dry_run")),
        }
        return parsed, query["source"], options
    if request.content_type != "application/json":
        raise ApiError(400, BAD_BODY, "send the batch as JSON (application/json) or CSV (text/csv)")
    try:
        data = json.loads(raw) if raw.strip() else {}
        batch = IntakeBatch.model_validate(data)
    except ValueError as exc:  # not JSON (ValidationError is a ValueError too)
        if isinstance(exc, ValidationError):
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(x) for x in err.get("loc", ())) or "body"
            raise ApiError(400, BAD_BODY, f"bad request body: {where}: {err['msg']}") from None
        raise ApiError(400, BAD_BODY, f"the body is not JSON: {exc}") from None
    options = {
        "default_category": batch.default_category,
        "category_map": batch.category_map,
        "dry_run": batch.dry_run,
    }
    return read_items(batch.items), batch.source, options


async def import_items(request: web.Request) -> web.Response:
    service = request.app[INTAKE_KEY]()
    if service is None:
        raise ApiError(
            503,
            TICKETS_AWAY,
            "tickets are not available on this server: its ticket catalogue was refused at "
            "start (hotline check-config names the problem); fix it and restart",
        )
    parsed, source, options = await _batch(request)
    if len(parsed.rows) > MAX_ITEMS:
        raise ApiError(
            413, TOO_LARGE, f"{len(parsed.rows)} items: at most {MAX_ITEMS} in one request"
        )
    who = principal_of(request)
    importer = Importer(service, who.username)
    try:
        report: BatchReport = await asyncio.to_thread(
            importer.run, parsed, source, **options, auditor=who, address=request.remote or ""
        )
    except DatabaseUnavailable as exc:
        raise ApiError(503, exc.code, exc.message) from None
    except HotlineError as exc:
        raise ApiError(int(getattr(exc, "status", 400)), exc.code, exc.message) from None
    return web.json_response(report.as_json())


def intake_part(tickets: Callable[[], TicketService | None]) -> WebPart:
    """The import route on the ticket service ``tickets()`` returns (None: the catalogue was
    refused at start)."""

    def install(app: web.Application) -> None:
        app[INTAKE_KEY] = tickets

    return WebPart(
        routes=(
            ApiRoute(
                "POST",
                "/api/intake/items",
                import_items,
                SUPERVISION,
                "import the items an upper-level platform forwarded (JSON batch, or CSV with "
                "?source=) as tickets, once per source and id; audited",
                body="IntakeBatch",
                response="IntakeReportOut",
                errors=(400, 413),
            ),
        ),
        models=(IntakeBatch, IntakeOutcomeOut, IntakeCountsOut, IntakeReportOut),
        install=install,
    )
