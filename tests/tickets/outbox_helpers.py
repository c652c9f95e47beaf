"""What the outbox tests share: a ticket service writing to the outbox on a notify.yaml the
test sets, delivery loops on a clock, what they sent (``setup``, fixture)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.config.catalogue import Catalogue
from ivr.config.catalogue_sources import SourceModel
from ivr.config.notify_models import Delivery, NotifyFile, SmsSettings
from ivr.db.database import Database
from ivr.db.outbox_tables import OutboxRow
from ivr.notify import OutboxNotices
from ivr.notify.delivery import DeliveryLoop
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.service import TicketService
from tests.tickets.conftest import Clock

TIMEZONE = "Asia/Shanghai"


def notify(**sms: object) -> NotifyFile:
    settings = {"enabled": True, "lookup_url": "https://12345.example/q", "hours": None, **sms}
    return NotifyFile(
        sms=SmsSettings.model_validate(settings),
        delivery=Delivery(max_attempts=3, backoff_seconds=10, max_backoff_seconds=15),
    )


class Setup:
    def __init__(
        self, db: Database, catalogue: Catalogue, deadlines: Deadlines, clock: Clock, var: Path
    ) -> None:
        self.config = notify()
        self.sources: dict[str, SourceModel] = dict(catalogue.sources)
        notices = OutboxNotices(lambda: self.config, lambda: self.sources)
        self.service = TicketService(db, catalogue, deadlines, clock, notices=notices)
        self.db, self.clock, self.var = db, clock, var
        self.loops: list[DeliveryLoop] = []

    def loop(self, db: Database | None = None) -> DeliveryLoop:
        loop = DeliveryLoop(
            db or self.db, lambda: self.config, lambda: self.sources, self.var,
            lambda: TIMEZONE, now=self.clock,
        )  # fmt: skip
        self.loops.append(loop)
        return loop

    async def close(self) -> None:
        for loop in self.loops:
            await loop.stop()

    def rows(self) -> list[OutboxRow]:
        with self.db.session() as s:
            return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all())

    def texts(self) -> list[dict[str, str]]:
        path = self.var / "sms-outbox.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]

    def accept(self, caller: str = "13900000001", **kw: object) -> str:
        args: dict[str, object] = {
            "caller": caller, "type": "complaint", "category": "housing.property",
            "actor": "op1", "content": "物业不开发票",
        }  # fmt: skip
        args.update(kw)
        return self.service.accept(**args).number  # type: ignore[arg-type]

    def finish(self, number: str, reply: str = "已督促物业开具发票") -> None:
        for action, kw in [("dispatch", {}), ("sign", {}), ("handle", {}),
                           ("finish", {"reply": reply})]:  # fmt: skip
            self.service.act(number, action, actor="d", **kw)  # type: ignore[arg-type]


@pytest.fixture(name="setup")
async def setup_fixture(
    db: Database, catalogue: Catalogue, deadlines: Deadlines, clock: Clock, tmp_path: Path
) -> AsyncIterator[Setup]:
    made = Setup(db, catalogue, deadlines, clock, tmp_path / "var")
    yield made
    await made.close()
