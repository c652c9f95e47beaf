"""The AGI wire format: header, every reply form res_agi.c sends, argument quoting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.agi.protocol import (
    MAX_COMMAND_BYTES,
    AGIReply,
    ReplyParser,
    build_command,
    parse_args,
    parse_header,
    parse_header_line,
    parse_reply,
    quote,
)
from ivr.errors import AGIProtocolError

HEADER = (
    b"agi_network: yes\n"
    b"agi_network_script: hotline?lang=zh\n"
    b"agi_request: agi://127.0.0.1:4573/hotline?lang=zh\n"
    b"agi_channel: PJSIP/trunk-00000001\n"
    b"agi_uniqueid: 1700000000.1\n"
    b"agi_callerid: 13800138000\n"
    b"agi_calleridname: \xe5\xbc\xa0\xe4\xb8\x89\n"
    b"agi_accountcode: \n"
    b"agi_arg_1: first\n"
    b"agi_arg_2: two words\n"
    b"\n"
    b"200 result=0\n"
)


# --------------------------------------------------------------------------- header


def test_header_parses_keys_values_in_order() -> None:
    header = parse_header(HEADER)
    assert list(header.env)[:3] == ["agi_network", "agi_network_script", "agi_request"]
    assert header.env["agi_calleridname"] == "张三"
    assert header.env["agi_accountcode"] == ""
    assert header.env["agi_network_script"] == "hotline?lang=zh"
    assert header.args == ["first", "two words"]
    assert header.garbage == []
    assert "200 result=0" not in header.env  # stops at the blank line


def test_header_truncated_utf8_never_fails() -> None:
    # A caller name cut in the middle of a 3-byte character.
    header = parse_header(b"agi_callerid: 1\nagi_calleridname: \xe5\xbc\xa0\xe4\xb8\n\n")
    assert header.env["agi_calleridname"] == "张\ufffd"


def test_header_garbage_lines_are_reported_not_fatal() -> None:
    header = parse_header(["agi_callerid: 1", "GET / HTTP/1.1", "no colon here", ""])
    assert header.env == {"agi_callerid": "1"}
    assert header.garbage == ["GET / HTTP/1.1", "no colon here"]


def test_header_line_forms() -> None:
    assert parse_header_line("agi_x: a: b") == ("agi_x", "a: b")
    assert parse_header_line("agi_x:") == ("agi_x", "")
    assert parse_header_line("agi_x: ") == ("agi_x", "")
    assert parse_header_line("junk") is None
    assert parse_header_line("two words: x") is None
    assert parse_header_line(": x") is None


_HEADER_PIECES = st.sampled_from(
    [
        *("agi_a: 1", "agi_b: x y", "agi_c: ", "agi_c:", "k:v: w", "a b: c", "junk", "", "\r"),
        *("agi_d: v\r", ": v", "agi_e: 张", "x\ty: z", "agi_a: 2", "agi_f: a: b"),
    ]
)


@given(st.lists(_HEADER_PIECES | st.text(max_size=12)), st.sampled_from(["\n\n", "\n", ""]))
def test_header_whole_text_parses_as_its_lines(lines: list[str], end: str) -> None:
    """The one-pass path for a plain header gives what the line-by-line path gives."""
    text = "\n".join(lines) + end
    assert parse_header(text) == parse_header(text.split("\n"))
    assert parse_header(text.encode()) == parse_header(text.split("\n"))


def test_header_keys_are_shared_between_calls() -> None:
    one = parse_header(b"agi_callerid: 1\nagi_uniqueid: 2\n\n")
    two = parse_header(b"agi_callerid: 3\nagi_uniqueid: 4\n\n")
    assert all(a is b for a, b in zip(one.env, two.env, strict=True))


def test_header_args_stop_at_gap() -> None:
    header = parse_header("agi_arg_1: a\nagi_arg_3: c\n\n")
    assert header.args == ["a"]


# --------------------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "endpos"),
    [
        ("200 result=0", 200, "0", "", None),
        ("200 result=-1", 200, "-1", "", None),
        ("200 result=49 endpos=8640", 200, "49", "", 8640),
        ("200 result=0 endpos=0", 200, "0", "", 0),
        ("200 result=1 (timeout) endpos=1234", 200, "1", "timeout", 1234),
        ("200 result=35 (dtmf) endpos=48000", 200, "35", "dtmf", 48000),
        ("200 result=-1 (hangup) endpos=4000", 200, "-1", "hangup", 4000),
        ("200 result=-1 (writefile)", 200, "-1", "writefile", None),
        ("200 result=1 (testvariable)", 200, "1", "testvariable", None),
        ("200 result= (timeout)", 200, "", "timeout", None),
        ("200 result=*123 (timeout)", 200, "*123", "timeout", None),
        ("200 result=23", 200, "23", "", None),
        ("200 result=", 200, "", "", None),
        ("200 result=1 (a value (with) parens and blanks)", 200, "1",
         "a value (with) parens and blanks", None),
        ("200 result=1 ()", 200, "1", "", None),
        ("200 result=1 (张三)", 200, "1", "张三", None),
    ],
)  # fmt: skip
def test_200_forms(line: str, code: int, result: str, data: str, endpos: int | None) -> None:
    reply = parse_reply([line])
    assert (reply.code, reply.result, reply.data, reply.endpos) == (code, result, data, endpos)
    assert reply.lines == [line]
    assert reply.ok


def test_result_int() -> None:
    assert parse_reply(["200 result=49"]).result_int == 49
    assert parse_reply(["200 result=-1"]).result_int == -1
    assert parse_reply(["200 result=*12"]).result_int is None
    assert parse_reply(["200 result="]).result_int is None


def test_extra_keys_and_free_text() -> None:
    reply = parse_reply(["200 result=1 (speech) endpos=9834523 results=5"])
    assert reply.data == "speech"
    assert reply.endpos == 9834523
    assert reply.extra == {"results": "5"}
    assert parse_reply(["200 result=0 Gosub complete"]).message == "Gosub complete"
    failure = parse_reply(["503 result=-2 Memory allocation failure"])
    assert (failure.code, failure.result, failure.message) == (
        503,
        "-2",
        "Memory allocation failure",
    )


def test_error_codes() -> None:
    invalid = parse_reply(["510 Invalid or unknown command"])
    assert (invalid.code, invalid.message, invalid.ok) == (510, "Invalid or unknown command", False)
    dead = parse_reply(["511 Command Not Permitted on a dead channel or intercept routine\n"])
    assert dead.code == 511
    assert dead.message == "Command Not Permitted on a dead channel or intercept routine"
    short = parse_reply(["520 Invalid command syntax.  Proper usage not available."])
    assert short.code == 520


def test_multiline_520() -> None:
    lines = [
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: WAIT FOR DIGIT <timeout>",
        "Waits up to <timeout> milliseconds",
        "",
        "520 End of proper usage.",
    ]
    reply = parse_reply(lines)
    assert reply.code == 520
    assert reply.message == "Invalid command syntax.  Proper usage follows:"
    assert reply.data == " Usage: WAIT FOR DIGIT <timeout>\nWaits up to <timeout> milliseconds\n"
    assert reply.lines == lines


def test_100_trying_is_skipped() -> None:
    reply = parse_reply(["100 result=0 Trying...", "200 result=0 Gosub complete"])
    assert (reply.code, reply.result) == (200, "0")


def test_hangup_line_is_noted_by_the_parser() -> None:
    parser = ReplyParser()
    assert parser.feed("HANGUP") is None
    assert parser.hangup_seen
    reply = parser.feed("511 Command Not Permitted on a dead channel or intercept routine")
    assert reply is not None and reply.code == 511


@pytest.mark.parametrize("line", ["garbage", "20 result=0", "abc result=0", "200x", "HANGUPX"])
def test_garbage_reply_is_a_protocol_error(line: str) -> None:
    with pytest.raises(AGIProtocolError):
        parse_reply([line])


def test_incomplete_and_overlong_replies() -> None:
    with pytest.raises(AGIProtocolError):
        parse_reply(["100 result=0 Trying..."])
    with pytest.raises(AGIProtocolError):
        parse_reply(["520-Invalid command syntax.  Proper usage follows:", "usage"])
    with pytest.raises(AGIProtocolError):
        parse_reply(["200 result=0", "200 result=1"])


def test_reply_str() -> None:
    assert str(parse_reply(["200 result=0 endpos=5"])) == "200 result=0 endpos=5"
    assert str(AGIReply(200, "1")) == "200 result=1"


# --------------------------------------------------------------------------- quoting


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("welcome", '"welcome"'),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("PJSIP/100,30,tT", '"PJSIP/100,30,tT"'),
    ],
)
def test_quote(arg: str, quoted: str) -> None:
    assert quote(arg) == quoted
    assert parse_args(quoted) == [arg]


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b"])
def test_quote_refuses_line_breaks(bad: str) -> None:
    with pytest.raises(ValueError):
        quote(bad)
    with pytest.raises(ValueError):
        build_command("SET VARIABLE", ["X", bad])
    with pytest.raises(ValueError):
        build_command("NOOP" + bad)


def test_build_command() -> None:
    assert build_command("ANSWER") == b"ANSWER\n"
    assert build_command("STREAM FILE", ["hello", ""]) == b'STREAM FILE "hello" ""\n'
    assert build_command("SET VARIABLE", ["N", "张三"]) == 'SET VARIABLE "N" "张三"\n'.encode()


@given(
    st.text(alphabet='ab "\\\n\r\x00张', max_size=6),
    st.lists(st.text(alphabet='ab "\\\n\r\x00张,', max_size=6), max_size=4),
)
def test_build_command_is_quote_per_argument(cmd: str, args: list[str]) -> None:
    """The fast path (nothing to escape) builds what quoting each argument builds."""
    try:
        expected = (
            (cmd + "".join(" " + quote(a) for a in args) + "\n").encode()
            if not any(c in cmd for c in "\n\r\x00")
            else None
        )
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            build_command(cmd, args)
    else:
        assert build_command(cmd, args) == expected


def test_build_command_refuses_what_asterisk_would_cut() -> None:
    fits = "x" * (MAX_COMMAND_BYTES - len('SET VARIABLE "X" ""\n'))
    assert len(build_command("SET VARIABLE", ["X", fits])) == MAX_COMMAND_BYTES
    with pytest.raises(ValueError, match="second command"):
        build_command("SET VARIABLE", ["X", fits + "y"])


def test_parse_args_matches_res_agi() -> None:
    assert parse_args('STREAM FILE "welcome" "12"') == ["STREAM", "FILE", "welcome", "12"]
    assert parse_args("WAIT  FOR\tDIGIT 5000") == ["WAIT", "FOR", "DIGIT", "5000"]
    assert parse_args('a"b c"d') == ["ab cd"]  # a quote inside a word does not split it
    assert parse_args("a\\ b") == ["a b"]
    assert parse_args('""') == [""]
    assert parse_args('x "" y') == ["x", "", "y"]
    assert parse_args("") == []
    assert parse_args("   ") == []


_SENDABLE = st.characters(exclude_characters="\n\r\0", exclude_categories=["Cs"])


def test_lone_surrogate_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        build_command("SET VARIABLE", ["X", "\ud800"])


@given(st.lists(st.text(alphabet=_SENDABLE), max_size=6))
def test_quote_round_trips_through_parse_args(args: list[str]) -> None:
    line = build_command("EXEC", args).decode().rstrip("\n")
    assert parse_args(line) == ["EXEC", *args]
