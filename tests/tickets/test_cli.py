"""``hotline db upgrade`` / ``db current`` on both databases, and the catalogue check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli import main
from ivr.config.catalogue import check_catalogue
from ivr.db.database import Database, head_revision
from tests.conftest import CONFIG_DIR


def test_db_upgrade_command(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--database-url", db_url]) == 0  # already migrated: no-op
    assert main(["db", "current", "--database-url", db_url]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    db = Database(db_url)
    assert "call_records" in db.table_names()
    db.check_schema()
    db.close()


def test_fresh_sqlite_is_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'h.db'}"
    assert main(["db", "current", "--database-url", url]) == 1
    assert main(["db", "upgrade", "--database-url", url]) == 0
    db = Database(url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.close()


def test_catalogue_problems_have_positions(tmp_path: Path) -> None:
    assert check_catalogue(CONFIG_DIR) == []
    target = tmp_path / "tickets"
    target.mkdir()
    original = (CONFIG_DIR / "tickets" / "catalogue.yaml").read_text()
    path = target / "catalogue.yaml"
    path.write_text(original.replace("  dogs: police\n", "  dogs: nobody\n  cats: police\n"))
    problems = check_catalogue(tmp_path)
    assert [(p.code, p.message.split(";")[0]) for p in problems] == [
        ("HL-CAT-004", "dispatch.dogs: unknown department 'nobody'"),
        ("HL-CAT-004", "dispatch: unknown category 'cats'"),
    ]
    line = original.splitlines().index("  dogs: police") + 1
    assert (problems[0].line, problems[0].column) == (line, 9)
    assert (problems[1].line, problems[1].column) == (line + 1, 3)
    path.write_text(original.replace("{name: 咨询, deadline_days: 1}", "{name: 咨询, days: 1}"))
    missing, unknown = check_catalogue(tmp_path)
    at = next(n for n, t in enumerate(original.splitlines(), 1) if t.startswith("  consult:"))
    assert str(missing) == (
        f"{path}:{at}:3: types.consult.deadline_days: missing required key 'deadline_days' "
        "[HL-CAT-002]"
    )
    assert str(unknown) == f"{path}:{at}:26: types.consult: unknown key 'days' [HL-CAT-002]"
    path.unlink()
    assert check_catalogue(tmp_path)[0].code == "HL-CAT-001"
