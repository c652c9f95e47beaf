"""The citizens' two pages and their assets, from this package's ``static/`` (and the staff
pages' ``hotline.css``): no CDN, a strict Content-Security-Policy, nothing else served."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ivr.web.errors import ApiError

STATIC = Path(__file__).resolve().parent / "static"
SHARED_CSS = Path(__file__).resolve().parent.parent / "web" / "static" / "hotline.css"
ASSETS = {
    "citizen.js": STATIC / "citizen.js",
    "citizen.css": STATIC / "citizen.css",
    "hotline.css": SHARED_CSS,
}
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _file(path: Path) -> web.Response:
    return web.Response(
        body=path.read_bytes(),
        content_type=TYPES[path.suffix],
        charset="utf-8",
        headers=HEADERS,
    )


async def submit_page(request: web.Request) -> web.Response:
    return _file(STATIC / "submit.html")


async def lookup_page(request: web.Request) -> web.Response:
    return _file(STATIC / "lookup.html")


async def asset(request: web.Request) -> web.Response:
    path = ASSETS.get(request.match_info["name"])
    if path is None:
        raise ApiError(404, "HL-CIT-007", f"no such file: {request.match_info['name']}")
    return _file(path)
