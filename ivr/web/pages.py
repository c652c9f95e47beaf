"""The staff's pages and their assets, served by this app (no CDN: a city's network is often
closed). ``/login`` and the assets it needs are open; every other page and asset needs a
session (a browser without one is sent to ``/login``). Every answer carries a strict
Content-Security-Policy: scripts, styles and connections from this server only."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ivr.web.auth import authenticate
from ivr.web.errors import NO_ROUTE, NOT_LOGGED_IN, ApiError
from ivr.web.phone_routes import phone_origin
from ivr.web.routing import Handler

STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor"
OPEN_ASSETS = frozenset({"login.js", "hotline.css"})
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",  # a vendored file's licence
}


def _headers(request: web.Request) -> dict[str, str]:
    host = request.host
    phone = phone_origin(request)  # the browser phone's WebSocket to Asterisk
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"media-src 'self'; connect-src 'self' ws://{host} wss://{host}"
            f"{' ' + phone if phone else ''}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _file(request: web.Request, name: str, directory: Path = STATIC) -> web.Response:
    path = directory / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in TYPES:
        raise ApiError(404, NO_ROUTE, f"no such file: {name}")
    return web.Response(
        body=path.read_bytes(),
        content_type=TYPES[path.suffix],
        charset="utf-8",
        headers=_headers(request),
    )


async def _signed_in(request: web.Request) -> bool:
    try:
        await authenticate(request)
    except ApiError as exc:
        if exc.status == 401:
            return False
        raise
    return True


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/desk")


async def login_page(request: web.Request) -> web.StreamResponse:
    return _file(request, "login.html")


def _page(name: str) -> Handler:
    """A page for the signed in; without a session, the login page (then back here)."""

    async def page(request: web.Request) -> web.StreamResponse:
        if not await _signed_in(request):
            raise web.HTTPFound(f"/login?next={request.path_qs}")
        return _file(request, name)

    return page


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in OPEN_ASSETS and not await _signed_in(request):
        raise ApiError(401, NOT_LOGGED_IN, "log in first (POST /api/login)")
    return _file(request, name)


async def vendor_asset(request: web.Request) -> web.StreamResponse:
    """A pinned third-party file of ``static/vendor/`` (its version, sha256 and licence in
    ``static/vendor/README.md``): for the signed in."""
    if not await _signed_in(request):
        raise ApiError(401, NOT_LOGGED_IN, "log in first (POST /api/login)")
    return _file(request, request.match_info["name"], VENDOR)


PAGES: list[tuple[str, str, Handler]] = [
    ("GET", "/", home),
    ("GET", "/login", login_page),
    ("GET", "/desk", _page("desk.html")),  # operators (supervisors and admins too)
    ("GET", "/inbox", _page("inbox.html")),  # operators (and above): 待办受理
    ("GET", "/portal", _page("portal.html")),  # departments
    ("GET", "/wallboard", _page("wallboard.html")),  # supervisors
    ("GET", "/admin", _page("admin.html")),  # admins: the config files
    ("GET", "/users", _page("users.html")),  # admins: the accounts
    ("GET", "/reports", _page("reports.html")),  # supervisors and admins
    ("GET", "/quality", _page("quality.html")),  # supervisors and admins: 质检
    ("GET", "/review", _page("review.html")),  # supervisors and admins: 延期, 退单, 督办 ...
    ("GET", "/static/{name}", asset),
    ("GET", "/static/vendor/{name}", vendor_asset),
]


def add_pages(app: web.Application) -> None:
    for method, path, handler in PAGES:
        app.router.add_route(method, path, handler)
