"""Browser phones through the SIP front door (issue 18, docs/scale-out-sip.md): a real Kamailio
from ``hotline kamailio-conf --ws-port`` on loopback takes the desk's SIP over a WebSocket; the
stack's Asterisk is a box behind it (``ConfOptions.kamailio``); a hotline server started with
``HOTLINE_WEBRTC_WS_URL`` at Kamailio's WebSocket serves the desk.

Operator 1003 signs in on that desk in Debian's Chromium (a fake microphone beeping at 2 kHz)
and goes ready with the browser phone: JsSIP registers ``1003-web`` with Kamailio (digest, the
agents.yaml account) over the WebSocket. A citizen's SIPp (a 500 Hz tone) sends its INVITE to
Kamailio, which dispatches it to the box; the hotline queues it and the box dials
``PJSIP/1003-web``, whose AOR points at Kamailio: Kamailio sends the INVITE on over the
browser's WebSocket. The operator answers in the page; the media goes between the browser and
the box directly (ICE, DTLS-SRTP): the page receives the citizen's audio, the recording has
both voices, and the record says answered by 1003."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.asterisk.conf_options import DEV_SECRETS_FILE
from tests.conftest import free_port
from tests.e2e.conftest import Stack, poll, with_options
from tests.e2e.test_desk_e2e import account
from tests.e2e.test_kamailio_e2e import KAMAILIO, Front
from tests.e2e.test_webrtc_e2e import (
    CHROMIUM,
    CITIZEN_HZ,
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

CALLER = "13904718393"
INBOUND_ENERGY = """async () => {
  const stats = await phone.session.connection.getStats();
  for (const s of stats.values())
    if (s.type === 'inbound-rtp' && s.kind === 'audio' && s.totalAudioEnergy > 0)
      return s.totalAudioEnergy;
  return null;
}"""


@pytest.fixture
def ws_front(stack: Stack, tmp_path: Path) -> Iterator[tuple[Front, int]]:
    """Kamailio with a plain ws listener in front of the stack's box, the box behind it, and
    operator 1003's desk account; the stack's normal config again at the end."""
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    stack.wait_queue_empty()
    account(stack)
    ws_port = free_port()
    kam = Front(stack, tmp_path / "kamailio", [f"127.0.0.1:{stack.sip_port}"],
                ("--ws-port", str(ws_port)))  # fmt: skip
    try:
        problems = stack.install(with_options(stack, kamailio=f"sip:127.0.0.1:{kam.port}"))
        assert [p for p in problems if "kamailio" in p.lower()] == [], problems
        yield kam, ws_port
    finally:
        try:
            stack.logout(OPERATOR)
        finally:
            kam.stop()
            stack.install()


def test_a_browser_phone_registered_at_kamailio_answers_a_call_through_it(
    stack: Stack,
    tmp_path: Path,
    ws_front: tuple[Front, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect = sync_api.expect
    kam, ws_port = ws_front
    monkeypatch.setenv("HOTLINE_WEBRTC_WS_URL", f"ws://127.0.0.1:{ws_port}/ws")
    var, http = tmp_path / "var-kam", free_port()
    var.mkdir()
    secrets = stack.var / DEV_SECRETS_FILE  # the browser phones' development passwords
    if secrets.exists():
        shutil.copy(secrets, var / DEV_SECRETS_FILE)
    server = stack.start_server(var, free_port(), http, log_name="serve-kam-ws.log",
                                database_url=stack.database_url)  # fmt: skip
    call = None
    try:
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            desk_with_browser_phone(stack, page, http_port=http)
            page.click("#ready")
            expect(page.locator("#ph-status")).to_contain_text("registered", timeout=20000)
            expect(page.locator("#state")).to_contain_text("就绪")
            assert page.evaluate("phone.config.ws_url") == f"ws://127.0.0.1:{ws_port}/ws"
            # registered with Kamailio over the WebSocket, not with the box
            location = kam.rpc("ul.dump")
            assert f"{OPERATOR}-web" in location and "transport=ws" in location, location
            agent = stack.agent(OPERATOR)
            assert (agent["state"], agent["interface"]) == ("ready", f"PJSIP/{OPERATOR}-web")
            contacts = stack.rx("pjsip show contacts")
            assert f"{OPERATOR}-web/sip:{OPERATOR}-web@127.0.0.1:{kam.port}" in contacts, contacts

            started = time.monotonic()
            call = talking_citizen(stack, tmp_path / "citizen", CALLER, port=kam.port, proxy=True)
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
            page.wait_for_timeout(6000)  # a few seconds of conversation in the recording
            page.click("#ph-hangup")
            expect(page.locator("#phone")).to_have_attribute("data-state", "registered")
            chromium.close()
        stack.hangup(CALLER)
        call.kill()
        record = stack.record(CALLER)
        print(f"through Kamailio's WebSocket: the page rang {rang:.1f}s after the INVITE")
        assert (record["outcome"], record["agent"]) == ("answered", OPERATOR), record
        assert any(e["kind"] == "dial" and f"PJSIP/{OPERATOR}-web ANSWER" in e["detail"]
                   for e in record["events"]), record["events"]  # fmt: skip
        log = kam.log.read_text("utf-8", "replace")
        assert f"to box sip:127.0.0.1:{stack.sip_port}" in log, kam.tail()
        wav = stack.recordings / record["recording"]
        citizen, operator = band_rms(wav, 400, 600), band_rms(wav, 1850, 2150)
        assert citizen > 0.02 and operator > 0.01, (citizen, operator)
        print(f"recording: citizen {CITIZEN_HZ} Hz {citizen:.3f}, "
              f"operator {OPERATOR_HZ} Hz {operator:.3f}")  # fmt: skip
    finally:
        if call is not None:
            call.kill()
        server.terminate()
        server.wait(20)
