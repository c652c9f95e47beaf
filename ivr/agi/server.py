"""An asyncio FastAGI server: one task per Asterisk call, no threads, no polling.

``FastAGIServer(handler)`` accepts connections from ``AGI(agi://host:port/script,...)``, reads the
header under a deadline, and runs ``handler(session)`` in a task of its own. The session's
``command()`` sends one line and waits for its reply under a per-command deadline. Whatever the
handler does, the connection is closed when it returns; an exception in one handler is logged
and never touches the other calls.

Each connection is an :class:`asyncio.Protocol` (no StreamReader/StreamWriter pair): received
bytes are split into lines and parsed right in ``data_received``, and a complete reply resolves
the future the command is waiting on. Lines that arrive while no command waits (a ``HANGUP``
between commands) are kept, unparsed, until the next command, so they are taken in order as
before. A command has at most one line (2 KiB) in flight, so the write side needs no flow
control; the read side stops reading when a peer floods the connection between commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ivr.agi.protocol import (
    AGIReply,
    ReplyParser,
    build_command,
    header_args,
    parse_header,
)
from ivr.errors import AGICommandError, AGIHangup, AGIProtocolError, AGITimeout, HotlineError

__all__ = ["AGIRefused", "AGISession", "FastAGIServer", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[["AGISession"], Awaitable[None]]

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
_CLOSED_BY_PEER = "Asterisk closed the AGI connection"


class AGIRefused(AGICommandError):
    """Asterisk answered a command with 510, 520 or another non-200 code; ``reply`` has it."""

    def __init__(self, message: str, reply: AGIReply) -> None:
        super().__init__(message)
        self.reply = reply


class AGISession:
    """One FastAGI connection: the call's header and a way to send it commands.

    ``env`` is the header (``agi_callerid`` ...); ``script`` the request path (``hotline`` for
    ``agi://host/hotline?lang=zh``), ``query`` its parameters, ``args`` the ``agi_arg_N``
    values. ``hung_up`` turns True when Asterisk reported the hangup (``HANGUP`` line or a 511).
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
        self._peer_eof(f"AGI connection lost: {exc}" if exc is not None else _CLOSED_BY_PEER)

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
            self.hung_up = True
            self._waiter = None
            waiter.set_exception(AGIHangup(self._eof))

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


class _Connection(asyncio.Protocol):
    """One accepted connection: collects the header, then feeds its session."""

    __slots__ = ("_buf", "_server", "_session", "_timer", "_transport")

    def __init__(self, server: FastAGIServer) -> None:
        self._server = server
        self._buf = b""
        self._session: AGISession | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None

    def _peer(self) -> Any:
        return self._transport.get_extra_info("peername") if self._transport else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        server = self._server
        if server._stopping:  # accepted just before stop() closed the listener
            transport.abort()
            return
        server._conns.add(self)
        server.sessions_total += 1
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(server.header_timeout, self._header_expired)

    def data_received(self, data: bytes) -> None:
        session = self._session
        if session is not None:
            session._data(data)
            return
        if self not in self._server._conns:
            return  # dropped already
        # One search for the end of the header (Asterisk ends it with an empty line) rather
        # than a readline per field.
        buf = self._buf + data if self._buf else data
        end = buf.find(b"\n\n")
        limit = self._server.line_limit
        if end < 0 and len(buf) <= limit:
            self._buf = buf
            return
        if end < 0 or end + 2 > limit:
            log.warning("AGI header from %s longer than %d bytes", self._peer(), limit)
            self._drop()
            return
        self._buf = b""
        try:
            self._start(buf[: end + 2], buf[end + 2 :])
        except Exception:  # never leave a half-started connection behind
            log.exception("AGI connection from %s could not start", self._peer())
            self._server.sessions_failed += 1
            self._drop()

    def eof_received(self) -> bool | None:
        session = self._session
        if session is not None:
            session._peer_eof(_CLOSED_BY_PEER)
            return True  # keep our side open until the handler is done with it
        if self in self._server._conns:
            log.info("AGI connection from %s closed during the header", self._peer())
            self._drop()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        session = self._session
        if session is not None:
            session._connection_lost(exc)
        elif self in self._server._conns:
            log.info("AGI connection from %s lost during the header: %s", self._peer(), exc)
            self._drop()

    def _header_expired(self) -> None:
        self._timer = None
        if self._session is None and self in self._server._conns:
            log.warning(
                "AGI header from %s not complete within %ss",
                self._peer(),
                self._server.header_timeout,
            )
            self._drop()

    def _drop(self) -> None:
        """End the connection before any handler ran."""
        self._server._conns.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()

    def _start(self, raw: bytes, rest: bytes) -> None:
        server = self._server
        transport = self._transport
        assert transport is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        header = parse_header(raw)
        env, garbage = header.env, header.garbage
        peer = transport.get_extra_info("peername")
        if garbage:
            log.warning(
                "AGI header from %s: %d line(s) not 'key: value': %r",
                peer,
                len(garbage),
                garbage[:5],
            )
        if not any(key.startswith("agi_") for key in env):
            server.sessions_failed += 1
            exc = AGIProtocolError(f"{peer} sent no AGI header (first lines {garbage[:3]!r})")
            log.warning("AGI session from %s failed: %s", peer, exc)
            self._drop()
            return
        session = AGISession(
            transport,
            env,
            garbage=garbage,
            command_timeout=server.command_timeout,
            media_timeout=server.media_timeout,
            exec_timeout=server.exec_timeout,
            line_limit=server.line_limit,
            peer=peer,
        )
        if rest:
            session._buf = rest
        self._session = session
        task = asyncio.get_running_loop().create_task(server._run(session))
        server._conns.discard(self)
        server._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._server._tasks.discard(task)
        if self._session is not None:
            self._session.close_nowait()  # also when cancelled before it ever ran


class FastAGIServer:
    """Serve FastAGI on ``host:port`` (``port=0`` picks a free port; see ``.port``).

    ``header_timeout`` bounds how long a new connection may take to send its header,
    ``command_timeout`` the wait for a quick command's reply, ``media_timeout`` for commands
    that play/record/wait, ``exec_timeout`` for EXEC (a Dial can last an hour);
    ``session_timeout`` bounds a whole call (None: no bound). Lines longer than
    ``line_limit`` bytes (and a header longer than that) are a protocol error.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        header_timeout: float = 10.0,
        command_timeout: float = 10.0,
        media_timeout: float = 900.0,
        exec_timeout: float = 3600.0,
        session_timeout: float | None = 4 * 3600.0,
        line_limit: int = DEFAULT_LINE_LIMIT,
        backlog: int = 1024,
    ) -> None:
        self.handler = handler
        self.host = host
        self._port = port
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.media_timeout = media_timeout
        self.exec_timeout = exec_timeout
        self.session_timeout = session_timeout
        self.line_limit = line_limit
        self.backlog = backlog
        self._server: asyncio.Server | None = None
        self._conns: set[_Connection] = set()  # still sending their header
        self._tasks: set[asyncio.Task[None]] = set()  # running the handler
        self._stopped = asyncio.Event()
        self._stopping = False
        self.sessions_total = 0
        self.sessions_failed = 0

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with ``port=0``)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def active_sessions(self) -> int:
        """Connections in progress (reading the header or running the handler)."""
        return len(self._conns) + len(self._tasks)

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        if self._server is not None:
            return
        self._stopped.clear()
        self._stopping = False
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Connection(self),
            self.host,
            self._port,
            backlog=self.backlog,
            reuse_address=True,
        )
        log.info("FastAGI listening on %s:%d", self.host, self.port)

    async def serve_forever(self) -> None:
        """Start if needed and return once ``stop()`` has finished. Cancelling it stops."""
        await self.start()
        try:
            await self._stopped.wait()
        except asyncio.CancelledError:
            await self.stop(grace=0.0)
            raise

    def stop_accepting(self) -> None:
        """Accept no more calls (a graceful stop begins); calls in progress go on. Asterisk
        then finds the port closed and goes on to the next FastAGI server."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):  # still no complete header
            conn._drop()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting; let calls in progress run up to ``grace`` seconds, then cancel them."""
        self._stopping = True
        server = self._server
        if server is not None:
            server.close()
        tasks = set(self._tasks)
        if tasks and grace > 0:
            _, pending = await asyncio.wait(tasks, timeout=grace)
        else:
            pending = tasks
        for conn in list(self._conns):  # still no complete header
            conn._drop()
        pending |= self._tasks  # accepted just before close() and started since
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "FastAGI stop: cancelling %d call(s) after %.1fs grace", len(pending), grace
            )
            _, stuck = await asyncio.wait(pending, timeout=5.0)
            if stuck:
                log.error("FastAGI stop: %d call(s) ignore cancellation", len(stuck))
        if server is not None:
            await server.wait_closed()
            self._server = None
        self._stopped.set()

    async def __aenter__(self) -> FastAGIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop(grace=0.0)

    # ----------------------------------------------------------------- per call

    async def _run(self, session: AGISession) -> None:
        deadline: asyncio.Timeout | None = None
        try:
            async with asyncio.timeout(self.session_timeout) as deadline:
                await self.handler(session)
        except AGIHangup as exc:
            log.debug("AGI session ended by hangup: %s", exc)
        except TimeoutError:
            self.sessions_failed += 1
            if deadline is not None and deadline.expired():
                log.warning(
                    "AGI session from %s exceeded %ss; closed", session.peer, self.session_timeout
                )
            else:
                log.exception("AGI handler failed for %s", session.peer)
        except HotlineError as exc:
            self.sessions_failed += 1
            log.warning("AGI session from %s failed: %s", session.peer, exc)
        except asyncio.CancelledError:
            session._abort()
            raise
        except Exception:
            self.sessions_failed += 1
            log.exception("AGI handler failed for %s", session.peer)
        finally:
            session.close_nowait()
