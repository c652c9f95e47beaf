"""FastAGI for the hotline: the wire protocol, an asyncio server, the engine's channel over it
and a fake Asterisk for tests and ``hotline call``."""

from ivr.agi.channel import AGIChannel, call_info_from_env
from ivr.agi.protocol import AGIHeader, AGIReply, parse_header, parse_reply, quote
from ivr.agi.server import AGIRefused, AGISession, FastAGIServer
from ivr.agi.simulator import FakeAsterisk, SimResult, simulate_call

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
