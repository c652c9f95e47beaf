"""Call ids two Asterisk boxes could share (HL-AGI-012): the FastAGI server says so, once per
box, over real loopback sockets (boxes at 127.0.0.1 and 127.0.0.2), and serves every call."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.agi.box_ids import BoxIds
from ivr.agi.session import AGISession
from tests.test_agi_server import MakeServer, Peer, eventually, make_server

__all__ = ["make_server"]  # the fixture, imported for pytest


def header(uniqueid: str) -> str:
    return (
        "agi_network: yes\nagi_request: agi://127.0.0.1/hotline\n"
        f"agi_channel: PJSIP/carrier-1\nagi_uniqueid: {uniqueid}\n\n"
    )


async def box(port: int, address: str, uniqueid: str) -> Peer:
    """A session from the Asterisk box at ``address``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    peer = Peer(reader, writer)
    peer.send(header(uniqueid))
    return peer


async def test_one_id_from_two_boxes_at_once_is_told(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    served: list[str] = []
    release = asyncio.Event()

    async def handler(session: AGISession) -> None:
        served.append(session.env["agi_uniqueid"])
        await release.wait()

    server = await make_server(handler)
    with caplog.at_level(logging.ERROR, logger="ivr.agi.server"):
        one = await box(server.port, "127.0.0.1", "box1-1765000000.12")
        await eventually(lambda: len(served) == 1)
        two = await box(server.port, "127.0.0.2", "box1-1765000000.12")  # a copied name
        await eventually(lambda: len(served) == 2)  # still served: the caller is not refused
    told = [r.getMessage() for r in caplog.records if "HL-AGI-012" in r.getMessage()]
    assert len(told) == 1, told
    assert "box1-1765000000.12" in told[0] and "127.0.0.2" in told[0]
    assert "systemname" in told[0]
    release.set()
    assert await one.closed_by_server() and await two.closed_by_server()
    await eventually(lambda: server.active_sessions == 0)
    # both ended: the id may come again (a later call of the same box is not a collision)
    caplog.clear()
    again = await box(server.port, "127.0.0.1", "box1-1765000000.12")
    await eventually(lambda: len(served) == 3)
    assert not [r for r in caplog.records if "HL-AGI-012" in r.getMessage()]
    assert await again.closed_by_server()


def test_ids_without_a_systemname_from_two_boxes_are_told_once_each() -> None:
    ids = BoxIds()
    assert ids.opened("1765000000.1", "10.0.0.21") is None  # one box alone: nothing to share
    ids.closed("1765000000.1", "10.0.0.21")
    assert ids.opened("1765000000.2", "10.0.0.21") is None
    told = ids.opened("1765000003.7", "10.0.0.22")
    assert told is not None and "10.0.0.21, 10.0.0.22" in told and "HL-AGI-012" in told
    assert ids.opened("1765000003.8", "10.0.0.22") is None  # once per box
    assert ids.opened("ast1-1765000003.9", "10.0.0.23") is None  # named: fine
    assert ids.opened("", "10.0.0.24") is None  # no id (a broken header): not ours to judge
