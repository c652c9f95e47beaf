"""Where Asterisk's HTTP server takes the browser phones' WebSocket (:class:`WebSocketOptions`,
from the environment by :func:`websocket_from_env`): part of :class:`ConfOptions
<ivr.asterisk.conf_options.ConfOptions>`, written out by :mod:`ivr.asterisk.conf_webrtc`.
Imports the ground and :mod:`ivr.asterisk.errors` only."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ivr.asterisk.errors import AsteriskConfigError

__all__ = ["WebSocketOptions", "websocket_from_env"]

_ADDRESS = re.compile(r"^[0-9A-Za-z.:\[\]-]+$")
_PATH = re.compile(r"^/[^\s;]+$")


@dataclass(frozen=True)
class WebSocketOptions:
    """Where Asterisk's HTTP server takes the browser phones' WebSocket (path ``/ws``)."""

    #: plain ``ws``: loopback for development and tests ("" for none)
    bind: str = "127.0.0.1"
    port: int = 8088
    #: ``wss`` with TLS for a real deployment ("" for none): needs ``cert`` and ``key``
    tls_bind: str = ""
    tls_port: int = 8089
    cert: str = ""
    key: str = ""

    def check(self) -> None:
        for what, value in (("bind", self.bind), ("TLS bind", self.tls_bind)):
            if value and not _ADDRESS.match(value):
                raise AsteriskConfigError(f"WebSocket {what} address {value!r} is not an address")
        if self.tls_bind:
            for what, value in (("certificate", self.cert), ("private key", self.key)):
                if not _PATH.match(value):
                    raise AsteriskConfigError(
                        f"wss on {self.tls_bind}:{self.tls_port} needs the TLS {what} as an "
                        f"absolute path (HOTLINE_WSS_CERT, HOTLINE_WSS_KEY), not {value!r}"
                    )


def websocket_from_env() -> WebSocketOptions:
    """``HOTLINE_WS_BIND`` (127.0.0.1; empty: no plain ws), ``HOTLINE_WS_PORT`` (8088),
    ``HOTLINE_WSS_BIND`` (empty: no wss), ``HOTLINE_WSS_PORT`` (8089), ``HOTLINE_WSS_CERT``,
    ``HOTLINE_WSS_KEY``."""
    env = os.environ.get
    return WebSocketOptions(
        bind=env("HOTLINE_WS_BIND", "127.0.0.1").strip(),
        port=int(env("HOTLINE_WS_PORT", "8088")),
        tls_bind=env("HOTLINE_WSS_BIND", "").strip(),
        tls_port=int(env("HOTLINE_WSS_PORT", "8089")),
        cert=env("HOTLINE_WSS_CERT", "").strip(),
        key=env("HOTLINE_WSS_KEY", "").strip(),
    )
