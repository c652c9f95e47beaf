"""The desk's browser phone on the whole stack: Debian's Chromium (Playwright, headless, a
fake microphone playing a 2 kHz beep), the real Asterisk serving SIP over a WebSocket, and a
SIPp citizen whose voice is a 500 Hz tone.

Operator 1003 logs in on the desk with the browser phone and goes ready: JsSIP registers as
the agent's ``webrtc = yes`` endpoint ``1003-web`` and the queue takes ``PJSIP/1003-web`` as
its interface. A citizen dials the merged legacy line 12393: the page rings with the
screen-pop, the operator answers in the page, mutes and unmutes, and talks; the call's
MixMonitor recording has both voices (sox: the 500 Hz band and the 2 kHz band), and the
page's own RTCPeerConnection received audio. The operator hangs up in the page: wrap-up.

Then a citizen dials 12345 and the tab is closed while the browser phone rings: the caller
is not stranded, it goes to
the next operator (1001's SIPp softphone) and 1003 is paused (``no answer``), as for a desk
phone that does not answer; and a desk closed while 1003 is ready has 1003 paused ``phone
offline`` by the server before any caller rings it.

The desk's transfers from the browser phone: blind to 110, three-way with 110, and the
consultation of a colleague (1001) then join. A seat that reaches Asterisk only through a
TURN server (coturn, ``HOTLINE_WEBRTC_ICE_SERVERS``) talks through it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ivr.asterisk import local
from ivr.asterisk.conf_options import DEV_SECRETS_FILE
from tests.conftest import free_port
from tests.e2e.conftest import Stack, poll
from tests.e2e.sipp import (
    _HEAD,
    _OK_BYE,
    _TAIL,
    VOICE_PCAP,
    SippCall,
    _pcap_packets,
    free_media_port,
    free_udp_port,
    via_proxy_uac,
)
from tests.e2e.test_desk_e2e import ACCOUNT, OPERATOR, PASSWORD, account  # one account per agent

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: the energy of the audio the page's browser phone received (None: none yet)
INBOUND_ENERGY = """async () => {
  const stats = await phone.session.connection.getStats();
  for (const s of stats.values())
    if (s.type === 'inbound-rtp' && s.kind === 'audio' && s.totalAudioEnergy > 0)
      return s.totalAudioEnergy;
  return null;
}"""
SOX = shutil.which("sox")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
NEXT = "1001"  # the next operator, on a SIPp softphone
LINE = "12393"
CITIZEN, CITIZEN2 = "13904710393", "13904710394"
CITIZEN_HZ, OPERATOR_HZ = 500, 2000
BENCH_ENV, BENCH_TALK = "HOTLINE_WEBRTC_BENCH", 10  # the benchmark: opt in; talk seconds

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed"),
    pytest.mark.skipif(SOX is None, reason="sox is needed (Debian package sox)"),
]


def sox(*args: str) -> str:
    assert SOX is not None
    done = subprocess.run([SOX, *args], capture_output=True, text=True, check=True)
    return done.stderr


def tone_pcap(target: Path, hz: int, seconds: float) -> Path:
    """A pcap of PCMA RTP (PT 8, 20 ms packets) carrying a sine of ``hz``: the citizen's
    voice. The addresses and ports are sip-tester's (SIPp sends only the RTP)."""
    raw = target.with_suffix(".al")
    sox("-n", "-r", "8000", "-c", "1", "-e", "a-law", "-b", "8", "-t", "raw", str(raw),
        "synth", str(seconds), "sine", str(hz), "vol", "0.4")  # fmt: skip
    audio = raw.read_bytes()
    template = _pcap_packets(VOICE_PCAP)[0][1]
    eth, ip, udp = template[:14], bytearray(template[14:34]), bytearray(template[34:42])
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n in range(len(audio) // 160):
        rtp = struct.pack(">BBHII", 0x80, 8, n & 0xFFFF, n * 160, 0x1234ABCD)
        payload = rtp + audio[n * 160 : (n + 1) * 160]
        struct.pack_into(">H", udp, 4, 8 + len(payload))
        struct.pack_into(">H", udp, 6, 0)  # no UDP checksum
        struct.pack_into(">H", ip, 2, 20 + 8 + len(payload))
        struct.pack_into(">H", ip, 10, 0)
        words = struct.unpack(">10H", bytes(ip))
        total = sum(words)
        total = (total & 0xFFFF) + (total >> 16)
        struct.pack_into(">H", ip, 10, ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF)
        frame = eth + bytes(ip) + bytes(udp) + payload
        usec = n * 20000
        out += struct.pack("<IIII", 1000 + usec // 1_000_000, usec % 1_000_000, len(frame),
                           len(frame)) + frame  # fmt: skip
    target.write_bytes(bytes(out))
    return target


def talking_citizen(
    stack: Stack, workdir: Path, caller: str, *, port: int | None = None, proxy: bool = False
) -> SippCall:
    """A citizen calling ``LINE`` whose phone sends a steady tone from the answer on (PCMA)
    and who waits for Asterisk's BYE (``port``: sent there, e.g. to Kamailio, ``proxy``:
    whose ACK follows the route set)."""
    workdir.mkdir(parents=True, exist_ok=True)
    voice = tone_pcap(workdir / "citizen.pcap", CITIZEN_HZ, 150)
    head = _HEAD.format(name="市民", caller=caller)
    head = head.replace("RTP/AVP 0 101", "RTP/AVP 8 101").replace("0 PCMU/8000", "8 PCMA/8000")
    play = f'  <nop><action><exec play_pcap_audio="{voice}"/></action></nop>\n'
    xml = head + play + '  <recv request="BYE"/>\n' + _OK_BYE + _TAIL
    (workdir / "caller.sipp.xml").write_text(via_proxy_uac(xml) if proxy else xml, "utf-8")
    cmd = ["sipp", f"127.0.0.1:{port or stack.sip_port}", "-sf", "caller.sipp.xml", "-s", LINE]
    cmd += ["-m", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mi", "127.0.0.1"]
    cmd += ["-mp", str(free_media_port()), "-nostdin", "-timeout", "240s", "-trace_err"]
    log = open(workdir / "sipp.out", "wb")  # noqa: SIM115 - SIPp has its own copy
    proc = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    call = SippCall(LINE, caller, proc, workdir, time.monotonic())
    stack.calls.append(call)
    return call


def browser(p: Any, workdir: Path, *, microphone: bool = True) -> Any:
    """Debian's Chromium with a fake microphone beeping at 2 kHz, allowed without asking
    (``microphone=False``: every request for it is refused)."""
    beep = workdir / "operator.wav"
    sox("-n", "-r", "48000", "-c", "1", "-b", "16", str(beep), "synth", "0.4", "sine",
        str(OPERATOR_HZ), "pad", "0", "0.2", "repeat", "60", "vol", "0.5")  # fmt: skip
    return p.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--use-fake-device-for-media-stream",
            *(["--use-fake-ui-for-media-stream"] if microphone else []),
            f"--use-file-for-fake-audio-capture={beep}",
            "--autoplay-policy=no-user-gesture-required",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--allow-loopback-in-peer-connection",
        ],
    )


def desk_with_browser_phone(stack: Stack, page: Any, *, http_port: int | None = None) -> None:
    """Operator 1003 signs in on the desk (of the stack's server, or the one on
    ``http_port``) and chooses the browser phone."""
    page.goto(f"http://127.0.0.1:{http_port or stack.http_port}/desk")
    page.fill("#username", ACCOUNT)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    sync_api.expect(page.locator("#link")).to_contain_text("在线", timeout=15000)
    page.select_option("#phone-kind", "browser")


def ready_with_browser_phone(stack: Stack, page: Any) -> None:
    expect = sync_api.expect
    desk_with_browser_phone(stack, page)
    page.click("#ready")
    expect(page.locator("#ph-status")).to_contain_text("registered", timeout=20000)
    expect(page.locator("#state")).to_contain_text("就绪")
    agent = stack.agent(OPERATOR)
    assert (agent["state"], agent["interface"]) == ("ready", f"PJSIP/{OPERATOR}-web"), agent


def answered_in_browser(stack: Stack, page: Any, workdir: Path, caller: str) -> SippCall:
    """The operator ready on the browser phone, a citizen ``caller`` queued for it, the call
    answered in the page and the desk showing it: the citizen's SIPp call."""
    expect = sync_api.expect
    ready_with_browser_phone(stack, page)
    call = talking_citizen(stack, workdir, caller)
    expect(page.locator("#ph-answer")).to_be_visible(timeout=40000)
    page.click("#ph-answer")
    expect(page.locator("#state")).to_contain_text("通话", timeout=15000)
    return call


def answered_by_next(stack: Stack, caller: str) -> dict[str, Any]:
    """The caller put through to the next operator (its SIPp softphone answers), hung up:
    the call's record, answered by that operator."""
    poll(
        lambda: stack.agent(NEXT)["state"] == "busy" or None,
        lambda: f"the caller never reached {NEXT}: {stack.agent(NEXT)}",
        timeout=40,
    )
    stack.hangup(caller)
    record: dict[str, Any] = stack.record(caller, timeout=90)
    assert (record["outcome"], record["agent"]) == ("answered", NEXT), record
    return record


def band_rms(wav: Path, low: int, high: int) -> float:
    """The RMS amplitude (0..1) of ``wav`` in the band ``low``-``high`` Hz (sox)."""
    text = sox(str(wav), "-n", "sinc", f"{low}-{high}", "stat")
    m = re.search(r"RMS\s+amplitude:\s+([0-9.]+)", text)
    assert m, text
    return float(m.group(1))


@pytest.fixture
def operator_account(stack: Stack) -> Iterator[None]:
    stack.wait_queue_empty()
    account(stack)
    yield
    stack.logout(OPERATOR)


def test_the_operator_answers_in_the_browser_and_both_voices_are_recorded(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    expect = sync_api.expect
    with sync_api.sync_playwright() as p:
        chromium = browser(p, tmp_path)
        page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        ready_with_browser_phone(stack, page)
        # the microphone and the speaker to choose, and the speaker's test tone
        expect(page.locator("#ph-devices")).to_be_visible()
        assert page.locator("#ph-mic option").count() >= 1
        page.click("#ph-test")
        expect(page.locator("#ph-test")).to_have_attribute("data-played", "1")
        assert page.evaluate("phone.audio.state") == "running"
        assert page.evaluate("!!document.getElementById('ph-tones').srcObject")

        call = talking_citizen(stack, tmp_path / "citizen", CITIZEN)
        # the page rings, with the screen-pop, while the queue has the operator reserved
        expect(page.locator("#pop-caller")).to_contain_text(CITIZEN, timeout=40000)
        expect(page.locator("#phone")).to_have_attribute("data-state", "ringing", timeout=15000)
        expect(page.locator("#ph-answer")).to_be_visible()
        assert stack.agent(OPERATOR)["state"] == "reserved"
        reserved = (page.locator("#pop-ticket").text_content() or "").strip()
        assert reserved, "the screen-pop shows the ticket number reserved for the call"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "webrtc-ringing.png"))

        page.click("#ph-answer")
        expect(page.locator("#phone")).to_have_attribute("data-state", "talking", timeout=15000)
        expect(page.locator("#state")).to_contain_text("通话", timeout=15000)
        page.click("#ph-mute")
        expect(page.locator("#ph-mute")).to_contain_text("Unmute")
        page.click("#ph-mute")
        expect(page.locator("#ph-mute")).to_contain_text("Mute")
        page.click("#ph-hold")
        expect(page.locator("#phone")).to_have_attribute("data-state", "held", timeout=10000)
        page.click("#ph-hold")  # resume
        expect(page.locator("#phone")).to_have_attribute("data-state", "talking", timeout=10000)
        expect(page.locator("#ph-keypad button")).to_have_count(12)
        page.click("#ph-keypad button[data-key='5']")  # RFC 4733 to the caller's side
        page.screenshot(path=str(SHOTS / "webrtc-in-call.png"))
        # the ticket is filed while talking, with the number the screen-pop showed
        page.select_option("#t-type", "help")
        page.fill("#t-content", "异地就医备案，浏览器话机接听")
        page.click("#t-submit")
        expect(page.locator("#t-result")).to_contain_text(f"工单 {reserved}")
        # the browser hears the citizen: its peer connection receives audio with energy
        energy = poll(
            lambda: page.evaluate(INBOUND_ENERGY),
            lambda: "the page received no audio from the citizen",
            timeout=20,
        )
        assert energy > 0
        page.wait_for_timeout(6000)  # a few seconds of conversation in the recording
        page.click("#ph-hangup")
        expect(page.locator("#phone")).to_have_attribute("data-state", "registered")
        poll(
            lambda: stack.agent(OPERATOR)["state"] in ("wrapup", "ready") or None,
            lambda: f"no wrap-up after the hang-up: {stack.agent(OPERATOR)}",
            timeout=20,
        )
        chromium.close()
    stack.hangup(CITIZEN)  # the survey is not what this test is about
    call.kill()
    record = stack.record(CITIZEN)
    assert (record["outcome"], record["agent"], record["hangup_by"]) == (
        "answered",
        OPERATOR,
        "agent",
    ), record
    assert any(e["kind"] == "dial" and "PJSIP/1003-web ANSWER" in e["detail"]
               for e in record["events"]), record["events"]  # fmt: skip
    wav = stack.recordings / record["recording"]
    assert wav.exists(), wav
    citizen, operator = band_rms(wav, 400, 600), band_rms(wav, 1850, 2150)
    between = band_rms(wav, 1000, 1400)
    assert citizen > 0.02 and operator > 0.01, (citizen, operator, between)
    assert between < min(citizen, operator) / 3, (citizen, operator, between)


def test_a_tab_closed_while_ringing_strands_nobody(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    expect = sync_api.expect
    softphone = stack.softphone(NEXT, tmp_path, ring=1.0, talk=4.0)
    call = None
    try:
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            ready_with_browser_phone(stack, page)
            call = stack.call("12345", CITIZEN2)  # general: 1001 takes it too
            expect(page.locator("#phone")).to_have_attribute("data-state", "ringing",
                                                             timeout=40000)  # fmt: skip
            stack.login(NEXT, ready=True)  # the next operator, free once 1003 did not answer
            page.close()  # the tab is closed while it rings
            chromium.close()
        state = poll(
            lambda: ((s := stack.agent(OPERATOR))["state"] == "paused" and s) or None,
            lambda: f"1003 not paused: {stack.agent(OPERATOR)}",
            timeout=30,
        )
        assert state["reason"] == "no answer", state
        record = answered_by_next(stack, CITIZEN2)
        offers = [e["detail"] for e in record["events"] if e["kind"] == "offer"]
        offers = [d for d in offers if "/" in d]  # "<agent> <interface>" (not the menu's)
        assert offers == [f"{OPERATOR} PJSIP/{OPERATOR}-web", f"{NEXT} PJSIP/{NEXT}"], offers
        dials = [e["detail"] for e in record["events"] if e["kind"] == "dial"]
        assert dials == [f"PJSIP/{OPERATOR}-web NOANSWER", f"PJSIP/{NEXT} ANSWER"], dials
    finally:
        softphone.stop()
        if call is not None:
            call.kill()
        stack.logout(NEXT)


def test_a_closed_desk_pauses_its_operator_before_a_caller_rings_it(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    """The desk is closed while the operator is ready (not while it rings): the server sees
    the browser phone gone from Asterisk (AMI ``DEVICE_STATE``) and pauses the agent
    ``phone offline`` within the grace period and a probe (queue.yaml settings
    ``phone_offline_seconds`` 20 and ``phone_probe_seconds`` 5), audited by the system; a
    caller then goes to the next operator without first ringing the dead browser."""
    caller = "13904710398"
    softphone = stack.softphone(NEXT, tmp_path, ring=1.0, talk=4.0)
    call = None
    try:
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = chromium.new_page()
            ready_with_browser_phone(stack, page)
            poll(
                lambda: f"{OPERATOR}-web" in stack.rx("pjsip show contacts") or None,
                lambda: stack.rx("pjsip show contacts"),
                timeout=10,
            )
            page.close()
            closed = time.monotonic()
            chromium.close()
        assert stack.agent(OPERATOR)["state"] == "ready"  # the queue does not know yet
        state = poll(
            lambda: ((s := stack.agent(OPERATOR))["state"] == "paused" and s) or None,
            lambda: f"{OPERATOR} not paused: {stack.agent(OPERATOR)}",
            timeout=20 + 5 + 10,
        )
        took = time.monotonic() - closed
        assert state["reason"] == "phone offline", state
        assert 15 <= took <= 20 + 5 + 5, took  # the grace period, and a probe or so
        print(f"paused 'phone offline' {took:.1f} s after the desk was closed")
        audit = stack.query(
            "SELECT actor, role, after_json FROM audit_log WHERE action = 'agent.pause' "
            "AND target = ? ORDER BY id DESC LIMIT 1",
            f"agent:{OPERATOR}",
        )
        assert audit and audit[0]["actor"] == "system:phone-watch", audit
        assert "phone offline" in audit[0]["after_json"], audit
        stack.login(NEXT, ready=True)
        call = stack.call("12345", caller)
        record = answered_by_next(stack, caller)
        offers = [e["detail"] for e in record["events"] if e["kind"] == "offer"]
        assert [d for d in offers if "/" in d] == [f"{NEXT} PJSIP/{NEXT}"], offers
        dials = [e["detail"] for e in record["events"] if e["kind"] == "dial"]
        assert dials == [f"PJSIP/{NEXT} ANSWER"], dials
        # the operator opens the desk again: it says why, registers the phone again at once,
        # and the pause stays until the operator presses Ready
        expect = sync_api.expect
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(f"http://127.0.0.1:{stack.http_port}/desk")
            page.fill("#username", ACCOUNT)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#state")).to_contain_text("话机离线 phone offline", timeout=15000)
            expect(page.locator("#phone")).to_have_attribute("data-state", "registered",
                                                             timeout=20000)  # fmt: skip
            page.wait_for_timeout(5000 + 1000)  # a probe: the registered phone unpauses nothing
            assert stack.agent(OPERATOR)["reason"] == "phone offline"
            page.screenshot(path=str(SHOTS / "webrtc-phone-offline.png"))
            page.click("#ready")
            expect(page.locator("#state")).to_contain_text("就绪", timeout=15000)
            chromium.close()
    finally:
        softphone.stop()
        if call is not None:
            call.kill()
        stack.logout(NEXT)


def test_a_desk_whose_network_is_lost_pauses_its_operator(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    """The network is lost under a ready desk: no close reaches Asterisk (the page's
    WebSocket stays open but nothing comes through it: every message from Asterisk is
    dropped), so the contact stays until the AOR's qualify (``qualify_frequency = 30``,
    ``qualify_timeout`` 3 s) finds it unreachable; then the grace period, and 1003 is paused
    ``phone offline``."""
    with sync_api.sync_playwright() as p:
        chromium = browser(p, tmp_path)
        page = chromium.new_page()
        ready_with_browser_phone(stack, page)
        page.evaluate("phone.ua._transport.socket._ws.onmessage = () => {}")  # deaf from now
        lost = time.monotonic()
        poll(
            lambda: re.search(rf"{OPERATOR}-web/\S+\s+\S+\s+Unavail", stack.rx(
                "pjsip show contacts")) or None,
            lambda: stack.rx("pjsip show contacts"),
            timeout=30 + 3 + 10,
        )  # fmt: skip
        unreachable = time.monotonic() - lost
        assert stack.agent(OPERATOR)["state"] == "ready"  # within the grace period
        state = poll(
            lambda: ((s := stack.agent(OPERATOR))["state"] == "paused" and s) or None,
            lambda: f"{OPERATOR} not paused: {stack.agent(OPERATOR)}",
            timeout=20 + 5 + 10,
        )
        took = time.monotonic() - lost
        assert state["reason"] == "phone offline", state
        print(f"network lost: contact unreachable after {unreachable:.1f} s, agent paused "
              f"after {took:.1f} s")  # fmt: skip
        chromium.close()


def test_the_phone_says_what_is_wrong(stack: Stack, tmp_path: Path, operator_account: None) -> None:
    """The microphone refused, the registration refused, the WebSocket lost: each is said on
    the phone's line; the first two keep the agent out of the queue, the last one heals."""
    expect = sync_api.expect
    with sync_api.sync_playwright() as p:
        chromium = browser(p, tmp_path, microphone=False)
        page = chromium.new_page()
        desk_with_browser_phone(stack, page)
        page.click("#ready")
        expect(page.locator("#phone")).to_have_attribute("data-state", "refused", timeout=15000)
        expect(page.locator("#ph-status")).to_contain_text("microphone refused")
        assert stack.agent(OPERATOR)["state"] == "offline"
        chromium.close()

        chromium = browser(p, tmp_path)
        page = chromium.new_page()

        def wrong_password(route: Any) -> None:
            answer = route.fetch()
            route.fulfill(response=answer, json={**answer.json(), "password": "not-it"})

        page.route("**/api/agents/1003/phone", wrong_password)
        desk_with_browser_phone(stack, page)
        page.click("#ready")
        expect(page.locator("#phone")).to_have_attribute("data-state", "failed", timeout=20000)
        expect(page.locator("#ph-status")).to_contain_text("registration failed")
        assert stack.agent(OPERATOR)["state"] == "offline"
        page.close()

        page = chromium.new_page()
        ready_with_browser_phone(stack, page)
        # the WebSocket drops (JsSIP's socket closed under it, as a proxy or a network would)
        page.evaluate("phone.ua._transport.socket._ws.close()")
        expect(page.locator("#phone")).to_have_attribute("data-state", "lost", timeout=10000)
        expect(page.locator("#ph-status")).to_contain_text("reconnecting")
        expect(page.locator("#phone")).to_have_attribute(
            "data-state", "registered", timeout=30000
        )  # reconnected and registered again
        poll(
            lambda: f"{OPERATOR}-web" in stack.rx("pjsip show contacts") or None,
            lambda: stack.rx("pjsip show contacts"),
            timeout=10,
        )
        chromium.close()


def test_the_desk_transfers_a_browser_call_to_110(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    """The desk's transfer buttons move the operator's channel through AMI whatever the
    phone: a blind transfer to 110 from a call answered in the browser."""
    expect = sync_api.expect
    caller = "13904710395"
    with sync_api.sync_playwright() as p:
        chromium = browser(p, tmp_path)
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        call = answered_in_browser(stack, page, tmp_path / "citizen", caller)
        button = page.locator("button.emergency[data-target='110'][data-mode='blind']")
        expect(button).to_be_visible()
        button.click()
        expect(page.locator("#xfer-result")).to_contain_text("110")
        poll(
            lambda: stack.rx(f"database get hotline-e2e {caller}").strip().endswith("110") or None,
            lambda: f"110 never reached: {stack.rx('database show hotline-e2e')}",
            timeout=20,
        )
        # the browser's leg was taken away: the phone is free again, the agent in wrap-up
        expect(page.locator("#phone")).to_have_attribute("data-state", "registered", timeout=15000)
        poll(
            lambda: stack.agent(OPERATOR)["state"] in ("wrapup", "ready") or None,
            lambda: str(stack.agent(OPERATOR)),
            timeout=20,
        )
        chromium.close()
    call.kill()
    record = stack.record(caller)
    assert (record["outcome"], record["agent"], record["hangup_by"]) == (
        "answered",
        OPERATOR,
        "transfer",
    ), record


def inbound_energy(page: Any) -> float:
    """The audio energy the page's phone has received so far (its RTCPeerConnection)."""
    return float(
        page.evaluate(
            """async () => {
              const stats = await phone.session.connection.getStats();
              for (const s of stats.values())
                if (s.type === 'inbound-rtp' && s.kind === 'audio') return s.totalAudioEnergy || 0;
              return 0;
            }"""
        )
    )


def test_a_three_way_call_from_the_browser_phone(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    """The desk's three-way button with 110: AMI moves the browser's channel into the
    caller's conference room, and the browser still hears the caller there."""
    expect = sync_api.expect
    caller = "13904710396"
    with sync_api.sync_playwright() as p:
        chromium = browser(p, tmp_path)
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        call = answered_in_browser(stack, page, tmp_path / "citizen", caller)
        uid = stack.agent(OPERATOR)["call"]
        page.click("button.emergency[data-target='110'][data-mode='threeway']")
        expect(page.locator("#xfer-result")).to_contain_text("110")

        def in_room() -> list[str] | None:
            """Both in the room: the browser's leg (moved by AMI) and the caller, who joins
            from its own session once Dial returns, a moment after or before."""
            members = conference_members(stack, uid)
            caller_channel = stack.channel_of(caller)
            operator = any(m.startswith(f"PJSIP/{OPERATOR}-web") for m in members)
            caller_in = caller_channel is not None and caller_channel[0] in members
            return members if operator and caller_in else None

        poll(in_room, lambda: f"room {uid}: {stack.rx(f'confbridge list {uid}')}", timeout=30)
        # in the room the browser still hears the caller (its leg was moved, not replaced)
        before = inbound_energy(page)
        poll(
            lambda: inbound_energy(page) > before + 0.01 or None,
            lambda: f"no audio in the conference: {before} -> {inbound_energy(page)}",
            timeout=15,
        )
        expect(page.locator("#phone")).to_have_attribute("data-state", "talking")
        page.click("#ph-hangup")
        expect(page.locator("#phone")).to_have_attribute("data-state", "registered")
        chromium.close()
    stack.hangup(caller)
    call.kill()
    record = stack.record(caller)
    assert (record["outcome"], record["agent"], record["hangup_by"]) == (
        "answered",
        OPERATOR,
        "transfer",
    ), record
    kinds = [(e["kind"], e["detail"]) for e in record["events"]]
    assert ("transfer", f"threeway 110 by {OPERATOR}") in kinds, kinds


def test_the_browser_phone_consults_a_colleague_then_hands_the_caller_over(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    """The attended transfer (咨询转接) from the browser phone: the operator answers in the
    page, consults colleague 1001 (a SIPp softphone) while the caller waits alone with music
    on hold, talks to the colleague, joins the caller and hangs up in the page: the caller is
    left with the colleague, the browser phone is free, and the operator goes to wrap-up when
    the call ends."""
    expect = sync_api.expect
    caller = "13904710397"
    colleague = stack.softphone(NEXT, tmp_path, ring=1.0, talk=90.0)
    call = None
    try:
        stack.login(NEXT, ready=False)  # logged in (its interface known), not taking calls
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            call = answered_in_browser(stack, page, tmp_path / "citizen", caller)
            uid = stack.agent(OPERATOR)["call"]
            page.fill("#xfer-colleague", NEXT)
            page.click("#xfer-consult")
            expect(page.locator("#xfer-result")).to_contain_text("consulting")
            expect(page.locator("#xfer-join")).to_be_visible()
            # the colleague answers in the consultation room; the caller waits alone
            room = f"consult-{uid}"
            members = poll(
                lambda: m if len(m := conference_members(stack, room)) == 2 else None,
                lambda: f"room {room}: {stack.rx(f'confbridge list {room}')}",
                timeout=30,
            )
            assert sorted(m.split("-")[0] for m in members) == [
                f"PJSIP/{NEXT}",
                f"PJSIP/{OPERATOR}",
            ], members
            caller_channel = stack.channel_of(caller)
            assert caller_channel is not None
            assert conference_members(stack, uid) == [caller_channel[0]]
            # the operator talks to the colleague: the page hears the colleague's voice
            expect(page.locator("#phone")).to_have_attribute("data-state", "talking")
            before = inbound_energy(page)
            poll(
                lambda: inbound_energy(page) > before + 0.01 or None,
                lambda: f"the colleague is not heard: {before} -> {inbound_energy(page)}",
                timeout=15,
            )
            page.click("#xfer-join")  # the caller, the operator and the colleague together
            expect(page.locator("#xfer-result")).to_contain_text("joined")
            poll(
                lambda: len(conference_members(stack, uid)) == 3 or None,
                lambda: f"room {uid}: {stack.rx(f'confbridge list {uid}')}",
                timeout=20,
            )
            page.click("#ph-hangup")  # the operator leaves: the hand-over is done
            expect(page.locator("#phone")).to_have_attribute("data-state", "registered")
            members = poll(
                lambda: m if len(m := conference_members(stack, uid)) == 2 else None,
                lambda: f"room {uid}: {stack.rx(f'confbridge list {uid}')}",
                timeout=20,
            )
            assert caller_channel[0] in members, members
            assert any(m.startswith(f"PJSIP/{NEXT}-") for m in members), members
            assert not conference_members(stack, room)
            chromium.close()
        stack.hangup(caller)  # the caller and the colleague are done
        poll(
            lambda: stack.agent(OPERATOR)["state"] in ("wrapup", "ready") or None,
            lambda: f"no wrap-up: {stack.agent(OPERATOR)}",
            timeout=20,
        )
        record = stack.record(caller)
        assert (record["outcome"], record["agent"], record["hangup_by"]) == (
            "answered",
            OPERATOR,
            "transfer",
        ), record
        kinds = [(e["kind"], e["detail"]) for e in record["events"]]
        assert ("transfer", f"consult agent:{NEXT} by {OPERATOR}") in kinds, kinds
        legs = [d for k, d in kinds if k == "transfer_leg"]
        assert legs[0].startswith(f"transfer consult agent:{NEXT} ") and any(
            d.startswith(f"answer agent:{NEXT} PJSIP/{NEXT}-") for d in legs
        ), legs
        assert legs[-1] == f"join agent:{NEXT} by {OPERATOR}", legs
    finally:
        colleague.stop()
        if call is not None:
            call.kill()
        stack.logout(NEXT)


TURNSERVER = shutil.which("turnserver")  # Debian's coturn
#: a seat whose only way to Asterisk is the TURN server: every peer connection of the page
#: gathers relay candidates only (and the configurations JsSIP passed are kept to be read)
RELAY_ONLY = """
(() => {
  const Native = window.RTCPeerConnection;
  window.hotlinePcConfigs = [];
  function RelayOnly(config, ...rest) {
    window.hotlinePcConfigs.push(JSON.parse(JSON.stringify(config || {})));
    return new Native({ ...(config || {}), iceTransportPolicy: "relay" }, ...rest);
  }
  RelayOnly.prototype = Native.prototype;
  Object.setPrototypeOf(RelayOnly, Native);
  window.RTCPeerConnection = RelayOnly;
})();
"""


def host_address() -> str | None:
    """This host's address on its default route (where Asterisk's ICE candidates are)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("203.0.113.1", 9))  # no packet is sent
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") else address


SELECTED_PAIR = """async (anyPair) => {
  // the pair the transport uses (several may be nominated while ICE settles)
  const stats = await phone.session.connection.getStats();
  let chosen = null;
  for (const s of stats.values())
    if (s.type === 'transport' && s.selectedCandidatePairId)
      chosen = stats.get(s.selectedCandidatePairId);
  if (!chosen)
    for (const s of stats.values())
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') chosen = s;
  if (!chosen) return null;
  const local = stats.get(chosen.localCandidateId);
  const pair = {local: local.candidateType, sent: chosen.bytesSent, received: chosen.bytesReceived};
  return anyPair || (pair.sent > 0 && pair.received > 0) ? pair : null;
}"""


def selected_pair(page: Any, *, any_pair: bool = False) -> dict[str, Any] | None:
    """The browser phone's selected ICE candidate pair, once it has sent and received bytes
    (``any_pair``: whatever it is, for the failure message)."""
    pair: dict[str, Any] | None = page.evaluate(SELECTED_PAIR, any_pair)
    return pair


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[int]:
    """coturn on a port of the test (long-term credentials seat/pw): the browser reaches it
    on loopback, it relays from the host's address, where Asterisk's candidates are (so that
    Asterisk's answers come from the peer the browser's permission names)."""
    relay = host_address()
    if TURNSERVER is None or relay is None:
        pytest.skip("turnserver (Debian package coturn) and a non-loopback address are needed")
    port = free_udp_port()
    cmd = [TURNSERVER, "-n", "--listening-ip", "127.0.0.1", "--relay-ip", relay,
           "--listening-port", str(port), "--min-port", "49200", "--max-port", "49299",
           "--lt-cred-mech", "--user", "seat:pw", "--realm", "hotline.test",
           "--no-tls", "--no-dtls", "--no-cli", "--simple-log",
           "--log-file", str(tmp_path / "turn.log"), "--pidfile", str(tmp_path / "turn.pid"),
           "--verbose"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pidfile = tmp_path / "turn.pid"  # written once its listeners are open
        poll(
            lambda: (proc.poll() is None and pidfile.exists()) or None,
            lambda: f"turnserver did not start (exit {proc.poll()})",
            timeout=10,
        )
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_seat_reaching_asterisk_only_through_turn_talks_through_it(
    stack: Stack,
    tmp_path: Path,
    operator_account: None,
    turn: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HOTLINE_WEBRTC_ICE_SERVERS names a TURN server (coturn): a hotline server started with
    it hands it to the desk (GET /api/agents/{id}/phone), JsSIP gives it to the peer
    connection, and a seat that may only use relay candidates answers a call whose audio
    flows through the TURN server both ways."""
    expect = sync_api.expect
    caller = "13904710399"
    ice = [{"urls": f"turn:127.0.0.1:{turn}?transport=udp", "username": "seat",
            "credential": "pw"}]  # fmt: skip
    monkeypatch.setenv("HOTLINE_WEBRTC_ICE_SERVERS", json.dumps(ice))
    assert stack.opts.websocket is not None
    monkeypatch.setenv("HOTLINE_WEBRTC_WS_URL", f"ws://127.0.0.1:{stack.opts.websocket.port}/ws")
    var, http = tmp_path / "var-turn", free_port()
    var.mkdir()
    secrets = stack.var / DEV_SECRETS_FILE  # the browser phones' development passwords
    if secrets.exists():
        shutil.copy(secrets, var / DEV_SECRETS_FILE)
    server = stack.start_server(var, free_port(), http, log_name="serve-turn.log",
                                database_url=stack.database_url)  # fmt: skip
    call = None
    try:
        with sync_api.sync_playwright() as p:
            chromium = browser(p, tmp_path)
            context = chromium.new_context()
            context.add_init_script(RELAY_ONLY)
            page = context.new_page()
            desk_with_browser_phone(stack, page, http_port=http)
            page.click("#ready")
            expect(page.locator("#ph-status")).to_contain_text("registered", timeout=20000)
            handed = page.evaluate("phone.config.ice_servers")  # by GET /api/agents/1003/phone
            assert handed == [{**ice[0], "urls": [ice[0]["urls"]]}], handed
            call = talking_citizen(stack, tmp_path / "citizen", caller)
            expect(page.locator("#ph-answer")).to_be_visible(timeout=40000)
            page.click("#ph-answer")
            expect(page.locator("#phone")).to_have_attribute("data-state", "talking",
                                                             timeout=20000)  # fmt: skip
            configs = page.evaluate("window.hotlinePcConfigs")
            assert configs and configs[-1]["iceServers"][0]["username"] == "seat", configs
            energy = poll(
                lambda: inbound_energy(page) or None,
                lambda: "the page received no audio through the TURN server",
                timeout=20,
            )
            assert energy > 0
            pair = poll(
                lambda: selected_pair(page),
                lambda: f"no pair carried audio both ways: {selected_pair(page, any_pair=True)}",
                timeout=10,
            )
            assert pair["local"] == "relay", pair
            page.wait_for_timeout(3000)
            page.click("#ph-hangup")
            expect(page.locator("#phone")).to_have_attribute("data-state", "registered")
            chromium.close()
        stack.hangup(caller)
        record = stack.record(caller)
        assert (record["outcome"], record["agent"]) == ("answered", OPERATOR), record
        wav = stack.recordings / record["recording"]
        operator = band_rms(wav, 1850, 2150)  # the seat's voice reached Asterisk by TURN
        assert operator > 0.01, operator
    finally:
        if call is not None:
            call.kill()
        server.terminate()
        server.wait(20)


def conference_members(stack: Stack, room: str) -> list[str]:
    out = stack.rx(f"confbridge list {room}")
    return [line.split()[0] for line in out.splitlines() if "/" in line.split(" ", 1)[0]]


def asterisk_cpu(stack: Stack) -> float:
    """Seconds of CPU (user + system, every thread) Asterisk has used so far."""
    pid = local.status(stack.root).pid
    assert pid is not None, "Asterisk runs"
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.environ.get(BENCH_ENV), reason=f"a benchmark: set {BENCH_ENV}=1")
def test_bench_asterisk_cpu_per_browser_call_against_softphone_call(
    stack: Stack, tmp_path: Path, operator_account: None
) -> None:
    """Asterisk's CPU during the conversation (from the answer, TALK seconds) of a handful of
    calls answered by the browser phone (ICE, DTLS-SRTP) and as many answered by a SIPp
    softphone (plain RTP), one call at a time, in one run; and as long with no call. Only
    Asterisk's process is measured (/proc/<pid>/stat), not the browser. Figures: printed,
    and written to ``.cache/e2e/webrtc-bench.json``; docs/webrtc.md keeps a run's."""
    expect = sync_api.expect
    calls, talk = int(os.environ.get(BENCH_ENV + "_CALLS", "3")), BENCH_TALK
    figures: dict[str, list[float]] = {"idle": [], "browser": [], "softphone": []}
    for _ in range(calls):  # the floor: Asterisk with nobody on a call, as long
        before = asterisk_cpu(stack)
        time.sleep(talk)
        figures["idle"].append(asterisk_cpu(stack) - before)
    with sync_api.sync_playwright() as p:
        chromium = browser(p, tmp_path)
        page = chromium.new_page()
        ready_with_browser_phone(stack, page)
        for n in range(calls):
            caller = f"1390472{n:04d}"
            call = talking_citizen(stack, tmp_path / f"b{n}", caller)
            expect(page.locator("#ph-answer")).to_be_visible(timeout=60000)
            page.click("#ph-answer")
            expect(page.locator("#phone")).to_have_attribute("data-state", "talking")
            before = asterisk_cpu(stack)
            page.wait_for_timeout(talk * 1000)
            figures["browser"].append(asterisk_cpu(stack) - before)
            page.click("#ph-hangup")
            stack.hangup(caller)
            call.kill()
            poll(
                lambda: stack.agent(OPERATOR)["state"] == "ready" or None,
                lambda: str(stack.agent(OPERATOR)),
                timeout=30,
            )
        page.click("#agent-logout")
        chromium.close()
    softphone = stack.softphone(NEXT, tmp_path, ring=0.5, talk=talk + 2.0)
    try:
        stack.login(NEXT, ready=True)
        for n in range(calls):
            caller = f"1390473{n:04d}"
            call = stack.call("12345", caller)
            poll(
                lambda: stack.agent(NEXT)["state"] == "busy" or None,
                lambda: str(stack.agent(NEXT)),
                timeout=60,
            )
            before = asterisk_cpu(stack)
            time.sleep(talk)
            figures["softphone"].append(asterisk_cpu(stack) - before)
            stack.hangup(caller)
            call.kill()
            poll(
                lambda: stack.agent(NEXT)["state"] == "ready" or None,
                lambda: str(stack.agent(NEXT)),
                timeout=30,
            )
    finally:
        softphone.stop()
        stack.logout(NEXT)
    out = {
        kind: {
            "calls": len(cpu),
            "talk_seconds": talk,
            "cpu_seconds": [round(c, 3) for c in cpu],
            "cpu_ms_per_call": round(1000 * sum(cpu) / len(cpu), 1),
            "cpu_percent_of_a_core": round(100 * sum(cpu) / len(cpu) / talk, 2),
        }
        for kind, cpu in figures.items()
    }
    target = ROOT / ".cache" / "e2e" / "webrtc-bench.json"
    target.write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    print(json.dumps(out, indent=1))
    assert all(len(cpu) == calls for cpu in figures.values())
