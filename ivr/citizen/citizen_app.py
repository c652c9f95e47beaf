"""The citizens' app: its own small aiohttp application on a listener of its own
(``hotline serve --citizen-port``), with only these routes - no staff route, page or asset
is reachable on it:

- ``GET /`` the request form, ``GET /lookup`` the lookup page, ``GET /static/{name}`` their
  assets (``citizen.js``, ``citizen.css``, and the staff pages' ``hotline.css``; no CDN);
- ``GET /api/citizen/form``: the catalogue's types and top-level categories, the form token;
- ``POST /api/citizen/requests``: a request becomes a ticket (source ``web``), its number;
- ``POST /api/citizen/lookup``: a ticket's state in words and its reply, for its number and
  the phone number it was filed with (a wrong pair answers as an unknown number does).

Errors are JSON ``{"error_id", "message", "details"}`` with ``HL-CIT-`` ids (docs/errors.md);
limits answer 429 with ``Retry-After``; Redis or the database away answer 503 saying the
request was not submitted. Bodies are at most :data:`MAX_BODY` bytes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.citizen import citizen_pages as pages
from ivr.citizen import guard
from ivr.citizen.citizen_schemas import (
    ADDRESS_MAX,
    CONTENT_MAX,
    NAME_MAX,
    Choice,
    FormOut,
    LookupBody,
    LookupOut,
    SubmitBody,
    SubmitOut,
)
from ivr.citizen.intake import WORDS, CitizenDesk
from ivr.citizen.limits import Limit, Limits, RateLimiter
from ivr.citizen.phones import normalize
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.service import TicketService
from ivr.web.bodies import read_body
from ivr.web.errors import ApiError, Handler, json_error
from ivr.web.ticket_routes import iso

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024  # a request of 2,000 characters fits with room to spare
BAD_INPUT = "HL-CIT-001"
TOO_MANY = "HL-CIT-003"
REDIS_AWAY = "HL-CIT-004"
DATABASE_AWAY = "HL-CIT-005"
TOO_LARGE = "HL-CIT-006"
NO_ROUTE = "HL-CIT-007"
TICKETS_AWAY = "HL-CIT-008"
NOT_FOUND = "HL-CIT-009"
FAILED = "HL-CIT-010"


@dataclass(frozen=True)
class CitizenOptions:
    """From the settings (``HOTLINE_CITIZEN_*``)."""

    limits: Limits = field(default_factory=Limits)
    proxies: tuple[str, ...] = ()  # trusted reverse proxies: their X-Forwarded-For is read
    origins: tuple[str, ...] = ()  # further origins the form may be sent from
    cookie_secure: bool = False  # behind HTTPS: the form cookie is Secure


TICKETS: web.AppKey[Callable[[], TicketService | None]] = web.AppKey("citizen_tickets")
LIMITER: web.AppKey[RateLimiter] = web.AppKey("citizen_limiter", RateLimiter)
OPTIONS: web.AppKey[CitizenOptions] = web.AppKey("citizen_options", CitizenOptions)
PROXIES: web.AppKey[tuple[guard.Network, ...]] = web.AppKey("citizen_proxies")


#: what the citizen is told about a field refused (Chinese first: the page shows the message)
HINTS = {
    "phone": "电话号码有误：请填写 11 位手机号码，或带区号的固定电话",
    "content": f"请填写诉求内容（最多 {CONTENT_MAX} 字）",
    "address": f"事发地址最多 {ADDRESS_MAX} 字",
    "name": f"姓名最多 {NAME_MAX} 字",
    "type": "请选择诉求类型",
    "category": "请选择诉求分类（不清楚可选“不清楚”）",
    "confidential": "请选择是否保密",
    "number": "请填写工单号",
}


def _refused_field(field: str, english: str) -> ApiError:
    hint = HINTS.get(field, "请刷新页面后重新填写")
    return ApiError(400, BAD_INPUT, f"{hint} / {english}", {"field": field})


def _not_done(request: web.Request) -> str:
    if request.path == "/api/citizen/requests":
        return (
            "暂时无法受理，您的诉求没有提交成功，请稍后再试或拨打 12345 / your request was "
            "NOT submitted: please try again in a few minutes, or call 12345"
        )
    return "暂时无法查询，请稍后再试 / the lookup is not available now: try again shortly"


@web.middleware
async def citizen_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        headers = None
        if exc.details and "retry_after" in exc.details:
            headers = {"Retry-After": str(exc.details["retry_after"])}
        return json_error(exc.status, exc.error_id, exc.message, exc.details, headers)
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, TOO_LARGE, f"内容太长 / the request is larger than {MAX_BODY} bytes")
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return json_error(404, NO_ROUTE, f"no such page: {request.path}")
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.error("[%s] %s: Redis unreachable: %s", REDIS_AWAY, request.path, exc)
        return json_error(503, REDIS_AWAY, _not_done(request))
    except (OperationalError, InterfaceError) as exc:
        log.error("[%s] %s: database unreachable: %s", DATABASE_AWAY, request.path, exc.orig)
        return json_error(503, DATABASE_AWAY, _not_done(request))
    except web.HTTPException:
        raise  # redirects
    except Exception:
        log.exception("[%s] %s failed", FAILED, request.path)
        return json_error(500, FAILED, _not_done(request))


def _desk(request: web.Request) -> CitizenDesk:
    service = request.app[TICKETS]()
    if service is None:
        raise ApiError(503, TICKETS_AWAY, _not_done(request))
    return CitizenDesk(service)


async def _limit(request: web.Request, limit: Limit, subject: str) -> None:
    wait = await request.app[LIMITER].hit(limit, subject)
    if wait is not None:
        log.warning("[%s] %s: limit %s reached", TOO_MANY, request.path, limit.kind)
        raise ApiError(
            429,
            TOO_MANY,
            f"操作太频繁，请 {(wait + 59) // 60} 分钟后再试 / too many requests: please try "
            f"again in {(wait + 59) // 60} minutes",
            {"retry_after": wait, "limit": limit.kind},
        )


M = TypeVar("M", bound=BaseModel)


async def _body(request: web.Request, model: type[M]) -> M:
    """The JSON body as ``model``; a bad one is 400 ``HL-CIT-001`` naming the field."""
    try:
        return await read_body(request, model, json_only=True)
    except ApiError as exc:
        if exc.status != 400:
            raise
        problems = (exc.details or {}).get("problems") or [{}]
        loc = problems[0].get("loc") or [""]
        raise _refused_field(str(loc[0]), exc.message) from None


def _address(request: web.Request) -> str:
    return guard.client_address(request, request.app[PROXIES])


async def get_form(request: web.Request) -> web.Response:
    desk = _desk(request)
    token = request.cookies.get(guard.COOKIE) or guard.new_token()
    out = FormOut(
        types=[Choice(code=c, name=n) for c, n in desk.types()],
        categories=[Choice(code=c, name=n) for c, n in desk.categories()],
        default_category=desk.default,
        form_token=token,
    )
    response = web.json_response(out.model_dump())
    guard.set_token(response, token, request.app[OPTIONS].cookie_secure)
    return response


async def submit(request: web.Request) -> web.Response:
    options = request.app[OPTIONS]
    guard.check_form(request, options.origins)
    body = await _body(request, SubmitBody)
    phone = normalize(body.phone)
    if phone is None:
        raise _refused_field(
            "phone", "phone: give a mainland mobile (11 digits) or a fixed line with its area code"
        )
    desk = _desk(request)
    await _limit(request, options.limits.submit_address, _address(request))
    await _limit(request, options.limits.submit_phone, phone)
    try:
        ticket = await asyncio.to_thread(
            desk.submit,
            phone=phone,
            content=body.content,
            address=body.address,
            name=body.name,
            type=body.type,
            category=body.category,
            confidential=body.confidential,
        )
    except BadTicketInput as exc:
        raise _refused_field(exc.message.split(":", 1)[0], exc.message) from None
    log.info("citizen request filed as ticket %s (source web)", ticket.number)
    tz = desk.service.deadlines.calendar.tz
    out = SubmitOut(
        number=ticket.number,
        accepted_at=iso(tz, ticket.accepted_at),
        deadline=iso(tz, ticket.deadline),
    )
    return web.json_response(out.model_dump())


async def lookup(request: web.Request) -> web.Response:
    options = request.app[OPTIONS]
    guard.check_form(request, options.origins)
    body = await _body(request, LookupBody)
    desk = _desk(request)
    await _limit(request, options.limits.lookup_address, _address(request))
    await _limit(request, options.limits.lookup_ticket, body.number.upper())
    found = await asyncio.to_thread(desk.lookup, body.number, body.phone)
    if found is None:
        raise ApiError(
            404,
            NOT_FOUND,
            "没有找到与这个工单号和电话号码对应的工单，请核对工单号和提交时的电话号码 / no "
            "ticket with this number and phone number: check both",
        )
    t, tz = found.ticket, desk.service.deadlines.calendar.tz
    finished = found.word == "finished"
    out = LookupOut(
        number=found.asked,
        state=found.word,
        state_words=WORDS[found.word],
        type_name=desk.catalogue.type_name(t.type),
        category_name=desk.catalogue.category_name(t.category),
        accepted_at=iso(tz, t.accepted_at),
        finished_at=iso(tz, t.finished_at) if finished and t.finished_at else None,
        reply=t.reply if finished else "",
        merged_into=t.number if t.number != found.asked else None,
    )
    return web.json_response(out.model_dump())


ROUTES: Sequence[tuple[str, str, Handler]] = (
    ("GET", "/", pages.submit_page),
    ("GET", "/lookup", pages.lookup_page),
    ("GET", "/static/{name}", pages.asset),
    ("GET", "/api/citizen/form", get_form),
    ("POST", "/api/citizen/requests", submit),
    ("POST", "/api/citizen/lookup", lookup),
)


def create_citizen_app(
    tickets: Callable[[], TicketService | None],
    limiter: RateLimiter,
    options: CitizenOptions | None = None,
) -> web.Application:
    """The citizens' app on the ticket service ``tickets`` returns (None: refused at start,
    503) and the Redis ``limiter``; a bad entry of ``options.proxies`` is refused
    (``HL-CIT-011``)."""
    options = options or CitizenOptions()
    app = web.Application(middlewares=[citizen_errors], client_max_size=MAX_BODY)
    app[TICKETS] = tickets
    app[LIMITER] = limiter
    app[OPTIONS] = options
    app[PROXIES] = guard.networks(options.proxies)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    return app
