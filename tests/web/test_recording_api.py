"""``GET /api/calls/{uniqueid}/recording`` on a real Redis and SQLite: who may play (the
roles of config/privacy.yaml, an operator's own calls, departments never), the bytes with
HTTP Range as an ``<audio>`` element asks for them, one audit row per user and call in the
window, and every refusal with its status and id (no call, no recording, file gone, a path
leading out of the recordings by ``..``, an absolute path or a symlink)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from ivr.accounts import Accounts
from ivr.config.privacy_models import PlaybackRules
from ivr.db.database import Database
from ivr.db.tables import AuditRow, CallRow
from ivr.web.recording_routes import recordings_part
from queueing.queue import RedisQueue
from tests.queueing.conftest import agent, clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import Desk, logged_in, open_client

AUDIO = bytes(range(256)) * 40  # 10240 bytes of "audio"
URL = "/api/calls/{}/recording"


class Rules:
    """The playback rules as the config is now: a test changes them as a reload would."""

    def __init__(self) -> None:
        self.now = PlaybackRules()

    def __call__(self) -> PlaybackRules:
        return self.now


@pytest.fixture
def rules() -> Rules:
    return Rules()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    (root / "calls" / "20261205").mkdir(parents=True)
    (root / "calls" / "20261205" / "c1.wav").write_bytes(AUDIO)
    (tmp_path / "secret.wav").write_bytes(b"not yours")
    (root / "calls" / "20261205" / "link.wav").symlink_to(tmp_path / "secret.wav")
    return root


def add_call(database: Database, uid: str, recording: str | None, agent_id: str = "1001") -> None:
    now = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)
    with database.session() as s:
        s.add(
            CallRow(
                uniqueid=uid, caller="13900000001", dialled="12345", started_at=now,
                day=now.date(), outcome="answered", agent=agent_id, recording=recording,
            )
        )  # fmt: skip


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    root: Path,
    rules: Rules,
) -> AsyncIterator[dict[str, Desk]]:
    add_call(database, "c1", "calls/20261205/c1.wav")
    add_call(database, "bare", "calls/20261205/c1")  # without its suffix: .wav is tried
    add_call(database, "none", None)
    add_call(database, "gone", "calls/20261205/gone.wav")
    add_call(database, "dots", "../secret.wav")
    add_call(database, "abs", str(root.parent / "secret.wav"))
    add_call(database, "link", "calls/20261205/link.wav")
    add_call(database, "theirs", "calls/20261205/c1.wav", agent_id="1002")
    http: TestClient = await open_client(  # type: ignore[type-arg]
        rq, accounts, database, parts=[recordings_part(root, rules)]
    )
    out = await logged_in(http)
    yield out
    for d in out.values():
        await d.close()
    await http.close()


async def error_of(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status, (await r.json())["error_id"]


def plays(database: Database) -> list[tuple[str, str, str]]:
    with database.session() as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.action == "recording.play"))
        return [(r.actor, r.role, r.target) for r in rows]


async def test_a_supervisor_plays_with_range_and_is_audited_once(
    desks: dict[str, Desk], database: Database
) -> None:
    sup = desks["super"]
    r = await sup.get(URL.format("c1"), headers={"Range": "bytes=0-"})
    assert r.status == 206 and await r.read() == AUDIO
    assert r.headers["Content-Range"] == f"bytes 0-{len(AUDIO) - 1}/{len(AUDIO)}"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert "no-store" in r.headers["Cache-Control"]
    # the <audio> element seeks: a later range, then plays from the start again
    r = await sup.get(URL.format("c1"), headers={"Range": "bytes=5000-5099"})
    assert r.status == 206 and await r.read() == AUDIO[5000:5100]
    r = await sup.get(URL.format("c1"))
    assert r.status == 200 and await r.read() == AUDIO
    assert plays(database) == [("super", "supervisor", "c1")]  # one row in the window
    with database.session() as s:
        row = s.scalars(select(AuditRow).where(AuditRow.action == "recording.play")).one()
    assert json.loads(row.after_json or "{}") == {
        "file": "calls/20261205/c1.wav",
        "range": "bytes=0-",
    }
    # another user, or another call, is a row of its own
    assert (await desks["admin"].get(URL.format("c1"))).status == 200
    assert (await sup.get(URL.format("bare"))).status == 200
    assert plays(database) == [
        ("super", "supervisor", "c1"),
        ("admin", "admin", "c1"),
        ("super", "supervisor", "bare"),
    ]


async def test_a_range_alone_is_audited_too(
    desks: dict[str, Desk], database: Database, rules: Rules
) -> None:
    """Skipping the first bytes does not skip the audit."""
    r = await desks["super"].get(URL.format("c1"), headers={"Range": "bytes=1-"})
    assert r.status == 206 and await r.read() == AUDIO[1:]
    assert plays(database) == [("super", "supervisor", "c1")]
    rules.now = PlaybackRules(audit_window_minutes=0)  # every request audited
    await desks["super"].get(URL.format("c1"), headers={"Range": "bytes=2-"})
    assert len(plays(database)) == 2


async def test_who_may_play(desks: dict[str, Desk], database: Database, rules: Rules) -> None:
    # departments never (the guard); operators not by default (the config)
    assert await error_of(await desks["dept"].get(URL.format("c1"))) == (403, "HL-WEB-004")
    assert await error_of(await desks["op1001"].get(URL.format("c1"))) == (403, "HL-PRV-005")
    assert await error_of(await desks["anonymous"].get(URL.format("c1"))) == (401, "HL-WEB-003")
    # an operator's own calls, when the config says so: not a colleague's
    rules.now = PlaybackRules(operator_own_calls=True)
    assert (await desks["op1001"].get(URL.format("c1"))).status == 200
    assert await error_of(await desks["op1001"].get(URL.format("theirs"))) == (403, "HL-PRV-005")
    assert (await desks["op1002"].get(URL.format("theirs"))).status == 200
    # admins only
    rules.now = PlaybackRules(roles=["admin"])
    assert await error_of(await desks["super"].get(URL.format("c1"))) == (403, "HL-PRV-005")
    assert (await desks["admin"].get(URL.format("c1"))).status == 200
    assert [who for who, _, _ in plays(database)] == ["op1001", "op1002", "admin"]


@pytest.mark.parametrize(
    ("uid", "status", "error_id"),
    [
        ("nope", 404, "HL-PRV-001"),
        ("none", 404, "HL-PRV-002"),
        ("gone", 404, "HL-PRV-003"),
        ("dots", 404, "HL-PRV-004"),
        ("abs", 404, "HL-PRV-004"),
        ("link", 404, "HL-PRV-004"),
        ("..%2F..%2Fetc%2Fpasswd", 404, "HL-PRV-001"),
        ("c1%00", 404, "HL-PRV-001"),
        ("x" * 65, 404, "HL-PRV-001"),
    ],
)
async def test_refusals(
    desks: dict[str, Desk], database: Database, uid: str, status: int, error_id: str
) -> None:
    r = await desks["admin"].get(URL.format(uid))
    assert await error_of(r) == (status, error_id)
    assert "not yours" not in await r.text()
    assert plays(database) == []  # nothing played, nothing audited


async def test_departments_may_never_be_configured() -> None:
    with pytest.raises(ValueError, match="departments never play"):
        PlaybackRules(roles=["supervisor", "department"])
    assert not PlaybackRules(roles=["supervisor"]).may_play("department", None, None)


async def test_the_route_is_documented(desks: dict[str, Desk]) -> None:
    doc = await (await desks["admin"].get("/api/openapi.json")).json()
    op = doc["paths"]["/api/calls/{uniqueid}/recording"]["get"]
    assert "audio/wav" in op["responses"]["200"]["content"]
    assert op["x-roles"] == ["operator", "supervisor", "admin"]
