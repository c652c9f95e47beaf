"""Working-day deadlines across 调休, due-soon/overdue flags, both supervision rules."""

from __future__ import annotations

import datetime as dt

from ivr.config.calendar import BusinessCalendar
from ivr.config.models import HoursFile
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.service import TicketService
from tests.tickets.conftest import TZ, Clock


def at(day: int, month: int = 9, hour: int = 10) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, 0, tzinfo=TZ)


def test_deadline_across_national_day_with_make_up_days(deadlines: Deadlines) -> None:
    # 2025: Sun 28 Sep and Sat 11 Oct are workdays (调休); 1-8 Oct are holidays.
    assert deadlines.due(at(26), 1) == at(28)  # Fri -> the make-up Sunday
    assert deadlines.due(at(30), 1) == at(9, 10)  # Tue 30 Sep -> Thu 9 Oct
    assert deadlines.due(at(30), 2) == at(10, 10)
    assert deadlines.due(at(10, 10), 1) == at(11, 10)  # Fri 10 Oct -> the make-up Saturday
    assert deadlines.due(at(27), 2) == at(29)  # accepted on a Saturday off
    assert deadlines.working_days_left(at(30), at(9, 10)) == 1


def test_deadline_override_and_new_year_make_up_day(deadlines: Deadlines) -> None:
    # New Year 2026: 1-3 Jan off, Sunday 4 Jan a make-up workday.
    start = dt.datetime(2025, 12, 31, 9, 0, tzinfo=TZ)
    assert deadlines.due(start, 1) == dt.datetime(2026, 1, 4, 9, 0, tzinfo=TZ)
    # An admin override (hours.yaml) wins over chinese-calendar: a local day off on Mon 29 Sep.
    hours = HoursFile.model_validate(
        {"overrides": [{"date": "2025-09-29", "workday": False, "note": "local holiday"}]}
    )
    local = Deadlines(BusinessCalendar(hours))
    assert local.due(at(28), 1) == at(30)


def test_flags_and_overdue_supervision(service: TicketService, clock: Clock) -> None:
    number = service.accept(
        caller="13900000009", type="consult", category="transport.bus", actor="op"
    ).number  # due Sun 28 Sep 10:00
    service.act(number, "dispatch", actor="op")
    clock.now = at(28, hour=7)
    result = service.sweep()
    assert (result.due_soon, result.overdue, result.supervised_overdue) == (1, 0, 0)
    assert service.get(number).due_soon
    clock.now = at(28, hour=11)
    result = service.sweep()
    assert (result.due_soon, result.overdue, result.supervised_overdue) == (0, 1, 1)
    ticket = service.get(number)
    assert ticket.overdue and ticket.supervised and not ticket.due_soon
    assert service.sweep().supervised_overdue == 0  # once only
    [(listed, reasons)] = service.supervised()
    assert listed.number == number and reasons == ["overdue"]
    events = [(e.action, e.actor) for e in service.history(number)]
    assert events[-1] == ("supervise", "system")
    for action, kw in [("sign", {}), ("handle", {}), ("finish", {"reply": "已答复"})]:
        service.act(number, action, actor="d", **kw)  # type: ignore[arg-type]
    service.sweep()
    ticket = service.get(number)
    assert not ticket.overdue and ticket.was_overdue
    assert service.supervised() == []


def test_repeated_requests_are_supervised(service: TicketService, clock: Clock) -> None:
    caller = "13800000001"

    def handle_once() -> str:
        number = service.accept(
            caller=caller, type="complaint", category="dogs", actor="op", content="犬吠扰民"
        ).number
        for action, kw in [
            ("dispatch", {}),
            ("sign", {}),
            ("handle", {}),
            ("finish", {"reply": "已处理"}),
        ]:
            service.act(number, action, actor="police", **kw)  # type: ignore[arg-type]
        return number

    first = handle_once()
    service.act(first, "callback", actor="v", satisfaction=2, solved=False)
    assert not service.get(first).supervised  # handled once: no supervision yet
    other = service.accept(caller="13800000002", type="complaint", category="dogs", actor="op")
    second = handle_once()
    service.act(second, "callback", actor="v", satisfaction=1, solved=False)
    # handled twice, still unresolved: both unresolved tickets of this caller are supervised
    assert service.get(first).supervised and service.get(second).supervised
    assert not service.get(other.number).supervised
    assert [r for _, r in service.supervised()] == []  # closed ones are not in the open list
    service.act(second, "redo", actor="v")
    [(ticket, reasons)] = service.supervised()
    assert ticket.number == second and reasons == ["repeated"]


def test_repeated_rule_ignores_resolved_requests(service: TicketService) -> None:
    for _ in range(2):
        number = service.accept(
            caller="13800000003", type="consult", category="housing_fund", actor="op"
        ).number
        service.act(number, "answer", actor="op", reply="已解答")
        service.act(number, "callback", actor="v", satisfaction=5, solved=True)
    assert service.sweep().supervised_repeated == 0
