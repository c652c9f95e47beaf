"""The browser phones' WebSocket on the Kamailio front door (issue 18, docs/scale-out-sip.md):
the parts of ``kamailio.cfg`` that :mod:`ivr.asterisk.kamailio` adds when
:class:`KamailioWebSocket` asks for ``ws`` (development, loopback) or ``wss`` (a certificate
and key, for real).

* ``xhttp`` takes the HTTP request on the WebSocket port and ``websocket`` upgrades it
  (``event_route[xhttp:request]``), only a ``GET`` with ``Upgrade: websocket`` on the path
  (``/ws``) and on the WebSocket ports; anything else is answered 403/404 and closed;
* a browser's ``REGISTER`` over the WebSocket is digest-checked as a desk phone's is (the
  agents.yaml ``webrtc`` account), and ``fix_nated_register`` stores the connection's address
  with the contact (its Contact, ``…@….invalid;transport=ws``, cannot be reached as such), so
  ``lookup("location")`` sends a box's INVITE out over that WebSocket; once the WebSocket is
  closed (the tab closed) the contact is not used (``handle_lost_tcp``): 404 at once;
* the Contact of every other request and reply that comes over a WebSocket gets nathelper's
  ``alias`` (``add_contact_alias``), and in-dialog requests towards the browser are sent to it
  (``handle_ruri_alias``): the box's ACK and BYE reach the browser over its WebSocket.

Kamailio record-routes twice (``enable_double_rr``) when a request changes from UDP to the
WebSocket. The media does not go through Kamailio: browser and box talk directly (ICE,
DTLS-SRTP). Imports :mod:`ivr.asterisk.errors` only."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ivr.asterisk.errors import KamailioWebSocketError

__all__ = ["KamailioWebSocket"]

_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_FILE = re.compile(r"^/[^\s\"';\\]+$")


@dataclass(frozen=True)
class KamailioWebSocket:
    """Where Kamailio takes the browser phones' SIP over WebSocket (RFC 7118)."""

    #: plain ``ws`` port (0: none): development and tests, on loopback
    port: int = 0
    #: ``wss`` port (0: none): a real deployment, with ``cert`` and ``key``
    tls_port: int = 0
    #: absolute paths of the TLS certificate (with its chain) and private key, for ``wss``
    cert: str = ""
    key: str = ""
    #: the HTTP path of the upgrade (the desk's ``ws://host:port/ws``)
    path: str = "/ws"

    @property
    def on(self) -> bool:
        return bool(self.port or self.tls_port)

    def check(self, sip_port: int) -> None:
        """Raises ``HL-KAM-003`` for options Kamailio could not run with."""
        ports = [p for p in (self.port, self.tls_port) if p]
        for port in ports:
            if not 0 < port < 65536:
                raise KamailioWebSocketError(f"WebSocket port {port} is not a port")
        if len(set(ports)) < len(ports):
            raise KamailioWebSocketError(f"ws and wss cannot share port {self.port}")
        if sip_port in ports:
            raise KamailioWebSocketError(
                f"the WebSocket port {sip_port} is Kamailio's SIP port: choose another"
            )
        if not _PATH.match(self.path):
            raise KamailioWebSocketError(f"WebSocket path {self.path!r} must look like /ws")
        if self.tls_port:
            for what, value in (("certificate", self.cert), ("private key", self.key)):
                if not _FILE.match(value):
                    raise KamailioWebSocketError(
                        f"wss on port {self.tls_port} needs the TLS {what} as an absolute "
                        f"path (--wss-cert, --wss-key), not {value!r}"
                    )

    def globals(self, listen: Callable[[str, int], str]) -> str:
        """Listeners (``listen(proto, port)`` makes the line) and TCP settings."""
        if not self.on:
            return ""
        lines = ["# the browser phones' WebSocket (docs/scale-out-sip.md)"]
        if self.port:
            lines.append(listen("tcp", self.port))
        if self.tls_port:
            lines += ["enable_tls=yes", listen("tls", self.tls_port)]
        lines += [
            "tcp_accept_no_cl=yes",  # the browser's HTTP upgrade has no Content-Length
            "tcp_connection_lifetime=3605",  # a WebSocket lives as long as its registration
            "tcp_rd_buf_size=16384",
        ]
        return "\n".join(lines) + "\n"

    def modules(self) -> str:
        """The modules and their parameters (after the others)."""
        if not self.on:
            return ""
        lines = [
            'loadmodule "xhttp.so"',
            'loadmodule "websocket.so"',
            'loadmodule "nathelper.so"',
        ]
        if self.tls_port:
            lines = ['loadmodule "tls.so"', *lines]
        lines += [
            'modparam("nathelper", "received_avp", "$avp(RECEIVED)")',
            'modparam("registrar", "received_avp", "$avp(RECEIVED)")',
            'modparam("nathelper", "natping_interval", 0)',  # the WebSocket pings itself
            # a closed tab: its contact is not used any more (a box's INVITE gets 404 at once)
            'modparam("usrloc", "handle_lost_tcp", 1)',
            'modparam("usrloc", "close_expired_tcp", 1)',
            'modparam("websocket", "keepalive_mechanism", 1)',
            'modparam("websocket", "keepalive_timeout", 30)',
            'modparam("websocket", "keepalive_interval", 1)',
        ]
        if self.tls_port:
            lines += [
                f'modparam("tls", "certificate", "{self.cert}")',
                f'modparam("tls", "private_key", "{self.key}")',
                'modparam("tls", "tls_method", "TLSv1.2+")',
                'modparam("tls", "verify_certificate", 0)',
                'modparam("tls", "require_certificate", 0)',
            ]
        return "\n".join(lines) + "\n"

    def call(self) -> str:
        """The main route's first call, for a request that came over a WebSocket."""
        return "    route(BROWSER);\n" if self.on else ""

    def from_browser(self) -> str:
        """``route[BROWSER]``: a request over a browser's WebSocket, reached through it."""
        if not self.on:
            return ""
        return """# a request over a browser phone's WebSocket: reached through its connection
route[BROWSER] {
    if (!nat_uac_test("64")) {
        return;
    }
    force_rport();
    if (is_method("REGISTER")) {
        fix_nated_register();
    } else if (is_present_hf("Contact") && !add_contact_alias()) {
        xlog("L_ERR", "hotline: cannot alias the contact <$ct> of $si:$sp\\n");
        sl_send_reply("400", "Bad Contact");
        exit;
    }
}

"""

    def to_browser(self) -> str:
        """In ``route[WITHINDLG]`` after ``loose_route``: towards the browser's alias."""
        if not self.on:
            return ""
        return "        if (!isdsturiset()) {\n            handle_ruri_alias();\n        }\n"

    def routes(self) -> str:
        """The replies from browsers and the WebSocket's HTTP upgrade."""
        if not self.on:
            return ""
        ports = " || ".join(f"$Rp == {int(p)}" for p in (self.port, self.tls_port) if p)
        path = re.escape(self.path)
        return f"""
# a reply that came over a WebSocket: its Contact gets the connection's alias
onreply_route {{
    if (nat_uac_test("64") && is_present_hf("Contact")) {{
        add_contact_alias();
    }}
}}

# the browser phones' WebSocket: only the upgrade on {self.path}, on the WebSocket ports
event_route[xhttp:request] {{
    set_reply_close();
    set_reply_no_connect();
    if (!({ports})) {{
        xhttp_reply("403", "Forbidden", "", "");
        exit;
    }}
    if (!($hu =~ "^{path}([?].*)?$")) {{
        xhttp_reply("404", "Not Found", "", "");
        exit;
    }}
    if ($rm == "GET" && $hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade") {{
        if (ws_handle_handshake()) {{
            exit;
        }}
    }}
    xhttp_reply("400", "Bad Request", "", "");
}}
"""
