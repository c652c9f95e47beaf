"""The operator desk on the whole stack: Debian's Chromium (Playwright, headless) on the
stack's ``hotline serve --http-port``, the real Asterisk, a SIPp citizen and operator 1003's
SIPp softphone (registered as its PJSIP endpoint).

A citizen who called twice before (one ticket still open) dials the merged legacy line 12393
(医保服务热线). Operator 1003 has logged in on the desk and gone ready. Its softphone rings for
5 s before it answers: within that time the desk shows the screen-pop - the number, the
legacy line and its department, the earlier tickets with the open one flagged as a repeat -
while the queue still has the operator ringing (``reserved``), not talking. Then the operator
answers, files the ticket on the desk's form and dispatches it: the ticket has the number the
screen-pop showed (reserved by the server in Redis when the call was put through) and the
call's uniqueid, and the department the catalogue's dispatch map gives for 医保. Still on the
call, the operator presses the desk's 110 button: the caller is sent on to 110 (the stack's
test context notes it), the operator goes to wrap-up, the record shows the transfer."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from ivr.accounts import Accounts
from ivr.accounts.errors import AccountInvalid
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from tests.e2e.conftest import Stack, poll

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
OPERATOR, ACCOUNT, PASSWORD = "1003", "desk-e2e-1003", "desk e2e password"
LINE, DEPARTMENT = "12393", "medical_insurance"
CITIZEN = "13904712393"

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed"),
]


@pytest.fixture
def service(stack: Stack) -> Iterator[TicketService]:
    db = Database(stack.database_url)
    try:
        yield TicketService(
            db, load_catalogue(stack.config_dir), Deadlines(calendar_from_config(stack.config_dir))
        )
    finally:
        db.close()


def account(stack: Stack) -> None:
    """Operator 1003's desk account, as an admin makes it (`hotline user add`)."""
    db = Database(stack.database_url)
    try:
        accounts = Accounts(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        try:
            accounts.add_user(ACCOUNT, PASSWORD, "operator", agent_id=OPERATOR, actor="tests")
        except AccountInvalid:
            accounts.set_password(ACCOUNT, PASSWORD, actor="tests")  # a rerun on this database
    finally:
        db.close()


def history(service: TicketService) -> None:
    """Two earlier calls of the citizen became tickets: one answered on the spot, one
    dispatched to 医保 and still open (the same category: a repeat)."""
    old = service.accept(
        caller=CITIZEN, type="consult", category=DEPARTMENT, actor="1002", content="医保报销比例"
    )
    service.act(old.number, "answer", actor="1002", reply="已告知报销比例")
    open_ = service.accept(
        caller=CITIZEN, type="help", category=DEPARTMENT, actor="1002", content="异地就医备案"
    )
    service.act(open_.number, "dispatch", actor="1002")


def test_the_desk_rings_before_the_softphone_answers_and_files_the_ticket(
    stack: Stack, tmp_path: Path, service: TicketService
) -> None:
    stack.wait_queue_empty()
    account(stack)
    history(service)
    phone = stack.softphone(OPERATOR, tmp_path, ring=5.0, talk=60.0)  # the queue rings 8 s
    base = f"http://127.0.0.1:{stack.http_port}"
    call = None
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            expect = sync_api.expect
            page.goto(base + "/desk")
            page.fill("#username", ACCOUNT)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#link")).to_contain_text("在线", timeout=15000)
            page.click("#ready")
            expect(page.locator("#state")).to_contain_text("就绪")
            assert stack.agent(OPERATOR)["state"] == "ready"  # the page drove the real queue

            call = stack.call(LINE, CITIZEN)  # the citizen presses nothing
            expect(page.locator("#pop-caller")).to_contain_text(CITIZEN, timeout=30000)
            # the pop is up while the operator's phone still rings
            ringing = stack.agent(OPERATOR)
            assert ringing["state"] == "reserved", ringing
            expect(page.locator("#pop-line")).to_contain_text(LINE)
            expect(page.locator("#pop-department")).to_contain_text("merged")
            expect(page.locator("#pop-repeat")).to_be_visible()
            expect(page.locator("#pop-tickets tbody tr")).to_have_count(2)
            expect(page.locator("#pop-tickets tbody tr.open")).to_have_count(1)
            reserved = (page.locator("#pop-ticket").text_content() or "").strip()
            assert reserved, "the screen-pop shows the ticket number reserved for the call"
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "desk-e2e-ringing.png"))

            expect(page.locator("#state")).to_contain_text("通话", timeout=20000)  # answered
            expect(page.locator("#t-caller")).to_have_value(CITIZEN)
            expect(page.locator("#t-dialled")).to_have_value(LINE)
            page.select_option("#t-type", "help")
            # the legacy line's department picked its category and the dispatch department
            expect(page.locator("#t-cat1")).to_have_value(DEPARTMENT)
            expect(page.locator("#t-department")).to_have_value(DEPARTMENT)
            page.fill("#t-content", "异地就医备案一周未办理，再次来电催办")
            page.click("#t-submit")
            expect(page.locator("#t-result")).to_contain_text(f"工单 {reserved}")

            # the emergency button: the caller is sent on to 110 (the stack's test context)
            button = page.locator("button.emergency[data-target='110'][data-mode='blind']")
            expect(button).to_be_visible()
            page.screenshot(path=str(SHOTS / "desk-e2e-in-call.png"))
            button.click()
            expect(page.locator("#xfer-result")).to_contain_text("110")
            poll(
                lambda: (
                    stack.rx(f"database get hotline-e2e {CITIZEN}").strip().endswith("110") or None
                ),
                lambda: f"110 never reached: {stack.rx('database show hotline-e2e')}",
                timeout=20,
            )
            expect(page.locator("#state")).to_contain_text("话后", timeout=20000)  # wrap-up
            browser.close()

        record = stack.record(CITIZEN)
        assert (record["outcome"], record["agent"]) == ("answered", OPERATOR)
        assert record["hangup_by"] == "transfer"
        assert any(e.get("kind") == "transfer_dial" and e.get("detail", "").startswith("110")
                   for e in record["events"]), record["events"]  # fmt: skip
        ticket = service.get(reserved)
        assert (ticket.call_uniqueid, ticket.state, ticket.department, ticket.dialled) == (
            record["uniqueid"],
            "dispatched",
            DEPARTMENT,
            LINE,
        )
        assert ticket.accepted_by == ACCOUNT
        deadline = time.monotonic() + 30
        while stack.agent(OPERATOR)["state"] not in ("ready", "wrapup"):
            assert time.monotonic() < deadline, stack.agent(OPERATOR)
            time.sleep(0.25)
    finally:
        phone.stop()  # its leg was hung up by the transfer (not the scenario's own BYE)
        if call is not None:
            call.kill()  # the 110 test context hung the caller up
        stack.logout(OPERATOR)
