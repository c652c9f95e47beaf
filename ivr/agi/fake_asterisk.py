"""A fake Asterisk 22: one call's Asterisk side of FastAGI, as res_agi.c would play it.

Used by ``hotline call`` and the tests. :class:`FakeAsterisk` is the synchronous core (the
header it sends, the reply lines for each command line), without I/O;
:func:`ivr.agi.simulator.simulate_call` runs it over a socket.

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

import itertools
import os
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ivr.agi.protocol import parse_args
from ivr.agi.res_agi import (
    APPS,
    ASTERISK_VERSION,
    DEAD,
    FORMATS,
    HEADER_KEYS,
    INVALID,
    RUNS_DEAD,
    USAGE,
    WAITING_APPS,
    find_command,
)

__all__ = ["FakeAsterisk", "SimResult"]

_VAR_REF = re.compile(r"\$\{([^}]*)\}")
_SAMPLES_PER_PROMPT = 16000  # what endpos says a fully played prompt was
# Asterisk's uniqueids are "epoch.sequence"; the pid keeps simulators in separate processes
# (one `hotline call` each) from reusing one, since records are idempotent by uniqueid.
_uniqueids = itertools.count(os.getpid() * 1000)


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
            out = [INVALID]
        elif self.dead and name not in RUNS_DEAD:
            out = [DEAD]
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
        if name == "exec" and argc >= 2 and argv[1].lower() in WAITING_APPS:
            if argv[1].lower() == "dial":
                self.result.dialled.append((argv[2] if argc > 2 else "").split(",", 1)[0])
                self.vars["DIALSTATUS"] = "CANCEL"
                self.vars["ANSWEREDTIME"] = ""
            return ["200 result=-1"]
        return None

    def _usage(self, name: str) -> list[str]:
        usage = USAGE.get(name, f"Usage of {name.upper()}.")
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
            if fmt not in FORMATS or path.startswith(self.unwritable):
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
        if lower not in APPS:
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
        if self.dead and lower in WAITING_APPS:
            return ["200 result=-1"]
        return ["200 result=0"]


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()
