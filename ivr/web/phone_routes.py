"""``GET /api/agents/{agent_id}/phone``: what the desk's browser phone (``static/phone.js``,
JsSIP over a WebSocket to Asterisk, docs/webrtc.md) registers with: the WebSocket URL, its
SIP user name and password (agents.yaml ``webrtc``), and the interface the queue then rings.

Only the operator bound to the agent gets it (a supervisor's desk on another agent has no
phone of that agent's: 403 ``HL-WEB-004``); an agent without a ``webrtc`` account, or a
server that cannot read its password, answers ``available: false`` with the reason.
:func:`phone_origin` is the WebSocket's origin, which the pages' Content-Security-Policy
lets the desk connect to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, Field

from ivr.config.queue_models import AgentSpec
from ivr.web.agent_routes import agent_spec
from ivr.web.appkeys import principal_of
from ivr.web.errors import FORBIDDEN, ApiError
from ivr.web.ice_servers import IceServer
from ivr.web.routing import ApiRoute, WebPart

#: where Asterisk's HTTP server takes the WebSocket when nothing else is said
DEFAULT_WS_PORT = 8088


@dataclass(frozen=True)
class BrowserPhones:
    """What the composition root hands this room: the WebSocket URL (``""``: ``ws://`` on
    the desk's own host name, port 8088, as ``hotline asterisk up`` serves it) and the SIP
    password of a browser-phone account (None when this server cannot read it)."""

    ws_url: str
    password: Callable[[AgentSpec], str | None]
    ice_servers: tuple[IceServer, ...] = ()

    def url_for(self, request: web.Request) -> str:
        if self.ws_url:
            return self.ws_url
        host = urlsplit(f"//{request.host}").hostname or "127.0.0.1"
        return f"ws://{host}:{DEFAULT_WS_PORT}/ws"


PHONES_KEY: web.AppKey[BrowserPhones] = web.AppKey("browser_phones", BrowserPhones)


class PhoneOut(BaseModel):
    available: bool = Field(description="whether this agent has a browser phone to register")
    reason: str = Field("", description="why not, when not available")
    ws_url: str = Field("", description="SIP over WebSocket: ws://… (development), wss://…")
    uri: str = Field("", description="the SIP address to register (sip:<username>@hotline)")
    username: str = ""
    password: str = ""
    display_name: str = ""
    interface: str = Field("", description="what the queue dials while the browser phone is on")
    ice_servers: list[IceServer] = Field(
        default_factory=list,
        description="STUN/TURN servers for JsSIP's pcConfig.iceServers "
        "(HOTLINE_WEBRTC_ICE_SERVERS)",
    )


def phone_origin(request: web.Request) -> str:
    """``ws://host:port`` of the browser phones' WebSocket ("" when there is none)."""
    phones = request.app.get(PHONES_KEY)
    if phones is None:
        return ""
    parts = urlsplit(phones.url_for(request))
    return f"{parts.scheme}://{parts.netloc}"


async def phone(request: web.Request) -> web.Response:
    spec = agent_spec(request)
    who = principal_of(request)
    if who.agent_id != spec.id:
        raise ApiError(
            403,
            FORBIDDEN,
            f"only the operator of agent {spec.id} registers its browser phone",
            {"agent_id": spec.id, "yours": who.agent_id},
        )
    phones = request.app.get(PHONES_KEY)
    out = PhoneOut(available=False, display_name=spec.name)
    if spec.webrtc is None:
        out.reason = f"agent {spec.id} has no browser phone (agents.yaml webrtc)"
    elif phones is None:
        out.reason = "this server offers no browser phones"
    else:
        password = phones.password(spec)
        if password is None:
            out.reason = (
                f"the password of {spec.webrtc.username} ({spec.webrtc.secret}) is not "
                "readable by this server"
            )
        else:
            out = PhoneOut(
                available=True,
                ws_url=phones.url_for(request),
                uri=f"sip:{spec.webrtc.username}@hotline",
                username=spec.webrtc.username,
                password=password,
                display_name=spec.name,
                interface=spec.browser_interface or "",
                ice_servers=list(phones.ice_servers),
            )
    return web.json_response(out.model_dump(), headers={"Cache-Control": "no-store"})


def phone_part(phones: BrowserPhones) -> WebPart:
    """The browser phone's account for the desk."""

    def install(app: web.Application) -> None:
        app[PHONES_KEY] = phones

    route = ApiRoute(
        "GET",
        "/api/agents/{agent_id}/phone",
        phone,
        ("operator",),  # the password is the operator's own: not even a supervisor's
        "read the browser phone's SIP account (its own operator only)",
        response="PhoneOut",
        errors=(404,),
        own_agent=True,
    )
    return WebPart([route], [PhoneOut, IceServer], install)
