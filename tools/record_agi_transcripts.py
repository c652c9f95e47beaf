#!/usr/bin/env python3
"""Record real FastAGI transcripts from a local Asterisk 22 into tests/fixtures/agi/*.json.

The fixtures let the fake Asterisk used by the tests (which plays Asterisk's side of FastAGI) be
checked against the real thing. Run as root (it builds/starts the chroot Asterisk of
:mod:`ivr.asterisk.local` and places SIP calls with SIPp)::

    python tools/record_agi_transcripts.py            # all scenarios
    python tools/record_agi_transcripts.py --only sip_dtmf --only errors_510_520
    python tools/record_agi_transcripts.py --list

How it works: Asterisk gets a minimal dialplan in which each scenario is an extension running
``AGI(agi://127.0.0.1:<port>/<scenario>)``. A tiny FastAGI server here reads the header, sends
the scenario's scripted commands one by one and captures every byte Asterisk sends back (the
header block, each reply including multi-line 520s, unsolicited ``HANGUP`` lines and EOF).
Calls come either from ``channel originate Local/...`` (the other end of the Local channel runs
a small "caller" dialplan: waits, SendDTMF, hang up) or from SIPp calling PJSIP on loopback
with RFC 2833 DTMF played from SIPp's pcaps. After the AGI ends, the dialplan runs a second
AGI (``agistatus``) whose argument is ``${AGISTATUS}``, so each fixture also says how
``AGI()`` ended. See docs/agi-transcripts.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from ivr.asterisk import local  # noqa: E402

HERE = Path(__file__).resolve().parent / "asterisk_transcripts"
OUT_DIR = PROJECT / "tests" / "fixtures" / "agi"
WORK = PROJECT / ".cache" / "agi-transcripts"  # inside the project: bind-mounted, same path

AGI_HOST = "127.0.0.1"
DEFAULT_AGI_PORT = 14573
DEFAULT_SIP_PORT = 15060
DEFAULT_SIPP_PORT = 15070
DEFAULT_SIPP_MEDIA_PORT = 16000
SERVICE = "12345"  # the number citizens dial

ESC = "0123456789*#"
LONG_CN_NAME = "零一二三四五六七八九" * 10  # 100 characters, 300 bytes of UTF-8
LONG_ASCII_NAME = "".join(f"{i:02d}-" for i in range(40))  # 120 bytes: byte offsets visible


Step = str | dict[str, Any]


@dataclass
class Scenario:
    name: str
    description: str
    steps: list[Step]
    via: str = "local"  # "local" (channel originate Local/...) or "sip" (SIPp)
    caller_num: str = "13800138000"
    caller_name: str | None = "市民张三"
    caller_apps: list[str] = field(default_factory=lambda: ["Wait(60)"])  # Local only
    agi_args: str = ""  # Local only: ",arg1,arg2" appended to the AGI() URL
    sipp_xml: str = "sip_dtmf.sipp.xml"  # SIP only
    end: str = "close"  # "close": half-close, read to EOF. "wait_eof": wait for Asterisk's EOF
    end_timeout: float = 5.0
    notes: str = ""


def _scenarios(work: Path) -> list[Scenario]:
    rec = work / "rec"
    prompt = work / "sounds" / "hotline-welcome"
    hang_battery: list[Step] = [
        "GET VARIABLE CHANNEL",
        "GET FULL VARIABLE ${CHANNEL(state)}",
        'SET VARIABLE HOTLINE_AFTER_HANGUP "yes"',
        "GET VARIABLE HOTLINE_AFTER_HANGUP",
        'VERBOSE "after hangup" 1',
        "NOOP",
        "CHANNEL STATUS",
        "ANSWER",
        f'STREAM FILE beep "{ESC}"',
        "WAIT FOR DIGIT 1000",
        "GET DATA beep 1000 4",
        "EXEC Playback beep",
        f"RECORD FILE {rec}/after-hangup wav # 1000",
        "HANGUP",
    ]
    return [
        Scenario(
            "header_local",
            "Header of a call placed with `channel originate Local/...`, caller name in "
            "Chinese set with CALLERID(name). The AGI closes right after the header.",
            [],
        ),
        Scenario(
            "header_local_long_cn_name",
            "Header with a 100-character (300-byte) Chinese caller name set with "
            "CALLERID(name): does Asterisk truncate it, and where?",
            [],
            caller_name=LONG_CN_NAME,
        ),
        Scenario(
            "header_local_args",
            "Header of an AGI started with arguments (agi_arg_N lines): Chinese, with a "
            "space, empty, quoted.",
            [],
            agi_args=',市民来电,two words,,"quoted,comma",last',
        ),
        Scenario(
            "header_local_no_callerid",
            "Header of a call with no caller number or name set.",
            [],
            caller_num="",
            caller_name=None,
        ),
        Scenario(
            "answer_stream_file",
            "ANSWER, then STREAM FILE: a stock sound with escape digits and no key pressed, "
            "without escape digits, with a sample offset, an absolute path to a project "
            "prompt (bind-mounted at the same path), a missing file, a prompt given with "
            "its extension.",
            [
                "ANSWER",
                f'STREAM FILE beep "{ESC}"',
                'STREAM FILE beep ""',
                "STREAM FILE beep",
                f'STREAM FILE hello-world "{ESC}" 8000',
                f'STREAM FILE {prompt} "{ESC}"',
                f'STREAM FILE hotline-no-such-prompt "{ESC}"',
                f'STREAM FILE {work}/sounds/no-such-prompt ""',
                'STREAM FILE beep.gsm ""',
                f'CONTROL STREAM FILE beep "{ESC}"',
            ],
        ),
        Scenario(
            "wait_for_digit_local",
            "WAIT FOR DIGIT: a timeout, then a digit sent by the caller (SendDTMF on the "
            "other half of the Local channel, 2.5 s after answer).",
            ["ANSWER", "WAIT FOR DIGIT 1000", "WAIT FOR DIGIT 5000", "WAIT FOR DIGIT 500"],
            caller_apps=["Wait(2.5)", "SendDTMF(7)", "Wait(60)"],
        ),
        Scenario(
            "get_data_local",
            "GET DATA: max digits reached (1234), a timeout with no digit, digits ended by "
            "# (56#), a digit that interrupts the prompt. Digits from SendDTMF on the "
            "caller side.",
            [
                "ANSWER",
                "GET DATA beep 3000 4",
                "GET DATA beep 1000 4",
                "GET DATA beep 5000 4",
                "GET DATA demo-congrats 3000 2",
            ],
            caller_apps=[
                "Wait(1.5)",
                "SendDTMF(1234)",
                "Wait(3.5)",
                "SendDTMF(56#)",
                "Wait(2.5)",
                "SendDTMF(89)",
                "Wait(60)",
            ],
        ),
        Scenario(
            "dtmf_while_idle_local",
            "A digit that arrives while the AGI is between commands (no command running) "
            "is it kept for the next WAIT FOR DIGIT, or lost?",
            ["ANSWER", {"drain": 3.0}, "WAIT FOR DIGIT 2000"],
            caller_apps=["Wait(1)", "SendDTMF(9)", "Wait(60)"],
        ),
        Scenario(
            "variables",
            "SET VARIABLE with a quoted value containing spaces and Chinese, GET VARIABLE, "
            "GET FULL VARIABLE (with expressions and functions), unset variables.",
            [
                "ANSWER",
                'SET VARIABLE HOTLINE_NOTE "市民 反映 夜间 施工 噪音"',
                "GET VARIABLE HOTLINE_NOTE",
                "GET FULL VARIABLE ${HOTLINE_NOTE}",
                "GET FULL VARIABLE ${HOTLINE_NOTE} and ${CALLERID(num)}",
                'GET FULL VARIABLE "${HOTLINE_NOTE} and ${CALLERID(num)}"',
                "SET VARIABLE HOTLINE_UNQUOTED 市民 反映",
                "GET VARIABLE HOTLINE_UNQUOTED",
                "SET VARIABLE HOTLINE_PLAIN 12345",
                "GET VARIABLE HOTLINE_PLAIN",
                'SET VARIABLE HOTLINE_QUOTED "say \\"hi\\" now"',
                "GET VARIABLE HOTLINE_QUOTED",
                'SET VARIABLE HOTLINE_EMPTY ""',
                "GET VARIABLE HOTLINE_EMPTY",
                "GET VARIABLE HOTLINE_NEVER_SET",
                "GET FULL VARIABLE ${HOTLINE_NEVER_SET}",
                "GET VARIABLE CALLERID(name)",
                "GET VARIABLE CALLERID(num)",
                "GET VARIABLE CHANNEL",
                "GET VARIABLE UNIQUEID",
                "GET FULL VARIABLE ${CHANNEL(language)}",
                'SET VARIABLE CALLERID(name) "市民李四"',
                "GET VARIABLE CALLERID(name)",
            ],
        ),
        Scenario(
            "exec_dial",
            "EXEC Dial to unreachable, busy, congested, unanswered and answering "
            "destinations, each followed by GET VARIABLE DIALSTATUS; watch for "
            "'100 result=0 Trying...'.",
            [
                "ANSWER",
                "EXEC Dial PJSIP/hotline-no-such-endpoint",
                "GET VARIABLE DIALSTATUS",
                "EXEC Dial PJSIP/hotline-unreachable",
                "GET VARIABLE DIALSTATUS",
                "EXEC Dial Local/busy@hotline-targets",
                "GET VARIABLE DIALSTATUS",
                "EXEC Dial Local/congestion@hotline-targets",
                "GET VARIABLE DIALSTATUS",
                "EXEC Dial Local/ring@hotline-targets,2",
                "GET VARIABLE DIALSTATUS",
                'EXEC Dial "Local/ring@hotline-targets,1"',
                "GET VARIABLE DIALSTATUS",
                "EXEC Dial Local/answer@hotline-targets,5",
                "GET VARIABLE DIALSTATUS",
                "GET VARIABLE ANSWEREDTIME",
                "GET VARIABLE HANGUPCAUSE",
            ],
        ),
        Scenario(
            "exec_apps",
            "EXEC of Playback (existing and missing file), Wait, Set, Verbose, and of an "
            "application that does not exist.",
            [
                "ANSWER",
                "EXEC Playback beep",
                "GET VARIABLE PLAYBACKSTATUS",
                "EXEC Playback hotline-no-such-prompt",
                "GET VARIABLE PLAYBACKSTATUS",
                "EXEC Wait 0.2",
                "EXEC Set HOTLINE_FROM_EXEC=市民 王五",
                "GET VARIABLE HOTLINE_FROM_EXEC",
                'EXEC Set "HOTLINE_FROM_EXEC2=市民 王五"',
                "GET VARIABLE HOTLINE_FROM_EXEC2",
                "EXEC Set HOTLINE_FROM_EXEC3=${CALLERID(num)}",
                "GET VARIABLE HOTLINE_FROM_EXEC3",
                'EXEC Verbose "1,hello from EXEC"',
                "EXEC HotlineNoSuchApp foo",
                "EXEC",
            ],
        ),
        Scenario(
            "record_file",
            "RECORD FILE: ended by its timeout (no audio on a Local channel), ended by # "
            "(SendDTMF from the caller), with BEEP, and into a directory that does not exist.",
            [
                "ANSWER",
                f"RECORD FILE {rec}/timeout wav # 1500",
                f'RECORD FILE {rec}/dtmf wav "#" 10000',
                f"RECORD FILE {rec}/beep wav # 1000 0 BEEP",
                f"RECORD FILE {rec}/silence wav # 3000 0 s=1",
                f"RECORD FILE {work}/no-such-dir/x wav # 1000",
                f"RECORD FILE {rec}/bad-format hotlinefmt # 1000",
            ],
            caller_apps=["Wait(3.5)", "SendDTMF(#)", "Wait(60)"],
        ),
        Scenario(
            "verbose_noop_misc",
            "VERBOSE (ASCII and Chinese), NOOP, CHANNEL STATUS, DATABASE PUT/GET/DEL, "
            "SET MUSIC, SAY DIGITS, ASYNCAGI BREAK outside async AGI.",
            [
                'VERBOSE "hotline says hello" 1',
                'VERBOSE "市民来电" 3',
                "NOOP",
                "NOOP with some text",
                "CHANNEL STATUS",
                "ANSWER",
                "CHANNEL STATUS",
                "DATABASE PUT hotline lastcaller 13800138000",
                "DATABASE GET hotline lastcaller",
                "DATABASE GET hotline nosuchkey",
                "DATABASE DEL hotline lastcaller",
                'SAY DIGITS 123 ""',
                'SAY NUMBER 12345 ""',
                "ASYNCAGI BREAK",
            ],
        ),
        Scenario(
            "gosub",
            "GOSUB from AGI: the only command observed to send '100 result=0 Trying...' "
            "before its final reply; a missing label.",
            [
                "ANSWER",
                'GOSUB hotline-sub s 1 "市民,2"',
                "GET VARIABLE GOSUB_RETVAL",
                "GET VARIABLE HOTLINE_SUB_ARG",
                "GOSUB hotline-sub nosuchlabel 1",
                "GOSUB hotline-sub",
            ],
        ),
        Scenario(
            "errors_510_520",
            "An invalid command (510), commands with wrong usage (520 multi-line usage), "
            "lower-case commands, extra spaces, an empty line.",
            [
                "HOTLINE NO SUCH COMMAND",
                "STREAM FILE",
                "GET DATA",
                "WAIT FOR DIGIT",
                "SET VARIABLE HOTLINE_X",
                "RECORD FILE x",
                "EXEC",
                "answer",
                "wait for digit 100",
                "WAIT  FOR  DIGIT  100",
                {"cmd": "", "timeout": 2.0},
                "NOOP",
            ],
        ),
        Scenario(
            "hangup_during_command",
            "The caller hangs up (2 s after answer) while WAIT FOR DIGIT runs: the reply, the "
            "HANGUP line, then which commands still work on the dead channel (511 or not); "
            "then the AGI keeps the socket open to see whether Asterisk closes it.",
            ["ANSWER", "WAIT FOR DIGIT 10000", {"drain": 1.0}, *hang_battery],
            caller_apps=["Wait(2)", "Hangup()"],
            end="wait_eof",
            end_timeout=8.0,
        ),
        Scenario(
            "hangup_while_idle",
            "The caller hangs up (1 s after answer) while the AGI is idle between commands: "
            "is the HANGUP line sent unsolicited? Then a command (511).",
            ["ANSWER", {"drain": 3.0}, "GET VARIABLE CHANNEL", 'STREAM FILE beep ""'],
            caller_apps=["Wait(1)", "Hangup()"],
        ),
        Scenario(
            "agi_hangup_command",
            "The AGI hangs the call up itself with the HANGUP command (first for a channel "
            "that does not exist): reply, HANGUP line, then commands on the dead channel.",
            [
                "ANSWER",
                "HANGUP Local/hotline-no-such-channel-00000000;2",
                "HANGUP",
                {"drain": 1.0},
                "GET VARIABLE CHANNEL",
                'STREAM FILE beep ""',
            ],
        ),
        Scenario(
            "agi_closes_early",
            "The AGI closes the socket right after ANSWER while the channel is up: Asterisk "
            "closes its end and the dialplan continues with AGISTATUS.",
            ["ANSWER"],
        ),
        Scenario(
            "sip_dtmf",
            "A real SIP call from SIPp (PJSIP on loopback) with RFC 2833 DTMF from SIPp's "
            "pcaps: ANSWER; STREAM FILE interrupted by 1; WAIT FOR DIGIT gets 2; GET DATA "
            "gets 345#; timeouts; a digit sent while the AGI is idle; the caller hangs up "
            "during WAIT FOR DIGIT (HANGUP line), then 511.",
            [
                "ANSWER",
                f'STREAM FILE demo-congrats "{ESC}"',
                "WAIT FOR DIGIT 10000",
                "GET DATA beep 10000 4",
                'STREAM FILE beep ""',
                "WAIT FOR DIGIT 1500",
                "GET DATA beep 1000 2",
                {"drain": 3.5},
                "WAIT FOR DIGIT 2500",
                "WAIT FOR DIGIT 30000",
                {"drain": 1.0},
                "GET VARIABLE CHANNEL",
                f'STREAM FILE beep "{ESC}"',
                "WAIT FOR DIGIT 1000",
            ],
            via="sip",
            caller_num="13912345678",
            caller_name="市民李四",
            sipp_xml="sip_dtmf.sipp.xml",
        ),
        Scenario(
            "sip_header_hangup",
            "Header of a SIP call from SIPp with a Chinese display name; the caller hangs up "
            "1.5 s after answer during WAIT FOR DIGIT; then the dead-channel command battery.",
            ["ANSWER", "WAIT FOR DIGIT 10000", {"drain": 1.0}, *hang_battery],
            via="sip",
            caller_num="13700001111",
            caller_name="市民王五",
            sipp_xml="sip_hangup.sipp.xml",
            end="wait_eof",
            end_timeout=8.0,
        ),
        Scenario(
            "sip_long_cn_name",
            "A SIP call whose From display name is 100 Chinese characters (300 bytes): is "
            "agi_calleridname truncated, and where?",
            ["GET VARIABLE CALLERID(name)", "ANSWER", "WAIT FOR DIGIT 10000"],
            via="sip",
            caller_num="13600002222",
            caller_name=LONG_CN_NAME,
            sipp_xml="sip_hangup.sipp.xml",
        ),
        Scenario(
            "sip_long_ascii_name",
            "A SIP call whose From display name is 120 ASCII bytes: the byte limit of "
            "agi_calleridname.",
            ["ANSWER", "WAIT FOR DIGIT 10000"],
            via="sip",
            caller_num="13600003333",
            caller_name=LONG_ASCII_NAME,
            sipp_xml="sip_hangup.sipp.xml",
        ),
        Scenario(
            "sip_long_mixed_name",
            "A SIP From display name of 1 ASCII byte then Chinese: does the byte limit cut "
            "inside a UTF-8 character?",
            ["ANSWER", "WAIT FOR DIGIT 10000"],
            via="sip",
            caller_num="13600004444",
            caller_name="A" + LONG_CN_NAME,
            sipp_xml="sip_hangup.sipp.xml",
        ),
        Scenario(
            "sip_long_mixed_name_2",
            "A SIP From display name of 2 ASCII bytes then Chinese (the other offset).",
            ["ANSWER", "WAIT FOR DIGIT 10000"],
            via="sip",
            caller_num="13600005555",
            caller_name="AB" + LONG_CN_NAME,
            sipp_xml="sip_hangup.sipp.xml",
        ),
    ]


# What the recordings showed on Asterisk 22.10.1 (Debian sid); copied into each fixture's
# "notes". If a re-recording contradicts a note, fix the note (and docs/agi-transcripts.md).
NOTES: dict[str, str] = {
    "header_local": (
        "Header lines are 'agi_key: value\\n' ending with an empty line; UTF-8 caller name "
        "passed through unchanged. agi_dnid/agi_rdnis are 'unknown' on Local channels. When "
        "the AGI half-closes, Asterisk still writes 'HANGUP\\n' (the channel is up) and "
        "then closes; AGISTATUS=SUCCESS."
    ),
    "header_local_long_cn_name": (
        "CALLERID(name) set in the dialplan is NOT truncated: all 300 bytes reach "
        "agi_calleridname. Truncation happens on the PJSIP side (see sip_long_*)."
    ),
    "header_local_args": (
        "AGI() arguments become agi_arg_1.. in order; an empty argument gives "
        "'agi_arg_3: ' (key, colon, space, nothing); dialplan quotes group a comma."
    ),
    "header_local_no_callerid": "No caller id: agi_callerid and agi_calleridname are 'unknown'.",
    "answer_stream_file": (
        "ANSWER takes ~500 ms on a channel with no incoming audio (Asterisk waits up to "
        "500 ms for media). STREAM FILE: '200 result=0 endpos=N' (N = samples played at "
        "8 kHz, beep = 3520); the escape-digits argument is required (520 without it); "
        "a missing file gives '200 result=-1 endpos=0' immediately (also with an "
        "extension in the name: beep.gsm is 'missing'); an absolute path without "
        "extension works; CONTROL STREAM FILE reports endpos=-1. Because a command "
        "failed (result=-1), AGISTATUS=FAILURE at the end although the call went on."
    ),
    "wait_for_digit_local": (
        "WAIT FOR DIGIT: '200 result=0' on timeout, '200 result=<ASCII code>' for a "
        "digit ('7' -> 55)."
    ),
    "get_data_local": (
        "GET DATA: '200 result=<digits>' (max digits reached, or ended by '#', which is "
        "not included); '200 result= (timeout)' with no digit; a digit interrupts the "
        "prompt and counts as the first digit."
    ),
    "dtmf_while_idle_local": (
        "A digit pressed while no AGI command runs is LOST: the following WAIT FOR DIGIT "
        "times out with result=0."
    ),
    "variables": (
        "SET VARIABLE always '200 result=1'; a value with spaces must be quoted (unquoted "
        '-> 520, nothing set); \\" inside quotes is an escaped quote. GET VARIABLE: '
        "'200 result=1 (value)', '200 result=1 ()' for empty, '200 result=0' when unset; "
        "functions like CALLERID(name) work. GET FULL VARIABLE with spaces must be quoted; "
        "an unset variable gives '200 result=1 ()'. UTF-8 passes through both ways."
    ),
    "exec_dial": (
        "No '100 result=0 Trying...' for EXEC. EXEC Dial replies '200 result=0' for "
        "CHANUNAVAIL/BUSY/CONGESTION/NOANSWER and '200 result=-1' after an answered call "
        "(the channel itself is still up: later commands work). EXEC options are the rest "
        "of the line; a quoted options string works the same."
    ),
    "exec_apps": (
        "EXEC replies with the application's return value ('200 result=0'); a missing "
        "application gives '200 result=-2'. Only the first word after the application "
        "name is passed unless the options are quoted. EXEC does not expand ${...} "
        "(AGIEXECFULL not set). Playback of a missing file: result=0 and "
        "PLAYBACKSTATUS=FAILED."
    ),
    "record_file": (
        "RECORD FILE: '200 result=0 (timeout) endpos=N', '200 result=<ASCII> (dtmf) "
        "endpos=N'; endpos=0 here because a Local channel carries no audio. A directory "
        "that does not exist or an unknown format gives '200 result=-1 (writefile)' (and "
        "AGISTATUS=FAILURE at the end). BEEP adds the beep's length before recording."
    ),
    "verbose_noop_misc": (
        "VERBOSE '200 result=1'; NOOP '200 result=0' (extra words ignored); CHANNEL "
        "STATUS '200 result=4' (ring) before ANSWER and '200 result=6' (up) after; "
        "DATABASE GET '200 result=1 (value)' / '200 result=0'."
    ),
    "gosub": (
        "GOSUB is where '100 result=0 Trying...' appears: the reply is two lines, "
        "'100 result=0 Trying...' then '200 result=0 Gosub complete' when the subroutine "
        "returns. A missing label: '200 result=-1 Gosub label not found' (and AGISTATUS="
        "FAILURE at the end)."
    ),
    "errors_510_520": (
        "Unknown command (and an empty line): '510 Invalid or unknown command'. Wrong "
        "usage: '520-Invalid command syntax.  Proper usage follows:' (two spaces), usage "
        "text lines, '520 End of proper usage.'. Commands are case-insensitive and extra "
        "spaces between words are ignored."
    ),
    "hangup_during_command": (
        "The running command returns '200 result=-1' when the caller hangs up; the "
        "'HANGUP\\n' line follows separately ~40 ms later, only once. On the dead channel "
        "GET VARIABLE, GET FULL VARIABLE, SET VARIABLE, VERBOSE, NOOP and EXEC still work; "
        "CHANNEL STATUS, ANSWER, STREAM FILE, WAIT FOR DIGIT, GET DATA, RECORD FILE and "
        "HANGUP get '511 Command Not Permitted on a dead channel or intercept routine'. "
        "Asterisk does NOT close the socket by itself (no EOF within 8 s): the AGI must. "
        "AGISTATUS=HANGUP (reported from the h extension)."
    ),
    "hangup_while_idle": (
        "A hangup while the AGI is idle sends 'HANGUP\\n' unsolicited at once; when the "
        "AGI then closes, Asterisk sends another 'HANGUP\\n' before EOF."
    ),
    "agi_hangup_command": (
        "HANGUP of a channel that does not exist: '200 result=-1'. HANGUP of our own "
        "channel: '200 result=1', then a 'HANGUP\\n' line; afterwards the dead-channel rules "
        "apply (511 for STREAM FILE)."
    ),
    "agi_closes_early": (
        "When the AGI closes first, Asterisk sends 'HANGUP\\n', closes, and the dialplan "
        "continues with AGISTATUS=SUCCESS."
    ),
    "sip_dtmf": (
        "Real PJSIP channel: agi_channel PJSIP/sipp-..., agi_type PJSIP, agi_dnid 12345, "
        "agi_extension 12345, caller name from the From display name. RFC 2833 digits: "
        "STREAM FILE interrupted -> '200 result=49 endpos=13280'; WAIT FOR DIGIT -> "
        "result=50; GET DATA 345# -> result=345; the digit sent while idle is lost; BYE "
        "during WAIT FOR DIGIT -> '200 result=-1' then 'HANGUP\\n'; then 511 for media "
        "commands, GET VARIABLE still works."
    ),
    "sip_header_hangup": (
        "Same dead-channel rules as hangup_during_command, on a PJSIP channel; Asterisk "
        "keeps the socket open after the hangup until the AGI closes it."
    ),
    "sip_long_cn_name": (
        "PJSIP truncates the From display name to at most 79 bytes, without splitting a "
        "UTF-8 character: 100 Chinese characters arrive as 26 (78 bytes)."
    ),
    "sip_long_ascii_name": "ASCII display name truncated to exactly 79 bytes.",
    "sip_long_mixed_name": (
        "'A' + Chinese: 79 bytes (1 + 26 x 3), the limit falls on a character boundary."
    ),
    "sip_long_mixed_name_2": (
        "'AB' + Chinese: 77 bytes (2 + 25 x 3): the character that would straddle the "
        "79-byte limit is dropped whole, so agi_calleridname stays valid UTF-8."
    ),
}


# --------------------------------------------------------------------------------------------
# Asterisk config


def _dialplan(scenarios: list[Scenario], agi_port: int) -> str:
    agi = f"agi://{AGI_HOST}:{agi_port}"
    lines = [
        "[general]",
        "static=yes",
        "writeprotect=yes",
        "",
        "[globals]",
        "",
        "; the Local side each scenario runs on: set caller id, run the scenario's AGI,",
        "; then report AGISTATUS through a second AGI",
        "[hotline-local]",
    ]
    for sc in scenarios:
        if sc.via != "local":
            continue
        lines.append(f"exten => {sc.name},1,Set(HOTLINE_SCN={sc.name})")
        lines.append(f" same => n,Set(CALLERID(num)={sc.caller_num})")
        if sc.caller_name is not None:
            lines.append(f" same => n,Set(CALLERID(name)={sc.caller_name})")
        lines.append(f" same => n,AGI({agi}/{sc.name}{sc.agi_args})")
        lines.append(" same => n,Set(HOTLINE_AFTER=1)")
        lines.append(f" same => n,AGI({agi}/agistatus,{sc.name},${{AGISTATUS}},after-agi)")
        lines.append(" same => n,Hangup()")
    lines += [
        'exten => h,1,ExecIf($["${HOTLINE_AFTER}" = ""]?'
        f"AGI({agi}/agistatus,${{HOTLINE_SCN}},${{AGISTATUS}},h-extension))",
        "",
        "; the caller side of each Local call (runs after the AGI answers)",
        "[hotline-caller]",
    ]
    for sc in scenarios:
        if sc.via != "local":
            continue
        lines.append(f"exten => {sc.name},1,NoOp(caller for {sc.name})")
        lines.extend(f" same => n,{app}" for app in sc.caller_apps)
        lines.append(" same => n,Hangup()")
    lines += [
        "",
        "; SIP calls from SIPp to 12345; the X-Scenario header names the scenario",
        "[hotline-sip]",
        f"exten => {SERVICE},1,Set(HOTLINE_SCN=${{PJSIP_HEADER(read,X-Scenario)}})",
        f" same => n,AGI({agi}/${{HOTLINE_SCN}})",
        " same => n,Set(HOTLINE_AFTER=1)",
        f" same => n,AGI({agi}/agistatus,${{HOTLINE_SCN}},${{AGISTATUS}},after-agi)",
        " same => n,Hangup()",
        'exten => h,1,ExecIf($["${HOTLINE_AFTER}" = ""]?'
        f"AGI({agi}/agistatus,${{HOTLINE_SCN}},${{AGISTATUS}},h-extension))",
        "",
        "; a subroutine for the GOSUB command",
        "[hotline-sub]",
        "exten => s,1,NoOp(sub ${ARG1} ${ARG2})",
        " same => n,Set(HOTLINE_SUB_ARG=${ARG1})",
        " same => n,Playback(beep)",
        " same => n,Return(done ${ARG2})",
        "",
        "; destinations for EXEC Dial",
        "[hotline-targets]",
        "exten => busy,1,Busy(5)",
        "exten => congestion,1,Congestion(5)",
        "exten => ring,1,Ringing()",
        " same => n,Wait(30)",
        "exten => answer,1,Answer()",
        " same => n,Playback(beep)",
        " same => n,Hangup()",
        "",
    ]
    return "\n".join(lines)


def _pjsip(sip_port: int) -> str:
    return f"""\
[transport-udp]
type = transport
protocol = udp
bind = {AGI_HOST}:{sip_port}

; SIPp on loopback
[sipp]
type = endpoint
context = hotline-sip
disallow = all
allow = ulaw,alaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
trust_id_inbound = yes

[sipp]
type = identify
endpoint = sipp
match = 127.0.0.1

; an endpoint with no contact: Dial gives CHANUNAVAIL
[hotline-unreachable]
type = aor
max_contacts = 1

[hotline-unreachable]
type = endpoint
context = hotline-sip
disallow = all
allow = ulaw
aors = hotline-unreachable
"""


# --------------------------------------------------------------------------------------------
# the recording FastAGI server


class Reader:
    """Reads raw lines from the socket with deadlines, keeping every byte."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], remaining)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def readline(self, deadline: float) -> bytes | None:
        """A line including its newline; the partial rest at EOF; None on timeout/EOF."""
        while b"\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                if self.eof and self.buf:
                    rest = bytes(self.buf)
                    self.buf.clear()
                    return rest
                return None
        i = self.buf.index(b"\n") + 1
        line = bytes(self.buf[:i])
        del self.buf[:i]
        return line

    def drain(self, seconds: float) -> bytes:
        """Everything that arrives within ``seconds`` (stops early at EOF)."""
        deadline = time.monotonic() + seconds
        while not self.eof and self._fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def drain_timed(self, seconds: float) -> tuple[bytes, float | None]:
        """Like :meth:`drain`, also returning when the first byte arrived (monotonic)."""
        deadline = time.monotonic() + seconds
        first = time.monotonic() if self.buf else None
        while not self.eof and self._fill(deadline):
            if first is None:
                first = time.monotonic()
        out = bytes(self.buf)
        self.buf.clear()
        return out, first

    def pending(self) -> bytes:
        """Whatever has already arrived, without waiting."""
        while not self.eof and self._fill(time.monotonic() + 0.001):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


_FINAL = re.compile(rb"^\d{3} ")
_MULTI = re.compile(rb"^\d{3}-")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")


def _raw_field(d: dict[str, Any], key: str, raw: bytes) -> None:
    """Store raw bytes as text; add ``<key>_b64`` when they are not valid UTF-8."""
    d[key] = _text(raw)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        d[key + "_b64"] = base64.b64encode(raw).decode("ascii")


def read_reply(reader: Reader, timeout: float) -> tuple[bytes, str]:
    """Read one reply: up to the final ``NNN `` line, across 100s, 520- blocks and HANGUP."""
    deadline = time.monotonic() + timeout
    raw = bytearray()
    multi = False
    while True:
        line = reader.readline(deadline)
        if line is None:
            return bytes(raw), ("eof" if reader.eof else "timeout")
        raw += line
        s = line.rstrip(b"\r\n")
        if s == b"HANGUP":
            continue
        if _MULTI.match(s):
            multi = True
            continue
        if multi and not _FINAL.match(s):
            continue
        if s.startswith(b"100 "):
            continue
        if _FINAL.match(s):
            return bytes(raw), "ok"
        # something unexpected: keep reading until a final line
        continue


@dataclass
class Recording:
    scenario: str
    header: bytes = b""
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    after: bytes = b""
    after_eof: bool = False
    after_ms: int = 0
    agistatus: dict[str, str] | None = None
    agistatus_header: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)
    agistatus_done: threading.Event = field(default_factory=threading.Event)
    error: str = ""


class Recorder:
    def __init__(self, scenarios: dict[str, Scenario]) -> None:
        self.scenarios = scenarios
        self.recordings: dict[str, Recording] = {}
        self.lock = threading.Lock()
        self.unexpected: list[str] = []

    def recording(self, name: str) -> Recording:
        with self.lock:
            if name not in self.recordings:
                self.recordings[name] = Recording(name)
            return self.recordings[name]

    def handle(self, sock: socket.socket) -> None:
        reader = Reader(sock)
        header = bytearray()
        deadline = time.monotonic() + 10
        while True:
            line = reader.readline(deadline)
            if line is None:
                self.unexpected.append(f"incomplete header: {bytes(header)!r}")
                return
            header += line
            if line == b"\n":
                break
        env = {}
        for ln in bytes(header).decode("utf-8", errors="replace").splitlines():
            k, _, v = ln.partition(": ")
            env[k] = v
        script = env.get("agi_network_script", "")
        if script == "agistatus":
            rec = self.recording(env.get("agi_arg_1", "?"))
            rec.agistatus = {
                "value": env.get("agi_arg_2", ""),
                "where": env.get("agi_arg_3", ""),
            }
            rec.agistatus_header = bytes(header)
            rec.agistatus_done.set()
            sock.close()
            return
        sc = self.scenarios.get(script)
        if sc is None:
            self.unexpected.append(f"unknown scenario {script!r}")
            sock.close()
            return
        rec = self.recording(sc.name)
        rec.header = bytes(header)
        t0 = time.monotonic()
        try:
            self._run(sc, rec, reader, sock, t0)
        except Exception as e:  # record and go on with the other scenarios
            rec.error = repr(e)
        finally:
            sock.close()
            rec.done.set()

    def _run(
        self, sc: Scenario, rec: Recording, reader: Reader, sock: socket.socket, t0: float
    ) -> None:
        for step in sc.steps:
            if isinstance(step, dict) and "drain" in step:
                start = time.monotonic()
                got, first = reader.drain_timed(float(step["drain"]))
                ex: dict[str, Any] = {
                    "drain_s": step["drain"],
                    "at_ms": round((start - t0) * 1000),
                }
                _raw_field(ex, "received", got)
                if first is not None:
                    ex["first_byte_after_ms"] = round((first - start) * 1000)
                if reader.eof:
                    ex["eof"] = True
                rec.exchanges.append(ex)
                continue
            if isinstance(step, dict):
                command, timeout = str(step["cmd"]), float(step.get("timeout", 40.0))
            else:
                command, timeout = step, 40.0
            before = reader.pending()
            ex = {"command": command}
            if before:
                _raw_field(ex, "received_before", before)
            start = time.monotonic()
            ex["at_ms"] = round((start - t0) * 1000)
            try:
                sock.sendall(command.encode("utf-8") + b"\n")
            except OSError as e:
                ex["send_error"] = repr(e)
                rec.exchanges.append(ex)
                break
            raw, how = read_reply(reader, timeout)
            ex["elapsed_ms"] = round((time.monotonic() - start) * 1000)
            _raw_field(ex, "reply", raw)
            if how != "ok":
                ex["reply_incomplete"] = how  # "timeout": no (complete) reply; "eof"
            rec.exchanges.append(ex)
            if how == "eof":
                break
        start = time.monotonic()
        if sc.end == "close":
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        got = reader.drain(sc.end_timeout)
        rec.after = got
        rec.after_eof = reader.eof
        rec.after_ms = round((time.monotonic() - start) * 1000)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.recorder.handle(self.request)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], recorder: Recorder) -> None:
        self.recorder = recorder
        super().__init__(addr, _Handler)


# --------------------------------------------------------------------------------------------
# placing calls


def _originate(root: Path, sc: Scenario) -> None:
    local.rx(
        root,
        f"channel originate Local/{sc.name}@hotline-local/n extension {sc.name}@hotline-caller",
    )


def _sipp(sc: Scenario, args: argparse.Namespace, tmp: Path) -> subprocess.Popen[bytes]:
    csv = tmp / f"{sc.name}.csv"
    csv.write_text(f"SEQUENTIAL\n{sc.caller_name or ''};{sc.caller_num};{sc.name};\n", "utf-8")
    log = open(tmp / f"{sc.name}.sipp.log", "wb")  # noqa: SIM115 - closed with the process
    cmd = [
        "sipp",
        f"{AGI_HOST}:{args.sip_port}",
        "-sf",
        str(HERE / sc.sipp_xml),
        "-inf",
        str(csv),
        "-s",
        SERVICE,
        "-m",
        "1",
        "-i",
        AGI_HOST,
        "-p",
        str(args.sipp_port),
        "-mi",
        AGI_HOST,
        "-mp",
        str(args.sipp_media_port),
        "-nostdin",
        "-timeout",
        "60s",
        "-timeout_error",
        "-trace_err",
        "-trace_msg",
    ]
    return subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


# --------------------------------------------------------------------------------------------
# output


def _observations(rec: Recording) -> list[str]:
    notes: list[str] = []
    for i, ex in enumerate(rec.exchanges):
        text = ex.get("reply", "") + ex.get("received", "") + ex.get("received_before", "")
        if "HANGUP\n" in text:
            where = "reply to" if "HANGUP\n" in ex.get("reply", "") else "received during"
            what = ex.get("command", f"drain {ex.get('drain_s')}s")
            notes.append(f"'HANGUP' line {where} exchange {i} ({what!r})")
        if ex.get("reply", "").startswith("100 "):
            notes.append(f"'100 result=0 Trying...' before the reply to {ex['command']!r}")
        if ex.get("reply_incomplete"):
            notes.append(f"no complete reply to {ex.get('command')!r}: {ex['reply_incomplete']}")
    notes.append(
        f"after the last exchange: {rec.after!r}; EOF from Asterisk: {rec.after_eof} "
        f"(after {rec.after_ms} ms)"
    )
    return notes


def _write(rec: Recording, sc: Scenario, version: str, out_dir: Path) -> Path:
    doc: dict[str, Any] = {
        "scenario": sc.name,
        "description": sc.description,
        "asterisk_version": version,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "call": (
            {
                "via": "channel originate Local/<scenario>@hotline-local/n",
                "callerid_num": sc.caller_num,
                "callerid_name": sc.caller_name,
                "caller_side_dialplan": sc.caller_apps,
            }
            if sc.via == "local"
            else {
                "via": f"SIPp uac ({sc.sipp_xml}) -> PJSIP on loopback, dialled {SERVICE}",
                "from_display_name": sc.caller_name,
                "from_user": sc.caller_num,
                "dtmf": "RFC 2833 telephone-event PT 101 (sipp dtmf_2833_*.pcap)",
            }
        ),
    }
    _raw_field(doc, "header", rec.header)
    doc["exchanges"] = rec.exchanges
    _raw_field(doc, "after", rec.after)
    doc["after_eof"] = rec.after_eof
    doc["end"] = (
        "AGI half-closed its socket (shutdown SHUT_WR) after the last exchange, then read until EOF"
        if sc.end == "close"
        else "AGI kept its socket open after the last exchange and waited for Asterisk"
    )
    doc["agistatus"] = rec.agistatus
    if rec.error:
        doc["recorder_error"] = rec.error
    doc["observations"] = _observations(rec)
    doc["notes"] = sc.notes or NOTES.get(sc.name, "")
    path = out_dir / f"{sc.name}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def _make_prompt(path: Path) -> None:
    """A short 8 kHz mono WAV prompt in the project tree (espeak-ng + sox, or a tone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = path.with_suffix(".wav")
    if wav.exists():
        return
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "say.wav"
        if shutil.which("espeak-ng"):
            subprocess.run(
                ["espeak-ng", "-v", "cmn", "-w", str(raw), "您好，这里是12345热线"],
                check=False,
                capture_output=True,
            )
        if not raw.exists():
            subprocess.run(
                ["sox", "-n", "-r", "8000", "-c", "1", str(raw), "synth", "1", "sine", "440"],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)],
            check=True,
            capture_output=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", type=Path, default=local.default_root())
    p.add_argument("--out", type=Path, default=OUT_DIR)
    p.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--agi-port", type=int, default=DEFAULT_AGI_PORT)
    p.add_argument("--sip-port", type=int, default=DEFAULT_SIP_PORT)
    p.add_argument("--sipp-port", type=int, default=DEFAULT_SIPP_PORT)
    p.add_argument("--sipp-media-port", type=int, default=DEFAULT_SIPP_MEDIA_PORT)
    p.add_argument("--keep-running", action="store_true", help="leave Asterisk running")
    args = p.parse_args(argv)

    all_scenarios = _scenarios(WORK)
    if args.list:
        for sc in all_scenarios:
            print(f"{sc.name:28} {sc.via:5} {sc.description}")
        return 0
    unknown = set(args.only) - {sc.name for sc in all_scenarios}
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    chosen = [sc for sc in all_scenarios if not args.only or sc.name in args.only]

    (WORK / "rec").mkdir(parents=True, exist_ok=True)
    _make_prompt(WORK / "sounds" / "hotline-welcome")
    for old in (WORK / "rec").iterdir():
        old.unlink()

    print(f"root {args.root}: ensuring (debootstrap sid on first use) ...", flush=True)
    local.ensure_root(args.root)
    local.install_config(
        args.root,
        None,
        {
            "extensions.conf": _dialplan(all_scenarios, args.agi_port),
            "pjsip.conf": _pjsip(args.sip_port),
        },
    )
    recorder = Recorder({sc.name: sc for sc in all_scenarios})
    server = _Server((AGI_HOST, args.agi_port), recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    ast = local.start(args.root, [PROJECT])
    try:
        version = ast.version()
        print(version, flush=True)
        with tempfile.TemporaryDirectory(prefix="agi-sipp-") as tmpdir:
            tmp = Path(tmpdir)
            for sc in chosen:
                print(f"- {sc.name} ({sc.via}) ...", end=" ", flush=True)
                rec = recorder.recording(sc.name)
                sipp: subprocess.Popen[bytes] | None = None
                if sc.via == "local":
                    _originate(args.root, sc)
                else:
                    sipp = _sipp(sc, args, tmp)
                ok = rec.done.wait(90)
                rec.agistatus_done.wait(15)
                if sipp is not None:
                    try:
                        rc = sipp.wait(60)
                    except subprocess.TimeoutExpired:
                        sipp.terminate()
                        rc = sipp.wait(10)
                    if rc != 0:
                        logs = "".join(
                            f.read_text("utf-8", "replace")[-1500:]
                            for f in sorted(tmp.glob(f"{Path(sc.sipp_xml).stem}*error*"))
                        )
                        failures.append(f"{sc.name}: sipp exit {rc}\n{logs}")
                # let Local/SIP channels of this scenario go away before the next one
                _wait_no_channels(args.root)
                if not ok:
                    failures.append(f"{sc.name}: no AGI session within 90 s")
                    print("NO SESSION", flush=True)
                    continue
                path = _write(rec, sc, version, out_dir)
                print(f"{len(rec.exchanges)} exchanges -> {path}", flush=True)
                if rec.error:
                    failures.append(f"{sc.name}: {rec.error}")
        if recorder.unexpected:
            failures.extend(recorder.unexpected)
    finally:
        server.shutdown()
        server.server_close()
        if not args.keep_running:
            ast.stop()
            left = local.mounts_under(args.root)
            print(f"asterisk stopped; mounts left under root: {left or 'none'}", flush=True)
    for f in failures:
        print("FAILED:", f, file=sys.stderr)
    return 1 if failures else 0


def _wait_no_channels(root: Path, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = local.rx(root, "core show channels count")
        m = re.search(r"(\d+) active channel", out)
        if m and m.group(1) == "0":
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"channels still up after {timeout}s:\n{local.rx(root, 'core show channels')}"
    )


if __name__ == "__main__":
    sys.exit(main())
