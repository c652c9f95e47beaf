"""The fake Asterisk's replies to each AGI command (:class:`CannedReplies`), as res_agi.c
gives them: what a playback, a digit wait, GET DATA, RECORD FILE, the variables, EXEC (Dial,
Playback ...), GOSUB and the AstDB answer, the usage text of a command given wrong, the
replies of a command the caller hung up during, and dead mode. The call's state and the
session around them (header, hang-ups by count, the end) are
:class:`ivr.agi.fake_asterisk.FakeAsterisk`'s."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ivr.agi.res_agi import APPS, FORMATS, USAGE, WAITING_APPS

_VAR_REF = re.compile(r"\$\{([^}]*)\}")
_SAMPLES_PER_PROMPT = 16000  # what endpos says a fully played prompt was


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


class CannedReplies(ABC):
    """The reply lines for one command, given the call's state (set by
    :class:`ivr.agi.fake_asterisk.FakeAsterisk`)."""

    to: str
    caller: str
    caller_name: str
    uniqueid: str
    digits: list[str]
    dial_status: str
    answered_seconds: int
    missing_prompts: set[str]
    missing_labels: set[str]
    unwritable: tuple[str, ...]
    database: dict[str, str]
    language: str
    result: SimResult
    vars: dict[str, str]
    caller_leaves_call: bool
    answered: bool
    dead: bool
    hangup_by: str

    @abstractmethod
    def header_lines(self) -> list[tuple[str, str]]:
        """The AGI header, as ``(key, value)`` pairs (the channel's name is in it)."""

    # ----------------------------------------------------------------- input

    def _press(self) -> str:
        """The caller's action for one wait: a key, or "" for silence."""
        if not self.digits:
            return ""
        key = self.digits.pop(0)
        return "" if key == "." else key

    # ----------------------------------------------------------------- replies

    def hang_up(self, by: str = "caller") -> list[str]:
        """The channel hangs up now: Asterisk writes HANGUP and goes on in dead mode."""
        if self.dead:
            return []
        self.dead = True
        self.hangup_by = by
        self.result.hangup_sent = True
        return ["HANGUP"]

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
