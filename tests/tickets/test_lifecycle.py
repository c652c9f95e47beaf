"""The state machine, refused transitions, audit trail, numbering, on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.errors import DatabaseUnavailable
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.errors import (
    BadTicketInput,
    TicketNotFound,
    TransitionRefused,
)
from ivr.tickets.lifecycle import TRANSITIONS, State, allowed_actions, check
from ivr.tickets.service import TicketService
from tests.tickets.conftest import TZ, Clock


def new(service: TicketService, caller: str = "13900000001", **kw: object) -> str:
    args: dict[str, object] = {
        "caller": caller,
        "type": "complaint",
        "category": "housing.property",
        "actor": "op1",
        "content": "物业不开发票",
    }
    args.update(kw)
    return service.accept(**args).number  # type: ignore[arg-type]


def test_pure_table_refuses_everything_not_listed() -> None:
    for state in State:
        for action in TRANSITIONS:
            sources, _ = TRANSITIONS[action]
            if state in sources:
                check(state, action)
            else:
                with pytest.raises(TransitionRefused, match="not allowed"):
                    check(state, action)
    assert allowed_actions(State.ARCHIVED) == []
    assert "dispatch" in allowed_actions("accepted")


def test_dispatch_path_to_archive_with_audit(service: TicketService) -> None:
    number = new(service)
    for action, kw in [
        ("dispatch", {}),
        ("sign", {}),
        ("handle", {}),
        ("finish", {"reply": "已开具发票"}),
        ("callback", {"satisfaction": 5, "solved": True}),
        ("archive", {}),
    ]:
        service.act(number, action, actor="dept1", **kw)  # type: ignore[arg-type]
    ticket = service.get(number)
    assert ticket.state == "archived"
    assert ticket.department == "property"  # from the dispatch catalogue
    assert ticket.satisfaction == 5
    trail = [(e.action, e.from_state, e.to_state, e.actor) for e in service.history(number)]
    assert trail == [
        ("accept", None, "accepted", "op1"),
        ("dispatch", "accepted", "dispatched", "dept1"),
        ("sign", "dispatched", "signed", "dept1"),
        ("handle", "signed", "handling", "dept1"),
        ("finish", "handling", "finished", "dept1"),
        ("callback", "finished", "visited", "dept1"),
        ("archive", "visited", "archived", "dept1"),
    ]


def test_answer_directly(service: TicketService) -> None:
    number = new(service, type="consult", category="housing_fund")
    with pytest.raises(BadTicketInput, match="reply"):
        service.act(number, "answer", actor="op1")
    service.act(number, "answer", actor="op1", reply="公积金提取需带身份证")
    assert service.get(number).state == "finished"
    assert [t.ref for t in service.callback_tasks("visit")] == [number]


def test_refused_transitions_are_clear_and_change_nothing(service: TicketService) -> None:
    number = new(service)
    with pytest.raises(TransitionRefused) as info:
        service.act(number, "finish", actor="x", reply="r")
    assert info.value.code == "HL-TKT-002"
    assert "accepted" in str(info.value) and "allowed now: answer, dispatch" in str(info.value)
    with pytest.raises(TransitionRefused):
        service.act(number, "archive", actor="x")
    with pytest.raises(TicketNotFound):
        service.act("20990101000001", "sign", actor="x")
    assert service.get(number).state == "accepted"
    assert len(service.history(number)) == 1


def test_return_redispatch(service: TicketService) -> None:
    number = new(service)
    service.act(number, "dispatch", actor="op", department="xincheng")
    with pytest.raises(BadTicketInput, match="reason"):
        service.act(number, "return", actor="xincheng")
    service.act(number, "return", actor="xincheng", note="不属于本单位职责")
    with pytest.raises(TransitionRefused):
        service.act(number, "sign", actor="xincheng")
    service.act(number, "redispatch", actor="op", department="huimin")
    ticket = service.get(number)
    assert (ticket.state, ticket.department, ticket.returns) == ("dispatched", "huimin", 1)
    service.act(number, "return", actor="huimin", note="x")
    with pytest.raises(BadTicketInput, match="unknown department"):
        service.act(number, "redispatch", actor="op", department="nowhere")
    assert service.get(number).state == "returned"


def test_extension_before_deadline_only(service: TicketService, clock: Clock) -> None:
    number = new(service)  # Fri 2025-09-26 10:00, complaint: 1 working day -> Sun 28th (调休)
    assert service.get(number).deadline == dt.datetime(2025, 9, 28, 10, 0, tzinfo=TZ)
    service.act(number, "dispatch", actor="op")
    with pytest.raises(TransitionRefused, match="no extension request"):
        service.act(number, "extend_approve", actor="office")
    service.act(number, "extend_request", actor="dept", days=2, note="需现场勘查")
    with pytest.raises(TransitionRefused, match="already pending"):
        service.act(number, "extend_request", actor="dept", days=1, note="again")
    service.act(number, "extend_approve", actor="office")
    ticket = service.get(number)
    # Sun 28th + 2 working days: Mon 29th, Tue 30th (National Day holiday follows)
    assert ticket.deadline == dt.datetime(2025, 9, 30, 10, 0, tzinfo=TZ)
    assert ticket.extensions == 1
    clock.now = dt.datetime(2025, 9, 30, 11, 0, tzinfo=TZ)
    with pytest.raises(TransitionRefused, match="before the deadline"):
        service.act(number, "extend_request", actor="dept", days=1, note="late")


def test_remind_supervise_counters(service: TicketService) -> None:
    number = new(service)
    service.act(number, "dispatch", actor="op")
    service.act(number, "remind", actor="op")
    service.act(number, "remind", actor="op")
    service.act(number, "supervise", actor="office", note="领导批示")
    ticket = service.get(number)
    assert (ticket.reminders, ticket.supervised, ticket.state) == (2, True, "dispatched")


def test_redo_only_when_not_satisfied(service: TicketService) -> None:
    number = new(service)
    for action, kw in [("dispatch", {}), ("sign", {}), ("handle", {}), ("finish", {"reply": "r"})]:
        service.act(number, action, actor="d", **kw)  # type: ignore[arg-type]
    with pytest.raises(BadTicketInput, match=r"1\.\.5"):
        service.act(number, "callback", actor="v", satisfaction=9)
    service.act(number, "callback", actor="v", satisfaction=4, solved=True)
    with pytest.raises(TransitionRefused, match="not satisfied"):
        service.act(number, "redo", actor="v")


def test_redo_after_unsatisfied_callback(service: TicketService) -> None:
    number = new(service)
    for action, kw in [("dispatch", {}), ("sign", {}), ("handle", {}), ("finish", {"reply": "r"})]:
        service.act(number, action, actor="d", **kw)  # type: ignore[arg-type]
    service.act(number, "callback", actor="v", satisfaction=2, solved=False)
    service.act(number, "redo", actor="v", note="市民不满意")
    ticket = service.get(number)
    assert (ticket.state, ticket.redos, ticket.satisfaction) == ("dispatched", 1, None)


def test_merge(service: TicketService) -> None:
    a = new(service, call_uniqueid="call-a")
    b = new(service, call_uniqueid="call-b")
    with pytest.raises(BadTicketInput, match="itself"):
        service.act(a, "merge", actor="op", into=a)
    service.act(b, "merge", actor="op", into=a, note="重复诉求")
    assert service.get(b).state == "merged"
    assert service.calls(a) == ["call-a", "call-b"]
    with pytest.raises(TransitionRefused):
        service.act(b, "dispatch", actor="op")


def test_numbers_readable_unique_and_idempotent_by_call(service: TicketService) -> None:
    a = new(service, call_uniqueid="1700000000.1")
    b = new(service)
    assert a == "20250926000001" and b == "20250926000002"
    assert new(service, call_uniqueid="1700000000.1") == a  # retried accept: same ticket
    with pytest.raises(BadTicketInput, match="unknown ticket type"):
        new(service, type="nonsense")
    with pytest.raises(BadTicketInput, match="unknown category"):
        new(service, category="nonsense")


def test_database_away_is_a_clear_error(
    catalogue: Catalogue, deadlines: Deadlines, clock: Clock, tmp_path: Path
) -> None:
    """No server: HL-TKT-001, and nothing is written (one transaction per action)."""
    away = Database(f"postgresql://postgres@/nowhere?host={tmp_path}&port=1")
    service = TicketService(away, catalogue, deadlines, clock)
    with pytest.raises(DatabaseUnavailable) as caught:
        service.accept(caller="139", type="consult", category="housing.property", actor="op1")
    assert caught.value.code == "HL-TKT-001" and "nothing was changed" in str(caught.value)
    with pytest.raises(DatabaseUnavailable):
        service.act("20250926000001", "sign", actor="dept")
    away.close()
