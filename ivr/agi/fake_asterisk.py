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
import time
from collections.abc import Collection, Sequence

from ivr.agi.fake_replies import CannedReplies, SimResult
from ivr.agi.protocol import parse_args
from ivr.agi.res_agi import ASTERISK_VERSION, DEAD, HEADER_KEYS, INVALID, RUNS_DEAD, find_command

__all__ = ["FakeAsterisk", "SimResult"]

# Asterisk's uniqueids are "epoch.sequence"; the pid keeps simulators in separate processes
# (one `hotline call` each) from reusing one, since records are idempotent by uniqueid.
_uniqueids = itertools.count(os.getpid() * 1000)


class FakeAsterisk(CannedReplies):
    """One call's Asterisk side, without I/O: ``header()`` then ``respond(line)`` per command.

    ``respond`` returns the lines to send (without newlines), a ``HANGUP`` line included when
    Asterisk would send one right after the reply; ``end()`` what it sends when the script
    closes its side. ``result`` collects what happened (``replies`` without HANGUP lines).
    Each command's reply is :class:`ivr.agi.fake_replies.CannedReplies`'s.
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

    # ----------------------------------------------------------------- commands

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
