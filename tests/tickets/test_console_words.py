"""Issue 12 on the console: Beijing time in every printed time (on a host whose clock is UTC),
the lifecycle's rules (actions offered only when possible, nobody approves their own
extension), one vocabulary (satisfaction levels, Chinese states and flags, near names) and
``hotline calls list|show``."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from ivr.cli import main
from ivr.db.database import Database
from ivr.db.tables import TicketRow
from ivr.engine.record import CallEvent, CallRecord
from ivr.records.store import CallRecordStore
from ivr.tickets.lifecycle import SATISFACTION, allowed_actions
from ivr.tickets.service import TicketService
from tests.conftest import CONFIG_DIR

BEIJING = dt.timezone(dt.timedelta(hours=8))
# 18:30 UTC is 02:30 the next day in Beijing: a UTC clock would print another day
STARTED = dt.datetime(2025, 9, 26, 18, 30, 5, tzinfo=dt.UTC)


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def utc_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's clock and zone are UTC (TZ=UTC), as on a server."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def cli(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    utc_host: None,
) -> Run:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(tmp_path / "recordings"))
    monkeypatch.delenv("HOTLINE_OPERATOR", raising=False)
    capsys.readouterr()

    def run(*argv: str) -> Result:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def beijing(when: dt.datetime) -> str:
    return f"{when.astimezone(BEIJING):%Y-%m-%d %H:%M}"


def call_record(uniqueid: str = "1758911405.7", caller: str = "13900000007") -> CallRecord:
    rec = CallRecord(
        uniqueid=uniqueid,
        caller=caller,
        caller_name="",
        dialled="12345",
        channel="PJSIP/trunk-00000007",
        config_version="v1",
        started_at=STARTED,
    )
    rec.events = [
        CallEvent(STARTED, 0.0, "enter", "main"),
        CallEvent(STARTED + dt.timedelta(seconds=4), 4.0, "digit", "main", "1"),
        CallEvent(STARTED + dt.timedelta(seconds=60), 60.0, "end", None, "answered 1001"),
    ]
    rec.skill, rec.outcome, rec.outcome_detail = "general", "answered", "1001"
    rec.ended_at = STARTED + dt.timedelta(seconds=60)
    rec.recording = f"calls/20250927/{uniqueid}"
    return rec


def accept(cli: Run, uniqueid: str, *extra: str) -> str:
    r = cli("tickets", "accept", uniqueid, "--type", "complaint", "--category",
            "housing.property", "--content", "电梯坏了", "--caller", "13900000009",
            "--by", "op1", *extra)  # fmt: skip
    assert r.code == 0, r.err
    return r.out.split()[1]


def test_times_read_the_same_in_list_and_show_on_a_utc_host(cli: Run, db: Database) -> None:
    number = accept(cli, "u.1")
    with db.session() as s:
        t = s.scalar(select(TicketRow).where(TicketRow.number == number))
        assert t is not None
        accepted, deadline = beijing(t.accepted_at), beijing(t.deadline)
    listed = cli("tickets", "list")
    row = next(line for line in listed.out.splitlines() if line.startswith(number))
    assert f"{accepted}  {deadline}" in row
    assert listed.out.splitlines()[-1].endswith("times in 北京时间 (Asia/Shanghai)")
    shown = cli("tickets", "show", number)
    assert f"受理：{accepted}" in shown.out and f"期限：{deadline}" in shown.out
    assert f"  {accepted}  op1" in shown.out  # the audit trail's accept event
    assert "history (times in 北京时间 (Asia/Shanghai)):" in shown.out
    assert "超期：否" in shown.out and "督办：否" in shown.out and "状态：派单" in shown.out
    for out in (listed.out, shown.out, cli("tickets", "supervised").out):
        assert not re.search(r"\d\d:\d\dZ|T\d\d:\d\d", out), out
    cli("tickets", "supervise", number, "--by", "office")
    sup = cli("tickets", "supervised")
    assert number in sup.out and deadline in sup.out and "人工督办" in sup.out
    assert sup.out.splitlines()[-1] == (
        "1 supervised ticket(s) (督办), times in 北京时间 (Asia/Shanghai)"
    )


def test_an_extension_error_reads_beijing_time(cli: Run, db: Database) -> None:
    number = accept(cli, "u.1")
    late = dt.datetime(2025, 9, 30, 17, 0, tzinfo=dt.UTC)  # 2025-10-01 01:00 in Beijing
    with db.session() as s:
        s.execute(update(TicketRow).where(TicketRow.number == number).values(deadline=late))
    r = cli("tickets", "extend-request", number, "--days", "2", "--reason", "需勘查")
    assert r.code == 1 and r.err.startswith("[HL-TKT-002] ")
    assert "before the deadline (2025-10-01 01:00 北京时间)" in r.err


def test_nobody_approves_their_own_extension(cli: Run, db: Database) -> None:
    number = accept(cli, "u.1")
    r = cli("tickets", "show", number)
    assert "extend-request 申请延期" in r.out and "extend-approve" not in r.out
    r = cli("tickets", "extend-request", number, "--days", "2", "--reason", "需勘查", "--by", "op1")
    assert r.code == 0, r.err
    assert "extend-approve 批准延期, extend-reject 驳回延期" in r.out
    assert "extend-request" not in r.out.split("next:")[1]  # one request at a time
    for action in ("extend-approve", "extend-reject"):
        r = cli("tickets", action, number, "--by", "op1")
        assert r.code == 1 and r.out == ""
        assert r.err.startswith(f"[HL-TKT-008] ticket {number}: op1 asked for this extension")
    r = cli("tickets", "extend-approve", number, "--by", "chief")
    assert r.code == 0, r.err
    next_now = r.out.split("next:")[1]
    assert "extend-approve" not in next_now and "extend-reject" not in next_now
    r = cli("tickets", "extend-reject", number, "--by", "chief")
    assert r.code == 1 and r.err.startswith("[HL-TKT-002] ")
    assert "no extension request to reject" in r.err


def test_allowed_actions_follow_a_pending_extension() -> None:
    assert "extend_approve" in allowed_actions("signed")  # the state alone
    assert "extend_approve" not in allowed_actions("signed", extension_pending=False)
    pending = allowed_actions("signed", extension_pending=True)
    assert {"extend_approve", "extend_reject"} <= set(pending)
    assert "extend_request" not in pending
    assert allowed_actions("archived", extension_pending=False) == []


def test_near_names_are_matched_or_answered_with_the_closest(cli: Run, db: Database) -> None:
    r = cli("tickets", "accept", "u.9", "--type", "投诉", "--category", "供热", "--content", "不热",
            "--caller", "139", "--no-dispatch")  # fmt: skip
    assert r.code == 0, r.err
    assert "/供热" in r.out
    r = cli("tickets", "list", "--department", "供热")  # 呼和浩特市供热管理中心
    assert r.code == 0, r.err
    r = cli("tickets", "list", "--department", "政府")
    assert r.code == 1 and r.err.startswith("[HL-TKT-004] department '政府' matches several")
    assert r.err.count("(") <= 6  # the closest few, not the whole catalogue


def test_survey_prompt_console_and_reports_use_the_national_levels() -> None:
    menu = yaml.safe_load((CONFIG_DIR / "menu.yaml").read_text(encoding="utf-8"))
    question = menu["prompts"]["survey_question"]["text"]
    assert SATISFACTION == {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
    for level, name in SATISFACTION.items():
        assert f"，{name}请按{level}" in question or f"：{name}请按{level}" in question
    assert "一般" not in question


async def test_calls_list_and_show(
    cli: Run, db: Database, service: TicketService, tmp_path: Path
) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(call_record())
    await store.save(call_record("1758911999.1", caller="13700000001"))
    await store.close()
    reserved = service.reserve_number("1758911405.7", now=STARTED)

    r = cli("calls", "list", "--number", "139")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == [
        "uniqueid", "time", "caller", "line", "outcome", "agent", "wait", "ticket"
    ]  # fmt: skip
    row = lines[2].split()
    assert row[:4] == ["1758911405.7", "2025-09-27", "02:30", "13900000007"]
    assert row[-2:] == [reserved, "预留"]
    assert "已接听" in row
    assert lines[3].startswith("1 call(s) (number 139), newest first, times in 北京时间")
    assert len(cli("calls", "list").out.splitlines()) == 2 + 2 + 2
    assert cli("calls", "list", "--day", "2025-09-27").out.count("1758911") == 2
    assert cli("calls", "list", "--day", "2025-09-26").out.startswith("no calls (day 2025-09-26)")
    assert "1758911405.7" in cli("calls", "list", "--outcome", "已接听", "--line", "12345").out
    r = cli("calls", "list", "--outcome", "lost")
    assert r.code == 1 and r.err.startswith("[HL-TKT-004] unknown outcome 'lost'")

    r = cli("calls", "show", "1758911405.7")
    assert r.code == 0, r.err
    assert "started 2025-09-27 02:30  ended 2025-09-27 02:31" in r.out
    assert "  2025-09-27 02:30  +    4.0s  按键 digit  main  1" in r.out
    assert str(tmp_path / "recordings" / "calls/20250927/1758911405.7") in r.out
    assert f"no ticket yet (number {reserved} reserved for it)" in r.out
    number = accept(cli, "1758911405.7")
    assert number == reserved  # the accepted ticket takes the reserved number
    r = cli("calls", "show", "1758911405.7")
    assert f"ticket {number} 派单: hotline tickets show {number}" in r.out
    assert f"{number} 派单" in cli("calls", "list", "--number", "13900000007").out
    r = cli("calls", "show", "nope")
    assert r.code == 1 and r.err.startswith("[HL-TKT-003] no call record 'nope'")
