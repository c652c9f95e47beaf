"""The citizens' pages (网上诉求) on a real Redis and a real SQLite and PostgreSQL database:
a request becomes a ticket of source ``web`` in the same lifecycle and deadlines as a call's,
its number looks it up (a phone ticket's too), a wrong pair answers as an unknown number;
hostile input, the form's origin and token, the rate limits, Redis away; no staff route on
the citizens' listener."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from ivr.citizen.citizen_app import CitizenOptions
from ivr.citizen.intake import default_category
from ivr.citizen.limits import Limits
from ivr.citizen.phones import normalize
from ivr.cli import main
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.db.tables import TicketRow
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.app import routes
from ivr.web.appkeys import WebSecurity
from ivr.web.pages import PAGES
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, free_port
from tests.tickets.conftest import pg_admin_url, pg_template, pg_url  # noqa: F401 (fixtures)
from tests.web.citizen_fixtures import REQUEST, Citizen, citizen_client
from tests.web.every_part import all_parts


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'citizen.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    database = Database(url)
    database.upgrade()
    yield database
    database.close()


@pytest.fixture
def service(db: Database) -> TicketService:
    return TicketService(
        db, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


@pytest.fixture
async def site(rq: RedisQueue, service: TicketService) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    client = await citizen_client(lambda: service, rq)
    yield client
    await client.close()


@pytest.fixture
async def citizen(site: TestClient) -> AsyncIterator[Citizen]:  # type: ignore[type-arg]
    c = Citizen(site)
    await c.form()
    yield c
    await c.close()


def count_tickets(service: TicketService) -> int:
    with service.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(TicketRow)) or 0)


async def test_a_request_becomes_a_web_ticket_the_citizen_follows_to_the_reply(
    citizen: Citizen, service: TicketService
) -> None:
    form = await citizen.form()
    assert [t["name"] for t in form["types"]] == ["咨询", "求助", "投诉", "举报", "建议", "表扬"]
    assert {"code": "utilities", "name": "水、电、气"} in form["categories"]
    assert form["default_category"] == "rural_other.other"

    r = await citizen.submit(confidential=True)
    assert r.status == 200, await r.text()
    receipt = await r.json()
    number = receipt["number"]
    t = service.get(number)
    assert (t.source, t.accepted_by, t.state) == ("web", "web", "accepted")
    assert (t.caller, t.caller_name, t.confidential) == ("13800138000", "张三", True)
    assert (t.type, t.category, t.category_top) == ("help", "utilities", "utilities")
    assert t.address == REQUEST["address"] and t.content == REQUEST["content"]
    # the deadline of a 求助 (2 working days), as for a call
    assert t.deadline == service.deadlines.due(t.accepted_at, 2)
    assert receipt["deadline"] == t.deadline.astimezone(service.deadlines.calendar.tz).isoformat(
        timespec="seconds"
    )

    # the citizen looks it up with the number written another way
    r = await citizen.lookup(number, "+86 138-0013-8000")
    assert r.status == 200
    seen = await r.json()
    assert (seen["state"], seen["state_words"]) == ("accepted", "已受理，正在分派承办单位")
    assert (seen["type_name"], seen["category_name"], seen["reply"]) == ("求助", "水、电、气", "")

    # the same lifecycle: dispatched, signed, finished with a reply by the department
    service.act(number, "dispatch", actor="op1001", department="water")
    r = await citizen.lookup(number, "13800138000")
    assert (await r.json())["state_words"] == "已派至承办单位，等待办理"
    service.act(number, "sign", actor="dept")
    service.act(number, "handle", actor="dept")
    r = await citizen.lookup(number, "13800138000")
    assert (await r.json())["state_words"] == "承办单位正在办理"
    service.act(number, "finish", actor="dept", reply="已抢修，今晚恢复供水。")
    r = await citizen.lookup(number, "13800138000")
    seen = await r.json()
    assert (seen["state"], seen["reply"]) == ("finished", "已抢修，今晚恢复供水。")
    assert seen["finished_at"] is not None


async def test_no_category_takes_the_default_and_a_phone_ticket_is_found_too(
    citizen: Citizen, service: TicketService
) -> None:
    r = await citizen.submit(category="", name="", type="consult")
    t = service.get((await r.json())["number"])
    assert t.category == default_category(service.catalogue) == "rural_other.other"
    assert t.caller_name == "" and t.deadline == service.deadlines.due(t.accepted_at, 1)

    phone = service.accept(
        caller="04716961234", type="complaint", category="housing.property", actor="op1001",
        content="物业乱收费", call_uniqueid="1790000000.1",
    )  # fmt: skip
    r = await citizen.lookup(phone.number, "0471-6961234")
    assert r.status == 200
    assert (await r.json())["category_name"] == "住建/物业服务"


async def test_a_wrong_pair_answers_as_an_unknown_number(
    citizen: Citizen, service: TicketService
) -> None:
    number = (await (await citizen.submit()).json())["number"]
    wrong = await citizen.lookup(number, "13900139000")
    unknown = await citizen.lookup("20990101999999", "13800138000")
    assert wrong.status == unknown.status == 404
    assert await wrong.json() == await unknown.json()
    assert (await wrong.json())["error_id"] == "HL-CIT-009"


async def test_hostile_input_is_refused_with_its_id(
    citizen: Citizen, service: TicketService
) -> None:
    async def refused(status: int, error_id: str, **changes: object) -> str:
        r = await citizen.submit(**changes)
        body = await r.json()
        assert (r.status, body["error_id"]) == (status, error_id), body
        return str(body["details"]["field"])

    assert await refused(400, "HL-CIT-001", phone="12345") == "phone"
    assert await refused(400, "HL-CIT-001", phone="1380013800a") == "phone"
    assert await refused(400, "HL-CIT-001", phone="23800138000") == "phone"
    assert await refused(400, "HL-CIT-001", content="") == "content"
    assert await refused(400, "HL-CIT-001", content="水" * 2001) == "content"
    assert await refused(400, "HL-CIT-001", type="spam") == "type"
    assert await refused(400, "HL-CIT-001", category="housing.property") == "category"
    assert await refused(400, "HL-CIT-001", category="nowhere") == "category"
    assert await refused(400, "HL-CIT-001", admin=True) == "admin"  # no field of its own
    assert await refused(400, "HL-CIT-001", confidential="maybe") == "confidential"
    r = await citizen.submit(phone="010-1234")
    assert (await r.json())["message"].startswith("电话号码有误：请填写 11 位手机号码")
    r = await citizen.post("/api/citizen/requests", {**REQUEST, "content": "x" * 40_000})
    assert (r.status, (await r.json())["error_id"]) == (413, "HL-CIT-006")
    assert count_tickets(service) == 0

    # a script in the content is kept as text (the pages put it in with textContent)
    script = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    r = await citizen.submit(content=script, address=script)
    assert r.status == 200
    assert service.get((await r.json())["number"]).content == script


async def test_only_the_sites_own_page_may_send_the_form(
    citizen: Citizen, service: TicketService
) -> None:
    async def refused(headers: dict[str, str], **kw: object) -> None:
        r = await citizen.post("/api/citizen/requests", REQUEST, headers)
        body = await r.json()
        assert (r.status, body["error_id"]) == (403, "HL-CIT-002"), body

    await refused({"Origin": "https://evil.example"})
    await refused({"Origin": "null", "Referer": "https://evil.example/form"})
    await refused({"X-Form-Token": "guessed"})
    await refused({"X-Form-Token": ""})
    base = citizen.base
    # a plain form post (what another site can send without CORS): refused too
    r = await citizen.session.post(
        base + "/api/citizen/requests",
        data={"phone": "13800138000", "content": "x", "type": "help"},
        headers={"Origin": base, "X-Form-Token": citizen.token},
    )
    assert r.status == 403
    # no Origin at all (not a browser): refused
    r = await citizen.session.post(
        base + "/api/citizen/requests", json=REQUEST, headers={"X-Form-Token": citizen.token}
    )
    assert r.status == 403
    # another browser (its own cookie) with this one's token: refused
    other = Citizen(citizen_site_of(citizen))
    try:
        await other.form()
        other.token = citizen.token
        r = await other.submit()
        assert r.status == 403
    finally:
        await other.close()
    assert count_tickets(service) == 0
    assert (await citizen.submit()).status == 200  # the page itself may


def citizen_site_of(citizen: Citizen) -> TestClient:  # type: ignore[type-arg]
    class _Site:
        def make_url(self, path: str) -> str:
            return citizen.base + path

    return _Site()  # type: ignore[return-value]


async def test_submissions_are_limited_per_address_and_per_phone(
    rq: RedisQueue, service: TicketService
) -> None:
    limits = Limits.of(submits_address=3, submits_phone=2, lookups_address=100, lookups_ticket=100)
    # behind a reverse proxy on 127.0.0.1: its X-Forwarded-For names the client
    site = await citizen_client(lambda: service, rq, CitizenOptions(limits, proxies=("127.0.0.1",)))
    a = Citizen(site, {"X-Forwarded-For": "203.0.113.7"})
    b = Citizen(site, {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    try:
        await a.form()
        await b.form()
        # per phone: the third request of one number in a day, from another address
        assert (await a.submit()).status == 200
        assert (await b.submit(phone="13800138000")).status == 200
        r = await b.submit()
        body = await r.json()
        assert (r.status, body["error_id"], body["details"]["limit"]) == (
            429, "HL-CIT-003", "submit-phone",
        )  # fmt: skip
        assert 86000 < int(r.headers["Retry-After"]) <= 86400
        # per address: the fourth from one address, whatever the number
        assert (await a.submit(phone="13900139001")).status == 200
        assert (await a.submit(phone="13900139002")).status == 200
        r = await a.submit(phone="13900139003")
        assert (r.status, (await r.json())["details"]["limit"]) == (429, "submit-address")
        assert 3500 < int(r.headers["Retry-After"]) <= 3600
        assert count_tickets(service) == 4
        # the counters hold digests, never a number in clear
        names = [k.decode() async for k in rq.client.scan_iter(match="*citizen*")]
        assert names and not any("13800138000" in k or "203.0.113" in k for k in names)
    finally:
        await a.close()
        await b.close()
        await site.close()


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    rq: RedisQueue, service: TicketService
) -> None:
    limits = Limits.of(submits_address=1, submits_phone=10, lookups_address=3, lookups_ticket=100)
    site = await citizen_client(lambda: service, rq, CitizenOptions(limits))
    c = Citizen(site)
    try:
        await c.form()
        assert (await c.submit()).status == 200
        r = await c.post(
            "/api/citizen/requests", {**REQUEST, "phone": "13900139000"},
            {"X-Forwarded-For": "192.0.2.55"},
        )  # fmt: skip
        assert r.status == 429  # the peer is counted, not the address it claims
        # lookups too: no enumeration of numbers from one address
        for n in range(3):
            assert (await c.lookup(f"2026120500000{n}", "13800138000")).status == 404
        r = await c.lookup("20261205000009", "13800138000")
        assert (r.status, (await r.json())["details"]["limit"]) == (429, "lookup-address")
        assert "Retry-After" in r.headers
    finally:
        await c.close()
        await site.close()


async def test_guessing_the_phone_of_one_number_is_limited(
    rq: RedisQueue, service: TicketService
) -> None:
    limits = Limits.of(submits_address=10, submits_phone=10, lookups_address=100, lookups_ticket=3)
    site = await citizen_client(lambda: service, rq, CitizenOptions(limits))
    c = Citizen(site)
    try:
        await c.form()
        number = (await (await c.submit()).json())["number"]
        for phone in ("13800138001", "13800138002", "13800138003"):
            assert (await c.lookup(number, phone)).status == 404
        r = await c.lookup(number, "13800138000")  # right, but too late
        assert (r.status, (await r.json())["details"]["limit"]) == (429, "lookup-ticket")
    finally:
        await c.close()
        await site.close()


async def test_redis_away_is_a_clear_503_and_nothing_is_filed(
    service: TicketService, redis_url: str
) -> None:
    away = RedisQueue(aioredis.Redis(port=free_port(), socket_connect_timeout=0.5))
    site = await citizen_client(lambda: service, away)
    c = Citizen(site)
    try:
        await c.form()  # the form needs no Redis
        r = await c.submit()
        body = await r.json()
        assert (r.status, body["error_id"]) == (503, "HL-CIT-004")
        assert "您的诉求没有提交成功" in body["message"] and "NOT submitted" in body["message"]
        assert count_tickets(service) == 0
        r = await c.lookup("20261205000001", "13800138000")
        assert (r.status, (await r.json())["error_id"]) == (503, "HL-CIT-004")
    finally:
        await c.close()
        await site.close()
        await away.close()


async def test_tickets_refused_at_start_is_a_503(rq: RedisQueue) -> None:
    site = await citizen_client(lambda: None, rq)
    try:
        r = await site.get("/api/citizen/form")
        assert (r.status, (await r.json())["error_id"]) == (503, "HL-CIT-008")
    finally:
        await site.close()


async def test_no_staff_route_page_or_asset_is_on_the_citizens_listener(
    site: TestClient,  # type: ignore[type-arg]
    rq: RedisQueue,
    service: TicketService,
) -> None:
    staff = [(r.method, r.path) for r in routes(WebSecurity(metrics_public=True))]
    staff += [(r.method, r.path) for p in all_parts(service, rq, service.db) for r in p.routes]
    staff += [(m, p) for m, p, _ in PAGES if p not in ("/", "/static/{name}")]
    assert len(staff) > 60
    for method, path in staff:
        url = path.replace("{", "").replace("}", "")  # /api/tickets/number ...
        r = await site.request(method, url, json={})
        assert r.status == 404, (method, path, r.status)
        assert (await r.json())["error_id"] == "HL-CIT-007"
    for name in ("desk.js", "login.js", "common.js", "portal.html", "vendor/jssip.min.js"):
        r = await site.get(f"/static/{name}")
        assert r.status == 404, name
    # what it does serve: its pages, their assets (hotline.css shared), with a strict CSP
    for path in ("/", "/lookup", "/static/citizen.js", "/static/hotline.css"):
        r = await site.get(path)
        assert r.status == 200, path
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "网上诉求" in await (await site.get("/")).text()


def test_the_deadline_and_the_day_follow_the_centres_calendar(service: TicketService) -> None:
    """A request on a Friday evening is due on the next working days, as a call's is."""
    friday = dt.datetime(2026, 12, 4, 20, 0, tzinfo=dt.UTC)
    t = service.accept(caller="13800138000", type="help", category="utilities",
                       actor="web", source="web", now=friday)  # fmt: skip
    assert t.deadline == service.deadlines.due(friday, 2)


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("013800138000", "13800138000"),  # a mobile as a trunk's caller id may come
        ("(0471) 6961234", "04716961234"),
        ("010-12345678", "01012345678"),
        ("0471-69612345", "047169612345"),
        ("12800138000", None),  # no mobile starts 12
        ("1380013800", None),
        ("110", None),
        ("0471-123", None),
        ("0471-0961234", None),  # a local number does not start with 0
        ("１３８－００１３－８０００", "13800138000"),  # full-width, as an input method types
        ("1٣800138000", None),  # another script's digit
        ("13800138000; DROP TABLE", None),
    ],
)
def test_the_phone_numbers_taken(written: str, kept: str | None) -> None:
    assert normalize(written) == kept


def test_a_bad_proxy_setting_stops_serve_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("HOTLINE_CITIZEN_PROXIES", "127.0.0.1, not-an-address")
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path / "var"))
    assert main(["serve", "--citizen-port", str(free_port()), "--port", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "[HL-CIT-011] HOTLINE_CITIZEN_PROXIES: 'not-an-address' is not an address or network "
        "(e.g. 127.0.0.1 or 10.0.0.0/24)"
    ]
    assert not (tmp_path / "var").exists()  # nothing started


def _junk(rng: random.Random, depth: int = 0) -> object:
    """Arbitrary JSON: scalars of every kind, odd strings, nested lists and objects."""
    kinds = ["int", "float", "bool", "null", "str", "text"] + (
        ["list", "dict"] if depth < 2 else []
    )
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 2**63, rng.randint(-(10**12), 10**12)])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e-9])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "str":
        return rng.choice(["", " ", "\x00", "13800138000", "help", "utilities", "'; --", "𠀀" * 3])
    if kind == "text":
        return "".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(rng.randint(0, 60)))
    if kind == "list":
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {str(_junk(rng, 2)): _junk(rng, depth + 1) for _ in range(rng.randint(0, 3))}


async def test_arbitrary_bodies_never_fail_the_server(
    citizen: Citizen, service: TicketService
) -> None:
    """Whatever comes in, a 2xx or a 4xx in the JSON error shape with its id, never a 5xx."""
    rng = random.Random(17)
    fields = [*REQUEST]
    seen: set[int] = set()
    for n in range(150):
        if n % 3 == 0:
            body: object = _junk(rng)
        else:
            body = {**REQUEST, **{rng.choice(fields): _junk(rng) for _ in range(rng.randint(1, 3))}}
        path = "/api/citizen/requests" if n % 2 else "/api/citizen/lookup"
        r = await citizen.post(path, body)
        seen.add(r.status)
        assert r.status < 500, (path, body, await r.text())
        if r.status >= 400:
            answer = await r.json()
            assert answer["error_id"].startswith("HL-CIT-"), answer
    assert 400 in seen
    assert (await citizen.submit()).status == 200  # and it still files a good one
