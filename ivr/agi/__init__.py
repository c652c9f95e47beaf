"""FastAGI for the hotline: the transport between Asterisk and the menu engine.

:mod:`.protocol` (the wire format: header, command lines, replies), :mod:`.session` (one
connection: a command and its reply under a deadline), :mod:`.server` (the asyncio server, one
task per call), :mod:`.channel` (the engine's ``Channel`` over a session); for tests and
``hotline call``, a fake Asterisk 22: :mod:`.res_agi` (what Asterisk's res_agi does, as data),
:mod:`.fake_asterisk` (one call's Asterisk side, no I/O, replying to each command as
:mod:`.fake_replies` says), :mod:`.simulator` (over a socket).

Imports: :mod:`ivr.errors` (the AGI errors) and, from the engine, only the value types of its
``Channel`` interface (:mod:`ivr.engine.channel`: ``CallInfo``, ``DialResult``,
``RecordResult``). It must not import the rest of :mod:`ivr.engine`, nor :mod:`queueing`,
:mod:`ivr.config`, :mod:`ivr.tickets`, :mod:`ivr.hotline`, :mod:`ivr.web` or :mod:`ivr.cli`:
what runs on a call is handed to the server as a handler.
"""

from ivr.agi.channel import AGIChannel, call_info_from_env
from ivr.agi.fake_asterisk import FakeAsterisk, SimResult
from ivr.agi.protocol import AGIHeader, AGIReply, parse_header, parse_reply, quote
from ivr.agi.server import FastAGIServer
from ivr.agi.session import AGIRefused, AGISession
from ivr.agi.simulator import simulate_call

__all__ = [
    "AGIChannel",
    "AGIHeader",
    "AGIRefused",
    "AGIReply",
    "AGISession",
    "FakeAsterisk",
    "FastAGIServer",
    "SimResult",
    "call_info_from_env",
    "parse_header",
    "parse_reply",
    "quote",
    "simulate_call",
]
