"""``hotline import FILE --source CODE``: what it prints (a line per refused row, a summary),
its exit codes, a dry run, and a database that is not there; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ivr.cli import main
from ivr.db.database import Database
from ivr.db.tables import AuditRow, TicketRow
from tests.conftest import CONFIG_DIR
from tests.tickets.test_intake import CSV_HEADER, item


def _count(db_url: str) -> int:
    db = Database(db_url)
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(TicketRow)) or 0)
    finally:
        db.close()


def _import(db_url: str, *args: str) -> int:
    return main(["import", *args, "--database-url", db_url, "--config", str(CONFIG_DIR)])


def test_a_csv_file_with_a_bad_row(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rmw.csv"
    path.write_bytes(
        (
            CSV_HEADER
            + "A1,2025/09/25 08:30,13900000001,张三,暖气不热,新城区,投诉,供热,否,,1\n"
            + "A2,2025/09/25 08:40,电话,李四,x,,咨询,供热,是,,2\n"
            + "A3,2025/09/25 09:00,13900000003,,路灯坏了,,求助,农村、土地和其它/其它,否,,3\n"
        ).encode("gbk")
    )
    assert _import(db_url, str(path), "--source", "people_leaders") == 3
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: read as GBK (GB18030) (not UTF-8)"
    assert out[1] == f"{path}: columns not read: 序号"
    assert out[2].startswith(f"{path}: row 3, column 电话: ") and out[2].endswith("[HL-IMP-002]")
    assert out[3].startswith(f"{path}: row 4: ticket ") and "kept at the centre" in out[3]
    assert out[4] == (
        "people_leaders (人民网领导留言板): 3 items: 2 created (1 dispatched, 1 kept at the "
        "centre), 0 already there, 1 refused"
    )
    assert _count(db_url) == 2
    # again: nothing new; the bad row is still refused
    assert _import(db_url, str(path), "--source", "people_leaders") == 3
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith("3 items: 0 created, 2 already there, 1 refused")
    )
    assert _count(db_url) == 2
    db = Database(db_url)
    with db.session() as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.action == "intake.import")).all()
        assert [(r.role, r.target) for r in rows] == [("cli", "source:people_leaders")] * 2
    db.close()


def test_a_json_file_dry_run_then_for_real(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "items.data"
    path.write_text(json.dumps([item(1), item(2)]), "utf-8")
    assert _import(db_url, str(path), "--source", "gov_cn") == 1  # the name says no format
    err = capsys.readouterr().err.strip()
    assert err.startswith("[HL-IMP-001] ") and "--format" in err
    args = (str(path), "--source", "gov_cn", "--format", "json")
    assert _import(db_url, *args, "--dry-run") == 0
    assert capsys.readouterr().out.splitlines() == [
        "dry run, nothing changed: gov_cn (中国政府网网民留言): 2 items: 2 would be created, "
        "0 already there, 0 refused"
    ]
    assert _count(db_url) == 0
    assert _import(db_url, *args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "gov_cn (中国政府网网民留言): 2 items: 2 created (2 dispatched, 0 kept at the centre), "
        "0 already there, 0 refused"
    ]


def test_refused_batches_are_one_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([item(1)]), "utf-8")
    cases = [
        ([str(path), "--source", "web"], "[HL-IMP-003] source 'web' is not an upper-level"),
        ([str(tmp_path / "none.json"), "--source", "gov_cn"], "[HL-IMP-001] "),
        ([str(path), "--source", "gov_cn", "--format", "csv"], "[HL-IMP-001] "),
    ]
    for args, start in cases:
        assert _import(db_url, *args) == 1
        captured = capsys.readouterr()
        assert captured.err.count("\n") == 1 and captured.err.startswith(start), captured.err
        assert captured.out == ""
    assert _count(db_url) == 0


def test_a_database_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([item(1)]), "utf-8")
    url = "postgresql://nobody@127.0.0.1:1/hotline"
    assert _import(url, str(path), "--source", "gov_cn") == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err  # one line, however psycopg words it
    assert captured.err.startswith("[HL-TKT-001] database postgresql+psycopg://nobody@")
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_category_map_file(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([item(1, category="供暖问题")]), "utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("供暖问题: 水、电、气/供热\n", "utf-8")
    assert _import(db_url, str(path), "--source", "gov_cn") == 3  # unknown without the map
    assert "column category: unknown category '供暖问题'" in capsys.readouterr().out
    assert _import(db_url, str(path), "--source", "gov_cn", "--category-map", str(mapping)) == 0
    assert "1 created (1 dispatched" in capsys.readouterr().out
    mapping.write_text("- 供暖问题\n", "utf-8")
    assert _import(db_url, str(path), "--source", "gov_cn", "--category-map", str(mapping)) == 1
    assert capsys.readouterr().err.startswith(f"[HL-IMP-001] {mapping}: the category map is")
