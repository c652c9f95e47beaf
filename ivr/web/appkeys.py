"""What the composition root hands the HTTP app, under typed keys; and the request's
:class:`~ivr.accounts.Principal` once a guard has let it in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ivr.accounts import Accounts, Principal
from ivr.config.queue_models import AgentsFile
from ivr.db.database import Database
from queueing.queue import RedisQueue


@dataclass(frozen=True)
class WebSecurity:
    """How the web keeps its sessions (from :class:`ivr.settings.Settings`)."""

    cookie_secure: bool = False  # behind TLS: the cookie is sent over HTTPS only
    session_hours: float = 12.0
    metrics_public: bool = True  # /metrics without a token (for Prometheus)


QUEUE_KEY: web.AppKey[RedisQueue] = web.AppKey("queue", RedisQueue)
AGENTS_KEY: web.AppKey[Callable[[], AgentsFile]] = web.AppKey("agents")
ACCOUNTS_KEY: web.AppKey[Accounts] = web.AppKey("accounts", Accounts)
DATABASE_KEY: web.AppKey[Database] = web.AppKey("database", Database)
SECURITY_KEY: web.AppKey[WebSecurity] = web.AppKey("security", WebSecurity)
# queue.yaml's settings.pause_reasons as the config is now (code: label); set with the desks
PAUSE_REASONS_KEY: web.AppKey[Callable[[], dict[str, str]]] = web.AppKey("pause_reasons")

# who is asking (set by the guard), and the session's CSRF token (None for an API token)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
CSRF_TOKEN: web.RequestKey[str | None] = web.RequestKey("csrf")


def principal_of(request: web.Request) -> Principal:
    who = request.get(PRINCIPAL)
    assert isinstance(who, Principal), "route without a guard asked for its principal"
    return who
