"""Hot issues (热点诉求) on SQLite and PostgreSQL, the tickets written through TicketService:
complaints about one estate's heating in one day form one flagged group, unrelated tickets
do not; the threshold and the 24-hour window hold; the catalogue's section is checked."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.hotspots_bench import DISTRICTS, generate
from ivr.cli import main
from ivr.config.catalogue import Catalogue, check_catalogue
from ivr.config.hotspot_rules import HotspotRules
from ivr.db.database import Database
from ivr.hotspots import (
    HotTicket,
    day_end,
    find_hotspots,
    group_tickets,
    place_of,
    same_place,
)
from ivr.hotspots.refresh import HotspotRefresher, read_board
from ivr.reports import build_report, parse_period
from ivr.reports.render import csv_files, markdown
from ivr.tickets.service import TicketService
from queueing import keys
from tests.conftest import CONFIG_DIR
from tests.redis_clients import redis_client
from tests.tickets.conftest import Clock

BEIJING = ZoneInfo("Asia/Shanghai")
HEATING = [
    ("阳光小区3号楼暖气不热，室温只有12度，老人受不了", "新城区海拉尔东路街道阳光小区3号楼"),
    ("家里暖气不热，温度太低，孩子感冒了", "阳光小区5号楼2单元"),
    ("暖气片不热，供热不达标，屋里很冷", "新城区阳光小区"),
    ("供暖温度不够，暖气不热已经三天了", "呼和浩特市新城区阳光小区12号楼"),
    ("暖气时冷时热，室温不到18度", "阳光小区8号楼"),
    ("暖气不热，家里只有十几度，请供热公司来看看", "新城区阳光小区1号楼1单元"),
]
UNRELATED = [
    ("暖气不热，室温只有14度", "赛罕区金桥小区2号楼", "utilities.heating"),  # another estate
    ("楼下餐馆油烟扰民，夏天不敢开窗", "阳光小区3号楼", "pollution"),  # same estate, other
    ("小区电梯经常故障，物业不修", "阳光小区7号楼", "housing.property"),
    ("养老保险转移接续怎么办理", "", "social_security"),
    ("公交车间隔太长，等车四十分钟", "新城区兴安北路", "transport.bus"),
]


def accept(service: TicketService, clock: Clock, content: str, address: str,
           category: str = "utilities.heating") -> str:  # fmt: skip
    row = service.accept(
        caller="13900000000", type="complaint", category=category, actor="1001",
        content=content, address=address, now=clock(),
    )  # fmt: skip
    clock.advance(minutes=25)
    return row.number


def test_one_estates_heating_complaints_form_one_flagged_group(
    service: TicketService, db: Database, catalogue: Catalogue, clock: Clock
) -> None:
    heating = [accept(service, clock, c, a) for c, a in HEATING]
    others = [accept(service, clock, c, a, cat) for c, a, cat in UNRELATED]
    found = find_hotspots(db, catalogue, clock(), HotspotRules(min_tickets=5))
    assert found.scanned == len(heating) + len(others)
    assert len(found.flagged) == 1
    group = found.flagged[0]
    assert [t.number for t in group.tickets] == heating  # oldest first
    assert group.place == "新城区阳光小区"
    assert "暖气" in group.words and "不热" in group.words
    assert found.category_name(group.category_top) == "水、电、气"
    assert found.category_name(group.tickets[0].category) == "水、电、气/供热"
    listed = {t.number for g in found.groups for t in g.tickets}
    assert listed.isdisjoint(others)  # no unrelated ticket in any group
    board = found.board(dt.UTC)
    assert board["groups"][0]["count"] == 6
    assert board["groups"][0]["place"] == "新城区阳光小区"
    assert board["groups"][0]["tickets"] == heating


def test_the_threshold_and_the_window_hold(
    service: TicketService, db: Database, catalogue: Catalogue, clock: Clock
) -> None:
    rules = HotspotRules(min_tickets=5, window_hours=24)
    first = [accept(service, clock, c, a) for c, a in HEATING[:4]]
    found = find_hotspots(db, catalogue, clock(), rules)
    assert found.flagged == []  # four are a group, not yet a hot one
    assert [t.number for t in found.groups[0].tickets] == first
    fifth = accept(service, clock, *HEATING[4])
    found = find_hotspots(db, catalogue, clock(), rules)
    assert [t.number for t in found.flagged[0].tickets] == [*first, fifth]
    # a day after the first, the first has left the window: four again
    later = clock() - dt.timedelta(minutes=25 * 5) + dt.timedelta(hours=24, minutes=1)
    found = find_hotspots(db, catalogue, later, rules)
    assert found.scanned == 4 and found.flagged == []
    # the window of a local day: these were accepted on 26 September, Beijing time
    day = find_hotspots(db, catalogue, day_end(dt.date(2025, 9, 26), BEIJING), rules)
    assert len(day.flagged) == 1 and day.flagged[0].count == 5
    assert find_hotspots(db, catalogue, day_end(dt.date(2025, 9, 28), BEIJING)).scanned == 0


def test_merged_duplicates_are_not_counted(
    service: TicketService, db: Database, catalogue: Catalogue, clock: Clock
) -> None:
    numbers = [accept(service, clock, c, a) for c, a in HEATING[:5]]
    service.act(numbers[4], "merge", actor="1001", into=numbers[0], now=clock())
    found = find_hotspots(db, catalogue, clock(), HotspotRules(min_tickets=5))
    assert found.scanned == 4 and found.flagged == []


def test_places_read_from_addresses() -> None:
    districts = ["新城区", "赛罕区"]
    p = place_of("内蒙古自治区呼和浩特市新城区海拉尔东路街道阳光小区3号楼2单元", districts)
    assert (p.district, p.street, p.estate) == ("新城区", "海拉尔东路街道", "阳光小区")
    assert place_of("回民区中山西路88号恒大名都小区").estate == "恒大名都小区"
    assert place_of("海拉尔东路与兴安北路交叉口").road == "海拉尔东路"
    assert same_place(place_of("阳光小区5号楼"), place_of("新城区阳光小区", districts))
    assert not same_place(place_of("阳光小区"), place_of("金桥小区"))
    assert not same_place(place_of("阳光小区"), place_of("海拉尔东路"))  # nothing in common
    assert same_place(place_of("海拉尔东路12号"), place_of("海拉尔东路阳光小区"))


def test_a_bad_rule_is_told_with_its_place(config_copy: Path) -> None:
    path = config_copy / "tickets" / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "hotspots:\n  min_tickets: 1\n  window: 24\n", encoding="utf-8")
    problems = {(p.line, p.code, p.message) for p in check_catalogue(config_copy)}
    lines = text.count("\n")
    assert any(line == lines + 2 and code == "HL-CAT-002" and m.startswith("hotspots.min_tickets: ")
               for line, code, m in problems), problems  # fmt: skip
    assert (lines + 3, "HL-CAT-002", "hotspots: unknown key 'window'") in problems


def test_a_broken_water_main_among_three_thousand_is_one_group() -> None:
    """Issue 17: 30 generated tickets about one broken water main in one road, among 3,000
    (some of them at the same road), come out as one flagged group."""
    tickets, hot = generate(3000)
    groups = group_tickets(tickets, HotspotRules(), DISTRICTS)
    found = [g for g in groups if g.flagged and hot & {t.number for t in g.tickets}]
    assert len(found) == 1
    numbers = {t.number for t in found[0].tickets}
    assert hot <= numbers and len(numbers - hot) <= 3
    assert found[0].place.endswith("海拉尔东路")
    assert {"爆裂", "水管"} & set(found[0].words)


def test_the_daily_report_lists_the_hot_issues_with_their_tickets(
    service: TicketService, db: Database, catalogue: Catalogue, clock: Clock, tmp_path: Path
) -> None:
    heating = [accept(service, clock, c, a) for c, a in HEATING]
    accept(service, clock, *UNRELATED[1][:2], UNRELATED[1][2])
    report = build_report(db, catalogue, parse_period(day="2025-09-26"))
    text = markdown(report)
    assert "## 热点诉求（24小时内同一地点相似诉求达5件：1类，6件）" in text
    for number in heating:
        assert "| 1 | 不热 暖气" in text and f"| 新城区阳光小区 | 6 | {number} |" in text
    assert "| 水、电、气/供热 | 新城区海拉尔东路街道阳光小区3号楼 | 阳光小区3号楼暖气不热" in text
    table = csv_files(report)["report-2025-09-26-hotspots.csv"]  # a file of its own
    first = table.splitlines()[1].split(",")
    assert (
        first[0] == "1"
        and first[1].startswith("不热 暖气")
        and first[2:4] == ["新城区阳光小区", "6"]
    )
    assert "油烟" not in text.split("## 热点诉求")[1]
    # a week's report has no such section (its days' reports have)
    assert "热点诉求" not in markdown(build_report(db, catalogue, parse_period(week="2025-W39")))


def test_hotline_hotspots_prints_the_groups(
    service: TicketService, db_url: str, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    heating = [accept(service, clock, c, a) for c, a in HEATING]
    accept(service, clock, "小区电梯经常故障，物业不修", "阳光小区7号楼", "housing.property")
    accept(service, clock, "电梯故障，物业一直不修", "阳光小区2号楼", "housing.property")
    args = ["hotspots", "--day", "2025-09-26", "--database-url", db_url, "--config",
            str(CONFIG_DIR)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "8 tickets, 2 groups, 1 flagged (at least 5 alike at one place" in out
    assert "1. HOT 6 tickets · 新城区阳光小区 · 水、电、气 · 不热 暖气" in out
    assert all(n in out for n in heating) and "电梯" not in out
    assert main([*args, "--all"]) == 0
    out = capsys.readouterr().out
    assert "2. 2 tickets · 阳光小区 · 住建 · " in out and "电梯" in out
    assert main(["hotspots", "--day", "26/9", "--database-url", db_url]) == 1
    err = capsys.readouterr().err
    assert "--day: cannot read '26/9'" in err and "HL-" in err and "Traceback" not in err


async def test_the_servers_refresh_writes_the_wallboards_key(
    service: TicketService, db: Database, catalogue: Catalogue, clock: Clock, redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """hotline serve's refresh: the flagged groups into Redis, expiring after three
    refreshes; the database away: HL-HOT-001 logged, the last result kept."""
    heating = [accept(service, clock, c, a) for c, a in HEATING]
    client = redis_client(redis_url)
    centre = f"hot{uuid.uuid4().hex[:8]}"
    refresher = HotspotRefresher(db, lambda: (catalogue, "Asia/Shanghai"), client, centre)
    try:
        assert await read_board(client, centre) is None
        assert await refresher.run_once(clock()) == 10.0  # the catalogue's default
        board = await read_board(client, centre)
        assert board is not None and board["min_tickets"] == 5 and board["scanned"] == 6
        assert [g["tickets"] for g in board["groups"]] == [heating]
        assert board["end"] == clock().isoformat(timespec="seconds")  # in Beijing time
        assert 1700 < await client.ttl(keys.hotspots(centre)) <= 1800
        away = HotspotRefresher(Database("sqlite:////nonexistent/dir/h.db"),
                                lambda: (catalogue, "Asia/Shanghai"), client, centre)  # fmt: skip
        await away.run_once(clock())
        assert "[HL-HOT-001] hot issues not refreshed" in caplog.text
        assert await read_board(client, centre) == board
        # a server whose catalogue was refused does nothing
        idle = HotspotRefresher(db, lambda: (None, "Asia/Shanghai"), client, centre)
        assert await idle.run_once() == 10.0
        # the server's task: its first refresh after first_delay, then every refresh_minutes
        await client.delete(keys.hotspots(centre))
        task = HotspotRefresher(db, lambda: (catalogue, "Asia/Shanghai"), client, centre,
                                first_delay=0.05)  # fmt: skip
        task.start()
        deadline = asyncio.get_running_loop().time() + 20
        while await read_board(client, centre) is None:
            assert asyncio.get_running_loop().time() < deadline, "no refresh in 20 s"
            await asyncio.sleep(0.05)
        await task.stop()
    finally:
        await client.delete(keys.hotspots(centre))
        await client.aclose()


def test_tickets_without_words_join_nothing() -> None:
    """A content of only common words (or none) is alike to nothing, not to every other."""
    at = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
    texts = ["", "", "希望尽快解决问题", "物业不修电梯", "电梯物业不修"]
    tickets = [HotTicket(str(n), at, "housing.property", "housing", text, "阳光小区")
               for n, text in enumerate(texts)]  # fmt: skip
    groups = group_tickets(tickets, HotspotRules(min_tickets=2))
    assert [[t.number for t in g.tickets] for g in groups] == [["3", "4"]]
