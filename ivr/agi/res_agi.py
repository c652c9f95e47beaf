"""What Asterisk 22's ``res_agi.c`` does, as data, for the fake Asterisk
(:mod:`ivr.agi.fake_asterisk`): the header it sends, the commands it registers and in which
order it matches them (:func:`find_command`), which run on a dead channel, its usage texts,
the dialplan applications and file formats a stock install has. Recorded from a real Asterisk
22 (tests/fixtures/agi).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "APPS",
    "ASTERISK_VERSION",
    "COMMANDS",
    "DEAD",
    "FORMATS",
    "HEADER_KEYS",
    "INVALID",
    "RUNS_DEAD",
    "USAGE",
    "WAITING_APPS",
    "find_command",
]

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

INVALID = "510 Invalid or unknown command"
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"

#: With XML docs (as packaged), a usage error prints the command's description; every
#: built-in command has one, so real Asterisk 22 always answers the multi-line 520 form.
USAGE = {
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
RUNS_DEAD = frozenset(
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
COMMANDS: tuple[tuple[str, ...], ...] = tuple(
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

APPS = frozenset(
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
WAITING_APPS = frozenset(
    {"dial", "queue", "read", "record", "wait", "waitexten", "background", "voicemail"}
)

#: Formats Asterisk 22 can write with the usual format modules (others: "(writefile)").
FORMATS = frozenset(
    {"wav", "wav16", "WAV", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729", "ilbc",
     "ogg", "h263", "h264", "vox", "au", "g726-32", "siren7", "siren14"}
)  # fmt: skip


def find_command(argv: Sequence[str]) -> str | None:
    """The registered command ``argv`` starts with, as in res_agi.c find_command(exact=0)."""
    words = [w.lower() for w in argv]
    for cmd in COMMANDS:
        if len(words) >= len(cmd) and tuple(words[: len(cmd)]) == cmd:
            return " ".join(cmd)
    return None
