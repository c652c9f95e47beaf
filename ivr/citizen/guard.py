"""Who is asking and whether the form is this site's, for pages without accounts.

- The client's address: the connection's peer; behind a reverse proxy listed in
  ``HOTLINE_CITIZEN_PROXIES`` (addresses or networks), the last address of
  ``X-Forwarded-For`` that is not a listed proxy. Anyone else's X-Forwarded-For is ignored
  (a client cannot pick the address its limits count on).
- A change (``POST``) must come from this site: an ``Origin`` (or, without one, a
  ``Referer``) naming the page's own host or one of ``HOTLINE_CITIZEN_ORIGINS``, and the form
  token (double submit): ``GET /api/citizen/form`` sets it as a cookie (HttpOnly,
  SameSite=Strict) and in its answer; the page sends it back in ``X-Form-Token``. A JSON body
  (``Content-Type: application/json``) is required too, which another site's plain form
  cannot send.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp import web

from ivr.errors import HotlineError
from ivr.web.errors import ApiError

FORM_REFUSED = "HL-CIT-002"
BAD_PROXY = "HL-CIT-011"
COOKIE = "hl_citizen_form"
HEADER = "X-Form-Token"
NOT_OURS = "请从本站页面提交 / this form is sent from the hotline's own page only"
STALE = "页面已过期，请刷新页面后重新提交 / the form is out of date: reload the page"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(proxies: Sequence[str]) -> tuple[Network, ...]:
    """The trusted proxies as networks (``10.0.0.5`` is ``10.0.0.5/32``); a bad entry is
    refused (``HL-CIT-011``) naming it."""
    out = []
    for p in proxies:
        try:
            out.append(ipaddress.ip_network(p, strict=False))
        except ValueError:
            raise HotlineError(
                f"HOTLINE_CITIZEN_PROXIES: {p!r} is not an address or network "
                "(e.g. 127.0.0.1 or 10.0.0.0/24)",
                code=BAD_PROXY,
            ) from None
    return tuple(out)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(request: web.Request, proxies: tuple[Network, ...]) -> str:
    peer = request.remote or "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in request.headers.getall("X-Forwarded-For", []) for h in h.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, proxies):
            return hop
    return peer


def new_token() -> str:
    return secrets.token_urlsafe(24)


def set_token(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/api/citizen"
    )


def _origin_of(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return origin
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}"
    return None


def check_form(request: web.Request, origins: Sequence[str]) -> None:
    """A change from this site's own page, or refused 403 ``HL-CIT-002``."""
    origin = _origin_of(request)
    if origin is None:
        raise ApiError(403, FORM_REFUSED, NOT_OURS)
    allowed = {o.rstrip("/") for o in origins}
    if urlsplit(origin).netloc != request.host and origin.rstrip("/") not in allowed:
        raise ApiError(403, FORM_REFUSED, NOT_OURS)
    cookie = request.cookies.get(COOKIE, "")
    sent = request.headers.get(HEADER, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise ApiError(403, FORM_REFUSED, STALE)
    if request.content_type != "application/json":
        raise ApiError(403, FORM_REFUSED, STALE + " (Content-Type: application/json)")
