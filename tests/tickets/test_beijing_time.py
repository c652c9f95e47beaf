"""Issue 12: one call's times read the same in every view a person reads, on a host whose
clock and zone are UTC: ``hotline tickets list``, ``tickets show``, ``calls list``, ``calls
show``, the day report (Markdown, HTML, CSV) and the recording's folder.

The call starts at 23:40 UTC on 3 December 2026, which is 07:40 on 4 December in Beijing:
a view printing UTC, or a report counting by UTC days, shows another day."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ivr.engine.record as record_module
from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.engine.record import CallEvent, CallRecord, recording_name
from ivr.records.store import CallRecordStore
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.service import TicketService
from tests.conftest import CONFIG_DIR, ROOT

STARTED = dt.datetime(2026, 12, 3, 23, 40, 12, tzinfo=dt.UTC)
LOCAL = "2026-12-04 07:40"  # the same moment in Beijing time, as every view prints it
UTC_TEXT = "2026-12-03 23:40"  # what a view printing UTC would show
UNIQUEID = "1764805212.31"
ZONE = "北京时间 (Asia/Shanghai, UTC+8)"


@pytest.fixture
def utc_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's zone is UTC too (the subprocesses get TZ=UTC in their environment)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def hotline(db_url: str, tmp_path: Path, *argv: str) -> str:
    """``hotline ARGV`` as an operator runs it, on a UTC host; its output (exit 0 checked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        TZ="UTC",
        PYTHONPATH=str(ROOT),
        HOTLINE_CONFIG_DIR=str(CONFIG_DIR),
        HOTLINE_VAR_DIR=str(tmp_path / "var"),
        HOTLINE_RECORDINGS_DIR=str(tmp_path / "recordings"),
        HOTLINE_DATABASE_URL=db_url,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ivr.cli", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"hotline {' '.join(argv)}: {proc.stderr}"
    return proc.stdout


def the_call(monkeypatch: pytest.MonkeyPatch) -> CallRecord:
    """The call as the engine records it; its recording is named while the call is on (the
    engine's clock frozen at the call's start)."""
    monkeypatch.setattr(record_module, "_now", lambda tz=None: STARTED.astimezone(tz))
    rec = CallRecord(
        uniqueid=UNIQUEID,
        caller="13900000031",
        caller_name="",
        dialled="12345",
        channel="PJSIP/trunk-00000031",
        config_version="v1",
        started_at=STARTED,
    )
    rec.events = [
        CallEvent(STARTED, 0.0, "enter", "main"),
        CallEvent(STARTED + dt.timedelta(seconds=90), 90.0, "end", None, "answered 1001"),
    ]
    rec.skill, rec.outcome, rec.outcome_detail = "general", "answered", "1001"
    rec.ended_at = STARTED + dt.timedelta(seconds=90)
    rec.recording = recording_name("calls", UNIQUEID)
    return rec


def dispatchable(catalogue: Catalogue) -> str:
    """A category (outside the special topics) that the dispatch catalogue sends to a
    department, whichever city's config is shipped."""
    special = {c.top for c in catalogue.top_levels() if c.special}
    return next(
        path
        for path in catalogue.categories
        if catalogue.default_department(path) is not None
        and catalogue.category(path).top not in special
    )


async def test_one_calls_times_read_the_same_everywhere_on_a_utc_host(
    utc_host: None,
    db_url: str,
    db: Database,
    catalogue: Catalogue,
    deadlines: Deadlines,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the call ends and the server writes its record, recording path included
    store = CallRecordStore(db, tmp_path / "journal.jsonl")
    await store.save(the_call(monkeypatch))
    await store.close()
    # the operator accepts it while still on the phone (07:40 Beijing time) and dispatches it
    service = TicketService(db, catalogue, deadlines, lambda: STARTED + dt.timedelta(seconds=40))
    category = dispatchable(catalogue)
    ticket = service.accept(
        caller="13900000031",
        type=next(iter(catalogue.types)),
        category=category,
        actor="op1",
        content="小区供暖不热",
        call_uniqueid=UNIQUEID,
    )
    service.act(ticket.number, "dispatch", actor="op1")
    number = service.get(ticket.number).number
    due = service.get(number).deadline
    deadline = f"{due.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y-%m-%d %H:%M}"

    def run(*argv: str) -> str:
        return hotline(db_url, tmp_path, *argv)

    # the recording's folder is the Beijing day
    shown = run("calls", "show", UNIQUEID)
    recording = tmp_path / "recordings" / "calls" / "20261204" / UNIQUEID
    assert str(recording) in shown
    assert f"started {LOCAL}" in shown
    assert f"ticket {number}" in shown

    listed = run("calls", "list", "--day", "2026-12-04")
    row = next(line for line in listed.splitlines() if line.startswith(UNIQUEID))
    assert LOCAL in row
    assert run("calls", "list", "--day", "2026-12-03").startswith("no calls")

    listed = run("tickets", "list")
    row = next(line for line in listed.splitlines() if line.startswith(number))
    assert f"{LOCAL}  {deadline}" in row  # accepted, deadline
    assert listed.splitlines()[-1].endswith("times in 北京时间 (Asia/Shanghai)")

    shown = run("tickets", "show", number)
    assert f"受理：{LOCAL}" in shown and f"期限：{deadline}" in shown
    assert f"  {LOCAL}  op1" in shown  # the audit trail

    # the day report: counted on 4 December, the times in Beijing time, the zone said once
    out = tmp_path / "reports"
    files = run("report", "--day", "2026-12-04", "--out", str(out)).split()
    assert str(out / "report-2026-12-04.md") in files
    md = (out / "report-2026-12-04.md").read_text("utf-8")
    assert md.count(ZONE) == 1 and "UTC_" not in md
    assert "| 接到电话（个） | 1 |" in md and "| 受理（件） | 1 |" in md
    assert f"| {number} | {LOCAL} | {LOCAL} |" in md  # call started, ticket accepted
    assert f"| {deadline} |" in md
    page = (out / "report-2026-12-04.html").read_text("utf-8")
    assert page.count(ZONE) == 1
    assert f"<td>{number}</td><td>{LOCAL}</td><td>{LOCAL}</td>" in page
    about = list(csv.reader(io.StringIO((out / "report-2026-12-04-about.csv").read_text("utf-8"))))
    assert ["时区", ZONE] in about
    rows = list(csv.reader(io.StringIO((out / "report-2026-12-04-tickets.csv").read_text("utf-8"))))
    [line] = [r for r in rows if r[0] == number]
    assert line[1:3] == [LOCAL, LOCAL] and deadline in line
    for text in (md, page, "\n".join(",".join(r) for r in rows)):
        assert UTC_TEXT not in text

    # the day before (in Beijing) has neither the call nor the ticket
    run("report", "--day", "2026-12-03", "--out", str(out))
    before = (out / "report-2026-12-03.md").read_text("utf-8")
    assert "| 接到电话（个） | 0 |" in before and "| 受理（件） | 0 |" in before
    assert number not in before


def test_a_backup_is_named_and_dated_in_beijing_time_on_a_utc_host(tmp_path: Path) -> None:
    """``hotline backup``'s archive name and its manifest's ``created`` are Beijing time (with
    the offset), not the host's UTC clock."""
    db_url = f"sqlite:///{tmp_path / 'var' / 'hotline.db'}"
    hotline(db_url, tmp_path, "db", "upgrade")
    (tmp_path / "b").mkdir()
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hotline(db_url, tmp_path, "backup", "--out", str(tmp_path / "b"))
    after = dt.datetime.now(dt.UTC)
    [archive] = (tmp_path / "b").glob("hotline-*.tar.gz")
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    created = dt.datetime.fromisoformat(manifest["created"])
    assert created.utcoffset() == dt.timedelta(hours=8)
    assert before <= created <= after
    assert archive.name == f"hotline-{created:%Y%m%d-%H%M%S}.tar.gz"


def test_the_nightly_backup_runs_at_night_in_beijing() -> None:
    timer = (ROOT / "deploy" / "systemd" / "hotline-backup.timer").read_text("utf-8")
    assert "\nOnCalendar=*-*-* 03:15:00 Asia/Shanghai\n" in timer
