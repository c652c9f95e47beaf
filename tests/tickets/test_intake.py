"""Items forwarded by upper-level platforms taken as tickets (ivr/intake), on SQLite and
PostgreSQL: JSON and CSV (UTF-8 with or without BOM, GBK), once per source and external id,
a bad row stopping nothing, an unknown source refusing the batch, dispatched by the catalogue,
and two imports of one item at the same moment giving one ticket."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import ivr.tickets.forwarded as forwarded_module
import ivr.tickets.service as service_module
from ivr.accounts.audit import read_audit
from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.errors import DatabaseUnavailable
from ivr.db.tables import TicketEventRow, TicketRow
from ivr.intake.importer import Importer
from ivr.intake.item import IntakeError, UnknownSource
from ivr.intake.parse import read_category_map, read_csv, read_file, read_json
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.service import TicketService

SOURCE = "people_leaders"


def item(n: int, **over: Any) -> dict[str, Any]:
    base = {
        "external_id": f"RMW-2025-{n:04d}",
        "received_at": "2025-09-25T08:30:00+08:00",
        "phone": f"139000000{n:02d}",
        "name": "张三",
        "content": f"小区暖气不热 {n}",
        "address": "新城区海东路1号",
        "type": "complaint",
        "category": "utilities.heating",
    }
    return {**base, **over}


def tickets(db: Database) -> list[TicketRow]:
    with db.session() as s:
        return list(s.scalars(select(TicketRow).order_by(TicketRow.id)))


def test_a_json_batch_becomes_dispatched_tickets_once(db: Database, service: TicketService) -> None:
    raw = json.dumps([item(1), item(2, category="住建/物业服务", confidential=True)]).encode()
    importer = Importer(service, "importer")
    report = importer.run(read_json(raw), SOURCE)
    assert report.counts() == {"created": 2, "already": 0, "refused": 0}
    first, second = tickets(db)
    assert (first.source, first.external_id, first.caller) == (
        SOURCE,
        "RMW-2025-0001",
        "13900000001",
    )
    assert first.received_at == dt.datetime(2025, 9, 25, 0, 30, tzinfo=dt.UTC)
    assert (first.state, first.department) == ("dispatched", "heating")  # the dispatch map's
    assert (second.category, second.department, second.confidential) == (
        "housing.property", "property", True,
    )  # fmt: skip
    assert [o.number for o in report.items] == [first.number, second.number]
    # the same file again: nothing new, nothing changed, the same numbers reported
    again = importer.run(read_json(raw), SOURCE)
    assert again.counts() == {"created": 0, "already": 2, "refused": 0}
    assert [o.number for o in again.items] == [first.number, second.number]
    assert len(tickets(db)) == 2
    with db.session() as s:
        events = s.scalar(select(func.count()).select_from(TicketEventRow))
        audit = [r for r in read_audit(s, 10) if r["action"] == "intake.import"]
    assert events == 4  # accept and dispatch of each, once
    assert [(r["target"], r["after"]) for r in audit] == [
        (f"source:{SOURCE}", {"created": 0, "already": 2, "refused": 0, "items": 2}),
        (f"source:{SOURCE}", {"created": 2, "already": 0, "refused": 0, "items": 2}),
    ]


CSV_HEADER = "编号,收到时间,电话,姓名,内容,地址,类型,分类,保密,承办单位,序号\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_a_csv_file_in_chinese_with_a_bad_row(
    db: Database, service: TicketService, encoding: str
) -> None:
    text = (
        CSV_HEADER
        + "A1,2025/09/25 08:30,13900000001,张三,暖气不热,新城区,投诉,供热,否,,1\n"
        + "A2,,13900000002,李四,没有时间,,咨询,,是,,2\n"
        + '"A3",2025-09-25 09:00,13900000003,,"路灯坏了,\n晚上很黑",,求助,不存在的类,否,,3\n'
        + "A4,2025-09-25 10:00,13900000004,,噪音扰民,,投诉,环境污染,是,公安局,4\n"
    )
    parsed = read_csv(text.encode(encoding))
    assert (
        parsed.encoding
        == {"utf-8": "utf-8", "utf-8-sig": "utf-8 (BOM)", "gbk": "GBK (GB18030)"}[encoding]
    )
    assert parsed.ignored_columns == ["序号"]
    report = Importer(service, "importer").run(parsed, SOURCE)
    assert report.counts() == {"created": 2, "already": 0, "refused": 2}
    a1, a2, a3, a4 = report.items
    assert (a1.outcome, a1.department, a1.state) == ("created", "heating", "dispatched")
    assert (a2.where, a2.column, a2.error_id) == ("row 3", "收到时间", "HL-IMP-002")
    assert a2.message.startswith("missing") and a2.external_id == "A2"
    assert (a3.where, a3.column, a3.error_id) == ("row 4", "分类", "HL-IMP-004")  # 2 lines
    assert "unknown category '不存在的类'" in a3.message
    assert (a4.where, a4.department) == ("row 6", "police")  # the hint, not the map's
    assert [t.external_id for t in tickets(db)] == ["A1", "A4"]
    assert tickets(db)[1].confidential is True


def test_a_default_category_and_a_category_without_a_department(
    db: Database, service: TicketService
) -> None:
    raw = json.dumps([item(1, category="外星人"), item(2, category="")]).encode()
    importer = Importer(service, "importer")
    refused = importer.run(read_json(raw), SOURCE)
    assert [(o.outcome, o.error_id) for o in refused.items] == [("refused", "HL-IMP-004")] * 2
    report = importer.run(read_json(raw), SOURCE, default_category="农村、土地和其它/其它")
    assert report.counts()["created"] == 2
    # no department in the dispatch map: accepted, for an operator to dispatch
    assert {(o.state, o.department) for o in report.items} == {("accepted", None)}
    assert "kept at the centre for an operator" in report.items[0].message
    with pytest.raises(IntakeError, match="default category") as exc:
        importer.run(read_json(raw), SOURCE, default_category="外星人")
    assert exc.value.code == "HL-IMP-001"


def test_refusals_name_the_item_and_stop_nothing(db: Database, service: TicketService) -> None:
    items: list[Any] = [
        item(1, phone="not a phone"),
        "not an object",
        item(3, source="mayor_mailbox"),
        item(4, type="抱怨"),
        item(5, received_at="yesterday"),
        item(6, colour="red"),
        item(7, department="月球局"),
        item(8),
    ]
    report = Importer(service, "importer").run(read_json(json.dumps(items).encode()), SOURCE)
    got = [(o.where, o.column, o.error_id) for o in report.items]
    assert got == [
        ("item 1", "phone", "HL-IMP-002"),
        ("item 2", None, "HL-IMP-002"),
        ("item 3", "source", "HL-IMP-002"),
        ("item 4", "type", "HL-IMP-004"),
        ("item 5", "received_at", "HL-IMP-002"),
        ("item 6", "colour", "HL-IMP-002"),
        ("item 7", "department", "HL-IMP-004"),
        ("item 8", None, None),
    ]
    assert [t.external_id for t in tickets(db)] == ["RMW-2025-0008"]


def test_an_unknown_source_refuses_the_batch(db: Database, service: TicketService) -> None:
    raw = json.dumps([item(1)]).encode()
    for source in ("fax", "phone", "web"):
        with pytest.raises(UnknownSource) as exc:
            Importer(service, "importer").run(read_json(raw), source)
        assert exc.value.code == "HL-IMP-003" and "people_leaders (人民网领导留言板)" in str(
            exc.value
        )
    assert tickets(db) == []


def test_unreadable_batches() -> None:
    cases = [
        (b"{not json", "json", "not JSON"),
        (b'{"items": []}', "json", "is a list"),
        (b"", "csv", "empty"),
        ("编号,电话\nA1,139\n".encode(), "csv", "lacks the column(s) received_at, content, type"),
        ("编号,外部编号\n".encode(), "csv", "both give external_id"),
        (b"\xff\xfe\x00\x81", "csv", "neither UTF-8 nor GBK"),
    ]
    for raw, fmt, message in cases:
        with pytest.raises(IntakeError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_file(raw, fmt)


def test_a_dry_run_changes_nothing(db: Database, service: TicketService) -> None:
    importer = Importer(service, "importer")
    importer.run(read_json(json.dumps([item(1)]).encode()), SOURCE)
    raw = json.dumps([item(1), item(2), item(2), item(3, phone="x")]).encode()
    report = importer.run(read_json(raw), SOURCE, dry_run=True)
    assert [o.outcome for o in report.items] == ["already", "created", "already", "refused"]
    assert len(tickets(db)) == 1


@pytest.mark.parametrize("chunk", [1, 200])
def test_an_insert_that_loses_the_race_reads_the_winner_back(
    db: Database,
    catalogue: Catalogue,
    deadlines: Deadlines,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    """Another import commits the same item between this one's look-up and its insert: the
    unique (source, external_id) refuses the insert (one by one; or the chunk's transaction,
    whose items are then taken one by one), and the item is reported as already there with
    the winner's ticket, the chunk's other items created."""
    service = TicketService(db, catalogue, deadlines)  # the real clock
    raw = json.dumps([item(1)] if chunk == 1 else [item(2), item(1), item(3)]).encode()
    module = service_module if chunk == 1 else forwarded_module
    name = "next_number" if chunk == 1 else "next_numbers"
    real_next = getattr(module, name)
    winner: list[str] = []

    def next_number_after_a_rival(session: Any, day: dt.date, *count: int) -> Any:
        if not winner:
            winner.append("running")
            rival = TicketService(db, catalogue, deadlines)
            one = json.dumps([item(1)]).encode()
            done = Importer(rival, "rival", chunk=1).run(read_json(one), SOURCE)
            winner[0] = str(done.items[0].number)
        return real_next(session, day, *count)

    monkeypatch.setattr(module, name, next_number_after_a_rival)
    report = Importer(service, "importer", chunk=chunk).run(read_json(raw), SOURCE)
    got = {o.external_id: (o.outcome, o.number) for o in report.items}
    assert got["RMW-2025-0001"] == ("already", winner[0])
    assert [o.outcome for o in report.items if o.external_id != "RMW-2025-0001"] == ["created"] * (
        len(report.items) - 1
    )
    by = {t.external_id: t.accepted_by for t in tickets(db)}
    assert by["RMW-2025-0001"] == "rival" and len(by) == len(report.items)


def test_concurrent_imports_of_one_batch_give_one_ticket_each(
    pg_url: str, catalogue: Catalogue, deadlines: Deadlines
) -> None:
    """Eight threads import the same 30 items at once on PostgreSQL: 30 tickets, each item
    created once over all the threads and reported with the same number by every thread."""
    db = Database(pg_url, pool_size=10)
    try:
        raw = json.dumps([item(n) for n in range(1, 31)]).encode()
        start = threading.Barrier(8)
        reports: list[Any] = []
        errors: list[BaseException] = []

        def one(k: int) -> None:
            try:
                importer = Importer(TicketService(db, catalogue, deadlines), f"thread{k}")
                start.wait(timeout=30)
                reports.append(importer.run(read_json(raw), SOURCE))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == [] and len(reports) == 8
        assert len(tickets(db)) == 30
        assert sum(r.counts()["created"] for r in reports) == 30
        assert all(r.counts()["refused"] == 0 for r in reports)
        numbers = {tuple(o.number for o in r.items) for r in reports}
        assert len(numbers) == 1  # every thread names the same ticket for each item
    finally:
        db.close()


def test_the_database_going_away_mid_batch_says_how_far_it_got(
    db: Database, service: TicketService, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.dumps([item(1), item(2), item(3)]).encode()
    real_accept = service.accept
    calls: list[int] = []

    def flaky(**kw: Any) -> TicketRow:
        calls.append(1)
        if len(calls) == 2:
            orig = Exception("server closed the connection\nunexpectedly")
            raise OperationalError("INSERT", {}, orig)
        return real_accept(**kw)

    monkeypatch.setattr(service, "accept", flaky)
    with pytest.raises(DatabaseUnavailable) as exc:
        Importer(service, "importer", chunk=1).run(read_json(raw), SOURCE)
    message = str(exc.value)
    assert message.startswith("[HL-TKT-001] database ") and "\n" not in message
    assert "went away after 1 of 3 items (server closed the connection unexpectedly)" in message
    monkeypatch.setattr(service, "accept", real_accept)
    again = Importer(service, "importer").run(read_json(raw), SOURCE)
    assert again.counts() == {"created": 2, "already": 1, "refused": 0}


def test_a_category_map_names_the_platforms_categories(
    db: Database, service: TicketService
) -> None:
    raw = json.dumps([item(1, category="供暖问题"), item(2, category="物业服务")]).encode()
    importer = Importer(service, "importer")
    mapping = {"供暖问题": "utilities.heating", "物业服务": "pollution"}  # the map comes first
    report = importer.run(read_json(raw), SOURCE, category_map=mapping)
    assert [(o.outcome, o.department) for o in report.items] == [
        ("created", "heating"), ("created", "environment"),
    ]  # fmt: skip
    with pytest.raises(IntakeError, match="category map: '噪音': unknown category '噪声'"):
        importer.run(read_json(raw), SOURCE, category_map={"噪音": "噪声"})
    assert read_category_map("供暖问题: utilities.heating\n12: 供热\n".encode("gbk")) == {
        "供暖问题": "utilities.heating", "12": "供热",
    }  # fmt: skip
    for bad in (b"- a\n- b\n", b"a: [1]\n", b"a: {\n"):
        with pytest.raises(IntakeError, match="category map"):
            read_category_map(bad)


def test_refusals_read_as_a_person_writes() -> None:
    parsed = read_json(json.dumps([item(1, phone="电话"), item(2, received_at="昨天")]).encode())
    assert [str(r.error) for r in parsed.rows] == [
        "item 1, column phone: '电话' is not a phone number (digits; a leading +, spaces, - "
        "allowed) [HL-IMP-002]",
        "item 2, column received_at: '昨天' is not a date and time: write 2025-09-25 08:30 or "
        "ISO 8601 [HL-IMP-002]",
    ]


@pytest.mark.parametrize("chunk", [1, 200])
def test_an_id_given_twice_in_one_batch_is_one_ticket(
    db: Database, service: TicketService, chunk: int
) -> None:
    raw = json.dumps([item(1), item(2), item(1, content="又写了一遍")]).encode()
    report = Importer(service, "importer", chunk=chunk).run(read_json(raw), SOURCE)
    assert [o.outcome for o in report.items] == ["created", "created", "already"]
    assert report.items[0].number == report.items[2].number
    assert [t.content for t in tickets(db)] == ["小区暖气不热 1", "小区暖气不热 2"]
