"""``hotline kamailio-conf``: what it writes, what it prints, its exit codes, and that Kamailio
itself accepts the result (``kamailio -c``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.cli import main

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


@pytest.fixture
def env(config_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOTLINE_* pointing at a copy of the shipped config; 1001's password in the
    environment, the others' kept as `hotline asterisk up` keeps them (var/)."""
    var = config_copy.parent / "var"
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(config_copy))
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(config_copy.parent / "recordings"))
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(var))
    monkeypatch.delenv("HOTLINE_KAMAILIO_BOXES", raising=False)
    for n in ("1001", "1002", "1003", "1004", "1005"):
        monkeypatch.delenv(f"HOTLINE_SIP_{n}", raising=False)
    monkeypatch.setenv("HOTLINE_SIP_1001", "envSecret1")
    return config_copy.parent


def test_writes_a_config_kamailio_accepts(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = env / "kam"
    code = main(
        ["kamailio-conf", "--out", str(out), "--box", "127.0.0.1:5061", "--box", "127.0.0.1:5062",
         "--listen", "127.0.0.1", "--port", "5070", "--run-dir", str(env / "run")]
    )  # fmt: skip
    said = capsys.readouterr()
    assert code == 0, said.err
    assert f"wrote {out / 'kamailio.cfg'}" in said.out
    assert "boxes: 127.0.0.1:5061, 127.0.0.1:5062; Kamailio on udp 127.0.0.1:5070" in said.out
    cfg = (out / "kamailio.cfg").read_text()
    assert (out / "kamailio.cfg").stat().st_mode & 0o777 == 0o640
    assert '$au == "1001") { $var(pw) = "envSecret1"' in cfg
    stored = json.loads((env / "var" / "asterisk-secrets.json").read_text())
    assert f'$au == "1002") {{ $var(pw) = "{stored["1002"]}"' in cfg  # as asterisk up has it
    listed = (out / "dispatcher.list").read_text()
    assert "1 sip:127.0.0.1:5061 0 2 duid=box1" in listed
    assert "1 sip:127.0.0.1:5062 0 1 duid=box2" in listed
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    done = subprocess.run(
        [KAMAILIO, "-c", "-f", str(out / "kamailio.cfg")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_boxes_from_the_environment(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_KAMAILIO_BOXES", "10.0.0.11:5060,10.0.0.12:5060")
    assert main(["kamailio-conf", "--out", str(env / "kam"), "--listen", "10.0.0.10"]) == 0
    assert "boxes: 10.0.0.11:5060, 10.0.0.12:5060; Kamailio on udp 10.0.0.10:5060" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([], "at least one Asterisk box"),
        (["--box", "10.0.0.11"], "'10.0.0.11' must be host:port"),
        (["--box", "10.0.0.11:5060", "--port", "70000"], "port 70000 is not a port"),
        (["--box", "10.0.0.11:5060"], "would write 0.0.0.0 into Via and Record-Route"),
        (["--box", "10.0.0.11:5060", "--listen", "a b"], "listen address 'a b' is not an"),
    ],
)
def test_bad_boxes_are_one_line_errors(
    env: Path, argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kamailio-conf", "--out", str(env / "kam"), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert said in err and "HL-KAM-001" in err and "\n" not in err
    assert not (env / "kam").exists()


def test_an_unwritable_out_is_a_one_line_error(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (env / "afile").write_text("x")
    code = main(["kamailio-conf", "--out", str(env / "afile"), "--box", "127.0.0.1:5061",
                 "--listen", "127.0.0.1"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert "cannot write the Kamailio config" in err and "HL-KAM-002" in err and "\n" not in err


def test_the_browser_phones_websocket(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = env / "kam"
    code = main(
        ["kamailio-conf", "--out", str(out), "--box", "127.0.0.1:5061", "--listen", "127.0.0.1",
         "--port", "5070", "--ws-port", "5080", "--run-dir", str(env / "run")]
    )  # fmt: skip
    said = capsys.readouterr()
    assert code == 0, said.err
    assert "Kamailio on udp 127.0.0.1:5070, ws 127.0.0.1:5080/ws" in said.out
    cfg = (out / "kamailio.cfg").read_text()
    stored = json.loads((env / "var" / "asterisk-secrets.json").read_text())
    assert f'$au == "1003-web") {{ $var(pw) = "{stored["1003-web"]}"' in cfg
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    done = subprocess.run(
        [KAMAILIO, "-c", "-f", str(out / "kamailio.cfg")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_wss_without_a_certificate_is_a_one_line_error(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["kamailio-conf", "--out", str(env / "kam"), "--box", "127.0.0.1:5061"]
    argv += ["--listen", "127.0.0.1"]
    assert main([*argv, "--wss-port", "5443", "--wss-key", "/etc/kam.key"]) == 1
    err = capsys.readouterr().err.strip()
    assert "HL-KAM-003" in err and "--wss-cert" in err and "\n" not in err
    assert not (env / "kam").exists()


def test_a_wildcard_listen_with_the_address_to_advertise(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kamailio bound to every address writes the advertised one into its messages (the
    boxes send their in-dialog requests and replies there)."""
    out = env / "kam"
    code = main(
        ["kamailio-conf", "--out", str(out), "--box", "127.0.0.1:5061", "--advertise",
         "127.0.0.1", "--port", "5070", "--ws-port", "5080", "--run-dir", str(env / "run")]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    cfg = (out / "kamailio.cfg").read_text()
    assert "listen=udp:0.0.0.0:5070 advertise 127.0.0.1:5070\n" in cfg
    assert "listen=tcp:0.0.0.0:5080 advertise 127.0.0.1:5080\n" in cfg
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    done = subprocess.run(
        [KAMAILIO, "-c", "-f", str(out / "kamailio.cfg")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
