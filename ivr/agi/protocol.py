"""The AGI wire format, as Asterisk's ``res/res_agi.c`` speaks it. Pure functions, no I/O.

What Asterisk sends, in order:

* the header: ``agi_key: value`` lines ended by one empty line. Over FastAGI the first two
  lines are ``agi_network: yes`` and ``agi_network_script: <path after the host>`` (written by
  ``launch_netscript`` on connect), then ``setup_env`` writes ``agi_request`` ... ``agi_threadid``
  and ``agi_arg_1`` ... ``agi_arg_N``. Unknown party fields read ``unknown``; an empty account
  code is sent as ``agi_accountcode: `` (a trailing space).
* one reply per command: ``200 result=<r>[ (<data>)][ endpos=<n>]``; ``510 Invalid or unknown
  command``; ``511 Command Not Permitted on a dead channel or intercept routine`` (the channel
  has hung up and the command is not allowed on a dead channel); ``520 Invalid command syntax.
  Proper usage not available.`` or the multi-line ``520-...`` usage block ended by ``520 End of
  proper usage.``; some commands (GOSUB) first send ``100 result=0 Trying...``.
* ``HANGUP`` on a line of its own, at any time, when the channel hangs up (and again when the
  AGI ends). After it, commands that may not run on a dead channel get 511.

Commands go the other way, one per line. ``parse_args`` in res_agi.c splits them on blanks,
``"`` toggles quoting and ``\\`` escapes the next character; a line is read into a 2048-byte
buffer, so a longer command is silently cut in two.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ivr.errors import AGIProtocolError

__all__ = [
    "HANGUP_LINE",
    "MAX_COMMAND_BYTES",
    "AGIHeader",
    "AGIReply",
    "ReplyParser",
    "build_command",
    "parse_args",
    "parse_header",
    "parse_header_line",
    "parse_reply",
    "quote",
]

HANGUP_LINE = "HANGUP"
_intern = sys.intern
#: res_agi reads a command with fgets into ``char buf[AGI_BUF_LEN]`` (2048): 2046 characters and
#: the newline fit; anything longer is executed as two commands.
MAX_COMMAND_BYTES = 2047


# --------------------------------------------------------------------------- header


@dataclass(slots=True)
class AGIHeader:
    """The header as received: ``env`` in arrival order, and lines that were not ``key: value``."""

    env: dict[str, str] = field(default_factory=dict)
    garbage: list[str] = field(default_factory=list)

    @property
    def args(self) -> list[str]:
        """``agi_arg_1`` ... ``agi_arg_N`` in order (stops at the first gap)."""
        return header_args(self.env)


def decode_line(raw: bytes) -> str:
    """One received line as text, without its line ending; bad UTF-8 becomes U+FFFD."""
    return raw.decode("utf-8", "replace").rstrip("\r\n")


def parse_header_line(line: str) -> tuple[str, str] | None:
    """``agi_key: value`` -> (key, value); None for a line that is not of that form."""
    key, sep, value = line.partition(": ")
    if not sep:
        # "agi_accountcode:" with the trailing blank eaten by someone on the way
        key, sep, value = line.partition(":")
        if not sep:
            return None
    if not key or " " in key:
        return None
    return key, value


def parse_header(data: bytes | str | Iterable[str | bytes]) -> AGIHeader:
    """Parse a whole header (up to the first empty line; the rest is ignored).

    Accepts the raw bytes/text or an iterable of lines. Bytes are decoded as UTF-8 with
    replacement, so a caller name cut in the middle of a character never fails.
    """
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        fast = _parse_header_fast(data)
        if fast is not None:
            return fast
    lines: Iterable[str | bytes] = data.split("\n") if isinstance(data, str) else data
    header = AGIHeader()
    for item in lines:
        line = decode_line(item) if isinstance(item, bytes) else item.rstrip("\r\n")
        if not line:
            break
        kv = parse_header_line(line)
        if kv is None:
            header.garbage.append(line)
        else:
            header.env[kv[0]] = kv[1]
    return header


def _parse_header_fast(text: str) -> AGIHeader | None:
    """The header when every line is a plain ``key: value`` ended by LF, as Asterisk writes
    it; None (take the general path) at the first line that is not."""
    end = text.find("\n\n")
    if end <= 0 or "\r" in text[:end]:
        return None
    env: dict[str, str] = {}
    for line in text[:end].split("\n"):
        key, sep, value = line.partition(": ")
        if not sep or not key or " " in key:
            return None
        # The same ~25 keys arrive with every call: one shared copy of each, not one per call.
        env[_intern(key)] = value
    return AGIHeader(env, [])


def header_args(env: dict[str, str]) -> list[str]:
    """``agi_arg_1`` ... ``agi_arg_N`` from a header environment."""
    out: list[str] = []
    n = 1
    while (value := env.get(f"agi_arg_{n}")) is not None:
        out.append(value)
        n += 1
    return out


# --------------------------------------------------------------------------- replies


@dataclass(slots=True)
class AGIReply:
    """One reply. ``result`` is kept as text: GET DATA answers ``result=`` or ``result=*12``.

    ``data`` is the parenthesised part (``timeout``, ``dtmf``, a variable's value) or, for a
    520 usage block, the usage text. ``message`` is free text after the code or result
    (``Invalid or unknown command``, ``Trying...``). ``extra`` holds other ``key=value`` words.
    """

    code: int
    result: str = ""
    data: str = ""
    endpos: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def result_int(self) -> int | None:
        """``result`` as an int, or None when it is not one (GET DATA digits, empty)."""
        r = self.result
        if r.isdigit():
            return int(r)
        if r[:1] == "-" and r[1:].isdigit():
            return int(r)
        return None

    def __str__(self) -> str:
        return " | ".join(self.lines) if self.lines else f"{self.code} result={self.result}"


def _parse_tail(reply: AGIReply, rest: str) -> None:
    """Parse what follows ``result=<r>``: ``(data)``, ``key=value`` words, free text."""
    words: list[str] = []
    while rest:
        if rest[0] == "(":
            # The value of GET VARIABLE may itself hold ")" and blanks: take the last ")".
            # No command sends both a free-form value and trailing key=value words.
            close = rest.rfind(")")
            if close < 0:
                reply.data = rest[1:]
                return
            reply.data = rest[1:close]
            rest = rest[close + 1 :].lstrip(" ")
            continue
        word, _, rest = rest.partition(" ")
        if not word:
            continue
        key, eq, value = word.partition("=")
        if eq and key:
            if key == "endpos":
                try:
                    reply.endpos = int(value)
                except ValueError:
                    reply.extra[key] = value
            else:
                reply.extra[key] = value
        else:
            words.append(word)
    if words:
        reply.message = " ".join(words)


def _parse_line(line: str) -> AGIReply:
    if line[:11] == "200 result=":  # the common case, parsed as the general path would
        value, _, tail = line[11:].partition(" ")
        reply = AGIReply(200, value, "", None, {}, [line], "")
        if tail:
            if tail[:7] == "endpos=" and tail[7:].isdigit() and tail[7:].isascii():
                reply.endpos = int(tail[7:])
            else:
                _parse_tail(reply, tail)
        return reply
    code_text = line[:3]
    if len(line) < 3 or not code_text.isdigit() or (len(line) > 3 and line[3] not in " -"):
        raise AGIProtocolError(f"not an AGI reply line: {line[:200]!r}")
    reply = AGIReply(int(code_text), lines=[line])
    rest = line[4:]
    if rest.startswith("result="):
        value, _, tail = rest[7:].partition(" ")
        reply.result = value
        if tail:
            _parse_tail(reply, tail)
    elif rest:
        reply.message = rest
    return reply


def parse_reply(lines: Sequence[str]) -> AGIReply:
    """Parse one complete reply given as its lines (line endings optional).

    Leading ``100`` progress lines and ``HANGUP`` lines are skipped; a ``520-`` block is
    joined into one reply whose ``data`` is the usage text. Raises AGIProtocolError for
    anything that is not a reply.
    """
    parser = ReplyParser()
    reply: AGIReply | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if reply is not None:
            raise AGIProtocolError(f"text after the end of the reply: {line[:200]!r}")
        reply = parser.feed(line)
    if reply is None:
        raise AGIProtocolError("incomplete AGI reply: " + " | ".join(lines)[:300])
    return reply


class ReplyParser:
    """Assembles a reply line by line, as the lines arrive on the socket.

    ``feed(line)`` returns the reply once it is complete, else None (a ``100`` line, a
    ``HANGUP`` line, a line inside a ``520-`` block). ``hangup_seen`` tells that a ``HANGUP``
    line went by; ``progress`` keeps the ``100`` lines of the reply being read.
    """

    __slots__ = ("_usage", "hangup_seen", "progress")

    def __init__(self) -> None:
        self._usage: list[str] | None = None
        self.hangup_seen = False
        self.progress: list[str] = []

    def reset(self) -> None:
        self._usage = None
        self.progress = []

    @property
    def in_block(self) -> bool:
        return self._usage is not None

    def feed(self, line: str) -> AGIReply | None:
        usage = self._usage
        if usage is not None:
            if line.startswith("520 "):
                first = usage[0]
                reply = AGIReply(520, message=first[4:], lines=[*usage, line])
                reply.data = "\n".join(usage[1:])
                self._usage = None
                return reply
            usage.append(line)
            return None
        if line == HANGUP_LINE:
            self.hangup_seen = True
            return None
        if line.startswith("520-"):
            self._usage = [line]
            return None
        reply = _parse_line(line)
        if reply.code == 100:
            self.progress.append(line)
            return None
        if self.progress:
            self.progress = []
        return reply


# --------------------------------------------------------------------------- commands


def quote(arg: str) -> str:
    """Quote one argument so that res_agi's ``parse_args`` gives back exactly ``arg``.

    Always double-quoted (so an empty argument survives); ``"`` and ``\\`` are escaped with a
    backslash. A newline, carriage return or NUL cannot be carried by the protocol (the
    line ends there, or the C string does) and raises ValueError.
    """
    if "\n" in arg or "\r" in arg or "\0" in arg:
        raise ValueError(f"an AGI argument cannot hold a newline, CR or NUL: {arg[:80]!r}")
    if "\\" in arg:
        arg = arg.replace("\\", "\\\\")
    if '"' in arg:
        arg = arg.replace('"', '\\"')
    return f'"{arg}"'


def build_command(cmd: str, args: Sequence[str] = ()) -> bytes:
    """The bytes of one command line: ``cmd`` as given, each argument quoted, ``\\n``."""
    if args:
        line = cmd + ' "' + '" "'.join(args) + '"'
        if (
            "\\" in line
            or "\n" in line
            or "\r" in line
            or "\0" in line
            or line.count('"') != 2 * len(args)
        ):
            # something to escape or refuse: argument by argument
            if "\n" in cmd or "\r" in cmd or "\0" in cmd:
                raise ValueError(f"an AGI command cannot hold a newline, CR or NUL: {cmd[:80]!r}")
            line = cmd + " " + " ".join([quote(a) for a in args])
    else:
        line = cmd
        if "\n" in cmd or "\r" in cmd or "\0" in cmd:
            raise ValueError(f"an AGI command cannot hold a newline, CR or NUL: {cmd[:80]!r}")
    data = (line + "\n").encode("utf-8")
    if len(data) > MAX_COMMAND_BYTES:
        raise ValueError(
            f"AGI command of {len(data)} bytes; Asterisk reads at most {MAX_COMMAND_BYTES} "
            f"and would run the rest as a second command: {cmd[:40]!r}"
        )
    return data


def parse_args(line: str) -> list[str]:
    """Split a command line exactly as res_agi.c ``parse_args`` does (for the simulator)."""
    argv: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                argv.append("")  # a new word starts here (possibly empty: "")
                cur = []
                whitespace = False
            escaped = False
            continue
        if ch in " \t" and not quoted and not escaped:
            if not whitespace:
                argv[-1] = "".join(cur)
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            argv.append("")
            cur = []
            whitespace = False
        cur.append(ch)
        escaped = False
    if argv and not whitespace:
        argv[-1] = "".join(cur)
    return argv
