"""The calendar ahead (issue 12): a year without holiday data is announced 60 days before it
(check-config, the server's start), hours.yaml takes holiday ranges and 调休 working days, and
a calendar change moves the deadlines of open tickets, each move audited. Real databases
(SQLite and PostgreSQL), frozen clocks (2026-11-15; 2026-12-31, before 元旦 2027)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.config import warn
from ivr.config.catalogue import load_catalogue
from ivr.config.loader import check_config, load_config
from ivr.db.database import Database
from ivr.db.tables import TicketRow
from ivr.runtime import ConfigHolder
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.recalendar import install_calendar, reload_listener
from ivr.tickets.service import TicketService
from tests.tickets.conftest import TZ, Clock

# Test data in the State Council's form (not the real 2027 notice, which is not out yet).
HOLIDAYS_2027 = """
years: [2027]
holidays:
  - name: 元旦
    dates: 2027-01-01..2027-01-03
  - name: 春节
    dates: 2027-02-05..2027-02-11
    workdays: [2027-01-31, 2027-02-20]
"""


def frozen(monkeypatch: pytest.MonkeyPatch, day: dt.date) -> None:
    moment = dt.datetime.combine(day, dt.time(9, 0), tzinfo=TZ)
    monkeypatch.setattr(warn, "clock", lambda: moment)


def add_to_hours(config_dir: Path, text: str) -> None:
    path = config_dir / "hours.yaml"
    path.write_text(path.read_text("utf-8") + text, "utf-8")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -------------------------------------------------------------------------- the warning


def test_check_config_warns_about_2027_on_2026_11_15(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frozen(monkeypatch, dt.date(2026, 11, 15))
    code, out = run(["check-config", str(config_copy)], capsys)
    assert code == 0
    lines = [line for line in out.splitlines() if "HL-CFG-096" in line]
    assert len(lines) == 1, out
    assert lines[0].startswith(f"warning: {config_copy / 'hours.yaml'}:")
    assert "2027 年节假日安排尚无数据" in lines[0]
    assert "no holiday calendar for 2027" in lines[0]


@pytest.mark.parametrize(
    ("today", "warned"),
    [
        (dt.date(2026, 11, 1), False),  # 61 days before 2027
        (dt.date(2026, 11, 2), True),  # 60 days before
        (dt.date(2027, 3, 1), True),  # during the year
    ],
)
def test_the_warning_starts_60_days_before_the_year(
    config_copy: Path, today: dt.date, warned: bool
) -> None:
    bundle = load_config(config_copy)
    assert bool(warn.calendar_warnings(bundle, today)) is warned


def test_2027_entered_in_hours_yaml_silences_the_warning(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_to_hours(config_copy, HOLIDAYS_2027)
    frozen(monkeypatch, dt.date(2026, 11, 15))
    code, out = run(["check-config", str(config_copy)], capsys)
    assert code == 0
    assert "HL-CFG-096" not in out


def test_the_server_start_logs_the_same_warning(
    config_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings")
    db = Database(f"sqlite:///{tmp_path / 'start.db'}")
    with caplog.at_level(logging.WARNING):
        install_calendar(holder, db, today=dt.date(2026, 11, 15))
    warned = [r.getMessage() for r in caplog.records if "HL-CFG-096" in r.getMessage()]
    assert len(warned) == 1 and "2027" in warned[0]
    assert len(holder.listeners) == 1


# -------------------------------------------------------------------------- the calendar


def test_a_ticket_accepted_on_2026_12_31_is_due_after_yuandan(
    config_copy: Path, db: Database
) -> None:
    add_to_hours(config_copy, HOLIDAYS_2027)
    bundle = load_config(config_copy)
    clock = Clock(dt.datetime(2026, 12, 31, 10, 0, tzinfo=TZ))  # Thursday
    service = TicketService(db, load_catalogue(config_copy), Deadlines(bundle.calendar), clock)
    help_ = accept(service, "13800000000")
    # 2 working days: 元旦 Fri 1 .. Sun 3 are off -> Mon 4, Tue 5
    assert help_.deadline == dt.datetime(2027, 1, 5, 10, 0, tzinfo=TZ)
    cal = bundle.calendar
    assert cal.holiday_name(dt.date(2027, 2, 8)) == "春节"
    assert not cal.is_workday(dt.date(2027, 2, 8))
    # a 调休 Sunday counts: Friday 2027-01-29 + 1 working day is Sunday 2027-01-31
    friday = dt.datetime(2027, 1, 29, 10, 0, tzinfo=TZ)
    assert cal.add_working_days(friday, 1) == dt.datetime(2027, 1, 31, 10, 0, tzinfo=cal.tz)
    # the single-date overrides still come first
    assert cal.is_workday(dt.date(2025, 12, 31))


@pytest.mark.parametrize(
    ("entry", "bad", "words"),
    [
        ("    dates: 2027-02-11..2027-02-05\n", "2027-02-11..2027-02-05", "ends"),
        ("    dates: 2027-02-05...2027-02-11\n", "2027-02-05...2027-02-11", "FIRST..LAST"),
        ("    dates: 2027-02-05..2028-02-11\n", "2027-02-05..2028-02-11", "31 days"),
        ("    dates: 2027-02-05\n    workdays: [2027-02-03]\n", "2027-02-03", "weekday"),
    ],
)
def test_a_bad_holiday_is_a_problem_at_its_line_and_column(
    config_copy: Path, entry: str, bad: str, words: str
) -> None:
    add_to_hours(config_copy, "\nholidays:\n  - name: 春节\n" + entry)
    problems = check_config(config_copy)
    assert len(problems) == 1, problems
    problem = problems[0]
    text = (config_copy / "hours.yaml").read_text("utf-8").splitlines()
    assert problem.file.endswith("hours.yaml") and problem.code == "HL-CFG-005"
    assert text[problem.line - 1][problem.column - 1 :].startswith(bad)
    assert words in problem.message
    assert re.match(r".*hours\.yaml:\d+:\d+: ", str(problem))


def test_a_year_listed_without_its_holidays_is_refused(config_copy: Path) -> None:
    add_to_hours(config_copy, "\nyears: [2027]\n")
    problems = check_config(config_copy)
    assert [p.code for p in problems] == ["HL-CFG-005"]
    assert "no holidays entered for 2027" in problems[0].message


# -------------------------------------------------------------------------- recompute


def test_adding_a_holiday_on_reload_moves_an_open_tickets_deadline_audited(
    config_copy: Path, db: Database
) -> None:
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings")
    clock = Clock(dt.datetime(2026, 12, 31, 10, 0, tzinfo=TZ))
    holder.listeners.append(reload_listener(db, clock))
    catalogue = load_catalogue(config_copy)
    service = TicketService(db, catalogue, Deadlines(holder.current.calendar), clock)
    open_ = accept(service, "13800000001")
    done = accept(service, "13800000002")
    service.act(done.number, "answer", actor="op", reply="已答复")
    # no data for 2027 yet: 元旦 counts as a working day
    assert open_.deadline == dt.datetime(2027, 1, 4, 10, 0, tzinfo=TZ)

    add_to_hours(config_copy, HOLIDAYS_2027)
    clock.advance(hours=1)
    result = holder.reload()

    assert result.ok
    assert "calendar changed: 1 of 1 open ticket deadline(s) moved" in " ".join(result.notes)
    assert service.get(open_.number).deadline == dt.datetime(2027, 1, 5, 10, 0, tzinfo=TZ)
    assert service.get(done.number).deadline == done.deadline  # a finished ticket stays
    event = service.history(open_.number)[-1]
    assert (event.action, event.actor) == ("recalendar", "calendar")
    assert event.at == clock.now
    assert "2027-01-04 10:00 -> 2027-01-05 10:00" in event.note
    assert "2 working day(s)" in event.note

    # a reload that leaves the calendar alone recomputes nothing
    menu = config_copy / "menu.yaml"
    menu.write_text(menu.read_text("utf-8") + "\n", "utf-8")
    assert not holder.reload().notes
    assert len(service.history(open_.number)) == 2


def test_the_command_recomputes_with_the_extensions_granted(
    config_copy: Path, db: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = load_config(config_copy)
    clock = Clock(dt.datetime(2026, 12, 28, 10, 0, tzinfo=TZ))  # Monday
    service = TicketService(db, load_catalogue(config_copy), Deadlines(bundle.calendar), clock)
    ticket = accept(service, "13800000003")
    service.act(ticket.number, "dispatch", actor="op", department=_department(service))
    service.act(ticket.number, "extend_request", actor="dept", note="需现场勘查", days=3)
    service.act(ticket.number, "extend_approve", actor="lead")
    # 2 + 3 working days from Monday 12-28, 元旦 counted: Mon 2027-01-04
    assert service.get(ticket.number).deadline == dt.datetime(2027, 1, 4, 10, 0, tzinfo=TZ)

    add_to_hours(config_copy, HOLIDAYS_2027)
    argv = ["tickets", "recompute-deadlines", "--config", str(config_copy)]
    code, out = run([*argv, "--database-url", db_url, "--dry-run"], capsys)
    assert code == 0 and "dry run" in out
    assert service.get(ticket.number).deadline == dt.datetime(2027, 1, 4, 10, 0, tzinfo=TZ)

    code, out = run([*argv, "--database-url", db_url], capsys)
    assert code == 0, out
    assert f"{ticket.number}: due 2027-01-04 10:00 -> 2027-01-05 10:00 (5 working day(s))" in out
    assert "1 of 1 open ticket deadline(s) moved" in out
    assert service.get(ticket.number).deadline == dt.datetime(2027, 1, 5, 10, 0, tzinfo=TZ)
    assert service.history(ticket.number)[-1].action == "recalendar"
    # run again: nothing left to move
    code, out = run([*argv, "--database-url", db_url], capsys)
    assert "0 of 1 open ticket deadline(s) moved" in out


def _department(service: TicketService) -> str:
    return next(iter(service.catalogue.departments))


def accept(service: TicketService, caller: str) -> TicketRow:
    """A 求助 ticket (2 working days) in the catalogue's first category."""
    category = next(iter(service.catalogue.categories))
    return service.accept(caller=caller, type="help", category=category, actor="op")


async def test_the_running_server_recomputes_in_a_worker_thread(
    config_copy: Path, db: Database
) -> None:
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings")
    clock = Clock(dt.datetime(2026, 12, 31, 10, 0, tzinfo=TZ))
    listener = reload_listener(db, clock)
    holder.listeners.append(listener)
    catalogue = load_catalogue(config_copy)
    service = TicketService(db, catalogue, Deadlines(holder.current.calendar), clock)
    ticket = accept(service, "13800000004")

    add_to_hours(config_copy, HOLIDAYS_2027)
    result = await holder.reload_async()
    assert result.ok and "recomputing the deadlines" in " ".join(result.notes)
    assert len(listener.pending) == 1
    assert await asyncio.gather(*listener.pending) == [
        "calendar changed: 1 of 1 open ticket deadline(s) moved by the calendar"
    ]
    assert service.get(ticket.number).deadline == dt.datetime(2027, 1, 5, 10, 0, tzinfo=TZ)
