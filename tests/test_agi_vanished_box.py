"""An Asterisk box whose machine or network vanishes: no FIN, no RST, nothing at all.

The box is a real TCP peer in a network namespace of its own, joined to ours by a veth pair.
It connects to a real :class:`FastAGIServer`, sends the header, takes an ``EXEC Dial`` (a
command whose reply may take an hour) and then its link goes down: from our side the box
just falls silent. With the server's TCP keepalive and user timeout
(:mod:`ivr.agi.peer_watch`) the session ends as :class:`PBXLost` naming the box within about
``peer_timeout``; without them it would wait out the command's deadline. A living box that
is merely quiet through the same wait (its kernel answers the probes) is not cut.

Needs root and ``ip`` (iproute2), as the end-to-end tests need root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ivr.agi.server import FastAGIServer
from ivr.agi.session import AGISession
from ivr.errors import PBXLost

IP = shutil.which("ip") or "/usr/sbin/ip"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(IP), reason="needs root and iproute2 (ip netns)"
)

#: the box: connect, send the header, print each command line; never reply
BOX = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"agi_network: yes\\nagi_request: agi://x/hotline\\nagi_channel: PJSIP/carrier-1\\n"
          b"agi_uniqueid: 1700000000.1\\nagi_callerid: 13800138000\\n\\n")
f = s.makefile("rb")
for line in f:
    print(line.decode().strip(), flush=True)
"""


@dataclass
class Box:
    """A network namespace with one veth link to ours."""

    ns: str
    ours: str  # our end's interface
    theirs: str
    host_ip: str
    box_ip: str

    def ip(self, *args: str, ns: bool = False) -> None:
        cmd = [IP, "-n", self.ns, *args] if ns else [IP, *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=10)

    def start(self, port: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [IP, "netns", "exec", self.ns, sys.executable, "-c", BOX, self.host_ip, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def vanish(self) -> None:
        """The box's link goes down at its end: nothing more comes from it, no FIN, no RST."""
        self.ip("link", "set", self.theirs, "down", ns=True)


@pytest.fixture
def box() -> Iterator[Box]:
    tag = f"{os.getpid() % 10000}"
    b = Box(f"hlvb{tag}", f"hvh{tag}", f"hvb{tag}", "10.231.7.1", "10.231.7.2")
    subprocess.run([IP, "netns", "del", b.ns], capture_output=True, check=False)
    b.ip("netns", "add", b.ns)
    try:
        b.ip("link", "add", b.ours, "type", "veth", "peer", "name", b.theirs)
        b.ip("link", "set", b.theirs, "netns", b.ns)
        b.ip("addr", "add", f"{b.host_ip}/30", "dev", b.ours)
        b.ip("link", "set", b.ours, "up")
        b.ip("addr", "add", f"{b.box_ip}/30", "dev", b.theirs, ns=True)
        b.ip("link", "set", b.theirs, "up", ns=True)
        b.ip("link", "set", "lo", "up", ns=True)
        yield b
    finally:
        subprocess.run([IP, "link", "del", b.ours], capture_output=True, check=False)
        subprocess.run([IP, "netns", "del", b.ns], capture_output=True, check=False)


async def _dial_on(
    box: Box, peer_timeout: float | None, hold: float, wait: float = 30.0
) -> tuple[Any, float]:
    """Serve one call from ``box``: send ``EXEC Dial`` and wait for its reply. After the box
    printed the command, ``hold`` seconds of the box being quiet, then it vanishes. Returns
    what the command raised (or its reply; None: nothing within ``wait`` seconds) and the
    seconds from the vanishing to that."""
    out: asyncio.Queue[Any] = asyncio.Queue()

    async def handler(session: AGISession) -> None:
        try:
            await out.put(await session.command("EXEC", "Dial", "PJSIP/1001,60"))
        except Exception as exc:
            await out.put(exc)

    server = FastAGIServer(handler, box.host_ip, 0, exec_timeout=120.0, peer_timeout=peer_timeout)
    await server.start()
    proc = box.start(server.port)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
        assert line.startswith('EXEC "Dial"'), (line, proc.stderr.read() if proc.stderr else "")
        await asyncio.sleep(hold)  # the quiet of a long Dial: the box's kernel answers probes
        assert out.empty(), out.get_nowait()
        box.vanish()
        vanished = time.monotonic()
        try:
            got = await asyncio.wait_for(out.get(), wait)
        except TimeoutError:
            got = None
        return got, time.monotonic() - vanished
    finally:
        proc.kill()
        proc.wait(10)
        await server.stop(grace=0.0)


async def test_a_vanished_box_is_lost_within_the_peer_timeout(box: Box) -> None:
    got, took = await _dial_on(box, peer_timeout=3.0, hold=5.0)
    assert isinstance(got, PBXLost), got
    assert got.box == box.box_ip and got.code == "HL-AGI-005", got
    assert took < 15, f"the vanished box was noticed {took:.1f}s after it went"
    print(f"vanished box noticed after {took:.1f}s (peer_timeout 3 s)")


async def test_without_the_watch_only_the_commands_deadline_would_notice(box: Box) -> None:
    """The peer (our default's contrast): with ``peer_timeout=None`` nothing ends the call
    within 12 s of the box vanishing (four times the other test's watch); the Dial's
    hour-long deadline is all there is."""
    got, took = await _dial_on(box, peer_timeout=None, hold=0.5, wait=12.0)
    assert got is None and took >= 12, (got, took)
