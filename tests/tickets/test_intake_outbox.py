"""An imported item's whole way (issue 17's evidence): imported, dispatched by the catalogue,
finished by its department, and its reply waiting in the outbox for its platform with the
platform's own id; no SMS receipt (the platform answers the citizen); imported again, nothing
new. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

from ivr.intake.importer import Importer
from ivr.intake.parse import read_json
from tests.tickets.outbox_helpers import Setup, setup_fixture  # noqa: F401 (fixture)
from tests.tickets.test_intake import item


async def test_an_imported_item_finished_replies_to_its_platform(setup: Setup) -> None:
    raw = json.dumps([item(1, phone="13900000001")]).encode()
    report = Importer(setup.service, "importer").run(read_json(raw), "people_leaders")
    [created] = report.items
    assert (created.outcome, created.state, created.department) == (
        "created", "dispatched", "heating",
    )  # fmt: skip
    assert setup.rows() == []  # a forwarded item gets no SMS receipt from us
    number = str(created.number)
    for action, kw in [("sign", {}), ("handle", {}), ("finish", {"reply": "已派人检修管道"})]:
        setup.service.act(number, action, actor="heating-dept", **kw)  # type: ignore[arg-type]
    [reply] = setup.rows()
    assert (reply.kind, reply.target, reply.ticket_number) == ("reply", "people_leaders", number)
    assert reply.body["external_id"] == "RMW-2025-0001" and reply.body["reply"] == "已派人检修管道"
    again = Importer(setup.service, "importer").run(read_json(raw), "people_leaders")
    assert [(o.outcome, o.number, o.state) for o in again.items] == [
        ("already", number, "finished"),
    ]  # fmt: skip
    assert len(setup.rows()) == 1
