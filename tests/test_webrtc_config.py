"""The browser phones' part of the Asterisk config (docs/webrtc.md): agents.yaml ``webrtc``
accounts, checked like the SIP ones; Asterisk's HTTP server with ws on loopback, wss only
with a certificate; the transports and the ``webrtc = yes`` endpoints; and the development
passwords that ``hotline serve`` hands the desk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.asterisk import conf
from ivr.asterisk.errors import AsteriskConfigError
from ivr.config.loader import load_config
from tests.test_config_validate import SHIPPED, Cfg


@pytest.fixture
def cfg(tmp_path: Path) -> Cfg:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED, directory)
    return Cfg(directory)


def test_every_shipped_operator_has_a_browser_phone() -> None:
    agents = load_config(SHIPPED, SHIPPED.parent / "recordings").agents.agents
    assert [a.browser_interface for a in agents] == [f"PJSIP/{a.id}-web" for a in agents]


def test_a_browser_phone_user_name_given_twice_is_refused_where_it_is(cfg: Cfg) -> None:
    cfg.replace("agents.yaml", 'username: "1002-web"', 'username: "1001-web"')
    problem = cfg.expect("HL-CFG-083", "agents.yaml", '"1001-web"', nth=2)
    assert "browser phone" in problem.message and "given twice" in problem.message
    # the first is 1001's browser phone (line 15)
    assert problem.message.endswith(f"{cfg.dir / 'agents.yaml'}:15:13)"), problem.message


def test_the_generated_websocket_transports_and_endpoints(
    cfg: Cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTLINE_WEB_1001", raising=False)
    bundle = load_config(cfg.dir, tmp_path)
    secrets = tmp_path / "var" / conf.DEV_SECRETS_FILE
    agents, source = conf.load_agents(bundle, secrets, dev=True)
    assert "5 with a browser phone" in source
    opts = conf.ConfOptions(("agi://127.0.0.1/hotline",), agents=tuple(agents))
    files = conf.generate(bundle, opts)
    http = files["hotline-http.conf"]
    assert "enabled = yes\n" in http and "bindaddr = 127.0.0.1\nbindport = 8088\n" in http
    assert "tlsenable" not in http  # development: plain ws on loopback only
    pjsip = files["hotline-pjsip.conf"]
    assert "[transport-ws]\ntype = transport\nprotocol = ws\n" in pjsip
    assert "[transport-wss]" not in pjsip
    password = conf.stored_password("env:HOTLINE_WEB_1001", "1001-web", secrets)
    assert password and password == agents[0].webrtc_password  # what the server hands out
    assert "[1001-web](hotline-webrtc)\ncontext = operators\nauth = 1001-web\n" in pjsip
    assert f"username = 1001-web\npassword = {password}\n" in pjsip
    assert "[1001-web](hotline-webrtc-aor)" in pjsip
    template = conf.static_files()["pjsip.conf"].split("[hotline-webrtc](!)", 1)[1]
    template = template.split("\n\n", 1)[0]
    for line in ("webrtc = yes", "dtls_auto_generate_cert = yes", "allow = alaw,ulaw"):
        assert f"\n{line}\n" in template + "\n", line
    assert "#include hotline-http.conf" in conf.static_files()["http.conf"]
    modules = conf.static_modules()
    for module in ("res_http_websocket.so", "res_pjsip_transport_websocket.so", "res_srtp.so"):
        assert module in modules
    monkeypatch.setenv("HOTLINE_WEB_1001", "from-the-environment")
    assert conf.stored_password("env:HOTLINE_WEB_1001", "1001-web", secrets) == (
        "from-the-environment"
    )


def test_wss_needs_a_certificate_and_off_means_off(cfg: Cfg, tmp_path: Path) -> None:
    bundle = load_config(cfg.dir, tmp_path)
    base = conf.ConfOptions(("agi://127.0.0.1/hotline",))
    wss = conf.WebSocketOptions(bind="", tls_bind="0.0.0.0", cert="/etc/asterisk/keys/pbx.pem")
    with pytest.raises(AsteriskConfigError, match="private key"):
        conf.generate(bundle, conf.ConfOptions(base.agi_urls, websocket=wss))
    real = conf.WebSocketOptions(
        bind="", tls_bind="0.0.0.0", cert="/etc/asterisk/keys/pbx.pem", key="/etc/k/pbx.key"
    )
    files = conf.generate(bundle, conf.ConfOptions(base.agi_urls, websocket=real))
    http = files["hotline-http.conf"]
    assert "tlsenable = yes\ntlsbindaddr = 0.0.0.0:8089\n" in http
    assert "tlscertfile = /etc/asterisk/keys/pbx.pem\ntlsprivatekey = /etc/k/pbx.key\n" in http
    assert "bindaddr = " not in http.replace("tlsbindaddr", "")
    assert "[transport-wss]\ntype = transport\nprotocol = wss\n" in files["hotline-pjsip.conf"]
    off = conf.generate(bundle, conf.ConfOptions(base.agi_urls, websocket=None))
    assert "enabled = no" in off["hotline-http.conf"]
    assert "[transport-ws]" not in off["hotline-pjsip.conf"]


def test_the_websocket_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert conf.websocket_from_env() == conf.WebSocketOptions()
    monkeypatch.setenv("HOTLINE_WS_BIND", "")
    monkeypatch.setenv("HOTLINE_WSS_BIND", "0.0.0.0")
    monkeypatch.setenv("HOTLINE_WSS_CERT", "/c.pem")
    monkeypatch.setenv("HOTLINE_WSS_KEY", "/k.pem")
    ws = conf.websocket_from_env()
    assert (ws.bind, ws.tls_bind, ws.tls_port, ws.cert, ws.key) == (
        "",
        "0.0.0.0",
        8089,
        "/c.pem",
        "/k.pem",
    )
