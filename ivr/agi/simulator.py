"""A fake Asterisk 22 over a socket: :func:`simulate_call` connects to a FastAGI server and plays
one call to its end, the way res_agi.c would, with :class:`~ivr.agi.fake_asterisk.FakeAsterisk`
answering each command line (what the caller presses, when the caller hangs up: see there).

Used by ``hotline call`` and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence

from ivr.agi.fake_asterisk import FakeAsterisk, SimResult

__all__ = ["simulate_call"]


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
