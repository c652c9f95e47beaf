"""Quality checks (质检): the form of config/quality.yaml checked at its file:line:col; on a
real SQLite and PostgreSQL, the recorded calls to score (the unchecked first), a score checked
against the form, a re-score replacing the reviewer's earlier one and both audited, the figures
per operator, and the reports' 质检评分 section."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select

from ivr.cli import admin_problems, main
from ivr.config.catalogue import load_catalogue
from ivr.config.editing import ConfigEditor
from ivr.config.quality import QualityForm, check_quality, load_quality_form
from ivr.db.database import Database, _alembic_config, head_revision, upgrade
from ivr.db.quality_tables import QualityCheckRow, QualityScoreRow
from ivr.db.tables import AuditRow, CallRow, UserRow
from ivr.errors import ConfigError
from ivr.quality import (
    CallNotFound,
    FilterInvalid,
    FormMissing,
    FormRefused,
    QualityForms,
    RecordedCallFilter,
    ScoreInvalid,
    Scoring,
    calls_to_check,
    operator_quality,
    parse_day,
)
from ivr.reports import build_report, parse_period
from ivr.reports.render import csv_files, html_text, markdown
from tests.conftest import CONFIG_DIR, ROOT
from tests.tickets.conftest import pg_admin_url, pg_template, pg_url  # noqa: F401 (fixtures)

DAY = dt.date(2026, 12, 3)
FULL = {"attitude": 30, "accuracy": 30, "wording": 20, "record": 20}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'q.db'}"
        Database(url).upgrade()
    else:
        url = str(request.getfixturevalue("pg_url"))
    database = Database(url)
    yield database
    database.close()


@pytest.fixture
def form() -> QualityForm:
    found = load_quality_form(CONFIG_DIR)
    assert found is not None
    return found


def add_call(
    db: Database,
    uid: str,
    agent: str | None = "1001",
    day: dt.date = DAY,
    minute: int = 0,
    outcome: str = "answered",
    recording: str | None = "calls/20261203/x.wav",
) -> None:
    started = dt.datetime.combine(day, dt.time(2, minute), tzinfo=dt.UTC)
    with db.session() as s:
        s.add(
            CallRow(
                uniqueid=uid,
                caller="13900000000",
                dialled="12345",
                started_at=started,
                day=day,
                outcome=outcome,
                agent=agent,
                recording=recording,
                duration=95.0,
                line_name="12345",
                skill="general",
            )
        )


# ------------------------------------------------------------------ the form


def test_the_shipped_form(form: QualityForm) -> None:
    assert [i.name for i in form.items] == ["服务态度", "业务准确", "规范用语", "记录完整"]
    assert (form.max_total, form.pass_mark) == (100, 80)
    assert check_quality(CONFIG_DIR) == []


def test_a_broken_form_is_told_at_its_line_and_column(tmp_path: Path) -> None:
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    path = tmp_path / "config" / "quality.yaml"
    path.write_text(
        "pass_mark: 90\n"
        "items:\n"
        "  attitude: {name: 服务态度, max: 30}\n"
        "  Wording: {name: 规范用语, max: 20}\n"
        "  record: {name: 记录完整, max: 0, colour: red}\n"
        "  attitude: {name: again, max: 5}\n",
        "utf-8",
    )
    got = [(p.line, p.column, p.code) for p in check_quality(tmp_path / "config")]
    assert got == [
        (4, 3, "HL-QUA-002"),  # the item code
        (5, 29, "HL-QUA-002"),  # max 0 (columns count characters)
        (5, 32, "HL-QUA-002"),  # unknown key
        (6, 3, "HL-QUA-003"),  # attitude twice
    ]
    # check-config lists them with the other files' problems
    listed = admin_problems(tmp_path / "config", None)
    assert [p.code for p in listed if p.file == str(path)] == [c for *_, c in got]
    with pytest.raises(ConfigError):
        load_quality_form(tmp_path / "config")
    path.write_text("pass_mark: 90\nitems:\n  a: {name: 一, max: 50}\n", "utf-8")
    [problem] = check_quality(tmp_path / "config")
    assert (problem.line, problem.column, problem.code) == (1, 12, "HL-QUA-004")
    assert "more than the form's 50 points" in str(problem)
    path.write_text("items: [\n", "utf-8")
    assert [p.code for p in check_quality(tmp_path / "config")] == ["HL-QUA-001"]
    path.unlink()  # optional: no form, no problem
    assert check_quality(tmp_path / "config") == [] and load_quality_form(path.parent) is None


def test_check_config_lists_the_forms_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    (tmp_path / "recordings").mkdir()
    assert main(["check-config", str(tmp_path / "config")]) == 0
    capsys.readouterr()
    path = tmp_path / "config" / "quality.yaml"
    path.write_text("items:\n  attitude: {name: 服务态度, max: 30, weight: 2}\n", "utf-8")
    assert main(["check-config", str(tmp_path / "config")]) == 1
    out, err = capsys.readouterr()
    assert f"{path}:2:35: items.attitude: unknown key 'weight' [HL-QUA-002]" in out
    assert "1 problem(s)" in err


def test_the_admin_console_edits_the_form_with_the_same_checks(tmp_path: Path) -> None:
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    editor = ConfigEditor(tmp_path / "config", ROOT / "recordings", tmp_path / "history")
    assert "quality.yaml" in [f.name for f in editor.files()]
    [problem] = editor.check("quality.yaml", "items:\n  a: {name: 态度, max: 500}\n")
    assert (problem.file, problem.line, problem.column, problem.code) == (
        "quality.yaml",
        2,
        22,
        "HL-QUA-002",
    )
    assert editor.check("quality.yaml", "items:\n  a: {name: 态度, max: 50}\n") == []


def test_the_server_reads_the_form_again_when_it_changes(tmp_path: Path) -> None:
    forms = QualityForms(tmp_path)
    with pytest.raises(FormMissing) as missing:
        forms.current()
    assert missing.value.code == "HL-QUA-011"
    path = tmp_path / "quality.yaml"
    path.write_text("items:\n  a: {name: 态度, max: 10}\n", "utf-8")
    assert forms.current().max_total == 10
    path.write_text("items:\n  a: {name: 态度, max: 10}\n  b: {name: 用语, max: 5}\n", "utf-8")
    assert [i.code for i in forms.current().items] == ["a", "b"]
    path.write_text("items: {}\n", "utf-8")
    with pytest.raises(FormRefused, match="check-config") as refused:
        forms.current()
    assert refused.value.code == "HL-QUA-012"


# ------------------------------------------------------------------ scoring (both databases)


def test_the_calls_to_check_unchecked_first(db: Database, form: QualityForm) -> None:
    add_call(db, "c1", minute=1)
    add_call(db, "c2", minute=2)
    add_call(db, "c3", agent="1002", minute=3, day=DAY + dt.timedelta(days=1))
    add_call(db, "no-recording", recording=None)
    add_call(db, "abandoned", agent=None, outcome="hangup")
    add_call(db, "menu-only", outcome="queue", recording="calls/x.wav")
    every = RecordedCallFilter()
    assert [c.uniqueid for c in calls_to_check(db, every)] == ["c3", "c2", "c1"]
    Scoring(db).score(form, "c3", FULL, "", "super")
    calls = calls_to_check(db, every)
    assert [c.uniqueid for c in calls] == ["c2", "c1", "c3"]  # the checked one last
    assert [(c.reviewer, c.total) for c in calls[2].checks] == [("super", 100)]
    assert [c.uniqueid for c in calls_to_check(db, RecordedCallFilter(unchecked=True))] == [
        "c2",
        "c1",
    ]
    assert [c.uniqueid for c in calls_to_check(db, RecordedCallFilter(agent="1002"))] == ["c3"]
    one_day = RecordedCallFilter(day_from=DAY, day_to=DAY, limit=1)
    assert [c.uniqueid for c in calls_to_check(db, one_day)] == ["c2"]
    with pytest.raises(FilterInvalid):
        RecordedCallFilter(day_from=DAY, day_to=DAY - dt.timedelta(days=1))
    with pytest.raises(FilterInvalid):
        RecordedCallFilter(limit=0)
    with pytest.raises(FilterInvalid, match="YYYY-MM-DD"):
        parse_day("3 Dec", "from")


def test_a_score_must_fit_the_form(db: Database, form: QualityForm) -> None:
    add_call(db, "c1")
    scoring = Scoring(db)
    bad: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in FULL.items() if k != "record"}, "记录完整 .record. is not scored"),
        ({**FULL, "smile": 3}, "no item smile"),
        ({**FULL, "attitude": 31}, r"31 is not within 0\.\.30"),
        ({**FULL, "wording": -1}, r"-1 is not within 0\.\.20"),
        ({**FULL, "accuracy": True}, "whole points"),
        ({**FULL, "accuracy": 2.5}, "whole points"),
    ]
    for scores, message in bad:
        with pytest.raises(ScoreInvalid, match=message) as info:
            scoring.score(form, "c1", scores, "", "super")
        assert info.value.code == "HL-QUA-014"
    with pytest.raises(ScoreInvalid, match="at most 1000"):
        scoring.score(form, "c1", FULL, "x" * 1001, "super")
    add_call(db, "no-recording", recording=None)
    for uid in ("nope", "no-recording"):
        with pytest.raises(CallNotFound) as missing:
            scoring.score(form, uid, FULL, "", "super")
        assert missing.value.code == "HL-QUA-013"
    with db.session() as s:
        assert s.scalars(select(QualityCheckRow)).all() == []
        assert s.scalars(select(AuditRow).where(AuditRow.action == "quality.score")).all() == []


def test_a_rescore_replaces_the_reviewers_check_and_both_are_audited(
    db: Database, form: QualityForm
) -> None:
    add_call(db, "c1")
    scoring = Scoring(db)
    first = scoring.score(form, "c1", {**FULL, "wording": 10}, "开头语不规范", "super", "10.0.0.9")
    assert (first.total, first.passed, first.agent, first.call_day) == (90, True, "1001", DAY)
    again = scoring.score(form, "c1", {**FULL, "attitude": 10}, "语气生硬", "super")
    assert (again.total, again.passed) == (80, True)
    other = scoring.score(form, "c1", {k: 10 for k in FULL}, "", "admin")
    assert (other.total, other.passed) == (40, False)
    checks = scoring.checks("c1")
    assert sorted((c.reviewer, c.total) for c in checks) == [("admin", 40), ("super", 80)]
    mine = next(c for c in checks if c.reviewer == "super")
    assert [(s.name, s.points, s.max) for s in mine.scores] == [
        ("服务态度", 10, 30),
        ("业务准确", 30, 30),
        ("规范用语", 20, 20),
        ("记录完整", 20, 20),
    ]
    assert mine.comment == "语气生硬"
    with db.session() as s:
        assert len(s.scalars(select(QualityCheckRow)).all()) == 2
        assert len(s.scalars(select(QualityScoreRow)).all()) == 8
        audit = s.scalars(
            select(AuditRow).where(AuditRow.action == "quality.score").order_by(AuditRow.id)
        ).all()
    assert [(a.actor, a.target, a.address) for a in audit] == [
        ("super", "c1", "10.0.0.9"),
        ("super", "c1", ""),
        ("admin", "c1", ""),
    ]
    assert audit[0].before_json is None
    before = json.loads(audit[1].before_json or "")
    after = json.loads(audit[1].after_json or "")
    assert (before["total"], before["scores"]["wording"], before["comment"]) == (
        90,
        10,
        "开头语不规范",
    )
    assert (after["total"], after["scores"]["attitude"], after["rescored"]) == (80, 10, True)


def test_the_figures_per_operator_and_the_report(db: Database, form: QualityForm) -> None:
    with db.session() as s:
        s.add(UserRow(username="op1001", username_key="op1001", role="operator",
                      agent_id="1001", display_name="王丽", password_hash="x",
                      created_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    for n in range(3):
        add_call(db, f"a{n}", agent="1001", minute=n)
    add_call(db, "b0", agent="1002", minute=5)
    add_call(db, "late", agent="1002", day=DAY + dt.timedelta(days=40))
    scoring = Scoring(db)
    scoring.score(form, "a0", FULL, "", "super")  # 100
    scoring.score(form, "a1", {**FULL, "attitude": 0}, "", "super")  # 70: failed
    scoring.score(form, "a1", {**FULL, "attitude": 15}, "", "admin")  # 85
    scoring.score(form, "b0", {k: 5 for k in FULL}, "", "super")  # 20
    scoring.score(form, "late", FULL, "", "super")  # another month
    with db.session() as s:
        found = operator_quality(s, dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    assert [(o.agent, o.name, o.checks, o.passed, o.failed) for o in found] == [
        ("1001", "王丽", 3, 2, 1),
        ("1002", "", 1, 0, 1),
    ]
    first = found[0]
    assert first.mean_total == pytest.approx((100 + 70 + 85) / 3)
    assert first.mean_max_total == 100
    assert [(i.name, round(i.mean, 2), i.max) for i in first.items] == [
        ("服务态度", 15.0, 30),
        ("业务准确", 30.0, 30),
        ("规范用语", 20.0, 20),
        ("记录完整", 20.0, 20),
    ]
    report = build_report(db, load_catalogue(CONFIG_DIR), parse_period(month="2026-12"))
    assert [o.agent for o in report.quality] == ["1001", "1002"]
    text = markdown(report)
    assert "## 质检评分（按坐席，质检4次）" in text
    assert "| 1001 | 王丽 | 3 | 85.0 | 100.0 | 2 | 1 | 15.0 | 30.0 | 20.0 | 20.0 |" in text
    assert "服务态度（满分30）" in text
    assert "<h2>质检评分（按坐席，质检4次）</h2>" in html_text(report, [])
    quality = csv_files(report)["report-2026-12-quality.csv"].splitlines()
    assert "1002,-,1,20.0,100.0,0,1,5.0,5.0,5.0,5.0" in quality
    empty = build_report(db, load_catalogue(CONFIG_DIR), parse_period(month="2026-11"))
    assert empty.quality == [] and "质检评分（按坐席，质检0次）" in markdown(empty)


def test_the_migration_down_to_0007_and_up_again(db: Database, form: QualityForm) -> None:
    add_call(db, "c1")
    Scoring(db).score(form, "c1", FULL, "", "super")
    command.downgrade(_alembic_config(db.engine), "0007")
    assert "quality_checks" not in inspect(db.engine).get_table_names()
    assert upgrade(db.engine) == head_revision()
    assert Scoring(db).checks("c1") == []
    assert Scoring(db).score(form, "c1", FULL, "", "super").total == 100
