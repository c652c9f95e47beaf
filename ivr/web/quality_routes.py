"""``/api/quality...``: quality checks (质检) for supervisors and admins, as a :class:`WebPart`
the composition root adds: ``quality_part(QualityForms(config_dir).current)``.

- ``GET /api/quality/form``: the form of ``config/quality.yaml`` (items, most points, pass mark);
- ``GET /api/quality/calls?agent=1001&from=2026-12-01&to=2026-12-05&unchecked=1&limit=50``:
  answered calls with a recording, the unchecked first, each with its checks and the URL its
  recording plays from (``/api/calls/{uniqueid}/recording``: that route checks the role and
  audits each playback);
- ``GET /api/quality/checks?uniqueid=...``: the checks of one call;
- ``POST /api/quality/checks`` ``{uniqueid, scores: {item: points}, comment}``: the account's
  score of the call (a re-score replaces its earlier one), audited as ``quality.score``;
- ``GET /api/quality/operators?from=...&to=...``: per operator, the checks of the calls of
  those local days (default: the last 30), mean total, passed, mean per item.

Refusals: the domain's ``HL-QUA-nnn`` with their status (409 no form or a refused one, 404 no
such call, 400 a score off the form or a bad filter), a body off its schema 400 ``HL-WEB-001``.
The database work runs in a thread."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr.config.quality import QualityForm
from ivr.quality import (
    Check,
    FilterInvalid,
    RecordedCallFilter,
    Scoring,
    calls_to_check,
    operator_quality,
)
from ivr.quality import parse_day as _day
from ivr.web.appkeys import DATABASE_KEY, QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.quality_schemas import (
    QUALITY_MODELS,
    QualityCallsOut,
    QualityChecksOut,
    QualityOperatorsOut,
    QualityScoreBody,
    call_out,
    check_out,
    form_out,
    operator_out,
)
from ivr.web.routing import SUPERVISION, ApiRoute, WebPart

FORMS_KEY: web.AppKey[Callable[[], QualityForm]] = web.AppKey("quality_forms")
DEFAULT_DAYS = 30


def _form(request: web.Request) -> QualityForm:
    return request.app[FORMS_KEY]()


def _today(request: web.Request) -> dt.date:
    return dt.datetime.now(ZoneInfo(request.app[QUEUE_KEY].settings.timezone)).date()


async def get_form(request: web.Request) -> web.Response:
    form = await asyncio.to_thread(_form, request)
    return web.json_response(form_out(form).model_dump())


async def list_calls(request: web.Request) -> web.Response:
    q = request.query
    limit = q.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 4):
        raise FilterInvalid("limit: give a number from 1 to 200")
    f = RecordedCallFilter(
        agent=q.get("agent") or None,
        day_from=_day(q.get("from"), "from"),
        day_to=_day(q.get("to"), "to"),
        unchecked=q.get("unchecked", "") in ("1", "true", "yes"),
        limit=int(limit),
    )
    db = request.app[DATABASE_KEY]
    calls = await asyncio.to_thread(calls_to_check, db, f)
    return web.json_response(QualityCallsOut(calls=[call_out(c) for c in calls]).model_dump())


async def list_checks(request: web.Request) -> web.Response:
    uniqueid = request.query.get("uniqueid", "")
    if not 0 < len(uniqueid) <= 64:
        raise FilterInvalid("uniqueid: give the call's uniqueid")
    scoring = Scoring(request.app[DATABASE_KEY])
    checks = await asyncio.to_thread(scoring.checks, uniqueid)
    out = QualityChecksOut(uniqueid=uniqueid, checks=[check_out(c) for c in checks])
    return web.json_response(out.model_dump())


async def score(request: web.Request) -> web.Response:
    body = await read_body(request, QualityScoreBody, json_only=True)
    who = principal_of(request)
    scoring = Scoring(request.app[DATABASE_KEY])

    def save() -> Check:
        form = _form(request)
        return scoring.score(
            form, body.uniqueid, body.scores, body.comment, who, request.remote or ""
        )

    check = await asyncio.to_thread(save)
    return web.json_response(check_out(check).model_dump())


async def operators(request: web.Request) -> web.Response:
    q = request.query
    day_to = _day(q.get("to"), "to") or _today(request)
    day_from = _day(q.get("from"), "from") or day_to - dt.timedelta(days=DEFAULT_DAYS - 1)
    if day_to < day_from or (day_to - day_from).days > 366:
        raise FilterInvalid("from .. to: at most a year, the end not before the start")
    db = request.app[DATABASE_KEY]

    def read() -> QualityOperatorsOut:
        with db.session() as s:
            found = operator_quality(s, day_from, day_to + dt.timedelta(days=1))
        return QualityOperatorsOut(
            day_from=day_from.isoformat(),
            day_to=day_to.isoformat(),
            operators=[operator_out(o) for o in found],
        )

    return web.json_response((await asyncio.to_thread(read)).model_dump())


def quality_part(forms: Callable[[], QualityForm]) -> WebPart:
    """The quality checks' routes; ``forms()`` gives the current form (raises
    ``FormMissing`` / ``FormRefused``)."""

    def install(app: web.Application) -> None:
        app[FORMS_KEY] = forms

    base = "/api/quality"
    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                f"{base}/form",
                get_form,
                SUPERVISION,
                "the quality-check form (config/quality.yaml)",
                response="QualityFormOut",
                errors=(409,),
            ),
            ApiRoute(
                "GET",
                f"{base}/calls",
                list_calls,
                SUPERVISION,
                "recorded calls to score, unchecked first (?agent, from, to, unchecked, limit)",
                response="QualityCallsOut",
                errors=(400,),
            ),
            ApiRoute(
                "GET",
                f"{base}/checks",
                list_checks,
                SUPERVISION,
                "the checks of one call (?uniqueid)",
                response="QualityChecksOut",
                errors=(400,),
            ),
            ApiRoute(
                "POST",
                f"{base}/checks",
                score,
                SUPERVISION,
                "score a recorded call on the form (a re-score replaces yours), audited",
                body="QualityScoreBody",
                response="QualityCheckOut",
                errors=(400, 404, 409),
            ),
            ApiRoute(
                "GET",
                f"{base}/operators",
                operators,
                SUPERVISION,
                "quality per operator over local days (?from, to; default the last 30)",
                response="QualityOperatorsOut",
                errors=(400,),
            ),
        ),
        models=QUALITY_MODELS,
        install=install,
    )
