"""The FastAGI server over real loopback sockets, with a scripted Asterisk peer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ivr.agi.server import FastAGIServer
from ivr.agi.session import AGIRefused, AGISession, script_of
from ivr.agi.simulator import simulate_call
from ivr.errors import AGICommandError, AGIHangup, AGIProtocolError, AGITimeout

WAIT = 10.0  # generous deadline for things that should happen at once

HEADER = (
    "agi_network: yes\n"
    "agi_network_script: hotline?lang=zh&x=1\n"
    "agi_request: agi://127.0.0.1:4573/hotline?lang=zh&x=1\n"
    "agi_channel: PJSIP/trunk-00000001\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_callerid: 13800138000\n"
    "agi_arg_1: one\n"
    "agi_arg_2: two\n"
    "\n"
)


class Peer:
    """The Asterisk end of one connection, driven by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, header: str | bytes | None = HEADER) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        if header is not None:
            peer.send(header)
        return peer

    def send(self, data: str | bytes) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)

    async def line(self) -> str:
        """The next command line; "" on EOF."""
        async with asyncio.timeout(WAIT):
            raw = await self.reader.readline()
        return raw.decode().rstrip("\n")

    async def closed_by_server(self) -> bool:
        """True once the server closed the connection (EOF or reset)."""
        try:
            async with asyncio.timeout(WAIT):
                while await self.reader.read(65536):
                    pass
        except ConnectionError:
            pass
        return True

    def close(self) -> None:
        self.writer.close()


class Outcome:
    """What a handler reports back to the test."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self) -> Any:
        async with asyncio.timeout(WAIT):
            return await self.queue.get()

    def put(self, value: Any) -> None:
        self.queue.put_nowait(value)


async def eventually(condition: Callable[[], bool], what: str = "condition") -> None:
    """Poll ``condition`` until it holds, with a deadline (no sleep-and-hope)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - deliberate polling under a deadline
            await asyncio.sleep(0.005)
    assert condition(), what


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Awaitable[FastAGIServer]]]:
    servers: list[FastAGIServer] = []

    async def make(handler: Callable[[AGISession], Awaitable[None]], **kw: Any) -> FastAGIServer:
        server = FastAGIServer(handler, "127.0.0.1", 0, **kw)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop(grace=0.0)


MakeServer = Callable[..., Awaitable[FastAGIServer]]


# --------------------------------------------------------------------------- header


async def test_session_env_script_query_args(make_server: MakeServer) -> None:
    out = Outcome()

    async def handler(session: AGISession) -> None:
        out.put(session)

    server = await make_server(handler)
    peer = await Peer.connect(server.port)
    session: AGISession = await out.get()
    assert session.script == "hotline"
    assert session.query == {"lang": "zh", "x": "1"}
    assert session.args == ["one", "two"]
    assert session.env["agi_callerid"] == "13800138000"
    assert await peer.closed_by_server()


def test_script_of_falls_back_to_agi_request() -> None:
    assert script_of({"agi_request": "agi://10.0.0.1:4573/ivr/hotline/?a=b"}) == (
        "ivr/hotline",
        {"a": "b"},
    )
    assert script_of({"agi_request": "agi://10.0.0.1"}) == ("", {})
    assert script_of({"agi_network_script": "hotline"}) == ("hotline", {})


async def test_eof_mid_header_does_not_call_handler(make_server: MakeServer) -> None:
    calls: list[AGISession] = []

    async def handler(session: AGISession) -> None:
        calls.append(session)

    server = await make_server(handler)
    peer = await Peer.connect(server.port, "agi_network: yes\nagi_chan")
    await eventually(lambda: server.active_sessions == 1)
    peer.writer.write_eof()
    await eventually(lambda: server.active_sessions == 0)
    assert calls == []
    assert await peer.closed_by_server()
    # and the server is still fine
    result = await simulate_call("127.0.0.1", server.port, to="12345", caller="1")
    assert result.ended == "server closed"
    assert len(calls) == 1


async def test_garbage_header_lines_are_tolerated(make_server: MakeServer) -> None:
    out = Outcome()

    async def handler(session: AGISession) -> None:
        out.put(session)

    server = await make_server(handler)
    await Peer.connect(
        server.port, b"agi_network: yes\nthis is junk\n\xff\xfe\nagi_callerid: 7\n\n"
    )
    session: AGISession = await out.get()
    assert session.env == {"agi_network": "yes", "agi_callerid": "7"}
    assert session.garbage == ["this is junk", "\ufffd\ufffd"]


async def test_not_agi_at_all_is_closed(make_server: MakeServer, caplog: Any) -> None:
    calls: list[AGISession] = []

    async def handler(session: AGISession) -> None:
        calls.append(session)

    server = await make_server(handler, header_timeout=0.3)
    # lines ended by an empty line, none of them agi_*: refused at once
    peer = await Peer.connect(server.port, "hello: world\nsomething else\n\n")
    assert await peer.closed_by_server()
    assert "sent no AGI header" in caplog.text
    # an HTTP probe (CRLF, never a bare empty line) is dropped at the header deadline
    probe = await Peer.connect(server.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await probe.closed_by_server()
    assert calls == []
    await eventually(lambda: server.active_sessions == 0)


async def test_silent_peer_hits_header_timeout(make_server: MakeServer) -> None:
    calls: list[AGISession] = []

    async def handler(session: AGISession) -> None:
        calls.append(session)

    server = await make_server(handler, header_timeout=0.2)
    peer = await Peer.connect(server.port, header=None)
    assert await peer.closed_by_server()
    await eventually(lambda: server.active_sessions == 0)
    assert calls == []


async def test_header_line_over_limit_closes(make_server: MakeServer) -> None:
    calls: list[AGISession] = []

    async def handler(session: AGISession) -> None:
        calls.append(session)

    server = await make_server(handler, line_limit=1024)
    peer = await Peer.connect(server.port, "agi_calleridname: " + "x" * 5000 + "\n\n")
    assert await peer.closed_by_server()
    assert calls == []


# --------------------------------------------------------------------------- commands


async def run_one(
    make_server: MakeServer,
    script: Callable[[AGISession], Awaitable[Any]],
    **kw: Any,
) -> tuple[Peer, Outcome]:
    """Start a server whose handler runs ``script`` and reports its result or exception."""
    out = Outcome()

    async def handler(session: AGISession) -> None:
        try:
            out.put(await script(session))
        except Exception as exc:
            out.put(exc)
            raise

    server = await make_server(handler, **kw)
    peer = await Peer.connect(server.port)
    return peer, out


async def test_command_quotes_args_and_returns_reply(make_server: MakeServer) -> None:
    peer, out = await run_one(
        make_server, lambda s: s.command("STREAM FILE", "welcome", "12", timeout=5)
    )
    assert await peer.line() == 'STREAM FILE "welcome" "12"'
    peer.send("200 result=49 endpos=8000\n")
    reply = await out.get()
    assert (reply.code, reply.result_int, reply.endpos) == (200, 49, 8000)
    assert await peer.closed_by_server()


async def test_100_trying_then_200(make_server: MakeServer) -> None:
    peer, out = await run_one(make_server, lambda s: s.command("GOSUB", "sub", "s", "1"))
    await peer.line()
    peer.send("100 result=0 Trying...\n")
    peer.send("200 result=0 Gosub complete\n")
    reply = await out.get()
    assert (reply.code, reply.result, reply.message) == (200, "0", "Gosub complete")


async def test_510_is_a_command_error(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("BOGUS")
        except AGICommandError as exc:
            # the session stays usable after a refused command
            return exc, await s.command("NOOP")
        return None

    peer, out = await run_one(make_server, script)
    assert await peer.line() == "BOGUS"
    peer.send("510 Invalid or unknown command\n")
    assert await peer.line() == "NOOP"
    peer.send("200 result=0\n")
    exc, reply = await out.get()
    assert isinstance(exc, AGIRefused) and exc.reply.code == 510
    assert exc.code == "HL-AGI-003"
    assert reply.ok


async def test_multiline_520(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("WAIT FOR DIGIT")
        except AGIRefused as exc:
            return exc.reply, await s.command("NOOP")
        return None

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send(
        "520-Invalid command syntax.  Proper usage follows:\n"
        " Usage: WAIT FOR DIGIT <timeout>\n"
        "200 result=0 this line is usage text, not a reply\n"
        "520 End of proper usage.\n"
    )
    assert await peer.line() == "NOOP"
    peer.send("200 result=0\n")
    usage, noop = await out.get()
    assert usage.code == 520
    assert "WAIT FOR DIGIT <timeout>" in usage.data
    assert noop.ok


async def test_hangup_line_then_511(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("STREAM FILE", "x", "")
        except AGIHangup as exc:
            return exc, s.hung_up

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send("HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n")
    exc, hung_up = await out.get()
    assert isinstance(exc, AGIHangup) and hung_up
    assert exc.code == "HL-AGI-002"


async def test_511_without_hangup_line(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("ANSWER")
        except AGIHangup:
            return s.hung_up

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send("511 Command Not Permitted on a dead channel or intercept routine\n")
    assert await out.get() is True


async def test_hangup_mid_command_is_remembered(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        first = await s.command("SET VARIABLE", "A", "1")  # may run on a dead channel
        assert s.hung_up
        try:
            await s.command("STREAM FILE", "x", "")
        except AGIHangup:
            pass
        else:
            return "not raised"
        dead_ok = await s.command("SET VARIABLE", "B", "2", after_hangup=True)
        return first, dead_ok

    peer, out = await run_one(make_server, script)
    assert await peer.line() == 'SET VARIABLE "A" "1"'
    peer.send("HANGUP\n200 result=1\n")
    # STREAM FILE is refused locally, never sent: the next line is the dead-mode command
    assert await peer.line() == 'SET VARIABLE "B" "2"'
    peer.send("200 result=1\n")
    first, dead_ok = await out.get()
    assert first.ok and dead_ok.ok


async def test_eof_mid_command_is_hangup(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("WAIT FOR DIGIT", "5000")
        except AGIHangup as exc:
            return exc, s.hung_up, s.closed

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.close()
    exc, hung_up, closed = await out.get()
    assert isinstance(exc, AGIHangup) and hung_up and closed


async def test_garbage_reply_is_protocol_error_and_closes(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("NOOP")
        except AGIProtocolError as exc:
            return exc, s.closed

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send("hello there\n")
    exc, closed = await out.get()
    assert isinstance(exc, AGIProtocolError) and closed
    assert await peer.closed_by_server()


async def test_reply_line_over_limit(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("GET VARIABLE", "BIG")
        except AGIProtocolError as exc:
            return exc

    peer, out = await run_one(make_server, script, line_limit=1024)
    await peer.line()
    peer.send("200 result=1 (" + "x" * 5000 + ")\n")
    assert isinstance(await out.get(), AGIProtocolError)
    assert await peer.closed_by_server()


async def test_command_timeout(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("NOOP")
        except AGITimeout as exc:
            return exc, s.closed

    peer, out = await run_one(make_server, script, command_timeout=0.2)
    assert await peer.line() == "NOOP"
    exc, closed = await out.get()  # the peer never answers
    assert isinstance(exc, AGITimeout) and closed
    assert exc.code == "HL-AGI-004"
    assert await peer.closed_by_server()


async def test_explicit_timeout_overrides_default(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("EXEC", "Dial", "PJSIP/1", timeout=0.1)
        except AGITimeout as exc:
            return exc

    peer, out = await run_one(make_server, script)
    await peer.line()
    assert isinstance(await out.get(), AGITimeout)


def test_default_timeouts() -> None:
    server = FastAGIServer(lambda s: asyncio.sleep(0), command_timeout=1, media_timeout=2)
    assert server.exec_timeout == 3600.0
    session = AGISession.__new__(AGISession)
    session._command_timeout, session._media_timeout, session._exec_timeout = 1.0, 2.0, 3.0
    assert session.default_timeout("NOOP") == 1.0
    assert session.default_timeout("stream file") == 2.0
    assert session.default_timeout("EXEC") == 3.0


async def test_bad_argument_is_refused_before_sending(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        try:
            await s.command("SET VARIABLE", "X", "two\nlines")
        except ValueError as exc:
            return exc, await s.command("NOOP")

    peer, out = await run_one(make_server, script)
    assert await peer.line() == "NOOP"
    peer.send("200 result=0\n")
    exc, reply = await out.get()
    assert isinstance(exc, ValueError) and reply.ok


async def test_reply_split_across_packets(make_server: MakeServer) -> None:
    peer, out = await run_one(make_server, lambda s: s.command("STREAM FILE", "x", ""))
    await peer.line()
    peer.send("200 res")
    await peer.writer.drain()
    await asyncio.sleep(0.02)
    peer.send("ult=0 endpos=80")
    await peer.writer.drain()
    await asyncio.sleep(0.02)
    peer.send("00\r\n")
    reply = await out.get()
    assert (reply.code, reply.result, reply.endpos) == (200, "0", 8000)


async def test_lines_after_a_reply_wait_for_the_next_command(make_server: MakeServer) -> None:
    """A HANGUP that arrives with (or after) a reply is taken in order, by the next command."""

    async def script(s: AGISession) -> Any:
        first = await s.command("SET VARIABLE", "A", "1")
        before = s.hung_up
        try:
            await s.command("GET VARIABLE", "A")
        except AGIHangup:
            return first, before, s.hung_up
        return None

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send("200 result=1\nHANGUP\n")
    assert await peer.line() == 'GET VARIABLE "A"'
    peer.send("511 Command Not Permitted on a dead channel or intercept routine\n")
    first, before, after = await out.get()
    assert first.ok and not before and after


async def test_reply_then_eof(make_server: MakeServer) -> None:
    """The reply that came just before the peer closed is still returned; the next command
    then finds the connection gone."""

    async def script(s: AGISession) -> Any:
        first = await s.command("NOOP")
        await eventually(lambda: s._eof is not None, "EOF seen")
        try:
            await s.command("NOOP")
        except AGIHangup as exc:
            return first, exc, s.hung_up

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send("200 result=0\n")
    peer.writer.write_eof()
    first, exc, hung_up = await out.get()
    assert first.ok and isinstance(exc, AGIHangup) and hung_up


async def test_one_command_at_a_time(make_server: MakeServer) -> None:
    async def script(s: AGISession) -> Any:
        first = asyncio.create_task(s.command("NOOP"))
        await asyncio.sleep(0)
        try:
            await s.command("ANSWER")
        except RuntimeError as exc:
            return exc, await first
        return None

    peer, out = await run_one(make_server, script)
    assert await peer.line() == "NOOP"
    peer.send("200 result=0\n")
    exc, reply = await out.get()
    assert isinstance(exc, RuntimeError) and reply.ok


async def test_flood_between_commands(make_server: MakeServer) -> None:
    """A peer that sends a line over the limit while no command waits is a protocol error at
    the next command; the server stops reading it meanwhile."""
    flooded = asyncio.Event()

    async def script(s: AGISession) -> Any:
        await s.command("NOOP")
        await flooded.wait()
        try:
            await s.command("NOOP")
        except AGIProtocolError as exc:
            return exc, s.closed

    peer, out = await run_one(make_server, script, line_limit=1024)
    await peer.line()
    peer.send("200 result=0\n")
    peer.send("x" * 50_000)
    await peer.writer.drain()
    flooded.set()
    exc, closed = await out.get()
    assert isinstance(exc, AGIProtocolError) and closed
    assert await peer.closed_by_server()


# --------------------------------------------------------------------------- lifecycle


async def test_handler_exception_does_not_kill_server(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def handler(session: AGISession) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        await session.command("ANSWER")

    server = await make_server(handler)
    with caplog.at_level(logging.ERROR, logger="ivr.agi.server"):
        first = await simulate_call("127.0.0.1", server.port, to="1", caller="2")
    assert first.ended == "server closed" and first.commands == []
    assert "boom" in caplog.text and "Traceback" in caplog.text
    second = await simulate_call("127.0.0.1", server.port, to="1", caller="2")
    assert second.commands == ["ANSWER"]
    await eventually(lambda: server.active_sessions == 0)
    assert server.sessions_failed == 1


async def test_thousand_concurrent_sessions(make_server: MakeServer) -> None:
    async def handler(session: AGISession) -> None:
        await session.command("ANSWER")
        reply = await session.command("STREAM FILE", "welcome", "123")
        await session.command("SET VARIABLE", "KEY", reply.result)

    server = await make_server(handler)
    n = 1000
    sem = asyncio.Semaphore(500)  # keep the client side within the listen backlog

    async def call(i: int) -> Any:
        async with sem:
            return await simulate_call(
                "127.0.0.1", server.port, to="12345", caller=str(i), digits="2", timeout=WAIT
            )

    async with asyncio.timeout(120):
        results = await asyncio.gather(*(call(i) for i in range(n)))
    assert all(r.ended == "server closed" for r in results)
    assert all(r.variables == {"KEY": "50"} for r in results)
    await eventually(lambda: server.active_sessions == 0)
    assert server.sessions_total == n and server.sessions_failed == 0


async def test_stop_cancels_sessions_after_grace(make_server: MakeServer) -> None:
    seen: list[str] = []
    tasks: list[asyncio.Task[Any]] = []

    async def handler(session: AGISession) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        try:
            await session.command("WAIT FOR DIGIT", "-1", timeout=3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    server = await make_server(handler)
    peers = [await Peer.connect(server.port) for _ in range(3)]
    for peer in peers:
        assert await peer.line() == 'WAIT FOR DIGIT "-1"'
    assert server.active_sessions == 3
    async with asyncio.timeout(WAIT):
        await server.stop(grace=0.05)
    assert seen == ["cancelled"] * 3
    assert all(t.done() and t.cancelled() for t in tasks)  # CancelledError was not swallowed
    assert server.active_sessions == 0
    for peer in peers:
        assert await peer.closed_by_server()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)


async def test_stop_lets_sessions_finish_within_grace(make_server: MakeServer) -> None:
    done: list[str] = []

    async def handler(session: AGISession) -> None:
        await session.command("NOOP")
        done.append("finished")

    server = await make_server(handler)
    peer = await Peer.connect(server.port)
    assert await peer.line() == "NOOP"
    stopping = asyncio.create_task(server.stop(grace=WAIT))
    await eventually(lambda: not server.serving, "stopped listening")
    assert not stopping.done()
    peer.send("200 result=0\n")
    async with asyncio.timeout(WAIT):
        await stopping
    assert done == ["finished"]


async def test_session_timeout(make_server: MakeServer, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    async def handler(session: AGISession) -> None:
        try:
            await session.command("WAIT FOR DIGIT", "-1", timeout=3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    server = await make_server(handler, session_timeout=0.2)
    peer = await Peer.connect(server.port)
    await peer.line()
    assert await peer.closed_by_server()
    await eventually(lambda: server.active_sessions == 0)
    assert seen == ["cancelled"]
    assert "exceeded" in caplog.text


async def test_serve_forever_returns_after_stop() -> None:
    async def handler(session: AGISession) -> None:
        return None

    server = FastAGIServer(handler, port=0)
    forever = asyncio.create_task(server.serve_forever())
    await eventually(lambda: server.serving)
    assert server.port != 0
    await server.stop(grace=0.0)
    async with asyncio.timeout(WAIT):
        await forever


async def test_cancelling_serve_forever_stops_and_propagates() -> None:
    async def handler(session: AGISession) -> None:
        return None

    server = FastAGIServer(handler, port=0)
    forever = asyncio.create_task(server.serve_forever())
    await eventually(lambda: server.serving)
    forever.cancel()
    with pytest.raises(asyncio.CancelledError):
        await forever
    assert not server.serving


async def test_deadline_timer_follows_each_command(make_server: MakeServer) -> None:
    """One lazily re-armed timer per session: a shorter deadline after a longer one still
    fires on time, and a longer one after a shorter one does not fire early."""
    loop = asyncio.get_running_loop()
    marks: dict[str, float] = {}

    async def script(s: AGISession) -> Any:
        await s.command("NOOP", timeout=0.2)  # answered at once
        marks["short_deadline"] = loop.time() + 0.2
        slow = await s.command("NOOP", timeout=WAIT)  # answered after the first deadline
        await s.command("EXEC", "Wait", "1", timeout=3600)
        try:
            await s.command("NOOP", timeout=0.2)  # never answered
        except AGITimeout as exc:
            late = None
            try:
                await s.command("NOOP")
            except AGIHangup as closed:
                late = closed
            return slow, exc, late, s._timer
        return None

    peer, out = await run_one(make_server, script)
    await peer.line()
    peer.send("200 result=0\n")
    await peer.line()
    await eventually(lambda: "short_deadline" in marks)
    await eventually(lambda: loop.time() > marks["short_deadline"] + 0.1, "past the deadline")
    peer.send("200 result=0\n")
    await peer.line()
    peer.send("200 result=0\n")
    assert await peer.line() == "NOOP"
    slow, exc, late, timer = await out.get()
    assert slow.ok
    assert isinstance(exc, AGITimeout)
    assert isinstance(late, AGIHangup)  # the session is closed after a timeout
    assert timer is None
    assert await peer.closed_by_server()


async def test_timer_disarmed_when_session_ends(make_server: MakeServer) -> None:
    sessions: list[AGISession] = []

    async def handler(session: AGISession) -> None:
        sessions.append(session)
        await session.command("EXEC", "Wait", "1")  # arms a one-hour deadline

    server = await make_server(handler)
    result = await simulate_call("127.0.0.1", server.port, to="1", caller="2")
    assert result.ended == "server closed"
    await eventually(lambda: server.active_sessions == 0)
    assert sessions[0]._timer is None and sessions[0].closed
