"""The channels tickets come in by (the catalogue's ``sources``): phone and web always exist,
the upper-level platforms are checked at their line (a built-in channel's kind, a reply to
one place), and an item forwarded by a platform is taken once by its source and id, on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ivr.config.catalogue import check_catalogue, load_catalogue
from ivr.db.database import Database
from ivr.db.tables import TicketRow
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.service import TicketService
from tests.conftest import CONFIG_DIR


def test_the_shipped_catalogues_name_their_platforms() -> None:
    line = load_catalogue(CONFIG_DIR)
    assert line.source_name("phone") == "12345热线电话" and line.source_name("web") == "网上诉求"
    assert "people_leaders" in line.upper_sources()
    demo = load_catalogue(CONFIG_DIR / "demo-siping")
    groups = {s.group for s in demo.upper_sources().values()}
    assert groups == {"省长公开电话办公室转来", "省政数局转来", "市长信箱、地方领导留言板"}
    assert demo.source_name("nope") == "nope"  # an unknown code shows as itself


def _catalogue_with(tmp_path: Path, sources: str) -> Path:
    config = tmp_path / "config"
    (config / "tickets").mkdir(parents=True)
    path = config / "tickets" / "catalogue.yaml"
    text = (CONFIG_DIR / "tickets" / "catalogue.yaml").read_text("utf-8")
    text = text[: text.index("\nsources:")] + "\nsources:\n" + sources
    path.write_text(text, "utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    return next(n for n, x in enumerate(path.read_text("utf-8").splitlines(), 1) if needle in x)


def test_a_built_in_channel_keeps_its_kind_and_a_new_one_is_upper(tmp_path: Path) -> None:
    path = _catalogue_with(
        tmp_path,
        "  phone: {name: 电话, kind: web}\n"
        "  app: {name: 掌上12345, kind: web}\n"
        "  mailbox: {name: 市长信箱}\n",
    )
    problems = check_catalogue(path.parent.parent)
    assert [(p.code, p.line) for p in problems] == [
        ("HL-CAT-009", _line(path, "phone: {name: 电话")),
        ("HL-CAT-009", _line(path, "app: {name")),
    ]
    assert "the 'phone' channel is of kind 'phone'" in problems[0].message
    catalogue_dir = path.parent.parent
    shutil.rmtree(catalogue_dir / "tickets")
    path = _catalogue_with(tmp_path, "  mailbox: {name: 市长信箱}\n")
    cat = load_catalogue(catalogue_dir)
    assert list(cat.sources) == ["phone", "web", "mailbox"]  # built-ins without being listed


def test_a_reply_goes_to_exactly_one_place(tmp_path: Path) -> None:
    path = _catalogue_with(
        tmp_path,
        "  a: {name: A, reply: {}}\n"
        "  b: {name: B, reply: {directory: out/b, webhook: 'https://x.example/r'}}\n"
        "  c: {name: C, reply: {directory: out/c, secret: k}}\n"
        "  web: {name: 网站, kind: web, reply: {directory: out/web}}\n"
        "  e: {name: E, reply: {webhook: 'https://x.example/r', secret: 'env:HOTLINE_E'}}\n",
    )
    problems = check_catalogue(path.parent.parent)
    found = [(p.code, p.line) for p in problems]
    assert ("HL-CAT-009", _line(path, "  a: {")) in found
    assert ("HL-CAT-009", _line(path, "  b: {")) in found
    assert ("HL-CAT-009", _line(path, "  c: {")) in found
    assert ("HL-CAT-009", _line(path, "  web: {")) in found
    assert not any(p.line == _line(path, "  e: {") for p in problems)
    shutil.rmtree(path.parent)
    path = _catalogue_with(tmp_path, "  d: {name: D, reply: {webhook: 'ftp://x'}}\n")
    [problem] = check_catalogue(path.parent.parent)  # not an http(s) URL
    assert (problem.code, problem.line) == ("HL-CAT-002", _line(path, "  d: {"))


def test_a_forwarded_item_is_taken_once(db: Database, service: TicketService) -> None:
    received = dt.datetime(2025, 9, 25, 8, 30, tzinfo=dt.UTC)
    first = service.accept(
        caller="13900000001", type="complaint", category="housing.property", actor="import",
        content="小区供暖不热", source="people_leaders", external_id="RMW-2025-0001",
        received_at=received,
    )  # fmt: skip
    again = service.accept(
        caller="13900000001", type="complaint", category="housing.property", actor="import",
        content="小区供暖不热", source="people_leaders", external_id="RMW-2025-0001",
    )  # fmt: skip
    other = service.accept(
        caller="13900000001", type="complaint", category="housing.property", actor="import",
        source="mayor_mailbox", external_id="RMW-2025-0001",
    )  # fmt: skip
    assert again.number == first.number and other.number != first.number
    with db.session() as s:
        row = s.scalar(select(TicketRow).where(TicketRow.number == first.number))
        assert row is not None and row.received_at == received
        assert row.source == "people_leaders" and row.external_id == "RMW-2025-0001"
        assert s.scalar(select(func.count()).select_from(TicketRow)) == 2


def test_an_unknown_source_is_refused(service: TicketService) -> None:
    with pytest.raises(BadTicketInput, match="unknown source 'fax'"):
        service.accept(
            caller="139", type="consult", category="housing.property", actor="x", source="fax"
        )
