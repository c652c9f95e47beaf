"""A fake Asterisk 22: connects to a FastAGI server and plays one call, the way res_agi.c would.

Used by ``hotline call`` and the tests. :class:`FakeAsterisk` is the synchronous core (the
header it sends, the reply lines for each command line); :func:`simulate_call` runs it over a
socket.

Caller input: each time the script waits for the caller (``STREAM FILE``/``CONTROL STREAM
FILE``/``GET OPTION`` with escape digits, ``WAIT FOR DIGIT``, each digit of ``GET DATA``,
``RECORD FILE`` with escape digits) the next character of ``digits`` is pressed; ``.`` means
the caller stays silent for that wait, and once ``digits`` is used up every wait times out.
As on a real channel, a key that is not an escape digit of a playback is swallowed and the
prompt plays to its end.

``hangup_after=N``: the caller hangs up after the N-th command was answered, while the script
is between commands. Asterisk then sends ``HANGUP`` and answers later commands with 511,
except those allowed on a dead channel (SET/GET VARIABLE, EXEC, VERBOSE, NOOP, DATABASE ...),
which still run. ``hangup_during=N``: the caller hangs up during the N-th command; a command
that waits on the channel (playback, WAIT FOR DIGIT, GET DATA, RECORD FILE, EXEC Dial ...)
then ends with its hangup result (``200 result=-1``, ``(hangup)`` for RECORD FILE) and
``HANGUP`` follows, as recorded from Asterisk 22 (tests/fixtures/agi/hangup_during_command).
``caller_leaves_call``: the caller hangs up during an answered Dial (else the operator does,
and the caller's channel stays up).

A re-entry (the dialplan's next ``AGI()`` of the same call) is a new session with the same
``uniqueid`` and the channel's variables of the session before (``SimResult.channel``).

When the script closes the connection, Asterisk writes a last ``HANGUP`` and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ivr.agi.protocol import parse_args

__all__ = ["HEADER_KEYS", "FakeAsterisk", "SimResult", "simulate_call"]

ASTERISK_VERSION = "22.10.1"

#: The header as a FastAGI server receives it from Asterisk 22: launch_netscript writes the
#: two agi_network lines on connect, then setup_env the rest, then agi_arg_N, then "".
HEADER_KEYS = (
    "agi_network",
    "agi_network_script",
    "agi_request",
    "agi_channel",
    "agi_language",
    "agi_type",
    "agi_uniqueid",
    "agi_version",
    "agi_callerid",
    "agi_calleridname",
    "agi_callingpres",
    "agi_callingani2",
    "agi_callington",
    "agi_callingtns",
    "agi_dnid",
    "agi_rdnis",
    "agi_context",
    "agi_extension",
    "agi_priority",
    "agi_enhanced",
    "agi_accountcode",
    "agi_threadid",
)

_INVALID = "510 Invalid or unknown command"
_DEAD = "511 Command Not Permitted on a dead channel or intercept routine"

#: With XML docs (as packaged), a usage error prints the command's description; every
#: built-in command has one, so real Asterisk 22 always answers the multi-line 520 form.
_USAGE = {
    "stream file": (
        "Send the given file, allowing playback to be interrupted by the given digits, if any."
    ),
    "get full variable": (
        "Evaluates the given <replaceable>expression</replaceable> against the channel "
        "specified by <replaceable>channelname</replaceable>, or the current channel if "
        "<replaceable>channelname</replaceable> is not provided."
    ),
    "wait for digit": (
        " Usage: WAIT FOR DIGIT <timeout>\n"
        "Waits up to <timeout> milliseconds for channel to receive a DTMF digit."
    ),
    "record file": (
        " Usage: RECORD FILE <filename> <format> <escape_digits> <timeout> "
        "[offset samples] [BEEP] [s=silence]\n"
        "Record to a file until a given dtmf digit in the sequence is received."
    ),
    "set variable": "Sets a variable to the current channel.",
    "get variable": (
        " Usage: GET VARIABLE <variablename>\nReturns 0 if <variablename> is not set."
    ),
    "exec": " Usage: EXEC <application> <options>\nExecutes <application> with given <options>.",
    "get data": (
        " Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        "Stream the given file, and receive DTMF data."
    ),
}

#: Commands res_agi registers with dead=1: they run on a hung-up channel.
_RUNS_DEAD = frozenset(
    {
        "database del",
        "database deltree",
        "database get",
        "database put",
        "exec",
        "get full variable",
        "get variable",
        "noop",
        "set variable",
        "verbose",
        "speech destroy",
        "speech unload grammar",
        "asyncagi break",
        "gosub",
    }
)

#: Command words, in res_agi's registration order (find_command takes the first match).
_COMMANDS: tuple[tuple[str, ...], ...] = tuple(
    tuple(c.split())
    for c in (
        "answer",
        "asyncagi break",
        "channel status",
        "database del",
        "database deltree",
        "database get",
        "database put",
        "exec",
        "get data",
        "get full variable",
        "get option",
        "get variable",
        "hangup",
        "noop",
        "receive char",
        "receive text",
        "record file",
        "say alpha",
        "say digits",
        "say number",
        "say phonetic",
        "say date",
        "say time",
        "say datetime",
        "send image",
        "send text",
        "set autohangup",
        "set callerid",
        "set context",
        "set extension",
        "set music",
        "set priority",
        "set variable",
        "stream file",
        "control stream file",
        "tdd mode",
        "verbose",
        "wait for digit",
        "gosub",
    )
)

_APPS = frozenset(
    {
        "answer",
        "background",
        "dial",
        "goto",
        "gosub",
        "hangup",
        "musiconhold",
        "noop",
        "playback",
        "playtones",
        "progress",
        "queue",
        "read",
        "record",
        "ringing",
        "set",
        "system",
        "wait",
        "waitexten",
        "voicemail",
        "mixmonitor",
        "stopmixmonitor",
        "userevent",
        "log",
        "verbose",
        "execif",
        "saydigits",
        "saynumber",
        "senddtmf",
        "startmusiconhold",
        "stopmusiconhold",
    }
)

#: Applications that wait on the caller: on a hangup during them EXEC answers -1.
_WAITING_APPS = frozenset(
    {"dial", "queue", "read", "record", "wait", "waitexten", "background", "voicemail"}
)

#: Formats Asterisk 22 can write with the usual format modules (others: "(writefile)").
_FORMATS = frozenset(
    {"wav", "wav16", "WAV", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729", "ilbc",
     "ogg", "h263", "h264", "vox", "au", "g726-32", "siren7", "siren14"}
)  # fmt: skip

_VAR_REF = re.compile(r"\$\{([^}]*)\}")
_SAMPLES_PER_PROMPT = 16000  # what endpos says a fully played prompt was
# Asterisk's uniqueids are "epoch.sequence"; the pid keeps simulators in separate processes
# (one `hotline call` each) from reusing one, since records are idempotent by uniqueid.
_uniqueids = itertools.count(os.getpid() * 1000)


def find_command(argv: Sequence[str]) -> str | None:
    """The registered command ``argv`` starts with, as in res_agi.c find_command(exact=0)."""
    words = [w.lower() for w in argv]
    for cmd in _COMMANDS:
        if len(words) >= len(cmd) and tuple(words[: len(cmd)]) == cmd:
            return " ".join(cmd)
    return None


@dataclass
class SimResult:
    """What happened on the call, seen from Asterisk's side."""

    header: str = ""
    commands: list[str] = field(default_factory=list)
    replies: list[list[str]] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # set by the script
    #: every channel variable at the end (also DIALSTATUS ...): pass it as ``variables`` to the
    #: next session of the same call, as Asterisk keeps them on the channel between two AGI()
    channel: dict[str, str] = field(default_factory=dict)
    dialled: list[str] = field(default_factory=list)
    digits_left: str = ""
    hangup_sent: bool = False
    ended: str = ""


class FakeAsterisk:
    """One call's Asterisk side, without I/O: ``header()`` then ``respond(line)`` per command.

    ``respond`` returns the lines to send (without newlines), a ``HANGUP`` line included when
    Asterisk would send one right after the reply; ``end()`` what it sends when the script
    closes its side. ``result`` collects what happened (``replies`` without HANGUP lines).
    """

    def __init__(
        self,
        *,
        to: str,
        caller: str,
        digits: str = "",
        script: str = "hotline",
        uniqueid: str | None = None,
        caller_name: str = "",
        hangup_after: int | None = None,
        hangup_during: int | None = None,
        dial_status: str = "NOANSWER",
        answered_seconds: int = 42,
        args: Sequence[str] = (),
        missing_prompts: Collection[str] = (),
        missing_labels: Collection[str] = (),
        unwritable: Collection[str] = (),
        variables: dict[str, str] | None = None,
        database: dict[str, str] | None = None,
        caller_leaves_call: bool = False,
        host: str = "127.0.0.1",
        port: int = 4573,
        language: str = "en",
        context: str = "from-pstn",
    ) -> None:
        self.to = to
        self.caller = caller
        self.caller_name = caller_name
        self.script = script
        self.uniqueid = uniqueid or f"{int(time.time())}.{next(_uniqueids)}"
        self.digits = list(digits)
        self.hangup_after = hangup_after
        self.hangup_during = hangup_during
        self.dial_status = dial_status
        self.answered_seconds = answered_seconds
        self.args = list(args)
        self.missing_prompts = set(missing_prompts)
        self.missing_labels = set(missing_labels)  # "context,exten,priority" for GOSUB
        self.unwritable = tuple(unwritable)  # path prefixes RECORD FILE cannot write
        self.database: dict[str, str] = dict(database or {})  # "family/key" -> value
        self.host = host
        self.port = port
        self.language = language
        self.context = context
        self.result = SimResult()
        self.vars: dict[str, str] = dict(variables or {})
        self.result.channel = self.vars
        self.caller_leaves_call = caller_leaves_call
        self.answered = False
        self.dead = False
        self.hangup_by = ""
        self.count = 0

    # ----------------------------------------------------------------- header

    def header_lines(self) -> list[tuple[str, str]]:
        serial = sum(map(ord, self.uniqueid)) % 0xFFFFFF
        values = {
            "agi_network": "yes",
            "agi_network_script": self.script,
            "agi_request": f"agi://{self.host}:{self.port}/{self.script}",
            "agi_channel": f"PJSIP/trunk-{serial:08x}",
            "agi_language": self.language,
            "agi_type": "PJSIP",
            "agi_uniqueid": self.uniqueid,
            "agi_version": ASTERISK_VERSION,
            "agi_callerid": self.caller or "unknown",
            "agi_calleridname": self.caller_name or "unknown",
            "agi_callingpres": "0",
            "agi_callingani2": "0",
            "agi_callington": "0",
            "agi_callingtns": "0",
            "agi_dnid": self.to or "unknown",
            "agi_rdnis": "unknown",
            "agi_context": self.context,
            "agi_extension": self.to,
            "agi_priority": "2",
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": str(139_800_000_000_000 + serial),
        }
        if not self.script:
            del values["agi_network_script"]
        lines = [(k, values[k]) for k in HEADER_KEYS if k in values]
        lines += [(f"agi_arg_{i}", a) for i, a in enumerate(self.args, 1)]
        return lines

    def header(self) -> str:
        text = "".join(f"{k}: {v}\n" for k, v in self.header_lines()) + "\n"
        self.result.header = text
        return text

    # ----------------------------------------------------------------- input

    def _press(self) -> str:
        """The caller's action for one wait: a key, or "" for silence."""
        if not self.digits:
            return ""
        key = self.digits.pop(0)
        return "" if key == "." else key

    # ----------------------------------------------------------------- commands

    def hang_up(self, by: str = "caller") -> list[str]:
        """The channel hangs up now: Asterisk writes HANGUP and goes on in dead mode."""
        if self.dead:
            return []
        self.dead = True
        self.hangup_by = by
        self.result.hangup_sent = True
        return ["HANGUP"]

    def end(self) -> list[str]:
        """What Asterisk sends when the AGI closes its side: run_agi ends with ``HANGUP``
        (AGISIGHUP is on by default), dead channel or not, then closes."""
        return ["HANGUP"]

    def respond(self, line: str) -> list[str]:
        """The lines Asterisk sends for one command line (newline stripped)."""
        self.result.commands.append(line)
        argv = parse_args(line)
        name = find_command(argv)
        self.count += 1
        if name is None:
            out = [_INVALID]
        elif self.dead and name not in _RUNS_DEAD:
            out = [_DEAD]
        elif self.count == self.hangup_during and not self.dead:
            out = self._hangup_reply(name, argv) or self._run(name, argv)
            self.result.replies.append(out)
            return [*out, *self.hang_up()]
        else:
            out = self._run(name, argv)
        self.result.replies.append(out)
        if self.hangup_after is not None and self.count >= self.hangup_after and not self.dead:
            out = [*out, *self.hang_up()]
        return out

    def _hangup_reply(self, name: str, argv: list[str]) -> list[str] | None:
        """The reply of a command that was waiting on the channel when the caller hung up."""
        argc = len(argv)
        if name in ("stream file", "control stream file", "get option") and argc >= 4:
            self.result.played.append(argv[2])
            return [f"200 result=-1 endpos={_SAMPLES_PER_PROMPT // 4}"]
        if name == "wait for digit" and argc == 4:
            return ["200 result=-1"]
        if name == "get data" and argc >= 3:
            self.result.played.append(argv[2])
            return ["200 result=-1"]
        if name == "record file" and argc >= 6:
            self.result.played.append(argv[2])
            self.result.recorded.append(f"{argv[2]}.{argv[3]}")
            return [f"200 result=-1 (hangup) endpos={_SAMPLES_PER_PROMPT}"]
        if name == "exec" and argc >= 2 and argv[1].lower() in _WAITING_APPS:
            if argv[1].lower() == "dial":
                self.result.dialled.append((argv[2] if argc > 2 else "").split(",", 1)[0])
                self.vars["DIALSTATUS"] = "CANCEL"
                self.vars["ANSWEREDTIME"] = ""
            return ["200 result=-1"]
        return None

    def _usage(self, name: str) -> list[str]:
        usage = _USAGE.get(name, f"Usage of {name.upper()}.")
        return [
            "520-Invalid command syntax.  Proper usage follows:",
            *usage.split("\n"),
            "520 End of proper usage.",
        ]

    def _run(self, name: str, argv: list[str]) -> list[str]:
        argc = len(argv)
        res = self.result
        if name == "answer":
            self.answered = True
            return ["200 result=0"]
        if name in ("stream file", "control stream file", "get option"):
            ok = 5 <= argc <= 10 if name == "control stream file" else 4 <= argc <= 5
            if not ok:
                return self._usage(name)
            file, escape = argv[2], argv[3]
            offset = argv[4] if argc > 4 and name == "stream file" else "0"
            res.played.append(file)
            if file in self.missing_prompts:
                return [f"200 result=-1 endpos={offset}"]
            key = self._press() if escape else ""
            # CONTROL STREAM FILE reports its offset in ms, -1 once played to the end.
            end = "-1" if name == "control stream file" else str(_SAMPLES_PER_PROMPT)
            if key and key in escape:
                return [f"200 result={ord(key)} endpos={_SAMPLES_PER_PROMPT // 2}"]
            if name == "get option" and escape:
                key = self._press()
                if key and key in escape:
                    return [f"200 result={ord(key)} endpos={end}"]
            return [f"200 result=0 endpos={end}"]
        if name == "wait for digit":
            if argc != 4 or not _is_int(argv[3]):
                return self._usage(name)
            key = self._press()
            return [f"200 result={ord(key) if key else 0}"]
        if name == "get data":
            if argc < 3:
                return self._usage(name)
            res.played.append(argv[2])
            limit = int(argv[4]) if argc >= 5 and _is_int(argv[4]) else 1024
            got = ""
            while len(got) < max(limit, 1):
                key = self._press()
                if not key:
                    return [f"200 result={got} (timeout)"]
                if key == "#":
                    break
                got += key
            return [f"200 result={got}"]
        if name == "record file":
            if argc < 6 or not _is_int(argv[5]):
                return self._usage(name)
            path, fmt, escape = argv[2], argv[3], argv[4]
            res.played.append(path)
            if fmt not in _FORMATS or path.startswith(self.unwritable):
                return ["200 result=-1 (writefile)"]
            res.recorded.append(f"{path}.{fmt}")
            key = self._press() if escape else ""
            if key and key in escape:
                return [f"200 result={ord(key)} (dtmf) endpos={_SAMPLES_PER_PROMPT * 3}"]
            return [f"200 result=0 (timeout) endpos={_SAMPLES_PER_PROMPT * 5}"]
        if name == "set variable":
            if argc != 4:
                return self._usage(name)
            self.vars[argv[2]] = argv[3]
            res.variables[argv[2]] = argv[3]
            return ["200 result=1"]
        if name == "get variable":
            if argc != 3:
                return self._usage(name)
            value = self._lookup(argv[2])
            return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]
        if name == "get full variable":
            if argc not in (4, 5):
                return self._usage(name)
            text = _VAR_REF.sub(lambda m: self._lookup(m.group(1)) or "", argv[3])
            return [f"200 result=1 ({text})"]
        if name == "exec":
            if argc < 2:
                return self._usage(name)
            return self._exec(argv[1], argv[2] if argc > 2 else "")
        if name == "hangup":
            # handle_hangup soft-hangs the channel and answers; run_agi then sends HANGUP.
            if argc == 1:
                return ["200 result=1", *self.hang_up("server")]
            return ["200 result=-1"] if argc == 2 else self._usage(name)
        if name == "gosub":
            if not 4 <= argc <= 5:
                return self._usage(name)
            if ",".join(argv[1:4]) in self.missing_labels:
                return ["200 result=-1 Gosub label not found"]
            return ["100 result=0 Trying...", "200 result=0 Gosub complete"]
        if name == "channel status":
            return [f"200 result={6 if self.answered else 4}"]
        if name in ("verbose", "set callerid"):
            return ["200 result=1"]
        if name == "database get":
            if argc != 4:
                return self._usage(name)
            value = self.database.get(f"{argv[2]}/{argv[3]}")
            return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]
        if name == "database put":
            if argc != 5:
                return self._usage(name)
            self.database[f"{argv[2]}/{argv[3]}"] = argv[4]
            return ["200 result=1"]
        if name == "database del":
            if argc != 4:
                return self._usage(name)
            found = self.database.pop(f"{argv[2]}/{argv[3]}", None) is not None
            return [f"200 result={1 if found else 0}"]
        if name == "database deltree":
            prefix = f"{argv[2]}/" if argc > 2 else ""
            gone = [k for k in self.database if k.startswith(prefix)]
            for k in gone:
                del self.database[k]
            # res_agi prints '0' when something was deleted (sic)
            return [f"200 result={0 if gone else 1}"]
        if name == "receive char":
            return ["200 result=0 (timeout)"]
        if name == "receive text":
            return ["200 result=-1"]
        if name == "tdd mode":
            return ["200 result=0"]
        return ["200 result=0"]  # noop, say *, set music/context/extension/priority ...

    def _lookup(self, name: str) -> str | None:
        if name in self.vars:
            return self.vars[name]
        builtin = {
            "CALLERID(num)": self.caller,
            "CALLERID(name)": self.caller_name,
            "UNIQUEID": self.uniqueid,
            "EXTEN": self.to,
            "CHANNEL": dict(self.header_lines())["agi_channel"],
            "CHANNEL(language)": self.language,
        }
        return builtin.get(name)

    def _exec(self, app: str, data: str) -> list[str]:
        """EXEC: the application's return value. Only ``argv[2]`` reaches the application
        (quote options with blanks); ``${...}`` is not expanded (AGIEXECFULL unset)."""
        lower = app.lower()
        if lower not in _APPS:
            return ["200 result=-2"]
        if lower == "dial":
            target = data.split(",", 1)[0]
            self.result.dialled.append(target)
            if self.dead:
                self.vars["DIALSTATUS"] = "CANCEL"
                return ["200 result=-1"]
            status = self.dial_status
            answered = status == "ANSWER"
            self.vars["DIALSTATUS"] = status
            self.vars["DIALEDTIME"] = str(self.answered_seconds + 5 if answered else 20)
            self.vars["ANSWEREDTIME"] = str(self.answered_seconds) if answered else ""
            self.vars["HANGUPCAUSE"] = "16" if answered else "19"
            # Dial returns -1 after a bridged call although the caller's channel is still up
            if answered and self.caller_leaves_call:
                return ["200 result=-1", *self.hang_up()]
            return ["200 result=-1" if answered else "200 result=0"]
        if lower in ("playback", "background"):
            files = [f for f in data.split(",", 1)[0].split("&") if f]
            self.result.played.extend(files)
            missing = any(f in self.missing_prompts for f in files)
            self.vars["PLAYBACKSTATUS"] = "FAILED" if missing else "SUCCESS"
            return ["200 result=0"]
        if lower == "set" and "=" in data:
            key, _, value = data.partition("=")
            self.vars[key] = value
            self.result.variables[key] = value
            return ["200 result=0"]
        if lower == "hangup":
            return ["200 result=-1", *self.hang_up("server")]
        if self.dead and lower in _WAITING_APPS:
            return ["200 result=-1"]
        return ["200 result=0"]


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


async def simulate_call(
    host: str,
    port: int,
    *,
    to: str,
    caller: str,
    digits: str = "",
    script: str = "hotline",
    uniqueid: str | None = None,
    caller_name: str = "",
    hangup_after: int | None = None,
    hangup_during: int | None = None,
    dial_status: str = "NOANSWER",
    answered_seconds: int = 42,
    args: Sequence[str] = (),
    missing_prompts: Collection[str] = (),
    missing_labels: Collection[str] = (),
    unwritable: Collection[str] = (),
    variables: dict[str, str] | None = None,
    database: dict[str, str] | None = None,
    caller_leaves_call: bool = False,
    timeout: float = 60.0,
) -> SimResult:
    """Connect to a FastAGI server as Asterisk would and play one call to its end.

    ``ended`` says how it ended: ``"server closed"`` (the script ended the AGI),
    ``"hangup"`` (the caller hung up, then the server closed), ``"server hangup"`` (the
    script sent HANGUP, then closed), ``"timeout"`` (the server sent nothing for ``timeout``
    seconds), ``"connection lost"``.
    """
    fake = FakeAsterisk(
        to=to,
        caller=caller,
        digits=digits,
        script=script,
        uniqueid=uniqueid,
        caller_name=caller_name,
        hangup_after=hangup_after,
        hangup_during=hangup_during,
        dial_status=dial_status,
        answered_seconds=answered_seconds,
        args=args,
        missing_prompts=missing_prompts,
        missing_labels=missing_labels,
        unwritable=unwritable,
        variables=variables,
        database=database,
        caller_leaves_call=caller_leaves_call,
        host=host,
        port=port,
    )
    result = fake.result
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    try:
        writer.write(fake.header().encode("utf-8"))
        if hangup_after == 0:
            writer.write(("\n".join(fake.hang_up()) + "\n").encode())
        while True:
            try:
                async with asyncio.timeout(timeout):
                    raw = await reader.readline()
            except TimeoutError:
                result.ended = "timeout"
                break
            except (OSError, ValueError):
                result.ended = "connection lost"
                break
            if not raw:
                with contextlib.suppress(OSError):
                    writer.write(("\n".join(fake.end()) + "\n").encode())
                if fake.hangup_by == "server":
                    result.ended = "server hangup"
                elif fake.dead:
                    result.ended = "hangup"
                else:
                    result.ended = "server closed"
                break
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            out = fake.respond(line)
            if out:
                try:
                    writer.write(("\n".join(out) + "\n").encode("utf-8"))
                except OSError:
                    result.ended = "connection lost"
                    break
    finally:
        writer.close()
        try:
            async with asyncio.timeout(2.0):
                await writer.wait_closed()
        except (TimeoutError, OSError):
            writer.transport.abort()
    result.digits_left = "".join(fake.digits)
    return result
