"""Browser phones through the SIP front door (issue 18, docs/scale-out-sip.md): a real Kamailio
from ``hotline kamailio-conf --ws-port`` on loopback takes the desk's SIP over a WebSocket; the
stack's Asterisk is a box behind it (``ConfOptions.kamailio``, no WebSocket of its own); a
hotline server started with ``HOTLINE_WEBRTC_WS_URL`` at Kamailio's WebSocket serves the desk.
The first test runs with plain ``ws`` and with ``wss`` (``--wss-port``, a throwaway
certificate the browser is told to accept).

Operator 1003 signs in on that desk in Debian's Chromium (a fake microphone beeping at 2 kHz)
and goes ready with the browser phone: JsSIP registers ``1003-web`` with Kamailio (digest, the
agents.yaml account) over the WebSocket. A citizen's SIPp (a 500 Hz tone) sends its INVITE to
Kamailio, which dispatches it to the box; the hotline queues it and the box dials
``PJSIP/1003-web``, whose AOR points at Kamailio: Kamailio sends the INVITE on over the
browser's WebSocket. The operator answers in the page; the media goes between the browser and
the box directly (ICE, DTLS-SRTP): the page receives the citizen's audio, the recording has
both voices, and the record says answered by 1003. The browser holds and resumes (its
re-INVITEs go through Kamailio to the box).

When the citizen hangs up first, the box's BYE reaches the browser over its WebSocket (the
Contact alias Kamailio gave the browser's 200 OK). A browser killed while ready behind
Kamailio: Kamailio stops using the contact with the WebSocket, the next call's INVITE to it
is refused at once, 1003 is paused ``no answer`` and the caller goes to the next operator
(1001's SIPp softphone, registered at Kamailio too); the desk opened again registers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ivr.asterisk.conf_options import DEV_SECRETS_FILE
from tests.conftest import free_port
from tests.e2e.conftest import Stack, poll, with_options
from tests.e2e.sipp import Operator, SippCall
from tests.e2e.test_desk_e2e import ACCOUNT, PASSWORD, account
from tests.e2e.test_kamailio_e2e import KAMAILIO, Front
from tests.e2e.test_webrtc_e2e import (
    CHROMIUM,
    CITIZEN_HZ,
    INBOUND_ENERGY,
    OPERATOR,
    OPERATOR_HZ,
    band_rms,
    browser,
    desk_with_browser_phone,
    talking_citizen,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed"),
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox is needed"),
]

CALLER, CALLER2, CALLER3 = "13904718393", "13904718394", "13904718395"
CALLER_WSS = "13904718396"
NEXT = "1001"  # the next operator, a SIPp softphone registered at Kamailio


def crash_browser(workdir: Path) -> None:
    """SIGKILL this test's Chromium (its processes name ``workdir``'s fake microphone file):
    a seat whose browser dies, its WebSocket closed by the kernel, nothing said in SIP."""
    marker = str(workdir / "operator.wav").encode()
    killed = 0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
                killed += 1
        except (OSError, ProcessLookupError):
            continue  # gone already
    assert killed, f"no Chromium process with {marker!r}"


@dataclass
class KamDesk:
    """Kamailio with ws in front of the stack's box, and a hotline server whose desks'
    browser phones register there (``HOTLINE_WEBRTC_WS_URL``)."""

    kam: Front
    ws_port: int
    http_port: int
    tls: bool = False

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.ws_port}/ws"

    def new_page(self, chromium: Any) -> Any:
        """A page of a browser context that accepts the throwaway certificate of ``wss``."""
        context = chromium.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN", ignore_https_errors=True
        )
        return context.new_page()

    def ready(self, page: Any, stack: Stack) -> None:
        """Operator 1003 on this server's desk, ready with the browser phone registered at
        Kamailio over its WebSocket (not at the box)."""
        expect = sync_api.expect
        desk_with_browser_phone(stack, page, http_port=self.http_port)
        page.click("#ready")
        expect(page.locator("#ph-status")).to_contain_text("registered", timeout=20000)
        expect(page.locator("#state")).to_contain_text("就绪")
        assert page.evaluate("phone.config.ws_url") == self.ws_url
        location = self.kam.rpc("ul.dump")
        assert f"{OPERATOR}-web" in location and "transport=ws" in location, location
        agent = stack.agent(OPERATOR)
        assert (agent["state"], agent["interface"]) == ("ready", f"PJSIP/{OPERATOR}-web")

    def answer(self, page: Any, stack: Stack, workdir: Path, caller: str) -> tuple[SippCall, float]:
        """A talking citizen through Kamailio, answered in the page, the page hearing it:
        the SIPp call and the seconds from its INVITE to the ring."""
        expect = sync_api.expect
        started = time.monotonic()
        call = talking_citizen(stack, workdir, caller, port=self.kam.port, proxy=True)
        expect(page.locator("#phone")).to_have_attribute("data-state", "ringing",
                                                         timeout=60000)  # fmt: skip
        rang = time.monotonic() - started
        page.click("#ph-answer")
        expect(page.locator("#phone")).to_have_attribute("data-state", "talking",
                                                         timeout=15000)  # fmt: skip
        energy = poll(
            lambda: page.evaluate(INBOUND_ENERGY),
            lambda: "the page received no audio from the citizen",
            timeout=20,
        )
        assert energy > 0
        return call, rang


@pytest.fixture(params=["ws"])
def kam_desk(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[KamDesk]:
    """Kamailio with a ws (or, with the parameter ``wss``, wss) listener in front of the
    stack's box, the box behind it, a hotline server for the desk, and operator 1003's desk
    account; at the end the stack's normal config again."""
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    tls = request.param == "wss"
    stack.wait_queue_empty()
    account(stack)
    ws_port = free_port()
    options: tuple[str, ...] = ("--ws-port", str(ws_port))
    if tls and shutil.which("openssl") is None:
        pytest.skip("openssl is needed for the wss test's certificate")
    if tls:
        cert, key = tmp_path / "kam.pem", tmp_path / "kam.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
            capture_output=True, check=True,
        )  # fmt: skip
        options = ("--wss-port", str(ws_port), "--wss-cert", str(cert), "--wss-key", str(key))
    kam = Front(stack, tmp_path / "kamailio", [f"127.0.0.1:{stack.sip_port}"], options)
    server = None
    try:
        # the box behind Kamailio, without a WebSocket of its own: browsers register at Kamailio
        behind = with_options(stack, kamailio=f"sip:127.0.0.1:{kam.port}", websocket=None)
        problems = stack.install(behind)
        assert [p for p in problems if "kamailio" in p.lower()] == [], problems
        contacts = stack.rx("pjsip show contacts")  # the box rings the browser at Kamailio
        assert f"{OPERATOR}-web/sip:{OPERATOR}-web@127.0.0.1:{kam.port}" in contacts, contacts
        desk = KamDesk(kam, ws_port, free_port(), tls)
        monkeypatch.setenv("HOTLINE_WEBRTC_WS_URL", desk.ws_url)
        var = tmp_path / "var-kam"
        var.mkdir()
        secrets = stack.var / DEV_SECRETS_FILE  # the browser phones' development passwords
        if secrets.exists():
            shutil.copy(secrets, var / DEV_SECRETS_FILE)
        server = stack.start_server(var, free_port(), desk.http_port, log_name="serve-kam-ws.log",
                                    database_url=stack.database_url)  # fmt: skip
        yield desk
    finally:
        try:
            stack.logout(OPERATOR)
            stack.logout(NEXT)
        finally:
            if server is not None:
                server.terminate()
                server.wait(20)
            kam.stop()
            stack.install()


@pytest.mark.parametrize("kam_desk", ["ws", "wss"], indirect=True)
def test_a_browser_phone_registered_at_kamailio_answers_a_call_through_it(
    stack: Stack, tmp_path: Path, kam_desk: KamDesk
) -> None:
    expect = sync_api.expect
    caller = CALLER_WSS if kam_desk.tls else CALLER  # one record each
    call = None
    try:
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = kam_desk.new_page(chromium)
            kam_desk.ready(page, stack)
            call, rang = kam_desk.answer(page, stack, tmp_path / "citizen", caller)
            page.click("#ph-hold")  # the browser's re-INVITEs, through Kamailio
            expect(page.locator("#phone")).to_have_attribute("data-state", "held", timeout=10000)
            page.click("#ph-hold")
            expect(page.locator("#phone")).to_have_attribute("data-state", "talking",
                                                             timeout=10000)  # fmt: skip
            page.wait_for_timeout(6000)  # a few seconds of conversation in the recording
            page.click("#ph-hangup")
            expect(page.locator("#phone")).to_have_attribute("data-state", "registered")
            chromium.close()
        stack.hangup(caller)
        call.kill()
        record = stack.record(caller)
        print(f"through Kamailio's WebSocket: the page rang {rang:.1f}s after the INVITE")
        assert (record["outcome"], record["agent"]) == ("answered", OPERATOR), record
        assert any(e["kind"] == "dial" and f"PJSIP/{OPERATOR}-web ANSWER" in e["detail"]
                   for e in record["events"]), record["events"]  # fmt: skip
        log = kam_desk.kam.log.read_text("utf-8", "replace")
        assert f"to box sip:127.0.0.1:{stack.sip_port}" in log, kam_desk.kam.tail()
        wav = stack.recordings / record["recording"]
        citizen, operator = band_rms(wav, 400, 600), band_rms(wav, 1850, 2150)
        assert citizen > 0.02 and operator > 0.01, (citizen, operator)
        print(f"recording: citizen {CITIZEN_HZ} Hz {citizen:.3f}, "
              f"operator {OPERATOR_HZ} Hz {operator:.3f}")  # fmt: skip
    finally:
        if call is not None:
            call.kill()


def test_the_box_hangs_up_the_browser_through_kamailio(
    stack: Stack, tmp_path: Path, kam_desk: KamDesk
) -> None:
    """The citizen's side ends first: the box's BYE goes to Kamailio, which sends it on over
    the browser's WebSocket (the alias of the browser's Contact): the page's call ends."""
    expect = sync_api.expect
    call = None
    try:
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = kam_desk.new_page(chromium)
            kam_desk.ready(page, stack)
            call, _ = kam_desk.answer(page, stack, tmp_path / "citizen", CALLER2)
            stack.hangup(CALLER2)  # Asterisk hangs up both legs
            expect(page.locator("#phone")).to_have_attribute("data-state", "registered",
                                                             timeout=10000)  # fmt: skip
            assert page.evaluate("phone.session") is None
            chromium.close()
        record = stack.record(CALLER2)
        assert (record["outcome"], record["agent"]) == ("answered", OPERATOR), record
    finally:
        if call is not None:
            call.kill()


def test_a_browser_dead_behind_kamailio_strands_nobody(
    stack: Stack, tmp_path: Path, kam_desk: KamDesk
) -> None:
    """1003's browser dies while ready (SIGKILL: no un-REGISTER): Kamailio stops using the
    browser's contact with its WebSocket, so the box's INVITE for the next caller is refused
    at once; 1003 is paused ``no answer`` and the caller, still queued, goes to 1001 (a SIPp
    softphone registered at Kamailio, ready once 1003 was passed over). The desk opened again
    registers at once."""
    agent = stack.sip_agent(NEXT)
    assert agent.endpoint is not None
    softphone = Operator.start(tmp_path / "op1001", kam_desk.kam.port, agent.endpoint,
                               agent.password, ring=1.0, talk=3.0, proxy=True)  # fmt: skip
    call = None
    try:
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = kam_desk.new_page(chromium)
            kam_desk.ready(page, stack)
            received = re.search(r"Received: sip:127\.0\.0\.1:(\d+);transport=ws",
                                 kam_desk.kam.rpc("ul.dump"))  # fmt: skip
            assert received, kam_desk.kam.rpc("ul.dump")
            crash_browser(tmp_path)  # no un-REGISTER: the WebSocket just ends
            chromium.close()
        poll(  # the browser's WebSocket is gone from Kamailio
            lambda: f":{received.group(1)}" not in kam_desk.kam.rpc("ws.dump") or None,
            lambda: f"Kamailio still has the dead browser: {kam_desk.kam.rpc('ws.dump')}",
            timeout=15,
        )
        call = SippCall.start(tmp_path / "citizen", kam_desk.kam.port, "12345", CALLER3,
                              proxy=True)  # fmt: skip
        stack.calls.append(call)
        state = poll(
            lambda: ((s := stack.agent(OPERATOR))["state"] == "paused" and s) or None,
            lambda: f"{OPERATOR} not paused: {stack.agent(OPERATOR)}",
            timeout=60,
        )
        assert state["reason"] == "no answer", state
        stack.login(NEXT, ready=True)  # the next operator, once 1003 was passed over
        poll(
            lambda: stack.agent(NEXT)["state"] == "busy" or None,
            lambda: f"the caller never reached {NEXT}: {stack.agent(NEXT)}",
            timeout=40,
        )
        assert softphone.wait(60) == 0, softphone.errors()
        record = stack.record(CALLER3, timeout=90)
        assert (record["outcome"], record["agent"]) == ("answered", NEXT), record
        dials = [e["detail"] for e in record["events"] if e["kind"] == "dial"]
        assert len(dials) == 2 and dials[1] == f"PJSIP/{NEXT} ANSWER", dials
        assert dials[0].startswith(f"PJSIP/{OPERATOR}-web ") and "ANSWER" not in dials[0], dials
        print(f"the dead browser's dial: {dials[0]}")
        # the operator opens the desk again: the new browser's phone (a new contact; the dead
        # one's is still in the location table) registers at once, replacing the old one
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = kam_desk.new_page(chromium)
            page.goto(f"http://127.0.0.1:{kam_desk.http_port}/desk")
            page.fill("#username", ACCOUNT)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")  # 1003 is still logged in with the browser phone
            sync_api.expect(page.locator("#phone")).to_have_attribute(
                "data-state", "registered", timeout=20000
            )
            location = kam_desk.kam.rpc("ul.dump")
            contacts = re.findall(r"Address: (sip:\S+)\s+Expires: (\w+)", location)
            web = [c for c in contacts if "transport=ws" in c[0] and c[1] != "deleted"]
            assert len(web) == 1, location  # the new browser's only
            print(f"1003-web's contacts after the new browser registered: {contacts}")
            chromium.close()
    finally:
        softphone.stop()
        if call is not None:
            call.kill()
