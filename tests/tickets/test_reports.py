"""Reports: hand-counted small data, and seed 004's tables reproduced from seed-demo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.tables import TicketRow
from ivr.devtools.demo import seed_demo
from ivr.devtools.seed004 import DemoCatalogueRefused
from ivr.records.store import CallRecordStore
from ivr.reports import build_report, parse_period
from ivr.reports.charts import chart_text
from ivr.reports.render import markdown, write_report
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.service import TicketService
from queueing.events import QueueEvent
from tests.tickets.conftest import TZ, Clock
from tests.tickets.test_store import record


def test_periods() -> None:
    assert parse_period(month="2020-02").end == dt.date(2020, 3, 1)
    assert parse_period(month="2020-12").end == dt.date(2021, 1, 1)
    week = parse_period(week="2020-W07")
    assert (week.start, week.end) == (dt.date(2020, 2, 10), dt.date(2020, 2, 17))
    assert parse_period(day="2020-02-09").end == dt.date(2020, 2, 10)
    with pytest.raises(BadTicketInput, match="--month 2020-02"):
        parse_period(month="Feb")


async def test_hand_counted_day(
    service: TicketService, db: Database, clock: Clock, tmp_path: Path
) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    for i in range(4):  # 4 calls on 26 Sep 2025 (local)
        await store.save(record(i))
    t0 = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)
    waits = {0: 5, 1: 20, 2: 10}
    for i, wait in waits.items():
        callid = f"1758852000.{i}"
        await store.queue_event(QueueEvent(t0, callid, "general", "NONE", "ENTERQUEUE"))
        await store.queue_event(
            QueueEvent(t0, callid, "general", "a1", "CONNECT", (str(wait), "x", "1"))
        )
    await store.queue_event(QueueEvent(t0, "1758852000.3", "general", "NONE", "ENTERQUEUE"))
    await store.queue_event(
        QueueEvent(t0, "1758852000.3", "general", "NONE", "ABANDON", ("1", "1", "30"))
    )

    def accept(type_: str, category: str) -> str:
        return service.accept(caller="139", type=type_, category=category, actor="op").number

    a = accept("consult", "housing_fund")
    service.act(a, "answer", actor="op", reply="r")
    service.act(a, "callback", actor="v", satisfaction=5, solved=True)
    b = accept("complaint", "housing.property")
    service.act(b, "dispatch", actor="op")
    c = accept("help", "epidemic.supplies")
    d = accept("complaint", "housing.property")
    service.act(d, "merge", actor="op", into=b)
    clock.now = dt.datetime(2025, 9, 29, 12, 0, tzinfo=TZ)  # past the deadlines of b and c
    service.sweep()
    report = build_report(db, service.catalogue, parse_period(day="2025-09-26"))
    assert (report.calls, report.accepted, report.finished, report.in_progress) == (4, 3, 1, 2)
    assert dict((code, n) for code, _, n in report.by_type) == {
        "consult": 1,
        "help": 1,
        "complaint": 1,
        "report": 0,
        "suggestion": 0,
        "praise": 0,
    }
    [(_, name, total, types)] = report.special
    assert (name, total, types) == ("疫情", 1, [("help", "求助", 1)])
    shares = {code: (n, share) for code, _, n, share in report.by_category if n}
    assert shares == {"housing": (1, 0.5), "housing_fund": (1, 0.5)}
    assert report.departments == [("property", "呼和浩特市房产管理服务中心", 1, 0)]
    assert (report.overdue_open, report.supervised) == (2, 2)
    assert report.supervised_by_reason == {"overdue": 2}
    assert [n for _, _, n in report.satisfaction] == [1, 0, 0, 0, 0]
    q = report.queue
    assert (q.offered, q.answered, q.answered_in_target, q.abandoned) == (4, 3, 2, 1)
    assert q.average_wait == pytest.approx(35 / 3)
    assert q.answer_rate == 0.75
    assert c  # accepted, open


def test_seed_demo_reproduces_seed_004(
    db: Database, demo_catalogue: Catalogue, service: TicketService, tmp_path: Path
) -> None:
    catalogue = demo_catalogue  # config/demo-siping: Siping's units, as seed-demo's default
    period = parse_period(month="2020-02")
    result = seed_demo(db, catalogue, service.deadlines, period)
    assert (result.calls, result.tickets, result.finished) == (8570, 6610, 6572)
    assert result.forwarded == 34
    report = build_report(db, catalogue, period)
    # the first section: items forwarded by upper-level platforms, by the sources' groups
    groups: dict[str, list[int]] = {}
    for src in report.sources:
        pair = groups.setdefault(src.group, [0, 0])
        pair[0] += src.items
        pair[1] += src.finished
    assert groups == {
        "省长公开电话办公室转来": [17, 17],
        "省政数局转来": [1, 1],
        "市长信箱、地方领导留言板": [16, 14],
    }
    text = markdown(report)
    assert (
        "2020年2月份，市长公开电话办公室收到省长公开电话办公室转来的《人民网领导留言板》、《省长信箱》、"
        "《国务院“互联网+督办”平台群众留言》共17件，已全部办结。省政数局转来的《中国政府网网民留言》"
        "1件，已办结。《市长信箱》、《地方领导留言板》共16件，办结14件，还有2件正在办理中。"
        "2020年2月9日至2月29日共接到群众各种诉求电话8570个，受理6610件，办结6572件，"
        "还有38件正在办理中，办结率99.4%。其中关于疫情方面电话2408个，受理2150件，属于疫情咨询"
        "1665件、疫情求助298件、疫情投诉77件、疫情举报61件、疫情建议49件。其他问题电话6162个，"
        "受理4460件，属于住建问题765件，占17.2%；住房公积金问题708件，占15.9%；"
    ) in text
    assert "交通问题269件，占6%；" in text and "农村、土地和其它问题1728件，占38.7%。" in text
    assert "统计时段：2020年2月1日至2月29日（有数据的日期：2020年2月9日至2月29日）" in text
    with db.session() as s:
        forwarded = s.execute(
            select(TicketRow.source, TicketRow.external_id, TicketRow.received_at).where(
                TicketRow.source != "phone"
            )
        ).all()
    assert len(forwarded) == 34 and all(ext and at for _, ext, at in forwarded)
    # every day of 9-29 Feb has calls, tickets and abandoned calls (not all in the first days)
    days = [(d, calls, tickets) for d, calls, tickets in report.daily if d.day >= 9]
    assert all(calls > 250 and tickets > 200 for _, calls, tickets in days), days
    day = build_report(db, catalogue, parse_period(day="2020-02-27"))
    assert day.accepted > 200 and day.queue.abandoned > 10
    assert (report.calls, report.accepted, report.finished, report.in_progress) == (
        8570,
        6610,
        6572,
        38,
    )
    assert f"{report.finish_rate:.1%}" == "99.4%"
    [(_, _, total, types)] = report.special
    assert total == 2150
    assert [(code, n) for code, _, n in types] == [
        ("consult", 1665),
        ("help", 298),
        ("complaint", 77),
        ("report", 61),
        ("suggestion", 49),
    ]
    table = [(name, n, f"{share * 100:.1f}") for _, name, n, share in report.by_category]
    assert table == [
        ("住建", 765, "17.2"),
        ("住房公积金", 708, "15.9"),
        ("水、电、气", 407, "9.1"),
        ("交通", 269, "6.0"),
        ("行政执法", 217, "4.9"),
        ("社会治安", 195, "4.4"),
        ("医保", 107, "2.4"),
        ("社保", 32, "0.7"),
        ("犬类", 21, "0.5"),
        ("环境污染", 11, "0.2"),
        ("农村、土地和其它", 1728, "38.7"),
    ]  # seed 004 prints 交通 as "6%"
    depts = {name: (n, f) for _, name, n, f in report.departments}
    assert depts["铁西区政府"] == (133, 128) and depts["市管廊建设公司"] == (1, 0)
    assert len(depts) == 25 and sum(n for n, _ in depts.values()) == 557
    assert sum(f for _, f in depts.values()) == 519  # 38 open, all at departments
    assert report.direct == (6610 - 557, 6572 - 519)  # answered directly: their own row
    assert len(chart_text(report, chinese=True).departments) == 25  # every one charted
    assert report.queue.offered > 0 and report.queue.answered > 0
    assert "办结率99.4%" in markdown(report)
    files = write_report(report, tmp_path / "out")
    names = sorted(p.name for p in files)
    assert "report-2020-02-csv.zip" in names and "report-2020-02-daily.png" in names
    assert (tmp_path / "out" / "report-2020-02-daily.png").read_bytes()[:4] == b"\x89PNG"
    html = (tmp_path / "out" / "report-2020-02.html").read_text()
    assert "report-2020-02-categories.png" in html and "铁西区政府" in html
    csv = (tmp_path / "out" / "report-2020-02-categories.csv").read_text().splitlines()
    assert csv[0] == "分类,件数,占比（%）" and "住建,765,17.2" in csv
    csv = (tmp_path / "out" / "report-2020-02-departments.csv").read_text().splitlines()
    assert csv[1] == "铁西区政府,133,128" and csv[-2:] == [
        "直接答复（未转办）,6053,6053",
        "合计,6610,6572",
    ]
    with pytest.raises(BadTicketInput, match="already has"):
        seed_demo(db, catalogue, service.deadlines, period)


def test_seed_demo_refuses_the_hohhot_catalogue(
    db: Database, catalogue: Catalogue, service: TicketService
) -> None:
    """The line config's catalogue (Hohhot) lacks Siping's units: refused, nothing written."""
    with pytest.raises(DemoCatalogueRefused) as info:
        seed_demo(db, catalogue, service.deadlines, parse_period(month="2020-02"))
    assert info.value.code == "HL-CAT-008"
    assert "lacks department tiexi" in str(info.value) and "demo-siping" in str(info.value)
    assert "\n" not in str(info.value)
    assert build_report(db, catalogue, parse_period(month="2020-02")).calls == 0


def test_previous_periods_and_the_words_of_a_share() -> None:
    from ivr.reports.narrative import previous
    from ivr.reports.report_tables import pct_text, span_text

    assert previous(parse_period(month="2020-03")).label == "2020-02"
    assert previous(parse_period(month="2020-01")).label == "2019-12"
    assert previous(parse_period(week="2021-W01")).label == "2020-W53"
    assert previous(parse_period(day="2020-03-01")).label == "2020-02-29"
    assert (pct_text(0.06), pct_text(0.172), pct_text(None)) == ("6%", "17.2%", "—")
    assert span_text(dt.date(2020, 2, 9), dt.date(2020, 2, 29)) == "2020年2月9日至2月29日"
    assert span_text(dt.date(2020, 12, 28), dt.date(2021, 1, 3)) == "2020年12月28日至2021年1月3日"
