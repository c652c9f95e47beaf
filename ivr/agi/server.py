"""An asyncio FastAGI server: one task per Asterisk call, no threads, no polling.

``FastAGIServer(handler)`` accepts connections from ``AGI(agi://host:port/script,...)``, reads the
header under a deadline, and runs ``handler(session)`` in a task of its own. The session's
``command()`` sends one line and waits for its reply under a per-command deadline
(:mod:`ivr.agi.session`). Whatever the handler does, the connection is closed when it returns;
an exception in one handler is logged and never touches the other calls.

Each connection is an :class:`asyncio.Protocol` (no StreamReader/StreamWriter pair): it collects
the header, then hands received bytes to its :class:`~ivr.agi.session.AGISession`, which splits
them into lines and parses them right in ``data_received``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ivr.agi.box_ids import BoxIds
from ivr.agi.peer_watch import DEFAULT_PEER_TIMEOUT, watch_peer
from ivr.agi.protocol import parse_header
from ivr.agi.session import CLOSED_BY_PEER, DEFAULT_LINE_LIMIT, AGISession, box_of
from ivr.errors import AGIHangup, AGIProtocolError, HotlineError

__all__ = ["FastAGIServer", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[["AGISession"], Awaitable[None]]


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
        watch_peer(transport, server.peer_timeout)
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
            session._peer_eof(CLOSED_BY_PEER)
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
        problem = server.ids.opened(env.get("agi_uniqueid", ""), box_of(peer))
        if problem is not None:
            log.error("%s", problem)
        self._session = session
        task = asyncio.get_running_loop().create_task(server._run(session))
        server._conns.discard(self)
        server._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._server._tasks.discard(task)
        session = self._session
        if session is not None:
            session.close_nowait()  # also when cancelled before it ever ran
            self._server.ids.closed(session.env.get("agi_uniqueid", ""), box_of(session.peer))


class FastAGIServer:
    """Serve FastAGI on ``host:port`` (``port=0`` picks a free port; see ``.port``).

    ``header_timeout`` bounds how long a new connection may take to send its header,
    ``command_timeout`` the wait for a quick command's reply, ``media_timeout`` for commands
    that play/record/wait, ``exec_timeout`` for EXEC (a Dial can last an hour);
    ``session_timeout`` bounds a whole call (None: no bound). Lines longer than
    ``line_limit`` bytes (and a header longer than that) are a protocol error.
    ``peer_timeout``: seconds of TCP silence after which a vanished box is judged gone
    (:mod:`ivr.agi.peer_watch`; None: only the commands' deadlines notice it).
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
        peer_timeout: float | None = DEFAULT_PEER_TIMEOUT,
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
        self.peer_timeout = peer_timeout
        self.ids = BoxIds()  # call ids two boxes could share (HL-AGI-012)
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
