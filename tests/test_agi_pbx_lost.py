"""A dead Asterisk box against a caller hanging up, at the FastAGI session, over real sockets.

A living Asterisk always writes ``HANGUP`` before it lets go of a FastAGI session (res_agi's
``run_agi``: on the channel's hangup, and again as it leaves the AGI); a killed one just
closes (or resets) the socket. The session tells the two apart: :class:`PBXLost` naming the
box for the second, a plain :class:`AGIHangup` for the first.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from ivr.agi.session import AGISession, box_of
from ivr.errors import AGIHangup, PBXLost
from tests.test_agi_server import MakeServer, make_server, run_one

__all__ = ["make_server"]  # the fixture, imported for pytest


async def _waits(s: AGISession) -> Any:
    try:
        await s.command("WAIT FOR DIGIT", "5000")
    except AGIHangup as exc:
        try:  # and the next command says the same without being sent
            await s.command("NOOP", after_hangup=True)
        except AGIHangup as again:
            return exc, again, s.hung_up, s.pbx_lost
    return None


async def test_a_socket_closed_without_hangup_is_the_box_lost(make_server: MakeServer) -> None:
    peer, out = await run_one(make_server, _waits)
    assert await peer.line() == 'WAIT FOR DIGIT "5000"'
    peer.close()  # the box died: FIN, no HANGUP
    exc, again, hung_up, pbx_lost = await out.get()
    assert isinstance(exc, PBXLost) and exc.code == "HL-AGI-005"
    assert exc.box == "127.0.0.1" and "127.0.0.1" in str(exc) and "WAIT FOR DIGIT" in str(exc)
    assert isinstance(again, PBXLost) and again.box == "127.0.0.1"
    assert hung_up and pbx_lost


async def test_a_reset_without_hangup_is_the_box_lost(make_server: MakeServer) -> None:
    peer, out = await run_one(make_server, _waits)
    await peer.line()
    sock = peer.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.writer.transport.abort()  # RST, as a kernel answers for a process killed mid-talk
    exc, _, _, pbx_lost = await out.get()
    assert isinstance(exc, PBXLost) and pbx_lost


async def test_hangup_then_close_is_the_caller(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        reply = await s.command("WAIT FOR DIGIT", "5000")
        try:
            await s.command("NOOP", after_hangup=True)
        except AGIHangup as exc:
            return reply.result, exc, s.pbx_lost

    peer, out = await run_one(make_server, script)
    await peer.line()
    # the caller hung up during WAIT FOR DIGIT: its result, then HANGUP, as Asterisk 22 does
    peer.send("200 result=-1\nHANGUP\n")
    assert await peer.line() == "NOOP"  # allowed on a dead channel
    peer.close()  # the script took too long: here it ends with Asterisk's close
    result, exc, pbx_lost = await out.get()
    assert result == "-1"
    assert isinstance(exc, AGIHangup) and not isinstance(exc, PBXLost) and not pbx_lost


async def test_hangup_line_then_eof_is_the_caller(make_server: MakeServer) -> None:
    """``HANGUP`` and the end arriving together: the line is read before the end counts."""
    peer, out = await run_one(make_server, _waits)
    await peer.line()
    peer.send("HANGUP\n")
    peer.close()
    exc, _, _, pbx_lost = await out.get()
    assert isinstance(exc, AGIHangup) and not isinstance(exc, PBXLost) and not pbx_lost


async def test_511_then_eof_is_the_caller(make_server: MakeServer) -> None:
    peer, out = await run_one(make_server, _waits)
    await peer.line()
    peer.send("511 Command Not Permitted on a dead channel or intercept routine\n")
    await peer.line()
    peer.close()
    exc, again, _, pbx_lost = await out.get()
    assert not isinstance(exc, PBXLost) and not isinstance(again, PBXLost) and not pbx_lost


async def test_eof_between_commands_is_found_by_the_next(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        await s.command("NOOP")
        try:
            await s.command("STREAM FILE", "x", "")
        except AGIHangup as exc:
            return exc

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send("200 result=0\n")
    peer.close()
    assert isinstance(await out.get(), PBXLost)


def test_box_of_names_the_peer_address() -> None:
    assert box_of(("10.1.2.3", 40000)) == "10.1.2.3"
    assert box_of(("::1", 40000, 0, 0)) == "::1"
    assert box_of(None) == ""
