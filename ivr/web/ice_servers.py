"""``HOTLINE_WEBRTC_ICE_SERVERS``: the STUN and TURN servers the desk's browser phone uses to
find a way to Asterisk from a seat behind NAT (docs/webrtc.md), handed to the page by ``GET
/api/agents/{id}/phone`` and given to JsSIP as ``pcConfig.iceServers``.

The value is a JSON list of RTCIceServer objects, e.g. ``[{"urls": "stun:stun.example:3478"},
{"urls": ["turn:turn.example:3478?transport=udp"], "username": "seat", "credential": "pw"}]``.
Anything else refuses to start ``hotline serve`` with one line, ``HL-SRV-015``."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, Field

from ivr.errors import HotlineError

ENV = "HOTLINE_WEBRTC_ICE_SERVERS"
CODE = "HL-SRV-015"
MAX_SERVERS = 8
_URL = re.compile(r"^(stun|stuns|turn|turns):[^\s]+$")


class IceServer(BaseModel):
    urls: list[str] = Field(description="stun:, stuns:, turn: or turns: URLs (RFC 7064/7065)")
    username: str = Field("", description="TURN only")
    credential: str = Field("", description="TURN only")


def _refuse(why: str) -> HotlineError:
    return HotlineError(f"{ENV} {why}; see docs/webrtc.md (STUN and TURN)", code=CODE)


def parse_ice_servers(raw: str) -> list[IceServer]:
    """The servers of ``raw`` (empty: none), checked: raises HotlineError ``HL-SRV-015``."""
    if not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _refuse(f"is not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, list) or len(value) > MAX_SERVERS:
        raise _refuse(f"must be a JSON list of at most {MAX_SERVERS} servers")
    out: list[IceServer] = []
    for n, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise _refuse(f"item {n} is not an object {{urls, username, credential}}")
        extra = sorted(set(item) - {"urls", "username", "credential"})
        if extra:
            raise _refuse(f"item {n} has unknown key(s) {', '.join(extra)}")
        urls = item.get("urls")
        urls = [urls] if isinstance(urls, str) else urls
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise _refuse(f"item {n} needs urls: a URL or a list of URLs")
        bad = [u for u in urls if not _URL.match(u)]
        if bad:
            raise _refuse(f"item {n}: {bad[0]!r} is not a stun:, stuns:, turn: or turns: URL")
        user, secret = item.get("username", ""), item.get("credential", "")
        if not isinstance(user, str) or not isinstance(secret, str):
            raise _refuse(f"item {n}: username and credential must be strings")
        if any(u.startswith("turn") for u in urls) and not (user and secret):
            raise _refuse(f"item {n}: a TURN server needs username and credential")
        out.append(IceServer(urls=urls, username=user, credential=secret))
    return out
