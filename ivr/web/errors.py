"""The HTTP API's errors: every refusal is JSON ``{"error_id", "message", "details"}`` with a
stable id (docs/errors.md), never an HTML page or a traceback.

:class:`ApiError` is raised by handlers and guards; :func:`error_middleware` turns it, the
queue's refusals (409), a lost Redis or database (503) and aiohttp's own 404/405 into that
shape."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.errors import HotlineError
from queueing.queue import QueueError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BAD_BODY = "HL-WEB-001"
REDIS_AWAY = "HL-WEB-002"
NOT_LOGGED_IN = "HL-WEB-003"
FORBIDDEN = "HL-WEB-004"
CSRF = "HL-WEB-005"
NO_ROUTE = "HL-WEB-006"
DATABASE_AWAY = "HL-WEB-007"
AUDIT_LOST = "HL-WEB-008"


class ApiError(Exception):
    """A refusal with its HTTP status, stable id, one-line message and optional details."""

    def __init__(
        self, status: int, error_id: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.details = details


def need_websocket(request: web.Request) -> None:
    """A WebSocket route asked as plain HTTP: 400 ``HL-WEB-001`` (not aiohttp's text page)."""
    if not web.WebSocketResponse().can_prepare(request).ok:
        raise ApiError(400, BAD_BODY, f"{request.path} is a WebSocket: open it with Upgrade")


def json_error(
    status: int,
    error_id: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error_id": error_id, "message": message, "details": details}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        headers = None
        if exc.details and "retry_after" in exc.details:
            headers = {"Retry-After": str(exc.details["retry_after"])}
        return json_error(exc.status, exc.error_id, exc.message, exc.details, headers)
    except QueueError as exc:
        return json_error(409, exc.code, exc.message)
    except HotlineError as exc:  # the accounts' refusals carry their HTTP status
        status = int(getattr(exc, "status", 400))
        return json_error(status, exc.code, exc.message)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning(
            "[%s] %s %s: Redis unreachable: %s", REDIS_AWAY, request.method, request.path, exc
        )
        return json_error(503, REDIS_AWAY, "the operator queue (Redis) is unreachable; try again")
    except (OperationalError, InterfaceError) as exc:
        log.warning(
            "[%s] %s %s: database unreachable: %s",
            DATABASE_AWAY,
            request.method,
            request.path,
            exc.orig,
        )
        return json_error(503, DATABASE_AWAY, "the database is unreachable; try again shortly")
    except web.HTTPMethodNotAllowed as exc:
        return json_error(
            405,
            NO_ROUTE,
            f"{request.method} is not allowed on {request.path}",
            {"allowed": sorted(exc.allowed_methods)},
        )
    except web.HTTPNotFound:
        return json_error(404, NO_ROUTE, f"no such resource: {request.path}")
