"""The fake Asterisk: conformance with recorded Asterisk 22 transcripts, and end-to-end calls
through the FastAGI server and AGIChannel."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ivr.agi.channel import AGIChannel, call_info_from_env
from ivr.agi.fake_asterisk import FakeAsterisk, SimResult
from ivr.agi.protocol import parse_args, parse_header
from ivr.agi.res_agi import ASTERISK_VERSION, HEADER_KEYS, find_command
from ivr.agi.server import FastAGIServer
from ivr.agi.session import AGIRefused, AGISession
from ivr.agi.simulator import simulate_call
from ivr.errors import AGIHangup

FIXTURES = Path(__file__).parent / "fixtures" / "agi"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json")) if FIXTURES.is_dir() else []
WAIT = 10.0

# --------------------------------------------------------------------------- transcripts


def _reply_lines(reply: Any) -> list[str]:
    if isinstance(reply, list):
        return [str(x).rstrip("\r\n") for x in reply]
    return [line.rstrip("\r") for line in str(reply).rstrip("\n").split("\n")]


_FIXED_TAGS = {"timeout", "dtmf", "hangup", "randomerror", "writefile", "waitfor"}


def line_shape(line: str) -> str:
    """The form of a reply line, without the values that depend on the call."""
    if line == "HANGUP":
        return "HANGUP"
    if line.startswith("520-"):
        return "520-"
    m = re.match(r"^(\d{3})(?: (.*))?$", line)
    if m is None:
        return "text"
    code, rest = m.group(1), m.group(2) or ""
    if not rest.startswith("result="):
        return f"{code} {rest}" if code in ("510", "511", "520") else f"{code} text"
    value, _, tail = rest[7:].partition(" ")
    kind = "int" if re.fullmatch(r"-?\d+", value) else ("empty" if not value else "str")
    parts = [code, f"result:{kind}"]
    paren = re.match(r"^\((.*)\)(.*)$", tail)
    if paren:
        tag = paren.group(1)
        parts.append(f"({tag})" if tag in _FIXED_TAGS else "(value)")
        tail = paren.group(2)
    keys = sorted(w.split("=", 1)[0] for w in tail.split() if "=" in w)
    parts += [f"{k}=" for k in keys]
    if code == "100" or (tail.strip() and not keys):
        parts.append("text")
    return " ".join(parts)


def reply_shape(lines: list[str]) -> list[str]:
    """Line shapes without HANGUP lines (Asterisk sends those asynchronously) and without the
    free text inside a 520 usage block."""
    shapes: list[str] = []
    in_usage = False
    for line in lines:
        if in_usage:
            if line.startswith("520 "):
                shapes.append("520 end")
                in_usage = False
            continue
        shape = line_shape(line)
        if shape == "HANGUP":
            continue
        shapes.append(shape)
        in_usage = shape == "520-"
    return shapes


def infer_call(exchanges: list[dict[str, Any]]) -> dict[str, Any]:
    """Simulator settings that make it face the same caller as the recorded call."""
    digits = ""
    missing: set[str] = set()
    labels: set[str] = set()
    unwritable: set[str] = set()
    preset: dict[str, str] = {}
    set_by_script: set[str] = set()
    hangup_after: int | None = None
    hangup_during: int | None = None
    dial_status = "NOANSWER"
    commands = [ex for ex in exchanges if "command" in ex]
    i = -1
    for ex in exchanges:
        dead = hangup_after is not None or hangup_during is not None
        if "command" not in ex:
            # what Asterisk sent while the AGI was idle: a HANGUP here is a hangup between
            # commands (unless it follows a command the hangup interrupted)
            if not dead and "HANGUP" in str(ex.get("received", "")):
                hangup_after = i + 1
            continue
        i += 1
        argv = parse_args(str(ex["command"]).rstrip("\n"))
        name = find_command(argv)
        lines = _reply_lines(ex["reply"])
        finals = [ln for ln in lines if ln != "HANGUP" and not ln.startswith("100 ")]
        first = finals[0] if finals else ""
        if not dead and first.startswith("511"):
            hangup_after = i
        if not dead and "HANGUP" in lines and lines.index("HANGUP") < len(lines) - 1:
            hangup_after = i  # HANGUP arrived before this command's reply
        m = re.match(r"^200 result=(\S*)(?: \(([^)]*)\))?", first)
        if m is None or name is None:
            continue
        value, tag = m.group(1), m.group(2) or ""
        number = int(value) if re.fullmatch(r"-?\d+", value) else None
        waits = name in ("stream file", "control stream file", "get option", "wait for digit")
        waits = waits or name in ("get data", "record file")
        if number == -1 and not dead and tag not in ("writefile", "randomerror"):
            if waits and not (name == "stream file" and "endpos=0" in first):
                hangup_during = i + 1  # the caller hung up while this command waited
                continue
            if name == "exec" and len(argv) > 1 and argv[1].lower() != "dial":
                hangup_during = i + 1
                continue

        def key(n: int | None) -> str:
            return chr(n) if n is not None and n > 0 else "."

        if name in ("stream file", "control stream file", "get option"):
            escape = argv[3] if len(argv) > 3 else ""
            if number == -1 and "endpos=0" in first and len(argv) > 2:
                missing.add(argv[2])
            elif escape:
                digits += key(number)
        elif name == "wait for digit":
            digits += key(number)
        elif name == "record file" and len(argv) > 4:
            if tag == "writefile":
                unwritable.add(argv[2])
            elif argv[4]:
                digits += key(number) if tag == "dtmf" else "."
        elif name == "get data" and number != -1:
            limit = int(argv[4]) if len(argv) > 4 and argv[4].isdigit() else 1024
            digits += value + ("." if tag == "timeout" else ("#" if len(value) < limit else ""))
        elif name == "gosub" and "not found" in first:
            labels.add(",".join(argv[1:4]))
        elif name == "exec" and len(argv) > 2 and argv[1].lower() == "playback":
            preset.setdefault("__playback__", "")
        elif name == "set variable" and len(argv) > 2:
            set_by_script.add(argv[2])
        elif name == "get variable" and len(argv) > 2 and value == "1":
            shown = first.split("(", 1)[1].rsplit(")", 1)[0]
            if argv[2] == "DIALSTATUS":
                dial_status = shown
            elif argv[2] == "PLAYBACKSTATUS" and shown == "FAILED":
                # the last EXEC Playback before this played a missing file
                for prev in reversed(commands[:i]):
                    pargv = parse_args(str(prev["command"]))
                    if len(pargv) > 2 and pargv[:2] == ["EXEC", "Playback"]:
                        missing.add(pargv[2])
                        break
            elif argv[2] not in set_by_script:
                preset[argv[2]] = shown
    preset.pop("__playback__", None)
    return {
        "digits": digits,
        "missing_prompts": missing,
        "missing_labels": labels,
        "unwritable": unwritable,
        "variables": preset,
        "hangup_after": hangup_after,
        "hangup_during": hangup_during,
        "dial_status": dial_status,
    }


def load_fixture(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("header", "exchanges"):
        assert key in data, f"{path.name}: no {key!r}"
    return data


@pytest.mark.skipif(not FIXTURE_FILES, reason="no recorded Asterisk transcripts in fixtures/agi")
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_header_matches_recording(path: Path) -> None:
    data = load_fixture(path)
    raw = str(data["header"])
    assert raw.endswith("\n\n"), "a recorded header ends with an empty line"
    real = parse_header(raw)
    assert real.garbage == []
    real_lines = raw.split("\n")[: len(real.env)]
    assert all(re.fullmatch(r"agi_[a-z0-9_]+: .*", ln) for ln in real_lines), real_lines

    args = parse_header(raw).args
    script = real.env.get("agi_network_script", "")
    fake = FakeAsterisk(to="12345", caller="13800138000", script=script, args=args)
    sim_raw = fake.header()
    sim = parse_header(sim_raw)
    assert list(sim.env) == list(real.env), "header keys and their order"
    assert sim_raw.split("\n")[: len(sim.env)] == [f"{k}: {v}" for k, v in sim.env.items()], (
        "simulator header format"
    )

    def shape(key: str, value: str) -> str:
        if key in ("agi_callerid", "agi_calleridname", "agi_dnid", "agi_rdnis"):
            return "party"  # the caller's data, or "unknown"
        if key in ("agi_extension", "agi_context", "agi_channel", "agi_network_script"):
            return "text" if value else ""
        if key.startswith("agi_arg_"):
            return "arg"
        if key == "agi_type":
            return "tech"
        if re.fullmatch(r"-?\d+", value):
            return "int"
        if re.fullmatch(r"\d+\.\d+", value):
            return "n.n"
        if key == "agi_version":
            return value.split(".", 1)[0]
        if key == "agi_request":
            return value.split("://", 1)[0]
        if key == "agi_language":
            return "lang"
        return value

    for key, value in real.env.items():
        assert shape(key, sim.env[key]) == shape(key, value), (
            f"{key}: {sim.env[key]!r} vs {value!r}"
        )
    version = re.search(r"\d+", str(data.get("asterisk_version", real.env["agi_version"])))
    assert version is not None
    assert ASTERISK_VERSION.split(".")[0] == version.group(0)


@pytest.mark.skipif(not FIXTURE_FILES, reason="no recorded Asterisk transcripts in fixtures/agi")
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_replies_match_recording(path: Path) -> None:
    data = load_fixture(path)
    exchanges: list[dict[str, Any]] = list(data["exchanges"])
    settings = infer_call(exchanges)
    fake = FakeAsterisk(to="12345", caller="13800138000", **settings)
    fake.header()
    real_hangups = sim_hangups = 0
    for ex in exchanges:
        if "command" not in ex:
            # recorded while the AGI was idle: unsolicited lines (HANGUP) only
            received = _reply_lines(ex.get("received", "")) if ex.get("received") else []
            assert set(received) <= {"HANGUP"}, received
            real_hangups += len(received)
            continue
        command = str(ex["command"]).rstrip("\n")
        real = _reply_lines(ex["reply"])
        real_hangups += real.count("HANGUP")
        sim = fake.respond(command)
        sim_hangups += sim.count("HANGUP")
        assert reply_shape(sim) == reply_shape(real), (
            f"{path.name}: {command!r}\n  asterisk: {real}\n  simulator: {sim}\n"
            f"  notes: {data.get('notes', '')}"
        )
    if data.get("after_eof", True):
        # the AGI closed its side: Asterisk's last words before EOF
        real_hangups += _reply_lines(str(data.get("after", ""))).count("HANGUP")
        sim_hangups += fake.end().count("HANGUP")
    assert sim_hangups == real_hangups, (
        f"{path.name}: Asterisk sent {real_hangups} HANGUP line(s), the simulator {sim_hangups}"
    )


def test_no_fixtures_is_a_skip_not_an_error() -> None:
    # The conformance tests above skip when the transcript directory is empty or missing.
    assert isinstance(FIXTURE_FILES, list)


def test_shape_helpers() -> None:
    assert line_shape("200 result=49 endpos=8000") == "200 result:int endpos="
    assert line_shape("200 result=1 (ANSWER)") == "200 result:int (value)"
    assert line_shape("200 result= (timeout)") == "200 result:empty (timeout)"
    assert line_shape("100 result=0 Trying...") == "100 result:int text"
    assert reply_shape(["520-x", "usage", "520 End of proper usage."]) == ["520-", "520 end"]
    assert reply_shape(
        ["HANGUP", "511 Command Not Permitted on a dead channel or intercept routine"]
    ) == ["511 Command Not Permitted on a dead channel or intercept routine"]
    settings = infer_call(
        [
            {"command": 'STREAM FILE "a" "12"', "reply": "200 result=50 endpos=100\n"},
            {"command": 'STREAM FILE "b" "12"', "reply": "200 result=0 endpos=100\n"},
            {"command": 'STREAM FILE "gone" ""', "reply": "200 result=-1 endpos=0\n"},
            {"command": "GET DATA x 1000 4", "reply": "200 result=12 (timeout)\n"},
            {"command": "WAIT FOR DIGIT 100", "reply": "HANGUP\n511 Command Not Permitted"},
        ]
    )
    assert settings["digits"] == "2.12."
    assert settings["missing_prompts"] == {"gone"}
    assert settings["hangup_after"] == 4
    during = infer_call(
        [
            {"command": "ANSWER", "reply": "200 result=0\n"},
            {"command": "WAIT FOR DIGIT 10000", "reply": "200 result=-1\n"},
            {"command": "NOOP", "reply": "HANGUP\n200 result=0\n"},
        ]
    )
    assert (during["hangup_during"], during["hangup_after"]) == (2, None)


# --------------------------------------------------------------------------- the fake alone


def test_header_is_asterisk_22_fastagi_order() -> None:
    fake = FakeAsterisk(to="12345", caller="13800138000", caller_name="张三", args=["a", "b c"])
    header = fake.header()
    env = parse_header(header).env
    assert list(env)[: len(HEADER_KEYS)] == list(HEADER_KEYS)
    assert list(env)[len(HEADER_KEYS) :] == ["agi_arg_1", "agi_arg_2"]
    assert "agi_accountcode: \n" in header  # empty account code keeps its blank
    assert header.endswith("\n\n")
    assert env["agi_calleridname"] == "张三"
    assert env["agi_dnid"] == env["agi_extension"] == "12345"
    assert FakeAsterisk(to="1", caller="").header_lines()[8] == ("agi_callerid", "unknown")


def test_fake_replies_follow_res_agi() -> None:
    fake = FakeAsterisk(to="1", caller="2", digits="5")
    assert fake.respond("ANSWER") == ["200 result=0"]
    assert fake.respond("FOO BAR") == ["510 Invalid or unknown command"]
    usage = fake.respond("WAIT FOR DIGIT")
    assert usage[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert usage[-1] == "520 End of proper usage."
    assert fake.respond("SAY DATETIME") == ["200 result=0"]
    assert fake.respond("GOSUB sub s 1") == [
        "100 result=0 Trying...",
        "200 result=0 Gosub complete",
    ]
    assert fake.respond("get variable NOPE") == ["200 result=0"]  # words are case-insensitive
    assert fake.respond('SET VARIABLE "X" "a b"') == ["200 result=1"]
    assert fake.respond("GET FULL VARIABLE ${X}-${EXTEN}") == ["200 result=1 (a b-1)"]
    assert fake.respond("EXEC NoSuchApp x") == ["200 result=-2"]
    assert fake.respond("HANGUP") == ["200 result=1", "HANGUP"]
    assert fake.respond("STREAM FILE x 5") == [
        "511 Command Not Permitted on a dead channel or intercept routine"
    ]
    assert fake.respond("SET VARIABLE Y 1") == ["200 result=1"]  # allowed on a dead channel
    assert fake.hangup_by == "server"


def test_fake_get_data() -> None:
    fake = FakeAsterisk(to="1", caller="2", digits="12#34.9")
    assert fake.respond("GET DATA enter-id 3000 6") == ["200 result=12"]
    assert fake.respond("GET DATA enter-id 3000 6") == ["200 result=34 (timeout)"]
    assert fake.respond("GET DATA enter-id 3000 1") == ["200 result=9"]
    assert fake.respond("GET DATA enter-id 3000 1") == ["200 result= (timeout)"]
    assert fake.result.played == ["enter-id"] * 4


# --------------------------------------------------------------------------- end to end


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[FastAGIServer]]]:
    servers: list[FastAGIServer] = []

    async def start(handler: Callable[[AGISession], Awaitable[None]], **kw: Any) -> FastAGIServer:
        server = FastAGIServer(handler, "127.0.0.1", 0, **kw)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(grace=0.0)


Serve = Callable[..., Awaitable[FastAGIServer]]


async def call(server: FastAGIServer, **kw: Any) -> SimResult:
    kw.setdefault("to", "12345")
    kw.setdefault("caller", "13800138000")
    async with asyncio.timeout(WAIT):
        return await simulate_call("127.0.0.1", server.port, timeout=WAIT, **kw)


async def test_menu_digits_and_silence(serve: Serve) -> None:
    heard: list[str] = []

    async def handler(session: AGISession) -> None:
        ch = AGIChannel(session)
        await ch.answer()
        heard.append(await ch.play("welcome", "123"))  # 1
        heard.append(await ch.play("menu", "123"))  # . silent
        heard.append(await ch.play("menu", "123"))  # 9 swallowed: not an escape digit
        heard.append(await ch.wait_digit(2))  # #
        heard.append(await ch.play("no-escape"))  # no wait: digits untouched
        heard.append(await ch.wait_digit(2))  # 4
        heard.append(await ch.wait_digit(2))  # digits used up -> timeout
        await ch.set_variable("HOTLINE_ROUTE", "queue")

    server = await serve(handler)
    result = await call(server, digits="1.9#4")
    assert heard == ["1", "", "", "#", "", "4", ""]
    assert result.played == ["welcome", "menu", "menu", "no-escape"]
    assert result.variables == {"HOTLINE_ROUTE": "queue"}
    assert result.ended == "server closed"
    assert result.digits_left == ""
    assert result.commands[:2] == ["ANSWER", 'STREAM FILE "welcome" "123"']


async def test_missing_prompt_is_nothing_heard_with_warning(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[str] = []

    async def handler(session: AGISession) -> None:
        ch = AGIChannel(session)
        heard.append(await ch.play("no-such-file", "12"))
        heard.append(await ch.play("welcome", "12"))

    server = await serve(handler)
    with caplog.at_level(logging.WARNING):
        result = await call(server, digits="2", missing_prompts={"no-such-file"})
    assert heard == ["", "2"]  # the missing file did not take the caller's key
    assert result.replies[0] == ["200 result=-1 endpos=0"]
    assert "no-such-file" in caplog.text


async def test_hangup_after_n_commands(serve: Serve) -> None:
    seen: list[Any] = []

    async def handler(session: AGISession) -> None:
        ch = AGIChannel(session)
        await ch.answer()
        await ch.play("welcome", "1")
        try:
            await ch.play("menu", "1")
        except AGIHangup as exc:
            seen.append(exc)
        # a dead channel still takes SET VARIABLE
        await session.command("SET VARIABLE", "HOTLINE_END", "caller-hangup", after_hangup=True)

    server = await serve(handler)
    result = await call(server, hangup_after=2)
    assert len(seen) == 1 and session_hung_up(seen[0])
    assert result.hangup_sent
    assert result.ended == "hangup"
    assert result.replies[2] == ["511 Command Not Permitted on a dead channel or intercept routine"]
    assert result.variables == {"HOTLINE_END": "caller-hangup"}


def session_hung_up(exc: BaseException) -> bool:
    return isinstance(exc, AGIHangup)


async def test_hangup_before_first_command(serve: Serve) -> None:
    async def handler(session: AGISession) -> None:
        await AGIChannel(session).answer()

    server = await serve(handler)
    result = await call(server, hangup_after=0)
    assert result.hangup_sent and result.ended == "hangup"
    assert result.replies == [["511 Command Not Permitted on a dead channel or intercept routine"]]


async def test_script_hangs_up(serve: Serve) -> None:
    async def handler(session: AGISession) -> None:
        await session.command("HANGUP")
        with pytest.raises(AGIHangup):
            await session.command("ANSWER")

    server = await serve(handler)
    result = await call(server)
    assert result.ended == "server hangup"
    assert result.commands == ["HANGUP"]


async def test_record_outcomes(serve: Serve) -> None:
    outcomes: list[Any] = []

    async def handler(session: AGISession) -> None:
        ch = AGIChannel(session)
        outcomes.append(await ch.record("/tmp/msg1", "wav", "#", 60, 3))  # '#'
        outcomes.append(await ch.record("/tmp/msg2", "wav", "#", 60, 3))  # '.' -> silence
        outcomes.append(await ch.record("/tmp/msg3", "wav", "", 60, 0))  # limit

    server = await serve(handler)
    result = await call(server, digits="#.")
    assert [(o.path, o.ended_by, o.digit) for o in outcomes] == [
        ("/tmp/msg1.wav", "dtmf", "#"),
        ("/tmp/msg2.wav", "silence", ""),
        ("/tmp/msg3.wav", "timeout", ""),
    ]
    assert result.commands[0] == 'RECORD FILE "/tmp/msg1" "wav" "#" "60000" "s=3"'
    assert result.commands[2] == 'RECORD FILE "/tmp/msg3" "wav" "" "60000"'
    assert result.recorded == ["/tmp/msg1.wav", "/tmp/msg2.wav", "/tmp/msg3.wav"]
    assert result.played == ["/tmp/msg1", "/tmp/msg2", "/tmp/msg3"]


@pytest.mark.parametrize(
    ("status", "seconds"), [("ANSWER", 42.0), ("NOANSWER", 0.0), ("BUSY", 0.0)]
)
async def test_dial(serve: Serve, status: str, seconds: float) -> None:
    results: list[Any] = []

    async def handler(session: AGISession) -> None:
        results.append(await AGIChannel(session).dial("PJSIP/1001", 25, "tT"))

    server = await serve(handler)
    result = await call(server, dial_status=status)
    (dial,) = results
    assert (dial.status, dial.answered_seconds) == (status, seconds)
    assert result.dialled == ["PJSIP/1001"]
    assert result.commands[0] == 'EXEC "Dial" "PJSIP/1001,25,tT"'
    assert result.commands[1] == 'GET VARIABLE "DIALSTATUS"'


async def test_dial_default_is_noanswer(serve: Serve) -> None:
    results: list[Any] = []

    async def handler(session: AGISession) -> None:
        results.append(await AGIChannel(session).dial("PJSIP/1001", 25))

    server = await serve(handler)
    result = await call(server)
    assert results[0].status == "NOANSWER"
    assert result.commands[0] == 'EXEC "Dial" "PJSIP/1001,25"'


async def test_playback_exec_and_refusals(serve: Serve) -> None:
    errors: list[Any] = []

    async def handler(session: AGISession) -> None:
        await session.command("EXEC", "Playback", "thanks&goodbye")
        for bad in (("NO SUCH THING",), ("WAIT FOR DIGIT",)):
            try:
                await session.command(*bad)
            except AGIRefused as exc:
                errors.append(exc.reply.code)
        reply = await session.command("GOSUB", "sub", "s", "1")
        errors.append(reply.message)

    server = await serve(handler)
    result = await call(server)
    assert result.played == ["thanks", "goodbye"]
    assert errors == [510, 520, "Gosub complete"]


async def test_call_info_from_simulated_header(serve: Serve) -> None:
    infos: list[Any] = []

    async def handler(session: AGISession) -> None:
        infos.append(call_info_from_env(session.env))
        infos.append(session.script)

    server = await serve(handler)
    await call(server, caller="13800138000", caller_name="李四", uniqueid="1700.7", args=["zh"])
    await call(server, caller="", script="other")
    info, script, anon, other = infos
    assert (info.uniqueid, info.caller, info.caller_name, info.dnid) == (
        "1700.7",
        "13800138000",
        "李四",
        "12345",
    )
    assert info.extension == "12345" and info.channel.startswith("PJSIP/")
    assert info.arguments == ("zh",)
    assert info.extra["agi_network"] == "yes"
    assert script == "hotline" and other == "other"
    assert (anon.caller, anon.caller_name) == ("", "")


async def test_silent_server_times_out_the_simulator(serve: Serve) -> None:
    release = asyncio.Event()

    async def handler(session: AGISession) -> None:
        await release.wait()

    server = await serve(handler)
    async with asyncio.timeout(WAIT):
        result = await simulate_call("127.0.0.1", server.port, to="1", caller="2", timeout=0.2)
    release.set()
    assert result.ended == "timeout"


@pytest.mark.parametrize(
    ("during", "expect"),
    [
        (2, ["200 result=-1 endpos=4000", "HANGUP"]),  # in the prompt
        (3, ["200 result=-1", "HANGUP"]),  # in WAIT FOR DIGIT
        (4, ["200 result=-1 (hangup) endpos=16000", "HANGUP"]),  # while recording
    ],
)
async def test_hangup_during_a_command(serve: Serve, during: int, expect: list[str]) -> None:
    seen: list[Any] = []

    async def handler(session: AGISession) -> None:
        ch = AGIChannel(session)
        try:
            await ch.answer()
            await ch.play("welcome", "1")
            await ch.wait_digit(5)
            seen.append(await ch.record("/tmp/msg", "wav", "#", 60, 3))
            await ch.play("thanks", "")
        except AGIHangup as exc:
            seen.append(exc)
        await session.command("SET VARIABLE", "END", "hangup", after_hangup=True)

    server = await serve(handler)
    result = await call(server, hangup_during=during)
    assert result.hangup_sent and result.ended == "hangup"
    assert result.replies[during - 1] == expect[:1]
    if during == 4:  # what was said before the hangup is kept
        assert [getattr(x, "ended_by", None) for x in seen] == ["hangup", None]
        assert isinstance(seen[1], AGIHangup)
    else:
        assert len(seen) == 1 and isinstance(seen[0], AGIHangup)
    assert result.variables["END"] == "hangup"


async def test_dial_answered_then_caller_hangs_up(serve: Serve) -> None:
    results: list[Any] = []

    async def handler(session: AGISession) -> None:
        ch = AGIChannel(session)
        results.append(await ch.dial("PJSIP/1001", 25))
        with pytest.raises(AGIHangup):
            await ch.play("survey", "12")

    server = await serve(handler)
    result = await call(server, dial_status="ANSWER", hangup_after=1)
    assert (results[0].status, results[0].answered_seconds) == ("ANSWER", 42.0)
    assert result.replies[0] == ["200 result=-1"]  # Dial's return after a bridged call
    assert result.ended == "hangup"


async def test_dial_cancelled_by_caller(serve: Serve) -> None:
    results: list[Any] = []

    async def handler(session: AGISession) -> None:
        results.append(await AGIChannel(session).dial("PJSIP/1001", 25))

    server = await serve(handler)
    result = await call(server, hangup_during=1)
    assert results[0].status == "CANCEL"
    assert result.dialled == ["PJSIP/1001"]
    assert result.commands[1:] == ['GET VARIABLE "DIALSTATUS"']


async def test_music_on_hold_through_the_agi_channel() -> None:
    async def handler(session: AGISession) -> None:
        channel = AGIChannel(session)
        await channel.music_on_hold(True, "hotline")
        await channel.wait_digit(1.0)
        await channel.music_on_hold(False)

    async with FastAGIServer(handler, port=0) as server:
        result = await simulate_call("127.0.0.1", server.port, to="12345", caller="1")
    assert result.commands == [
        'SET MUSIC "on" "hotline"',
        'WAIT FOR DIGIT "1000"',
        'SET MUSIC "off"',
    ]


async def test_recording_through_the_agi_channel() -> None:
    async def handler(session: AGISession) -> None:
        await AGIChannel(session).start_recording("/var/rec/calls/20261123/1.wav")

    async with FastAGIServer(handler, port=0) as server:
        result = await simulate_call("127.0.0.1", server.port, to="12345", caller="1")
    assert result.commands == ['EXEC "MixMonitor" "/var/rec/calls/20261123/1.wav,b"']
