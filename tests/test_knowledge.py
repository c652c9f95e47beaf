"""The knowledge base (ivr/knowledge): Chinese search by jieba words and character pairs, the
propose / approve flow and its audit rows, the shipped config/knowledge.yaml, migration 0007
and ``hotline knowledge``; on SQLite (FTS5) and PostgreSQL (tsvector + GIN) alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from ivr.cli import main
from ivr.config.catalogue import load_catalogue
from ivr.db import (  # noqa: F401 (their rows on the metadata)
    config_tables,
    outbox_tables,
    publication_tables,
    quality_tables,
)
from ivr.db.database import Database, _alembic_config, current_revision, head_revision, upgrade
from ivr.db.tables import AuditRow, Base
from ivr.knowledge import (
    Actor,
    Draft,
    EntryInvalid,
    EntryNotFound,
    EntryStateConflict,
    KnowledgeBase,
    KnowledgeFileInvalid,
    KnowledgeForbidden,
)
from ivr.knowledge.seed import read_knowledge_file
from ivr.knowledge.segment import terms
from tests.conftest import CONFIG_DIR, ROOT
from tests.tickets.conftest import pg_admin_url, pg_template, pg_url  # noqa: F401 (fixtures)

SUPER = Actor("super", "supervisor")
OP = Actor("op1001", "operator")
OTHER_OP = Actor("op1002", "operator")
DEPARTMENTS = {c: d.name for c, d in load_catalogue(CONFIG_DIR).departments.items()}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hotline.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    database = Database(url)
    database.upgrade()
    yield database
    database.close()


@pytest.fixture
def kb(db: Database) -> KnowledgeBase:
    return KnowledgeBase(db, DEPARTMENTS)


@pytest.fixture
def shipped(kb: KnowledgeBase) -> KnowledgeBase:
    """The knowledge base with config/knowledge.yaml imported, as an admin does."""
    drafts = read_knowledge_file(CONFIG_DIR / "knowledge.yaml", DEPARTMENTS)
    assert kb.import_entries(drafts, Actor("cli:root", "cli")) == (len(drafts), 0, 0)
    return kb


def titles(kb: KnowledgeBase, query: str, **kw: Any) -> list[str]:
    return [h.entry.title for h in kb.search(query, **kw)]


def answer(title: str, body: str, **kw: Any) -> Draft:
    return Draft(title, body, **kw)


# ------------------------------------------------------------------ segmenting


def test_terms_are_words_and_character_pairs() -> None:
    got = terms("城乡居民医保缴费")
    assert {"城乡居民", "居民", "医保", "缴费"} <= set(got)  # jieba's words
    assert {"民医", "保缴"} <= set(got)  # the pairs jieba's words leave out
    assert terms("医保") == ["医保"]
    assert terms("拨打１２３４５热线 App") == ["拨打", "12345", "热线", "app"]  # full-width folds
    assert terms("水") == ["水"]
    assert terms("？！…") == []


def test_why_not_trigrams() -> None:
    """SQLite's trigram tokenizer cannot find a two-character word; our terms can."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE tri USING fts5(body, tokenize='trigram')")
    conn.execute("CREATE VIRTUAL TABLE ours USING fts5(body, tokenize='unicode61')")
    conn.execute("INSERT INTO tri VALUES ('城乡居民医保缴费')")
    conn.execute("INSERT INTO ours VALUES (?)", (" ".join(terms("城乡居民医保缴费")),))
    assert conn.execute("SELECT count(*) FROM tri WHERE tri MATCH '医保'").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM ours WHERE ours MATCH '医保'").fetchone() == (1,)
    conn.close()


def test_jieba_is_quiet_and_caches_its_dictionary_where_told(tmp_path: Path) -> None:
    script = (
        "from pathlib import Path; import sys\n"
        "from ivr.knowledge.segment import terms, use_cache_dir\n"
        "use_cache_dir(Path(sys.argv[1]))\n"
        "print(terms('医保缴费'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert done.stderr == ""  # no "Building prefix dict from the default dictionary ..."
    assert "医保" in done.stdout
    assert (tmp_path / "cache" / "jieba.cache").is_file()


# ------------------------------------------------------------------ search


def test_a_search_for_yibao_finds_the_entry(kb: KnowledgeBase) -> None:
    """Two-character words are found (a trigram index finds nothing for 医保)."""
    kb.propose(answer("城乡居民医保缴费", "每年9月至12月缴纳次年保费。"), SUPER, approve=True)
    kb.propose(answer("供水报修", "停水请转供水公司。"), SUPER, approve=True)
    hits = kb.search("医保")
    assert [h.entry.title for h in hits] == ["城乡居民医保缴费"]
    assert hits[0].title_marks == [(4, 6)]  # 城乡居民【医保】缴费
    assert titles(kb, "居民医保") == ["城乡居民医保缴费"]
    assert titles(kb, "保缴") == ["城乡居民医保缴费"]  # a pair across jieba's words


def test_the_shipped_entries_are_found_by_what_operators_type(shipped: KnowledgeBase) -> None:
    assert "城乡居民医保缴费" in titles(shipped, "医保")
    assert titles(shipped, "公积金提取")[0] == "住房公积金提取"
    assert "住房公积金提取" in titles(shipped, "公积金")
    assert titles(shipped, "社保卡")[0] == "社保卡挂失"
    assert titles(shipped, "社保卡丢了")[0] == "社保卡挂失"  # not every word needs to match
    # a department's number by the department's name (the ticket catalogue's)
    water = shipped.search("供水总公司")[0]
    assert (water.entry.title, water.entry.kind, water.entry.phone) == (
        "供水报修",
        "phone",
        "0471-6969110",
    )
    assert titles(shipped, "医疗保障局")[0] == "医疗保障局咨询电话"


def test_latin_letters_and_digits_are_found_as_typed(shipped: KnowledgeBase) -> None:
    assert titles(shipped, "0471-6969110")[0] == "供水报修"  # 0471 alone: every number
    assert titles(shipped, "6969")[0] == "供水报修"  # a prefix, as the operator types
    assert titles(shipped, "12329")[0] == "住房公积金中心服务热线"
    apps = titles(shipped, "APP")  # any case
    assert "城乡居民医保缴费" in apps and "社保卡挂失" in apps
    assert titles(shipped, "xyz") == []
    assert titles(shipped, "   ") == []


def test_the_entry_titled_as_the_query_comes_first(kb: KnowledgeBase) -> None:
    body = "医保、医保卡、医保报销、医保缴费，医保的事都在这里。"
    kb.propose(answer("医保常见问题汇总", body, tags=("医保",)), SUPER, approve=True)
    kb.propose(answer("医保", "医保政策咨询请转医疗保障局。"), SUPER, approve=True)
    kb.propose(answer("异地就医", "医保异地就医先备案。"), SUPER, approve=True)
    assert titles(kb, "医保")[0] == "医保"
    # entries holding every term come before those holding some
    kb.propose(answer("医保缴费", "城乡居民每年缴费一次。"), SUPER, approve=True)
    got = kb.search("医保缴费")
    assert got[0].entry.title == "医保缴费"
    assert [h.every for h in got][:2] == [True, True]
    assert not got[-1].every


def test_the_snippet_marks_the_match(kb: KnowledgeBase) -> None:
    body = "参保人员" * 20 + "城乡居民医保缴费每年一次" + "办理" * 40
    kb.propose(answer("缴费时间", body), SUPER, approve=True)
    hit = kb.search("医保缴费")[0]
    start, end = hit.marks[0]
    assert hit.snippet[start:end] == "医保缴费"
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert len(hit.snippet) <= 82


# ------------------------------------------------------------------ the flow


def test_proposals_are_found_only_once_approved(kb: KnowledgeBase) -> None:
    p = kb.propose(answer("公积金提取", "租房提取每年一次。"), OP)
    assert p.state == "proposed" and p.proposed_by == "op1001"
    assert titles(kb, "公积金") == []
    assert titles(kb, "公积金", include_proposed=True) == ["公积金提取"]
    assert kb.get(p.id, OP).state == "proposed"  # its proposer sees it
    with pytest.raises(EntryNotFound):
        kb.get(p.id, OTHER_OP)  # another operator does not
    with pytest.raises(KnowledgeForbidden):
        kb.approve(p.id, OP)
    approved = kb.approve(p.id, SUPER, "核实无误")
    assert (approved.state, approved.decided_by, approved.decision_note) == (
        "approved",
        "super",
        "核实无误",
    )
    assert titles(kb, "公积金") == ["公积金提取"]
    with pytest.raises(EntryStateConflict):
        kb.approve(p.id, SUPER)
    kb.retire(p.id, SUPER, "政策已变")
    assert titles(kb, "公积金") == []
    assert [e.title for e in kb.entries("retired")] == ["公积金提取"]


def test_a_rejected_proposal_stays_out_of_search(kb: KnowledgeBase) -> None:
    p = kb.propose(answer("社保卡挂失", "去银行。"), OP)
    with pytest.raises(EntryInvalid):
        kb.reject(p.id, SUPER, "  ")  # say why
    assert kb.reject(p.id, SUPER, "已有同类条目").state == "rejected"
    assert titles(kb, "社保卡", include_proposed=True) == []
    with pytest.raises(EntryStateConflict):
        kb.edit(p.id, answer("社保卡挂失", "x"), SUPER)


def test_an_edit_changes_what_is_found(kb: KnowledgeBase) -> None:
    e = kb.propose(answer("供水报修", "停水请转供水公司。"), SUPER, approve=True)
    new = answer("燃气报修", "闻到燃气味请开窗。", kind="phone", phone="0471-6514119")
    edited = kb.edit(e.id, new, SUPER, version=1)
    assert (edited.version, edited.state, edited.phone) == (2, "approved", "0471-6514119")
    assert titles(kb, "供水") == [] and titles(kb, "燃气") == ["燃气报修"]
    with pytest.raises(EntryStateConflict, match="version 2"):
        kb.edit(e.id, new, SUPER, version=1)  # another edit since
    with pytest.raises(KnowledgeForbidden):
        kb.edit(e.id, new, OP)
    assert kb.reindex() == 1
    assert titles(kb, "燃气") == ["燃气报修"]


def test_bad_drafts_are_refused(kb: KnowledgeBase) -> None:
    for draft, word in [
        (answer(" ", "x"), "title"),
        (answer("t", ""), "body"),
        (answer("t", "x", kind="faq"), "kind"),
        (answer("t", "x", kind="phone"), "phone"),
        (answer("t", "x", tags=tuple(f"t{n}" for n in range(13))), "tags"),
    ]:
        with pytest.raises(EntryInvalid, match=word):
            kb.propose(draft, SUPER)
    for draft in (answer("医\x00保", "x"), answer("t", "a\x00b"), answer("t", "x", tags=("\x07",))):
        with pytest.raises(EntryInvalid, match="control characters"):
            kb.propose(draft, SUPER)  # PostgreSQL cannot store a NUL in text
    kb.propose(answer("医保", "第一行\n第二行\t完"), SUPER, approve=True)
    assert titles(kb, "医\x00保\x1b") == ["医保"]  # control characters dropped
    with pytest.raises(EntryNotFound):
        kb.approve(999, SUPER)
    with pytest.raises(EntryInvalid):
        kb.entries("lost")


def test_every_change_is_audited(kb: KnowledgeBase, db: Database) -> None:
    p = kb.propose(
        answer("公积金提取", "租房提取每年一次。"), Actor("op1001", "operator", "10.0.0.7")
    )
    kb.edit(p.id, answer("公积金提取", "租房提取每年可办理一次。"), SUPER)
    kb.approve(p.id, SUPER)
    q = kb.propose(answer("医保", "x"), OP)
    kb.reject(q.id, SUPER, "重复")
    with db.session() as s:
        rows = s.scalars(select(AuditRow).order_by(AuditRow.id)).all()
        got = [(r.actor, r.role, r.action, r.target) for r in rows]
        first = rows[0]
        edit_before = json.loads(rows[1].before_json or "null")
        edit_after = json.loads(rows[1].after_json or "null")
    assert got == [
        ("op1001", "operator", "knowledge.propose", f"knowledge:{p.id}"),
        ("super", "supervisor", "knowledge.edit", f"knowledge:{p.id}"),
        ("super", "supervisor", "knowledge.approve", f"knowledge:{p.id}"),
        ("op1001", "operator", "knowledge.propose", f"knowledge:{q.id}"),
        ("super", "supervisor", "knowledge.reject", f"knowledge:{q.id}"),
    ]
    assert first.address == "10.0.0.7" and first.before_json is None
    assert (edit_before["version"], edit_after["version"]) == (1, 2)
    assert edit_after["body"] == "租房提取每年可办理一次。"


# ------------------------------------------------------------------ the admin file


def test_importing_again_changes_only_what_changed(shipped: KnowledgeBase, tmp_path: Path) -> None:
    text_ = (CONFIG_DIR / "knowledge.yaml").read_text("utf-8")
    again = read_knowledge_file(CONFIG_DIR / "knowledge.yaml", DEPARTMENTS)
    admin = Actor("cli:root", "cli")
    assert shipped.import_entries(again, admin) == (0, 0, len(again))
    changed = tmp_path / "knowledge.yaml"
    changed.write_text(text_.replace("0471-6969110", "0471-6969111"), "utf-8")
    assert shipped.import_entries(read_knowledge_file(changed), admin) == (0, 1, len(again) - 1)
    assert titles(shipped, "6969111") == ["供水报修"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries:\n  - title: x\n    body: y\n    department: nowhere\n", "utf-8")
    with pytest.raises(KnowledgeFileInvalid, match="nowhere"):
        read_knowledge_file(bad, DEPARTMENTS)
    bad.write_text("entries:\n  - title: x\n", "utf-8")
    with pytest.raises(KnowledgeFileInvalid, match=r"entries\.0\.body"):
        read_knowledge_file(bad)


# ------------------------------------------------------------------ migration 0007


def _diff(db: Database, **opts: Any) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, **opts})
        return list(compare_metadata(context, Base.metadata))


def test_the_migration_makes_the_index_the_models_leave_out(db: Database) -> None:
    assert current_revision(db.engine) == head_revision() >= "0007"
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name='knowledge_fts'"))
            assert "fts5" in sql.scalar_one()
    else:
        cols = {c["name"]: c for c in inspect(db.engine).get_columns("knowledge_entries")}
        assert str(cols["search"]["type"]) == "TSVECTOR"
        with db.engine.connect() as conn:
            ddl = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                {"n": "ix_knowledge_entries_search"},
            ).scalar_one()
        assert "USING gin (search)" in ddl
    # without the filter, the comparison sees exactly the index (and nothing else differs)
    unfiltered = _diff(db)
    assert unfiltered and all(
        "knowledge_fts" in repr(d) or "search" in repr(d) for d in unfiltered
    ), unfiltered


def test_downgrade_to_0006_and_upgrade_again(db: Database) -> None:
    kb = KnowledgeBase(db)
    kb.propose(answer("医保", "x"), SUPER, approve=True)
    command.downgrade(_alembic_config(db.engine), "0006")
    assert "knowledge_entries" not in inspect(db.engine).get_table_names()
    assert not [n for n in inspect(db.engine).get_table_names() if n.startswith("knowledge")]
    assert upgrade(db.engine) == head_revision()
    assert titles(kb, "医保") == []
    kb.propose(answer("医保", "x"), SUPER, approve=True)
    assert titles(kb, "医保") == ["医保"]


# ------------------------------------------------------------------ hotline knowledge


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(CONFIG_DIR))
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path / "var"))

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["knowledge", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_knowledge(cli: Any) -> None:
    code, out, err = cli("import")
    assert code == 0, err
    assert out.endswith("knowledge.yaml: 9 added, 0 changed, 0 unchanged (all approved)\n")
    assert f"revision {head_revision()}" in err
    code, out, _ = cli("search", "医保")
    assert code == 0 and "城乡居民【医保】缴费" in out
    code, out, _ = cli("search", "供水总公司")
    assert out.startswith(" 1. #5 【供水】报修 ☎ 0471-6969110\n")
    code, out, _ = cli("list", "--state", "approved")
    assert code == 0 and len(out.splitlines()) == 9
    code, out, _ = cli("show", "4")
    assert code == 0 and "社保卡挂失" in out and "department: social_security" in out
    code, out, _ = cli("retire", "4", "--note", "改由人社局答复")
    assert (code, out) == (0, "entry 4 (社保卡挂失): retired\n")
    assert "社保卡挂失" not in cli("search", "社保卡")[1]
    code, _, err = cli("approve", "4")
    assert code == 1 and err.startswith("[HL-KNO-003] entry 4 is retired")
    code, _, err = cli("show", "99")
    assert code == 1 and err.startswith("[HL-KNO-001]")
    assert cli("reindex") == (0, "9 entries indexed again\n", "")


def test_an_empty_knowledge_base_is_no_data_to_a_restore(db: Database) -> None:
    """FTS5 writes bookkeeping rows into its empty index: the restore's check for a database
    that holds data must not count them."""
    from ivr.backup.dbdump import tables_with_rows

    assert tables_with_rows(db.url) == []
    KnowledgeBase(db).propose(answer("医保", "x"), SUPER)
    assert tables_with_rows(db.url) == ["audit_log", "knowledge_entries"]
