"""Quality checks through the app (``/api/quality``) on a real SQLite database: a supervisor
lists the recorded calls, reads the form, scores a call and sees it saved and audited; scores
off the form, unknown calls and bad filters are refused with their ids; without a form the
routes say quality checks are off."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.accounts import Accounts
from ivr.db.database import Database
from ivr.db.tables import AuditRow, CallRow
from ivr.quality import QualityForms
from ivr.web.quality_routes import quality_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.web.conftest import Desk, desks_on

FULL = {"attitude": 28, "accuracy": 30, "wording": 18, "record": 20}


def add_call(db: Database, uid: str, agent: str = "1001", recording: str | None = "c.wav") -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as s:
        s.add(
            CallRow(
                uniqueid=uid,
                caller="13900000000",
                dialled="12345",
                started_at=now,
                day=now.date(),
                outcome="answered",
                agent=agent,
                recording=recording,
                duration=61.0,
            )
        )


@pytest.fixture
async def desks(
    rq: RedisQueue, accounts: Accounts, database: Database
) -> AsyncIterator[dict[str, Desk]]:
    add_call(database, "1764900000.1")
    add_call(database, "1764900000.2", agent="1002")
    add_call(database, "1764900000.3", recording=None)
    async with desks_on(
        rq, accounts, database, [quality_part(QualityForms(CONFIG_DIR).current)]
    ) as out:
        yield out


async def test_a_supervisor_scores_a_recorded_call(
    desks: dict[str, Desk], database: Database
) -> None:
    boss = desks["super"]
    form = await (await boss.get("/api/quality/form")).json()
    assert [i["code"] for i in form["items"]] == ["attitude", "accuracy", "wording", "record"]
    assert (form["max_total"], form["pass_mark"]) == (100, 80)
    calls = (await (await boss.get("/api/quality/calls")).json())["calls"]
    assert [c["uniqueid"] for c in calls] == ["1764900000.2", "1764900000.1"]
    assert calls[1]["recording_url"] == "/api/calls/1764900000.1/recording"
    assert calls[1]["checks"] == []
    r = await boss.post(
        "/api/quality/checks", {"uniqueid": "1764900000.1", "scores": FULL, "comment": "好"}
    )
    assert r.status == 200, await r.text()
    saved = await r.json()
    assert (saved["total"], saved["passed"], saved["reviewer"], saved["agent"]) == (
        96,
        True,
        "super",
        "1001",
    )
    checks = await (await boss.get("/api/quality/checks?uniqueid=1764900000.1")).json()
    assert [(c["reviewer"], c["total"], c["comment"]) for c in checks["checks"]] == [
        ("super", 96, "好")
    ]
    calls = (await (await boss.get("/api/quality/calls")).json())["calls"]
    assert [c["uniqueid"] for c in calls] == ["1764900000.2", "1764900000.1"]  # unchecked first
    unchecked = await (await boss.get("/api/quality/calls?unchecked=1")).json()
    assert [c["uniqueid"] for c in unchecked["calls"]] == ["1764900000.2"]
    mine = await (await boss.get("/api/quality/calls?agent=1001")).json()
    assert [c["uniqueid"] for c in mine["calls"]] == ["1764900000.1"]
    figures = await (await boss.get("/api/quality/operators")).json()
    [one] = figures["operators"]
    assert (one["agent"], one["checks"], one["mean_total"], one["passed"]) == ("1001", 1, 96, 1)
    first = one["items"][0]
    assert (first["name"], first["mean"]) == ("服务态度", 28)
    with database.session() as s:
        [audit] = s.scalars(select(AuditRow).where(AuditRow.action == "quality.score")).all()
    assert (audit.actor, audit.role, audit.target) == ("super", "supervisor", "1764900000.1")
    assert json.loads(audit.after_json or "")["scores"] == FULL
    # an admin may too; an operator or a department may not
    r = await desks["admin"].post(
        "/api/quality/checks", {"uniqueid": "1764900000.2", "scores": FULL}
    )
    assert r.status == 200
    for who in ("op1001", "dept"):
        r = await desks[who].get("/api/quality/calls")
        assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-004")


async def test_refusals_carry_their_ids(desks: dict[str, Desk]) -> None:
    boss = desks["super"]

    async def refused(path: str, body: object = None) -> tuple[int, str]:
        r = await (boss.get(path) if body is None else boss.post(path, body))
        return r.status, (await r.json())["error_id"]

    checks = "/api/quality/checks"
    one = {"uniqueid": "1764900000.1"}
    assert await refused(checks, {**one, "scores": {**FULL, "record": 21}}) == (400, "HL-QUA-014")
    assert await refused(checks, {**one, "scores": {"attitude": 1}}) == (400, "HL-QUA-014")
    assert await refused(checks, {"uniqueid": "nope", "scores": FULL}) == (404, "HL-QUA-013")
    unrecorded = {"uniqueid": "1764900000.3", "scores": FULL}
    assert await refused(checks, unrecorded) == (404, "HL-QUA-013")
    assert await refused(checks, {**one, "scores": FULL, "extra": 1}) == (400, "HL-WEB-001")
    assert await refused(checks, {**one, "scores": FULL, "comment": "x" * 1001}) == (
        400,
        "HL-WEB-001",
    )
    assert await refused("/api/quality/calls?from=yesterday") == (400, "HL-QUA-015")
    assert await refused("/api/quality/calls?limit=0") == (400, "HL-QUA-015")
    assert await refused("/api/quality/calls?limit=x") == (400, "HL-QUA-015")
    assert await refused("/api/quality/checks") == (400, "HL-QUA-015")
    assert await refused("/api/quality/operators?from=2026-12-05&to=2026-12-01") == (
        400,
        "HL-QUA-015",
    )
    r = await boss.post(checks, {**one, "scores": FULL}, csrf=False)
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-005")


async def test_without_a_form_quality_checks_are_off(
    rq: RedisQueue, accounts: Accounts, database: Database, tmp_path: Path
) -> None:
    add_call(database, "1764900000.1")
    async with desks_on(
        rq, accounts, database, [quality_part(QualityForms(tmp_path).current)]
    ) as d:
        r = await d["super"].get("/api/quality/form")
        assert (r.status, (await r.json())["error_id"]) == (409, "HL-QUA-011")
        r = await d["super"].post(
            "/api/quality/checks", {"uniqueid": "1764900000.1", "scores": FULL}
        )
        assert (r.status, (await r.json())["error_id"]) == (409, "HL-QUA-011")
        (tmp_path / "quality.yaml").write_text("items: []\n", "utf-8")
        r = await d["super"].get("/api/quality/form")
        assert (r.status, (await r.json())["error_id"]) == (409, "HL-QUA-012")
        r = await d["super"].get("/api/quality/calls")  # the list needs no form
        assert r.status == 200
