"""Process AGI: run the menu engine for one call through pyst2's ``AGI`` class.

For Asterisk deployments that start ``agi_scripts/hotline.agi`` as a process per call, and as
the dialplan's second line of defence when no FastAGI server answers. pyst2 signals a gone
caller in several ways, and all of them end the call cleanly here (a call an earlier attempt
served is never queued again: the engine reads the channel's state first, as on a server):

- ``ValueError`` when Asterisk sends a ``HANGUP`` line or closes stdin (EOF): pyst2 parses
  the reply code with ``int('')``; an end of stdin (or a broken pipe) without a SIGHUP is the
  box going away (killed, crashed): the record says ``pbx-lost`` (:mod:`ivr.agi.pyst2_channel`);
- ``AGISIGHUPHangup`` after Asterisk's SIGHUP, ``AGIResultHangup``, ``AGISIGPIPEHangup``;
- ``AGIUnknownError`` for a ``511`` reply (command on a dead channel);
- ``AGIAppError`` for ``result=-1`` (``WAIT FOR DIGIT``, ``STREAM FILE``, ``RECORD FILE``
  ... when the caller hangs up during the command): the channel is asked whether the caller
  is still there (``CHANNEL STATUS``), and a gone caller ends the call as a hangup, so that a
  caller who hangs up while waiting is recorded as ``abandoned`` and leaves the queue at once.

It is the same hotline as a server: the survey after an answered call (the score goes on the
call record as a ``survey`` event, which sets the call's ``survey_score`` when the record is
imported), and the reaper (:class:`ScriptHub`) ends wrap-ups while no server runs one.

pyst2 installs a SIGHUP handler, so this runs in the main thread only.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import socket
import sys

from asterisk import agi as pyst2

from ivr.agi.channel import call_info_from_env
from ivr.agi.pyst2_channel import Pyst2Channel, WatchedInput
from ivr.compose.script import run_process_call
from ivr.runtime import ConfigHolder
from ivr.settings import Settings

log = logging.getLogger(__name__)


def main() -> int:
    """Run one call. Exits 0 when the call ended the way calls end (including hangups)."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="hotline.agi %(levelname)s %(message)s"
    )
    stdin = WatchedInput(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))
    debug = sys.stderr if os.environ.get("HOTLINE_AGI_DEBUG") else open(os.devnull, "w")  # noqa: SIM115
    try:
        agi = pyst2.AGI(stdin=stdin, stdout=sys.stdout, stderr=debug)
    except ValueError:
        return 0  # EOF before the header ended: nobody to serve
    if "agi_uniqueid" not in agi.env:
        log.warning("[HL-AGI-011] the AGI header ended early (no agi_uniqueid); nothing to serve")
        return 0
    settings = Settings.from_env()
    holder = ConfigHolder(settings.config_dir, settings.recordings_dir)
    info = call_info_from_env(agi.env)

    channel = Pyst2Channel(
        agi,
        settings.for_asterisk,
        settings.recording_for_asterisk,
        lines=stdin,
        box=socket.gethostname(),
    )
    asyncio.run(run_process_call(settings, holder, channel, info))
    return 0
