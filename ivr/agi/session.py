"""One FastAGI connection's session: the call's header and the commands sent over it.

:class:`AGISession` sends one command line at a time and waits for its reply under a
per-command deadline (longer for :data:`MEDIA_COMMANDS`, which play, record or wait for the
caller). Received bytes are handed to it by the server's connection (:mod:`ivr.agi.server`),
split into lines and parsed at once; a complete reply resolves the future the command waits
on. Lines that arrive while no command waits (a ``HANGUP`` between commands) are kept,
unparsed, until the next command. A command has at most one line (2 KiB) in flight, so the
write side needs no flow control; the read side pauses when a peer floods the connection
between commands. :class:`AGIRefused` is a non-200 reply; :func:`script_of` reads the request
path and its parameters from the header.

A living Asterisk never lets go of a FastAGI session without saying ``HANGUP`` first:
res_agi's ``run_agi`` sends it when the channel hangs up and again as it leaves the AGI
(unless the dialplan set ``AGISIGHUP=no``, which ours never does). A connection that ends
(EOF or reset) with no ``HANGUP`` nor 511 before it therefore means the Asterisk box went
away (killed, crashed, its network gone): the command raises :class:`~ivr.errors.PBXLost`
(an :class:`~ivr.errors.AGIHangup` naming the box), and ``pbx_lost`` is set.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ivr.agi.protocol import AGIReply, ReplyParser, build_command, header_args
from ivr.errors import AGICommandError, AGIHangup, AGIProtocolError, AGITimeout, PBXLost

__all__ = [
    "CLOSED_BY_PEER",
    "DEFAULT_LINE_LIMIT",
    "MEDIA_COMMANDS",
    "AGIRefused",
    "AGISession",
    "box_of",
    "script_of",
]

#: Commands that play, record or wait for the caller: they legitimately take as long as a
#: prompt or a recording lasts.
MEDIA_COMMANDS = frozenset(
    {
        "STREAM FILE",
        "CONTROL STREAM FILE",
        "GET OPTION",
        "GET DATA",
        "WAIT FOR DIGIT",
        "RECORD FILE",
        "SAY ALPHA",
        "SAY DIGITS",
        "SAY NUMBER",
        "SAY PHONETIC",
        "SAY DATE",
        "SAY TIME",
        "SAY DATETIME",
        "RECEIVE CHAR",
        "RECEIVE TEXT",
        "SPEECH RECOGNIZE",
        "GOSUB",
    }
)


DEFAULT_LINE_LIMIT = 64 * 1024
CLOSED_BY_PEER = "Asterisk closed the AGI connection"


class AGIRefused(AGICommandError):
    """Asterisk answered a command with 510, 520 or another non-200 code; ``reply`` has it."""

    def __init__(self, message: str, reply: AGIReply) -> None:
        super().__init__(message)
        self.reply = reply


class AGISession:
    """One FastAGI connection: the call's header and a way to send it commands.

    ``env`` is the header (``agi_callerid`` ...); ``script`` the request path (``hotline`` for
    ``agi://host/hotline?lang=zh``), ``query`` its parameters, ``args`` the ``agi_arg_N``
    values. ``hung_up`` turns True when Asterisk reported the hangup (``HANGUP`` line or a 511),
    or the connection ended; ``pbx_lost`` when it ended without such a report (the box died).
    Commands run one at a time (AGI has no way to tell whose reply a line is).
    """

    __slots__ = (
        "_buf",
        "_closed",
        "_cmd",
        "_command_timeout",
        "_deadline",
        "_eof",
        "_exec_timeout",
        "_limit",
        "_loop",
        "_lost",
        "_media_timeout",
        "_parser",
        "_paused",
        "_timeout",
        "_timer",
        "_transport",
        "_waiter",
        "args",
        "env",
        "garbage",
        "hung_up",
        "pbx_lost",
        "peer",
        "query",
        "script",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        env: dict[str, str],
        *,
        garbage: list[str] | None = None,
        command_timeout: float = 10.0,
        media_timeout: float = 900.0,
        exec_timeout: float = 3600.0,
        line_limit: int = DEFAULT_LINE_LIMIT,
        peer: Any = None,
    ) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._parser = ReplyParser()
        self._buf = b""  # received, not yet parsed
        self._limit = line_limit
        self._paused = False  # reading paused: too much unread input between commands
        self._eof: str | None = None  # why the peer's side ended, once it has
        self._lost = False  # the transport is gone: nothing can be sent
        # Per-command deadline: one lazily re-armed timer per session instead of a timer per
        # command (see _arm/_on_timer). _waiter is the future command() awaits.
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[AGIReply] | None = None
        self._cmd = ""
        self._timeout = 0.0
        self._closed = False
        self._command_timeout = command_timeout
        self._media_timeout = media_timeout
        self._exec_timeout = exec_timeout
        self.env = env
        self.garbage = garbage or []
        self.hung_up = False
        self.pbx_lost = False
        self.peer = peer
        self.script, self.query = script_of(env)
        self.args = header_args(env)

    @property
    def closed(self) -> bool:
        return self._closed

    def default_timeout(self, cmd: str) -> float:
        """The deadline a command gets when the caller passes none."""
        upper = cmd.upper()
        if upper.startswith("EXEC"):
            return self._exec_timeout
        if upper in MEDIA_COMMANDS:
            return self._media_timeout
        return self._command_timeout

    async def command(
        self, cmd: str, *args: str, timeout: float | None = None, after_hangup: bool = False
    ) -> AGIReply:
        """Send ``cmd`` with each of ``args`` quoted; return the 200 reply.

        Raises AGIHangup when the connection is gone (EOF), Asterisk reported the hangup
        (``HANGUP`` line, before or during this command, or 511), AGICommandError for 510/520
        and other non-200 codes, AGITimeout when no reply came within ``timeout`` seconds (the
        session is then closed: a late reply would be taken for the next command's),
        AGIProtocolError for a line that is not AGI. After a hangup, commands are refused
        without being sent unless ``after_hangup`` is set: res_agi still runs the commands
        allowed on a dead channel (SET/GET VARIABLE, EXEC, VERBOSE, NOOP, DATABASE ...).
        A command sent while another one awaits its reply raises RuntimeError.
        """
        if self.pbx_lost:
            raise self._pbx_lost(f"the Asterisk box went away; {cmd} not sent")
        if self._closed:
            raise AGIHangup("the AGI connection is closed")
        if self.hung_up and not after_hangup:
            raise AGIHangup(f"the caller hung up; {cmd} not sent")
        if self._waiter is not None:
            raise RuntimeError(f"{cmd} sent while {self._cmd} awaits its reply")
        data = build_command(cmd, args)
        if timeout is None:
            timeout = self.default_timeout(cmd)
        waiter: asyncio.Future[AGIReply] = self._loop.create_future()
        self._waiter = waiter
        self._cmd = cmd
        self._timeout = timeout
        self._arm(timeout)
        if not self._lost:
            self._transport.write(data)
        if self._buf or self._eof is not None:
            self._process()  # lines that came before the command, or the peer is gone
        try:
            reply = await waiter
        except asyncio.CancelledError:
            # The reply may still come; the stream can no longer be trusted.
            self._waiter = None
            self._abort()
            raise
        except (AGIHangup, AGIProtocolError, AGITimeout):
            self._waiter = None
            self._abort()
            raise
        code = reply.code
        if code == 200:
            if not args and cmd.upper() == "HANGUP":
                self.hung_up = True  # the script hung the channel up itself
            return reply
        if code == 511:
            self.hung_up = True
            raise AGIHangup(f"{cmd}: {reply.message or 'command not permitted on a dead channel'}")
        raise AGIRefused(f"Asterisk refused {cmd}: {reply}", reply)

    # ------------------------------------------------------------- fed by the protocol

    def _data(self, data: bytes) -> None:
        self._buf = self._buf + data if self._buf else data
        if self._waiter is not None:
            self._process()
        elif not self._paused and len(self._buf) > 2 * self._limit:
            # Nobody reads between commands; a peer sending that much is not Asterisk.
            self._paused = True
            self._transport.pause_reading()

    def _peer_eof(self, reason: str) -> None:
        if self._eof is None:
            self._eof = reason
        if self._waiter is not None:
            self._process()

    def _connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._peer_eof(f"AGI connection lost: {exc}" if exc is not None else CLOSED_BY_PEER)

    def _process(self) -> None:
        """Parse the complete lines received, up to the end of a reply; settle the waiter."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        buf = self._buf
        parser = self._parser
        limit = self._limit
        start = 0
        try:
            while True:
                end = buf.find(b"\n", start)
                if end < 0:
                    if len(buf) - start > limit:
                        raise AGIProtocolError(f"reply line longer than the limit of {limit} bytes")
                    break
                if end - start > limit:
                    raise AGIProtocolError(f"reply line longer than the limit of {limit} bytes")
                line = buf[start:end].decode("utf-8", "replace")
                start = end + 1
                if line[-1:] == "\r":
                    line = line.rstrip("\r")
                reply = parser.feed(line)
                if parser.hangup_seen:
                    # Asterisk sends HANGUP and keeps reading; this command's reply (a 511, or
                    # its result if it may run on a dead channel) still follows.
                    self.hung_up = True
                if reply is not None:
                    self._buf = buf[start:]
                    self._waiter = None
                    waiter.set_result(reply)
                    self._resume()
                    return
        except AGIProtocolError as exc:
            parser.reset()
            self._buf = b""
            self._waiter = None
            waiter.set_exception(exc)
            return
        if start:
            self._buf = buf[start:]
        self._resume()
        if self._eof is not None:
            self._waiter = None
            if self.hung_up:  # HANGUP or 511 came first: Asterisk let go of a hung-up call
                waiter.set_exception(AGIHangup(self._eof))
            else:  # no word from Asterisk before the end: the box is gone
                self.hung_up = self.pbx_lost = True
                waiter.set_exception(self._pbx_lost(f"{self._eof} during {self._cmd}"))

    def _pbx_lost(self, what: str) -> PBXLost:
        box = box_of(self.peer)
        return PBXLost(f"{what}, without a HANGUP from Asterisk {box or '?'}: the box is gone", box)

    def _resume(self) -> None:
        if self._paused and len(self._buf) <= self._limit and not self._lost:
            self._paused = False
            self._transport.resume_reading()

    # ------------------------------------------------------------- deadline, closing

    def _arm(self, timeout: float) -> None:
        deadline = self._loop.time() + timeout
        self._deadline = deadline
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done() or self._closed:
            return  # no command waiting: stay disarmed until the next one
        if self._loop.time() >= self._deadline:
            self._waiter = None
            waiter.set_exception(
                AGITimeout(
                    f"no reply to {self._cmd} within {self._timeout:g}s; "
                    "the AGI connection was closed"
                )
            )
        else:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)

    def _abort(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        transport = self._transport
        if not transport.is_closing():
            transport.abort()

    async def close(self) -> None:
        """Close the connection (Asterisk then ends the AGI and goes on in the dialplan)."""
        self.close_nowait()

    def close_nowait(self) -> None:
        """Close without waiting: what is already written is still sent, then FIN."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._closed = True
        if not self._transport.is_closing():
            self._transport.close()


def box_of(peer: Any) -> str:
    """The Asterisk box a session came from: the peer's address (without its port)."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer) if peer else ""


def script_of(env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The script path and its query parameters, from agi_network_script or agi_request."""
    raw = env.get("agi_network_script")
    if raw is None:
        request = env.get("agi_request", "")
        if "://" in request:
            parts = urlsplit(request)
            raw = parts.path + ("?" + parts.query if parts.query else "")
        else:
            raw = request
    path, _, query = raw.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    return path.strip("/"), params
