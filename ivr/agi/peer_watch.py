"""How long a FastAGI peer may be silent at the TCP level before it is judged gone.

A killed Asterisk box closes its sockets (FIN, or RST from its kernel): the session sees the
end at once (:class:`~ivr.errors.PBXLost`). A box whose machine or network vanished sends
nothing at all; without help the session would notice only when its command's deadline runs
out, and a ``Dial`` or a queue wait has long ones (an hour, a quarter of an hour), while the
caller's place and its operator stay held. So every accepted FastAGI socket gets TCP
keepalive (probes after a third of ``seconds`` of silence, then every sixth) and
``TCP_USER_TIMEOUT`` (data unacknowledged for ``seconds``): the kernel ends a connection to a
vanished box within about ``seconds``, the session's connection is lost without a
``HANGUP``, and the call is ``pbx-lost`` like a killed box's. A living Asterisk's kernel
answers the probes whatever Asterisk itself is doing, so a long ``Dial`` is not cut.
"""

from __future__ import annotations

import asyncio
import logging
import socket

__all__ = ["DEFAULT_PEER_TIMEOUT", "watch_peer"]

log = logging.getLogger(__name__)

#: seconds of TCP silence (no ACK, no keepalive answer) after which a box is gone
DEFAULT_PEER_TIMEOUT = 15.0


def watch_peer(transport: asyncio.BaseTransport, seconds: float | None) -> None:
    """Set keepalive and the user timeout on ``transport``'s socket (None: leave it)."""
    sock = transport.get_extra_info("socket")
    if seconds is None or sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    idle = max(1, round(seconds / 3))
    interval = max(1, round(seconds / 6))
    count = max(1, round((seconds - idle) / interval))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (
            ("TCP_KEEPIDLE", idle),
            ("TCP_KEEPINTVL", interval),
            ("TCP_KEEPCNT", count),
            ("TCP_USER_TIMEOUT", int(seconds * 1000)),
        ):
            option = getattr(socket, name, None)
            if option is not None:  # Linux has them all
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    except OSError as exc:  # a socket closed meanwhile: nothing to watch
        log.debug("keepalive not set on %s: %s", transport.get_extra_info("peername"), exc)
