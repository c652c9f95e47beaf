"""A box behind Kamailio (docs/scale-out-sip.md): ``ConfOptions.kamailio`` (``--kamailio``,
``$HOTLINE_KAMAILIO``) adds the ``kamailio`` endpoint, points the operators' AORs at Kamailio
and dials the static queue's members through it; without it nothing changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ivr.asterisk import conf
from ivr.asterisk.conf_behind import kamailio_contact
from ivr.asterisk.errors import AsteriskConfigError
from ivr.cli import main
from ivr.config.loader import load_config
from tests.test_config_validate import SHIPPED

AGENTS = (
    conf.Agent("1001", "甲", "PJSIP/1001", "1001", "pw1"),
    conf.Agent("1002", "乙", "Local/1002@operators", None),
)
OPTS = conf.ConfOptions(("agi://127.0.0.1/hotline",), agents=AGENTS, carrier_match=("192.0.2.1",))


def generate(kamailio: str) -> dict[str, str]:
    bundle = load_config(SHIPPED, SHIPPED.parent / "recordings")
    return conf.generate(bundle, dataclasses.replace(OPTS, kamailio=kamailio))


def test_a_box_behind_kamailio() -> None:
    files = generate("10.0.0.10:5060")
    pjsip = files["hotline-pjsip.conf"]
    assert "[1001](hotline-operator-aor)\ncontact = sip:1001@10.0.0.10:5060\n" in pjsip
    assert "[kamailio](hotline-trunk)\naors = kamailio\n" in pjsip
    assert "[kamailio]\ntype = aor\ncontact = sip:10.0.0.10:5060\n" in pjsip
    assert "[kamailio]\ntype = identify\nendpoint = kamailio\nmatch = 10.0.0.10\n" in pjsip
    members = files["hotline-queue-members.conf"]
    assert "member => PJSIP/1001@kamailio,0,甲,PJSIP/1001" in members
    assert "member => Local/1002@operators,0,乙,Local/1002@operators" in members


def test_on_the_carriers_address_no_second_identify() -> None:
    pjsip = generate("sip:192.0.2.1:5070")["hotline-pjsip.conf"]
    assert "contact = sip:1001@192.0.2.1:5070" in pjsip
    assert "endpoint = kamailio" not in pjsip


def test_without_kamailio_nothing_changes() -> None:
    files = generate("")
    assert "kamailio" not in files["hotline-pjsip.conf"]
    assert "member => PJSIP/1001,0" in files["hotline-queue-members.conf"]


@pytest.mark.parametrize("bad", ["10.0.0.10:port", "sip:a b", "tcp:10.0.0.10"])
def test_a_bad_address_is_refused(bad: str) -> None:
    with pytest.raises(AsteriskConfigError, match="must be host:port or sip:host:port"):
        kamailio_contact(bad)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_asterisk_conf_takes_kamailio_from_the_flag_or_the_environment(
    how: str, config_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "HOTLINE_CONFIG_DIR": str(config_copy),
        "HOTLINE_RECORDINGS_DIR": str(config_copy.parent / "recordings"),
        "HOTLINE_VAR_DIR": str(config_copy.parent / "var"),
        **{f"HOTLINE_{k}_{n}": "pw" for k in ("SIP", "WEB") for n in range(1001, 1006)},
    }.items():
        monkeypatch.setenv(name, value)
    out = config_copy.parent / "out"
    argv = ["asterisk-conf", "--out", str(out), "--generated-only", "--agi", "agi://h/hotline"]
    if how == "flag":
        argv += ["--kamailio", "sip:10.0.0.10:5070"]
    else:
        monkeypatch.setenv("HOTLINE_KAMAILIO", "10.0.0.10:5070")
    assert main(argv) == 0
    pjsip = (out / "hotline-pjsip.conf").read_text()
    assert "contact = sip:1001@10.0.0.10:5070" in pjsip
    assert "[kamailio]\ntype = aor\ncontact = sip:10.0.0.10:5070" in pjsip


def test_a_browser_phone_behind_kamailio_keeps_webrtc_media() -> None:
    """The browser phone registers over Kamailio's WebSocket: its AOR points at Kamailio,
    its endpoint keeps ``webrtc = yes`` (the media goes to the browser directly)."""
    web = conf.Agent("1003", "丙", "PJSIP/1003", "1003", "pw3", webrtc="1003-web",
                     webrtc_password="wpw3")  # fmt: skip
    opts = dataclasses.replace(OPTS, agents=(*AGENTS, web), websocket=conf.WebSocketOptions())
    bundle = load_config(SHIPPED, SHIPPED.parent / "recordings")
    behind = conf.generate(bundle, dataclasses.replace(opts, kamailio="10.0.0.10:5060"))
    pjsip = behind["hotline-pjsip.conf"]
    assert "[1003-web](hotline-webrtc-aor)\ncontact = sip:1003-web@10.0.0.10:5060\n" in pjsip
    assert "[1003-web](hotline-webrtc)\n" in pjsip
    alone = conf.generate(bundle, opts)["hotline-pjsip.conf"]
    assert "contact = sip:1003-web@" not in alone


def test_behind_kamailio_browser_phones_need_no_websocket_on_the_box() -> None:
    """Without a WebSocket of its own (HOTLINE_WS_BIND empty), a box behind Kamailio still
    has the browser phones' endpoints, to dial them at Kamailio; alone it has none."""
    web = conf.Agent("1003", "丙", "PJSIP/1003", "1003", "pw3", webrtc="1003-web",
                     webrtc_password="wpw3")  # fmt: skip
    opts = dataclasses.replace(OPTS, agents=(*AGENTS, web), websocket=None)
    bundle = load_config(SHIPPED, SHIPPED.parent / "recordings")
    behind = conf.generate(bundle, dataclasses.replace(opts, kamailio="10.0.0.10:5060"))
    pjsip = behind["hotline-pjsip.conf"]
    assert "[1003-web](hotline-webrtc)\n" in pjsip and "transport-ws" not in pjsip
    assert "[1003-web](hotline-webrtc-aor)\ncontact = sip:1003-web@10.0.0.10:5060\n" in pjsip
    assert "enabled = no" in behind["hotline-http.conf"]
    alone = conf.generate(bundle, opts)["hotline-pjsip.conf"]
    assert "[1003-web](hotline-webrtc)" not in alone
