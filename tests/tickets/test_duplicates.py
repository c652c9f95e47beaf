"""Likely duplicates across channels (并单), on SQLite and PostgreSQL: the same number or the
same address (normalised) in the same category, within the window; a merged ticket is out;
the two queries run on indexes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from ivr.db.addresses import normalise_address
from ivr.db.tables import TicketRow
from ivr.tickets.duplicates import SAME_ADDRESS, SAME_CALLER
from ivr.tickets.service import TicketService
from tests.tickets.conftest import Clock


def test_addresses_compare_without_whitespace_and_full_width() -> None:
    assert normalise_address("新城区　海拉尔东路 １２号 Ａ座") == "新城区海拉尔东路12号a座"
    assert normalise_address("Ａ\t座\u00a0１-２") == "a座1-2"
    assert normalise_address("  ") == ""


def test_same_number_or_same_address_within_the_window(
    service: TicketService, clock: Clock
) -> None:
    first = service.accept(caller="13900000001", type="help", category="housing.property",
                           actor="t", address="回民区 中山西路８号", source="web")  # fmt: skip
    clock.advance(days=3)
    same_caller = service.accept(caller="13900000001", type="consult", category="utilities.water",
                                 actor="t")  # fmt: skip
    same_place = service.accept(caller="13900000002", type="help", category="housing.property",
                                actor="t", address="回民区中山西路8号", source="people_leaders",
                                external_id="X-1")  # fmt: skip
    other_category = service.accept(caller="13900000003", type="help", category="utilities.water",
                                    actor="t", address="回民区中山西路8号")  # fmt: skip
    clock.advance(days=5)  # 8 days after the first: out of its window, in the others'
    late = service.accept(caller="13900000001", type="help", category="housing.property",
                          actor="t")  # fmt: skip
    found = service.duplicates([first, same_caller, same_place, other_category, late])
    numbers = {k: [(d.ticket.number, d.reasons) for d in v] for k, v in found.items()}
    assert numbers[first.id] == [
        (same_caller.number, (SAME_CALLER,)),
        (same_place.number, (SAME_ADDRESS,)),
    ]
    assert numbers[late.id] == [(same_caller.number, (SAME_CALLER,))]
    assert other_category.id not in numbers
    assert [
        d.ticket.number for d in service.duplicates([same_place], days=1).get(same_place.id, [])
    ] == []
    # a merged ticket is nobody's duplicate any more
    service.act(same_place.number, "merge", actor="t", into=first.number)
    again = service.duplicates([service.get(first.number)])
    assert [d.ticket.number for d in again[first.id]] == [same_caller.number]
    assert service.duplicates([]) == {}


def test_a_page_far_apart_in_time(service: TicketService, clock: Clock) -> None:
    """An old ticket among new ones: each finds its own neighbours, not the others'."""
    old = [
        service.accept(
            caller="13900000009",
            type="help",
            category="housing.property",
            actor="t",
            now=clock.now + dt.timedelta(hours=h),
        )
        for h in (0, 1)
    ]
    clock.advance(days=40)
    new = [
        service.accept(
            caller="13900000009",
            type="help",
            category="housing.property",
            actor="t",
            now=clock.now + dt.timedelta(hours=h),
        )
        for h in (0, 1)
    ]
    found = service.duplicates([old[0], new[1]])
    assert [d.ticket.number for d in found[old[0].id]] == [old[1].number]
    assert [d.ticket.number for d in found[new[1].id]] == [new[0].number]


def test_the_queries_use_the_indexes(service: TicketService) -> None:
    """The plan of each query names its index (PostgreSQL with sequential scans off: a small
    table is otherwise read whole, which says nothing)."""
    day = dt.date(2025, 9, 26)
    at = dt.datetime(2025, 9, 26, tzinfo=dt.UTC)
    by_caller = ("SELECT id FROM tickets WHERE caller IN ('1', '2') AND state != 'merged' "
                 "AND accepted_at >= :at")  # fmt: skip
    by_place = ("SELECT id FROM tickets WHERE address_norm IN ('回民区中山西路8号', 'a座') "
                "AND category IN ('housing.property') "
                "AND state != 'merged' AND accepted_at >= :at")  # fmt: skip
    for n in range(120):  # tickets of one category at many addresses: the planner's statistics
        service.accept(caller=f"1390000{n:04d}", type="help", category="housing.property",
                       actor="t", address=f"回民区中山西路{n}号")  # fmt: skip
    with service.db.session() as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        s.execute(text("ANALYZE tickets" if not sqlite else "ANALYZE"))
        if not sqlite:
            s.execute(text("SET LOCAL enable_seqscan = off"))
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        plans = []
        for query in (by_caller, by_place):
            rows = s.execute(text(explain + query), {"at": at, "day": day}).all()
            plans.append(" ".join(str(r[-1]) for r in rows))
    assert "ix_tickets_caller_category" in plans[0], plans[0]
    assert "ix_tickets_address_norm" in plans[1], plans[1]
    assert "Seq Scan" not in plans[1] and "SCAN tickets" not in plans[1]


def test_an_address_of_ascii_only_and_a_like_sign(service: TicketService) -> None:
    """Addresses with letters in either width and case, and with LIKE's own signs, match
    exactly; a digit more is another address."""

    def acc(caller: str, address: str) -> TicketRow:
        return service.accept(caller=caller, address=address, type="help",
                              category="utilities.water", actor="t")  # fmt: skip

    a = acc("1", "Block 12")
    assert a.address_norm == "block12" and a.address == "Block 12"  # written with the address
    b = acc("2", "ｂｌｏｃｋ１２")
    c = acc("3", "100%_路")
    d = acc("4", "１００％＿ 路")
    e = acc("5", "100x路")
    found = service.duplicates([a, c])
    assert [x.ticket.number for x in found[a.id]] == [b.number]
    assert [x.ticket.number for x in found[c.id]] == [d.number]
    assert e.id not in service.duplicates([e])
