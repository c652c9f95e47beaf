"""The generated Kamailio front door (issue 18): Kamailio itself accepts the config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.asterisk import kamailio as k
from ivr.asterisk.conf_options import Agent
from ivr.asterisk.errors import AsteriskConfigError, KamailioWebSocketError

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
AGENT = Agent("1", "A", "PJSIP/1001", "1001", "s3cretX")


def test_kamailio_accepts_the_generated_config(tmp_path: Path) -> None:
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    opts = k.KamailioOptions(
        boxes=("127.0.0.1:5061", "127.0.0.1:5062"), listen="127.0.0.1", port=5070,
        agents=(AGENT,), run_dir=tmp_path,
    )  # fmt: skip
    for name, text in k.generate(opts, tmp_path).items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [KAMAILIO, "-c", "-f", str(tmp_path / k.CONFIG_FILE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    cfg = (tmp_path / k.CONFIG_FILE).read_text()
    assert '$au == "1001"' in cfg and '"s3cretX"' in cfg
    assert "sip:127.0.0.1:5062" in (tmp_path / k.DISPATCHER_FILE).read_text()


def test_bad_boxes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfigError):
        k.generate(k.KamailioOptions(boxes=()), tmp_path)
    with pytest.raises(AsteriskConfigError):
        k.generate(k.KamailioOptions(boxes=("no port",)), tmp_path)


def test_dial_strings_via_kamailio() -> None:
    assert k.via_kamailio("PJSIP/1001") == "PJSIP/1001@kamailio"
    assert k.via_kamailio("Local/1001@x") == "Local/1001@x"
    assert "contact = sip:127.0.0.1:5070" in k.pjsip_kamailio("sip:127.0.0.1:5070")


WEB = Agent("3", "C", "PJSIP/1003", "1003", "deskPw3", webrtc="1003-web", webrtc_password="webPw3")


def _checked(tmp_path: Path, opts: k.KamailioOptions) -> str:
    """The generated config, after ``kamailio -c`` accepted it."""
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    for name, text in k.generate(opts, tmp_path).items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [KAMAILIO, "-c", "-f", str(tmp_path / k.CONFIG_FILE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return (tmp_path / k.CONFIG_FILE).read_text()


def test_kamailio_accepts_the_browser_phones_websocket(tmp_path: Path) -> None:
    ws = k.KamailioWebSocket(port=5080)
    cfg = _checked(tmp_path, k.KamailioOptions(
        boxes=("127.0.0.1:5061",), listen="127.0.0.1", port=5070, agents=(WEB,),
        run_dir=tmp_path, ws=ws,
    ))  # fmt: skip
    assert "listen=tcp:127.0.0.1:5080" in cfg and 'loadmodule "websocket.so"' in cfg
    assert 'loadmodule "tls.so"' not in cfg
    # the browser phone's account, as the desk phone's; the upgrade only on /ws, on 5080
    assert '$au == "1003-web") { $var(pw) = "webPw3"' in cfg
    assert "ws_handle_handshake()" in cfg and '$hu =~ "^/ws([?].*)?$"' in cfg
    assert "($Rp == 5080)" in cfg
    assert "fix_nated_register()" in cfg and "handle_ruri_alias()" in cfg


def test_kamailio_accepts_wss_with_a_certificate(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed for a test certificate")
    cert, key = tmp_path / "kam.pem", tmp_path / "kam.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=kamailio.test"],
        capture_output=True, check=True,
    )  # fmt: skip
    ws = k.KamailioWebSocket(tls_port=5443, cert=str(cert), key=str(key))
    cfg = _checked(tmp_path, k.KamailioOptions(
        boxes=("127.0.0.1:5061",), listen="127.0.0.1", port=5070, agents=(WEB,),
        run_dir=tmp_path, ws=ws,
    ))  # fmt: skip
    assert "listen=tls:127.0.0.1:5443" in cfg and "enable_tls=yes" in cfg
    assert f'modparam("tls", "certificate", "{cert}")' in cfg
    assert "listen=tcp:" not in cfg


def test_without_a_websocket_browser_phones_stay_out(tmp_path: Path) -> None:
    opts = k.KamailioOptions(boxes=("127.0.0.1:5061",), listen="10.0.0.10", agents=(WEB,))
    cfg = k.generate(opts, tmp_path)[k.CONFIG_FILE]
    assert "1003-web" not in cfg and "websocket.so" not in cfg and "nat_uac_test" not in cfg
    assert '$au == "1003") { $var(pw) = "deskPw3"' in cfg


@pytest.mark.parametrize(
    ("ws", "said"),
    [
        (k.KamailioWebSocket(tls_port=5443), "needs the TLS certificate as an absolute path"),
        (k.KamailioWebSocket(tls_port=5443, cert="kam.pem", key="/k"), "absolute path"),
        (k.KamailioWebSocket(port=5070), "is Kamailio's SIP port"),
        (k.KamailioWebSocket(port=5080, tls_port=5080, cert="/c", key="/k"), "cannot share"),
        (k.KamailioWebSocket(port=70000), "port 70000 is not a port"),
        (k.KamailioWebSocket(port=5080, path="ws x"), "must look like /ws"),
    ],
)
def test_bad_websocket_options_are_refused(
    tmp_path: Path, ws: k.KamailioWebSocket, said: str
) -> None:
    opts = k.KamailioOptions(boxes=("127.0.0.1:5061",), listen="127.0.0.1", port=5070, ws=ws)
    with pytest.raises(KamailioWebSocketError, match=said) as err:
        k.generate(opts, tmp_path)
    assert err.value.code == "HL-KAM-003"
