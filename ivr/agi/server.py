"""An asyncio FastAGI server: one task per Asterisk connection, no threads, no polling.

``FastAGIServer(handler)`` accepts connections from ``AGI(agi://host:port/script,...)``, reads the
header under a deadline, and awaits ``handler(session)``. The session's ``command()`` sends one
line and reads its reply under a per-command deadline. Whatever the handler does, the
connection is closed when it returns; an exception in one handler is logged and never
touches the other calls.
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
    """

    __slots__ = (
        "_closed",
        "_command_timeout",
        "_deadline",
        "_exec_timeout",
        "_expired",
        "_loop",
        "_media_timeout",
        "_parser",
        "_reader",
        "_timer",
        "_transport",
        "_waiter",
        "_writer",
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
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: dict[str, str],
        *,
        garbage: list[str] | None = None,
        command_timeout: float = 10.0,
        media_timeout: float = 900.0,
        exec_timeout: float = 3600.0,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._transport = writer.transport
        self._parser = ReplyParser()
        self._loop = asyncio.get_running_loop()
        # Per-command deadline: one lazily re-armed timer per session instead of a timer per
        # command (see _arm/_on_timer); _waiter is the task blocked in command().
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Task[Any] | None = None
        self._expired = False
        self._closed = False
        self._command_timeout = command_timeout
        self._media_timeout = media_timeout
        self._exec_timeout = exec_timeout
        self.env = env
        self.garbage = garbage or []
        self.hung_up = False
        self.peer: Any = writer.get_extra_info("peername")
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
        """
        if self._closed:
            raise AGIHangup("the AGI connection is closed")
        if self.hung_up and not after_hangup:
            raise AGIHangup(f"the caller hung up; {cmd} not sent")
        data = build_command(cmd, args)
        if timeout is None:
            timeout = self.default_timeout(cmd)
        task = asyncio.current_task()
        self._waiter = task
        self._arm(timeout)
        try:
            self._transport.write(data)
            if self._transport.get_write_buffer_size() > 65536:
                await self._writer.drain()
            reply = await self._read_reply()
        except asyncio.CancelledError:
            # The reply may still come; the stream can no longer be trusted.
            self._abort()
            if self._expired and task is not None and task.uncancel() == 0:
                raise AGITimeout(
                    f"no reply to {cmd} within {timeout:g}s; the AGI connection was closed"
                ) from None
            raise
        except (AGIHangup, AGIProtocolError):
            self._abort()
            raise
        except OSError as exc:  # from drain(): the connection broke while sending
            self._abort()
            self.hung_up = True
            raise AGIHangup(f"AGI connection lost: {exc}") from None
        finally:
            self._waiter = None
        code = reply.code
        if code == 200:
            if not args and cmd.upper() == "HANGUP":
                self.hung_up = True  # the script hung the channel up itself
            return reply
        if code == 511:
            self.hung_up = True
            raise AGIHangup(f"{cmd}: {reply.message or 'command not permitted on a dead channel'}")
        raise AGIRefused(f"Asterisk refused {cmd}: {reply}", reply)

    async def _read_reply(self) -> AGIReply:
        parser = self._parser
        readline = self._reader.readline
        while True:
            try:
                raw = await readline()
            except ValueError as exc:  # line over the limit (LimitOverrunError is wrapped)
                raise AGIProtocolError(f"reply line longer than the limit: {exc}") from None
            except OSError as exc:
                self.hung_up = True
                raise AGIHangup(f"AGI connection lost: {exc}") from None
            if not raw:
                self.hung_up = True
                raise AGIHangup("Asterisk closed the AGI connection")
            try:
                reply = parser.feed(raw.decode("utf-8", "replace").rstrip("\r\n"))
            except AGIProtocolError:
                parser.reset()
                raise
            if parser.hangup_seen:
                # Asterisk sends HANGUP and keeps reading; this command's reply (a 511, or
                # its result if it may run on a dead channel) still follows.
                self.hung_up = True
            if reply is not None:
                return reply

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
        if waiter is None or self._closed:
            return  # no command waiting: stay disarmed until the next one
        if self._loop.time() >= self._deadline:
            self._expired = True
            waiter.cancel()
        else:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)

    def _abort(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        transport = self._writer.transport
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


class FastAGIServer:
    """Serve FastAGI on ``host:port`` (``port=0`` picks a free port; see ``.port``).

    ``header_timeout`` bounds how long a new connection may take to send its header,
    ``command_timeout`` the wait for a quick command's reply, ``media_timeout`` for commands
    that play/record/wait, ``exec_timeout`` for EXEC (a Dial can last an hour);
    ``session_timeout`` bounds a whole call (None: no bound). Lines longer than
    ``line_limit`` bytes are a protocol error.
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
        self._tasks: set[asyncio.Task[None]] = set()
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
        return len(self._tasks)

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        if self._server is not None:
            return
        self._stopped.clear()
        self._stopping = False
        self._server = await asyncio.start_server(
            self._on_connect,
            self.host,
            self._port,
            limit=self.line_limit,
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

    # ----------------------------------------------------------------- per connection

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopping:  # accepted just before stop() closed the listener
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        tasks = self._tasks
        tasks.add(task)
        self.sessions_total += 1
        session: AGISession | None = None
        deadline: asyncio.Timeout | None = None
        try:
            session = await self._read_header(reader, writer)
            if session is None:
                return
            async with asyncio.timeout(self.session_timeout) as deadline:
                await self.handler(session)
        except AGIHangup as exc:
            log.debug("AGI session ended by hangup: %s", exc)
        except TimeoutError:
            self.sessions_failed += 1
            if deadline is not None and deadline.expired():
                log.warning(
                    "AGI session from %s exceeded %ss; closed",
                    writer.get_extra_info("peername"),
                    self.session_timeout,
                )
            else:
                log.exception("AGI handler failed for %s", writer.get_extra_info("peername"))
        except HotlineError as exc:
            self.sessions_failed += 1
            log.warning("AGI session from %s failed: %s", writer.get_extra_info("peername"), exc)
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        except Exception:
            self.sessions_failed += 1
            log.exception("AGI handler failed for %s", writer.get_extra_info("peername"))
        finally:
            tasks.discard(task)
            if session is not None:
                session.close_nowait()
            elif not writer.transport.is_closing():
                writer.transport.abort()

    async def _read_header(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> AGISession | None:
        peer = writer.get_extra_info("peername")
        try:
            # One read for the whole header (Asterisk ends it with an empty line) rather than
            # a readline per field: ~25 fewer awaits per call.
            async with asyncio.timeout(self.header_timeout):
                raw = await reader.readuntil(b"\n\n")
        except asyncio.IncompleteReadError:
            log.info("AGI connection from %s closed during the header", peer)
            return None
        except asyncio.LimitOverrunError:
            log.warning("AGI header from %s longer than %d bytes", peer, self.line_limit)
            return None
        except TimeoutError:
            log.warning("AGI header from %s not complete within %ss", peer, self.header_timeout)
            return None
        except OSError as exc:
            log.info("AGI connection from %s lost during the header: %s", peer, exc)
            return None
        header = parse_header(raw)
        env, garbage = header.env, header.garbage
        if garbage:
            log.warning(
                "AGI header from %s: %d line(s) not 'key: value': %r",
                peer,
                len(garbage),
                garbage[:5],
            )
        if not any(key.startswith("agi_") for key in env):
            raise AGIProtocolError(f"{peer} sent no AGI header (first lines {garbage[:3]!r})")
        return AGISession(
            reader,
            writer,
            env,
            garbage=garbage,
            command_timeout=self.command_timeout,
            media_timeout=self.media_timeout,
            exec_timeout=self.exec_timeout,
        )
