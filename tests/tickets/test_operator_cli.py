"""The operator/supervisor command line: ``hotline tickets <action>``, ``tickets accept``,
``tickets list``, ``hotline callbacks``. Run through :func:`ivr.cli.main` on both databases;
each test checks what the user sees (output, exit status) and what the database holds."""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from ivr.cli import main
from ivr.db.database import Database
from ivr.db.tables import CallbackTaskRow, TicketCallRow, TicketEventRow, TicketRow
from ivr.records.store import CallRecordStore
from ivr.tickets.display import width as _width
from ivr.tickets.lifecycle import TRANSITIONS
from ivr.tickets.service import TicketService
from tests.tickets.test_store import event, record


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def cli(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """``hotline ...`` against the test database (``HOTLINE_DATABASE_URL``)."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HOTLINE_OPERATOR", raising=False)
    capsys.readouterr()

    def run(*argv: str) -> Result:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def ticket(db: Database, number: str) -> TicketRow:
    with db.session() as s:
        row = s.scalar(select(TicketRow).where(TicketRow.number == number))
        assert row is not None
        return row


def events(db: Database, number: str) -> list[tuple[str, str, str | None, str, str]]:
    with db.session() as s:
        t = s.scalar(select(TicketRow).where(TicketRow.number == number))
        assert t is not None
        rows = s.scalars(
            select(TicketEventRow)
            .where(TicketEventRow.ticket_id == t.id)
            .order_by(TicketEventRow.id)
        )
        return [(e.action, e.actor, e.from_state, e.to_state, e.note) for e in rows]


def count(db: Database, model: type[object]) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def number_in(out: str) -> str:
    """The ticket number from ``ticket N accepted ...``."""
    return out.split()[1]


def accept(cli: Run, uniqueid: str, *extra: str) -> str:
    r = cli(
        "tickets",
        "accept",
        uniqueid,
        "--type",
        "complaint",
        "--category",
        "housing.property",
        "--content",
        "电梯坏了",
        "--caller",
        "13900000009",
        "--by",
        "op1",
        *extra,
    )
    assert r.code == 0, r.err
    return number_in(r.out)


async def test_accept_from_a_call_dispatches_to_the_catalogue_department(
    cli: Run, db: Database, tmp_path: Path
) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(record(1, caller="13900000001"))
    await store.close()
    r = cli(
        "tickets",
        "accept",
        "1758852000.1",
        "--type",
        "投诉",  # by name
        "--category",
        "住建/物业服务",  # by name
        "--content",
        "物业不开发票",
        "--by",
        "op7",
    )
    assert r.code == 0, r.err
    number = number_in(r.out)
    assert f"ticket {number} accepted (受理) by op7 from call 1758852000.1" in r.out
    assert "投诉, 住建/物业服务, caller 13900000001" in r.out  # caller from the call record
    assert (
        "dispatched (派单) to 呼和浩特市房产管理服务中心 (property, from the dispatch catalogue)"
        in r.out
    )
    assert "next: sign 签收, return 退单, extend-request 申请延期, remind 催办" in r.out
    t = ticket(db, number)
    assert (t.state, t.department, t.type, t.category) == (
        "dispatched",
        "property",
        "complaint",
        "housing.property",
    )
    assert (t.caller, t.call_uniqueid, t.accepted_by, t.content) == (
        "13900000001",
        "1758852000.1",
        "op7",
        "物业不开发票",
    )
    assert [e[:4] for e in events(db, number)] == [
        ("accept", "op7", None, "accepted"),
        ("dispatch", "op7", "accepted", "dispatched"),
    ]
    with db.session() as s:
        assert list(s.scalars(select(TicketCallRow.call_uniqueid))) == ["1758852000.1"]

    again = cli(*["tickets", "accept", "1758852000.1", "--type", "consult"],
                *["--category", "housing_fund", "--content", "x"])  # fmt: skip
    assert again.code == 0
    assert again.out.strip() == (
        f"call 1758852000.1 already has ticket {number} (派单): nothing changed"
    )
    assert count(db, TicketRow) == 1


def test_accept_answer_to_and_no_dispatch(cli: Run, db: Database) -> None:
    answered = cli(
        *["tickets", "accept", "u.1", "--type", "consult", "--category", "housing_fund"],
        *["--content", "公积金怎么提取", "--caller", "139", "--answer", "带身份证到窗口办理"],
    )
    assert answered.code == 0, answered.err
    assert "answered directly: 办结; a 回访 callback task was opened" in answered.out
    a = ticket(db, number_in(answered.out))
    assert (a.state, a.reply, a.department) == ("finished", "带身份证到窗口办理", None)
    to = accept(cli, "u.2", "--to", "呼和浩特市新城区人民政府")
    assert ticket(db, to).department == "xincheng"
    kept = accept(cli, "u.3", "--no-dispatch")
    assert ticket(db, kept).state == "accepted"
    with db.session() as s:
        tasks = s.execute(select(CallbackTaskRow.kind, CallbackTaskRow.ref)).all()
    assert tasks == [("visit", a.number)]


def test_accept_refusals_write_nothing(cli: Run, db: Database) -> None:
    base = ["tickets", "accept", "u.9", "--content", "x"]
    cases = [
        (["--type", "gossip", "--category", "dogs", "--caller", "1"], "unknown ticket type"),
        (["--type", "consult", "--category", "cats", "--caller", "1"], "unknown category 'cats'"),
        (["--type", "consult", "--category", "dogs"], "no call record 'u.9'"),
        (["--type", "consult", "--category", "rural_other.other", "--caller", "1"], "--to DEPT"),
        (["--type", "consult", "--category", "dogs", "--caller", "1", "--to", "nobody"], "nobody"),
    ]
    for extra, message in cases:
        r = cli(*base, *extra)
        assert r.code == 1, extra
        assert r.err.startswith("[HL-TKT-004] ") and message in r.err, r.err
        assert r.out == ""
    assert count(db, TicketRow) == 0
    assert cli(*base, "--type", "consult", "--category", "dogs", "--caller", "1").code == 0
    assert ticket(db, ticket_numbers(db)[0]).department == "police"


def ticket_numbers(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(TicketRow.number).order_by(TicketRow.id)))


def test_every_lifecycle_action_from_the_command_line(cli: Run, db: Database) -> None:
    number = accept(cli, "u.1", "--to", "housing")
    other = accept(cli, "u.2", "--no-dispatch")
    dup = accept(cli, "u.3", "--no-dispatch")
    direct = accept(cli, "u.4", "--no-dispatch")
    steps: list[tuple[str, list[str], str]] = [
        ("sign", [], "派单 -> 签收"),
        ("return", ["--reason", "不属于本单位", "--note", "请改派"], "-> 退单"),
        ("redispatch", ["--to", "xincheng"], "department 呼和浩特市新城区人民政府 (xincheng)"),
        ("sign", [], "-> 签收"),
        ("extend-request", ["--days", "2", "--reason", "需现场勘查"], "2 working day(s) asked"),
        ("extend-reject", ["--by", "chief"], "stays 签收"),
        ("extend_request", ["--days", "1", "--reason", "再申请"], "awaiting approval"),
        ("extend-approve", ["--by", "chief"], "stays 签收"),
        ("remind", ["--note", "请尽快"], "reminders so far: 1"),
        ("supervise", ["--by", "office"], "stays 签收"),
        ("handle", [], "签收 -> 办理"),
        ("finish", ["--reply", "已维修"], "a 回访 callback task was opened"),
        ("callback", ["--satisfaction", "2", "--unsolved"], "满意度 2 (不满意), 已解决：否"),
        ("redo", ["--note", "群众不满意"], "回访 -> 派单\n  new deadline"),
        ("sign", [], "-> 签收"),
        ("handle", [], "-> 办理"),
        ("finish", ["--reply", "已彻底维修"], "-> 办结"),
        ("callback", ["--satisfaction", "5", "--solved"], "满意度 5 (非常满意), 已解决：是"),
        ("archive", [], "回访 -> 归档"),
    ]
    for name, extra, expected in steps:
        r = cli("tickets", name, number, *extra)
        assert r.code == 0, (name, r.err)
        assert r.out.startswith(f"ticket {number}: {name.replace('_', '-')} ("), r.out
        assert expected in r.out, (name, r.out)
        if name == "redo":  # handled twice, still unresolved: supervised at once
            assert "supervise (督办) by the system: 同一诉求办理两次以上仍未解决，自动督办" in r.out
    assert "next: none (the ticket is closed)" in r.out
    r = cli("tickets", "merge", dup, "--into", other, "--note", "同一诉求")
    assert r.code == 0 and f"merged into {other}" in r.out
    r = cli("tickets", "answer", direct, "--reply", "已电话解答")
    assert r.code == 0 and "受理 -> 办结" in r.out

    t = ticket(db, number)
    assert (t.state, t.department, t.satisfaction, t.solved) == ("archived", "xincheng", 5, True)
    assert (t.returns, t.extensions, t.reminders, t.redos, t.supervised) == (1, 1, 1, 1, True)
    trail = events(db, number)
    assert [e[0] for e in trail if e[1] != "system"] == [
        "accept",
        "dispatch",
        *[name.replace("-", "_") for name, _, _ in steps],
    ]
    # dispatched, then redone: handled twice, still unresolved -> 督办 by the system (seed 002)
    assert [e[0] for e in trail if e[1] == "system"] == ["supervise"]
    by_action = {e[0]: e for e in trail if e[1] != "system"}
    assert by_action["return"][4] == "不属于本单位 — 请改派"
    assert by_action["extend_approve"][1] == "chief"
    assert by_action["sign"][1] == getpass.getuser()  # no --by, no $HOTLINE_OPERATOR
    assert ticket(db, dup).state == "merged"
    assert ticket(db, direct).state == "finished"
    used = {name.replace("-", "_") for name, _, _ in steps} | {"merge", "answer", "dispatch"}
    assert used == set(TRANSITIONS)  # every action of the state machine went through the CLI


def test_actor_defaults_to_hotline_operator(
    cli: Run, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = accept(cli, "u.1")
    monkeypatch.setenv("HOTLINE_OPERATOR", "zhang")
    assert cli("tickets", "sign", number).code == 0
    assert events(db, number)[-1][:2] == ("sign", "zhang")


def test_refusals_name_the_error_and_change_nothing(cli: Run, db: Database) -> None:
    number = accept(cli, "u.1")  # dispatched
    before = events(db, number)
    cases = [
        (["finish", number, "--reply", "x"], "HL-TKT-002", "allowed now: sign, return, "
         "extend-request, remind, supervise, merge"),
        (["sign", "20990101000001"], "HL-TKT-003", "no ticket numbered '20990101000001'"),
        (["return", number], "HL-TKT-004", "return: give the reason with --reason TEXT"),
        (["return", number, "--note", "n"], "HL-TKT-004", "--reason TEXT"),
        (["redispatch", number], "HL-TKT-004", "--to DEPT"),
        (["extend-request", number, "--reason", "r"], "HL-TKT-004", "--days N"),
        (["extend-request", number, "--days", "2"], "HL-TKT-004", "--reason TEXT"),
        (["extend-approve", number], "HL-TKT-002", "no extension request to approve"),
        (["merge", number], "HL-TKT-004", "--into NUMBER"),
        (["merge", number, "--into", number], "HL-TKT-004", "cannot be merged into itself"),
        (["archive", number], "HL-TKT-002", "archive (归档) is not allowed"),
        (["redo", number], "HL-TKT-002", "redo (重办) is not allowed"),
    ]  # fmt: skip
    for argv, code, message in cases:
        r = cli("tickets", *argv)
        assert r.code == 1, argv
        assert r.err.startswith(f"[{code}] ") and message in r.err, (argv, r.err)
        assert r.out == ""
    assert events(db, number) == before
    cli("tickets", "sign", number)
    cli("tickets", "handle", number)
    cli("tickets", "finish", number, "--reply", "ok")
    r = cli("tickets", "callback", number, "--satisfaction", "9")
    assert r.code == 1 and r.err.startswith("[HL-TKT-004] callback: satisfaction is 1..5")
    r = cli("tickets", "redo", number)
    assert r.code == 1 and "needs a callback where the citizen was not satisfied" in r.err
    assert ticket(db, number).state == "finished"


def test_list_filters_and_table(
    cli: Run, db: Database, service: TicketService, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("tickets", "list").out.strip() == "no tickets (state open)"
    # the service's clock is in 2025: this ticket is long overdue
    late = service.accept(
        caller="139", type="help", category="dogs", actor="op", content="狗咬人"
    ).number
    service.act(late, "dispatch", actor="op")
    soon = accept(cli, "u.1")  # property
    with db.session() as s:  # due within due_soon_hours (4) from now
        s.execute(
            update(TicketRow)
            .where(TicketRow.number == soon)
            .values(deadline=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        )
    fresh = accept(cli, "u.2", "--to", "xincheng")
    done = accept(cli, "u.3", "--answer", "已解答")
    assert cli("tickets", "supervise", fresh).code == 0

    r = cli("tickets", "list")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].split() == [
        "number",
        "state",
        "type",
        "category",
        "department",
        "accepted",
        "deadline",
        "flags",
    ]
    assert set(lines[1]) == {"-", " "}
    rows = [line.split() for line in lines[2:-1]]
    assert [row[0] for row in rows] == [late, soon, fresh]  # nearest deadline first
    assert rows[0][1:5] == ["派单", "求助", "犬类", "呼和浩特市公安局"]
    assert rows[0][-1] == "超期" and rows[1][-1] == "临期" and rows[2][-1] == "督办"
    assert lines[-1] == (
        "3 ticket(s) (state open), nearest deadline first, times in 北京时间 (Asia/Shanghai)"
    )
    # the columns line up on screen although the categories differ in (wide) characters
    assert [_width(line[: line.index("呼和浩特市")]) for line in lines[2:4]] == [
        lines[0].index("department")
    ] * 2

    def numbers(*argv: str) -> list[str]:
        r = cli("tickets", "list", *argv)
        assert r.code == 0, r.err
        return [line.split()[0] for line in r.out.splitlines()[2:-1]]

    assert numbers("--overdue") == [late]
    assert numbers("--due-soon") == [soon]
    assert numbers("--supervised") == [fresh]
    assert numbers("--department", "呼和浩特市房产管理服务中心") == [soon]
    assert numbers("--department", "xincheng") == [fresh]
    assert numbers("--state", "finished") == [done]
    assert numbers("--state", "办结,dispatched") == [late, soon, fresh, done]
    assert numbers("--state", "all", "--limit", "2") == [late, soon]
    r = cli("tickets", "list", "--state", "all", "--limit", "2")
    assert r.out.splitlines()[-1].startswith("2 of 4 ticket(s) (state all)")
    assert "raise --limit" in r.out
    r = cli("tickets", "list", "--overdue", "--department", "xincheng")
    assert r.out.strip() == "no tickets (state open, overdue, department 呼和浩特市新城区人民政府)"
    for argv, message in [
        (["--state", "lost"], "unknown state 'lost'; known: open, all, accepted (受理)"),
        (["--department", "mars"], "unknown department 'mars'"),
        (["--limit", "0"], "--limit: give 1 or more"),
    ]:
        r = cli("tickets", "list", *argv)
        assert r.code == 1 and r.err.startswith("[HL-TKT-004] ") and message in r.err


async def test_callbacks_list_done_and_attempt(cli: Run, db: Database, tmp_path: Path) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(record(1, outcome="abandoned", caller="13900000001"))
    await store.queue_event(event(1, "ABANDON", "2", "3", "40"))
    await store.close()
    number = accept(cli, "u.1", "--answer", "已解答")
    r = cli("callbacks", "list")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].split() == [
        "id",
        "kind",
        "ticket/call",
        "caller",
        "created",
        "state",
        "tries",
        "note",
        "result",
    ]
    rows = {line.split()[3]: line.split() for line in lines[2:-1]}
    assert rows["1758852000.1"][1:3] == ["missed", "漏接回拨"]
    assert rows[number][1:3] == ["survey", "回访"]
    assert lines[-1] == "2 callback task(s) (all), oldest first, times in 北京时间 (Asia/Shanghai)"
    missed_id = int(rows["1758852000.1"][0])
    visit_id = int(rows[number][0])
    r = cli("callbacks", "list", "--kind", "missed", "--open")
    assert [line.split()[0] for line in r.out.splitlines()[2:-1]] == [str(missed_id)]

    r = cli("callbacks", "done", str(missed_id), "--result", "x", "--satisfaction", "5")
    assert r.code == 1 and r.err.startswith("[HL-TKT-004] callback task")
    assert "missed-call callback" in r.err
    r = cli("callbacks", "attempt", str(missed_id), "--result", "无人接听")
    assert r.code == 0 and "attempt 1 recorded (无人接听); the task stays open" in r.out
    r = cli("callbacks", "done", str(missed_id))
    assert r.code == 1 and "give what came of the call with --result TEXT" in r.err
    r = cli("callbacks", "done", str(missed_id), "--result", "已回拨，市民已无诉求")
    assert r.code == 0
    assert r.out.strip() == (
        f"callback task {missed_id} (漏接回拨 of call 1758852000.1, caller 13900000001) done: "
        "已回拨，市民已无诉求"
    )
    r = cli("callbacks", "done", str(missed_id), "--result", "again")
    assert r.code == 1 and r.err.startswith(f"[HL-TKT-002] callback task {missed_id} is done")

    r = cli("callbacks", "done", str(visit_id), "--result", "市民满意")
    assert r.code == 1 and "give the citizen's satisfaction 1..5" in r.err
    assert f"hotline callbacks attempt {visit_id}" in r.err
    r = cli("callbacks", "done", str(visit_id), "--result", "问题已解决", "--satisfaction", "4",
            "--solved", "--by", "v1")  # fmt: skip
    assert r.code == 0, r.err
    assert f"done: 满意: 问题已解决\n  ticket {number} is now 回访" in r.out
    t = ticket(db, number)
    assert (t.state, t.satisfaction, t.solved) == ("visited", 4, True)
    assert events(db, number)[-1] == ("callback", "v1", "finished", "visited", "问题已解决")
    r = cli("callbacks", "done", "999", "--result", "x")
    assert r.code == 1 and r.err.startswith("[HL-TKT-003] no callback task 999")

    with db.session() as s:
        tasks = {t.id: (t.state, t.attempts, t.result) for t in s.scalars(select(CallbackTaskRow))}
    assert tasks == {
        missed_id: ("done", 2, "已回拨，市民已无诉求"),
        visit_id: ("done", 1, "满意: 问题已解决"),
    }
    r = cli("callbacks", "list", "--open")
    assert r.out.strip() == "no callback tasks (open only)"


def test_ticket_commands_need_a_migrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    assert main(["tickets", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("[HL-TKT-006] database sqlite:///") and "run `hotline db upgrade`" in err


def test_database_away_is_hl_tkt_001(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://nobody@127.0.0.1:1/hotline?connect_timeout=2"
    assert main(["tickets", "sign", "20250926000001", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("[HL-TKT-001] database ") and "nothing was changed" in err
