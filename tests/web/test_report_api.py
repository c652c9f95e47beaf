"""The reports in the browser (``/api/reports``) on a real SQLite database with a demo
month: the monthly report's HTML with its charts and CSV beside it; a bad period; who may."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.report_routes import reports_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import Desk, desks_on


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    tmp_path: Path,
) -> AsyncIterator[dict[str, Desk]]:
    service = TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )
    for n in range(3):
        t = service.accept(caller=f"1390471000{n}", type="complaint", category="housing.property",
                           actor="op1001", content="电梯")  # fmt: skip
        service.act(t.number, "dispatch", actor="op1001")
    parts = [tickets_part(lambda: service), reports_part(tmp_path / "reports")]
    async with desks_on(rq, accounts, database, parts) as out:
        yield out


async def test_the_monthly_report_with_its_charts_and_csv(desks: dict[str, Desk]) -> None:
    month = dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    boss = desks["super"]
    r = await boss.get(f"/api/reports/month/{month}/index.html")
    assert r.status == 200, await r.text()
    page = await r.text()
    assert "12345" in page and "<img src='" in page
    image = page.split("<img src='", 1)[1].split("'", 1)[0]
    png = await boss.get(f"/api/reports/month/{month}/{image}")
    assert (png.status, png.content_type) == (200, "image/png")
    assert (await png.read())[:4] == b"\x89PNG"
    csv = await boss.get(f"/api/reports/month/{month}/report-{month}-departments.csv")
    assert csv.status == 200 and "attachment" in csv.headers["Content-Disposition"]
    assert f"href='report-{month}-departments.csv'" in page
    assert (await csv.text()).splitlines()[-1] == "合计,3,0"  # 3 dispatched, none finished
    bundle = await boss.get(f"/api/reports/month/{month}/report-{month}-csv.zip")
    assert (bundle.status, bundle.content_type) == (200, "application/zip")
    with zipfile.ZipFile(io.BytesIO(await bundle.read())) as z:
        names = z.namelist()
    assert names[0] == f"report-{month}-about.csv" and f"report-{month}-queue.csv" in names
    r = await boss.get("/api/reports/month/2020-13/index.html")
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-WEB-001")
    r = await boss.get(f"/api/reports/month/{month}/..%2Fsecret.png")
    assert r.status == 404
    for name, status in (("op1001", 403), ("dept", 403), ("anonymous", 401)):
        assert (await desks[name].get(f"/api/reports/month/{month}/index.html")).status == status
