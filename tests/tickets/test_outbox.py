"""The outbox end to end on SQLite and PostgreSQL: the SMS receipt written with the ticket's
acceptance, the SMS with the reply (and a platform's reply file) with its finish, once-only
through retries and a redo (重办), delivered by the loop of `hotline serve` through the file
gateway, retried with backoff, given up, and never sent twice by two servers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ivr.config.catalogue import Catalogue
from ivr.config.catalogue_sources import SourceModel
from ivr.config.notify_models import Delivery, SmsSettings
from ivr.db.database import Database
from ivr.notify import claims
from ivr.notify.delivery import backoff, within
from ivr.notify.messages import is_mobile
from ivr.notify.metrics import REGISTRY
from ivr.privacy.purge_rows import tickets_batch
from ivr.tickets.deadlines import Deadlines
from tests.conftest import CONFIG_DIR, ROOT
from tests.tickets.conftest import Clock
from tests.tickets.outbox_helpers import TIMEZONE, Setup, notify, setup_fixture  # noqa: F401


def test_mobile_numbers_only() -> None:
    pattern = SmsSettings().mobile_pattern
    assert is_mobile("13900000001", pattern) and is_mobile("+86 139-0000-0001", pattern)
    assert is_mobile("008613900000001", pattern)
    assert not is_mobile("04716918888", pattern) and not is_mobile("6918888", pattern)
    assert not is_mobile("anonymous", pattern) and not is_mobile("12345678901", pattern)


def sent_count() -> float:
    return REGISTRY.get_sample_value("hotline_outbox_sent_total", {"kind": "sms"}) or 0.0


async def test_receipt_on_accept_and_reply_on_finish(setup: Setup) -> None:
    before = sent_count()
    number = setup.accept()
    (receipt,) = setup.rows()  # written with the ticket, in its transaction
    assert (receipt.kind, receipt.key, receipt.target, receipt.state) == (
        "sms", f"{number}:accepted", "13900000001", "pending",
    )  # fmt: skip
    assert await setup.loop().run_once() == 1
    (sent,) = setup.texts()
    assert sent["to"] == "13900000001" and sent["key"] == f"{number}:accepted"
    assert sent["text"] == (
        f"【12345热线】您的诉求已受理，工单号{number}。凭工单号和手机号可查询办理进度："
        "https://12345.example/q"
    )
    setup.finish(number)
    assert await setup.loop().run_once() == 1
    texts = setup.texts()
    assert texts[1]["text"].startswith(f"【12345热线】您的工单{number}已办结。答复：已督促物业")
    assert [r.state for r in setup.rows()] == ["sent", "sent"]
    assert sent_count() == before + 2  # GET /metrics: hotline_outbox_sent_total{kind="sms"}
    assert await setup.loop().run_once() == 0  # nothing due: nothing sent again


def test_who_gets_no_sms(setup: Setup) -> None:
    setup.accept(caller="04716918888")  # a landline
    setup.accept(caller="13900000002", confidential=True)  # 保密: not by default
    setup.config = notify(receipt=False)
    setup.accept(caller="13900000003")
    setup.config = notify(enabled=False)
    setup.accept(caller="13900000004")
    assert setup.rows() == []
    setup.config = notify(confidential=True)
    setup.accept(caller="13900000005", confidential=True)
    assert [r.target for r in setup.rows()] == ["13900000005"]


def test_once_only_through_a_retry_and_a_redo(setup: Setup) -> None:
    number = setup.accept(call_uniqueid="call-1")
    setup.accept(call_uniqueid="call-1")  # the operator's retried accept: the same ticket
    setup.finish(number, reply="第一次答复")
    setup.service.act(number, "callback", actor="v", satisfaction=1, solved=False)
    setup.service.act(number, "redo", actor="v", note="市民不满意")
    for action, kw in [("sign", {}), ("handle", {}), ("finish", {"reply": "重办后的答复"})]:
        setup.service.act(number, action, actor="d", **kw)  # type: ignore[arg-type]
    rows = setup.rows()
    assert [r.key for r in rows] == [
        f"{number}:accepted", f"{number}:finished:0", f"{number}:finished:1",
    ]  # fmt: skip
    assert "答复：第一次答复 " in rows[1].body["text"]
    assert "答复：重办后的答复 " in rows[2].body["text"]


async def test_an_upper_platform_gets_a_reply_file_not_an_sms(setup: Setup) -> None:
    number = setup.accept(source="people_leaders", external_id="RMW-1", caller="13900000009")
    assert setup.rows() == []  # the platform answers its citizen: no receipt
    setup.finish(number, reply="已处理")
    (row,) = setup.rows()
    assert (row.kind, row.target, row.key) == ("reply", "people_leaders", f"{number}:finished:0")
    assert await setup.loop().run_once() == 1
    path = setup.var / "replies" / "people_leaders" / f"{number}.finished.0.json"
    body = json.loads(path.read_text("utf-8"))
    assert (body["external_id"], body["ticket_number"], body["reply"]) == (
        "RMW-1", number, "已处理",
    )  # fmt: skip
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


async def test_backoff_then_give_up_then_retry(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    number = setup.accept()
    setup.var.mkdir(parents=True)
    (setup.var / "sms-outbox.jsonl").mkdir()  # the gateway cannot append: every try fails
    assert [backoff(setup.config.delivery, n) for n in (1, 2, 3)] == [10, 15, 15]
    loop = setup.loop()
    with caplog.at_level(logging.WARNING):
        assert await loop.run_once() == 1
        (row,) = setup.rows()
        assert (row.state, row.attempts) == ("pending", 1) and "cannot append" in row.error
        assert row.next_at == setup.clock.now + dt.timedelta(seconds=10)
        assert await loop.run_once() == 0  # not due before its backoff
        setup.clock.advance(seconds=10)
        assert await loop.run_once() == 1
        setup.clock.advance(seconds=15)
        assert await loop.run_once() == 1
    (row,) = setup.rows()
    assert (row.state, row.attempts) == ("failed", 3)
    assert "[HL-NTF-001]" in caplog.text and "[HL-NTF-002]" in caplog.text
    assert f"{number}:accepted to 13900000001 given up after 3 attempt(s)" in caplog.text
    setup.clock.advance(hours=1)
    assert await loop.run_once() == 0  # given up stays given up
    (setup.var / "sms-outbox.jsonl").rmdir()  # the gateway is back; the admin retries
    assert claims.retry(setup.db, [], True, setup.clock()) == [row.id]
    assert await loop.run_once() == 1
    assert setup.rows()[0].state == "sent" and len(setup.texts()) == 1


async def test_sms_wait_for_the_sending_hours(setup: Setup) -> None:
    setup.accept()
    setup.config = notify(hours={"start": "08:00", "end": "09:00"})  # it is 10:00 in Beijing
    assert not within(setup.config.sms.hours, setup.clock(), TIMEZONE)
    assert await setup.loop().run_once() == 0
    setup.config = notify(hours={"start": "22:00", "end": "11:00"})  # over midnight
    assert await setup.loop().run_once() == 1
    assert within(SmsSettings(hours={"start": "07:00", "end": "07:00"}).hours, setup.clock(), "UTC")


async def test_a_source_without_reply_is_given_up_at_once(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    number = setup.accept(source="people_leaders", external_id="RMW-2")
    setup.finish(number)
    setup.sources["people_leaders"] = SourceModel(name="人民网领导留言板")  # reply removed
    with caplog.at_level(logging.ERROR):
        await setup.loop().run_once()
    assert setup.rows()[0].state == "failed" and "[HL-NTF-003]" in caplog.text


async def test_two_servers_never_send_one_message_twice(
    pg_url: str, catalogue: Catalogue, deadlines: Deadlines, clock: Clock, tmp_path: Path
) -> None:
    first, second = Database(pg_url), Database(pg_url)
    try:
        setup = Setup(first, catalogue, deadlines, clock, tmp_path / "var")
        setup.config = setup.config.model_copy(
            update={"delivery": Delivery(batch=3, max_attempts=3)}
        )
        for n in range(40):
            setup.accept(caller=f"139{n:08d}")
        loops = [setup.loop(first), setup.loop(second)]
        for _ in range(40):
            done = await asyncio.gather(*(loop.run_once() for loop in loops))
            if sum(done) == 0:
                break
        keys = [t["key"] for t in setup.texts()]
        assert len(keys) == 40 and len(set(keys)) == 40
        assert {r.state for r in setup.rows()} == {"sent"}
        await setup.close()
    finally:
        first.close()
        second.close()


async def test_hotline_outbox_list_and_retry(setup: Setup) -> None:
    number = setup.accept()
    setup.var.mkdir(parents=True)
    (setup.var / "sms-outbox.jsonl").mkdir()
    setup.config = setup.config.model_copy(update={"delivery": Delivery(max_attempts=1)})
    await setup.loop().run_once()

    def hotline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ivr.cli", "outbox", *args, "--database-url", setup.db.url,
             "--config", str(CONFIG_DIR)],
            capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
        )  # fmt: skip

    listed = hotline("list", "--state", "failed")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("outbox: sms failed 1; times in 北京时间")
    (line,) = [x for x in listed.stdout.splitlines() if number in x]
    assert "accepted  13900000001  failed" in line and "cannot append" in line
    (row,) = setup.rows()
    again = hotline("retry", str(row.id))
    assert again.returncode == 0 and again.stdout.startswith(f"1 message(s) due again: {row.id}")
    assert setup.rows()[0].state == "pending" and setup.rows()[0].attempts == 0
    nothing = hotline("retry", "--failed")
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == (
        "[HL-NTF-005] no failed message: nothing to retry (`hotline outbox list`)"
    )


def test_the_retention_purge_takes_a_tickets_messages(setup: Setup) -> None:
    closed, kept = setup.accept(), setup.accept(caller="13900000002")
    setup.finish(closed)
    with setup.db.session() as s:
        tickets_batch(s, setup.clock() + dt.timedelta(days=1), 0, 10, dry=False)
    assert [r.ticket_number for r in setup.rows()] == [kept]  # the numbers and texts went


def test_the_message_and_the_change_are_one_transaction(setup: Setup) -> None:
    number = setup.accept()
    real = setup.service.notices
    assert real is not None

    class Failing:
        def accepted(self, *args: Any) -> None:
            real.accepted(*args)

        def finished(self, *args: Any) -> None:
            real.finished(*args)  # written, then the transaction fails after it
            raise RuntimeError("the database went away at commit")

    setup.service.notices = Failing()
    for action in ("dispatch", "sign", "handle"):
        setup.service.act(number, action, actor="d")
    with pytest.raises(RuntimeError):
        setup.service.act(number, "finish", actor="d", reply="已处理")
    assert setup.service.get(number).state == "handling"  # no finish ...
    assert [r.key for r in setup.rows()] == [f"{number}:accepted"]  # ... and no reply SMS
