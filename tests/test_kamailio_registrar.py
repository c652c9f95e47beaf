"""The front door's registrar on a real Kamailio (from :func:`ivr.asterisk.kamailio.generate`,
on loopback, no Asterisk): a phone's REGISTER is challenged and then accepted with its
agents.yaml password, refused with another, and a phone that comes back from another address
(a softphone restarted, a browser whose tab died without unregistering) replaces its old
contact instead of being refused as one too many. The browser phones' WebSocket port upgrades
only a WebSocket handshake on its path."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.asterisk import kamailio as k
from ivr.asterisk.conf_options import Agent

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
USER, PASSWORD = "1001", "deskPw1"

pytestmark = pytest.mark.skipif(
    not Path(KAMAILIO).exists(), reason="kamailio is not installed (scripts/bootstrap.sh)"
)


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Registrar:
    """A Kamailio in the foreground with the generated config."""

    def __init__(self, workdir: Path, ws: k.KamailioWebSocket | None = None) -> None:
        self.port = _udp_port()
        self.run = workdir / "run"
        self.run.mkdir()
        opts = k.KamailioOptions(
            boxes=("127.0.0.1:9",), listen="127.0.0.1", port=self.port, run_dir=self.run,
            agents=(Agent("1001", "A", "PJSIP/1001", USER, PASSWORD),),
            ws=ws or k.KamailioWebSocket(),
        )  # fmt: skip
        for name, text in k.generate(opts, workdir).items():
            (workdir / name).write_text(text.replace("log_stderror=no", "log_stderror=yes"))
        self.log = workdir / "kamailio.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [KAMAILIO, "-f", str(workdir / k.CONFIG_FILE), "-DD", "-E", "-Y", str(self.run),
                 "-w", str(workdir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while not (self.run / "kamailio_ctl").exists():
            assert self.proc.poll() is None, self.log.read_text("utf-8", "replace")[-2000:]
            assert time.monotonic() < deadline, "Kamailio did not start"
            time.sleep(0.05)

    def contacts(self) -> list[str]:
        done = subprocess.run(
            [KAMCMD, "-s", f"unix:{self.run / 'kamailio_ctl'}", "ul.dump"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        found = re.findall(r"Address: (\S+)\s+Expires: (\w+)", done.stdout)
        return [address for address, expires in found if expires != "deleted"]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def registrar(tmp_path: Path) -> Iterator[Registrar]:
    kam = Registrar(tmp_path)
    try:
        yield kam
    finally:
        kam.stop()


def register(kam: Registrar, password: str) -> tuple[int, str]:
    """A phone on a port of its own REGISTERs (answering the digest challenge with
    ``password``): the final status and its contact."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        port = s.getsockname()[1]
        contact = f"sip:{USER}@127.0.0.1:{port}"
        call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]

        def send(cseq: int, auth: str = "") -> tuple[int, str]:
            msg = (
                f"REGISTER sip:hotline SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
                f"From: <sip:{USER}@hotline>;tag={tag}\r\nTo: <sip:{USER}@hotline>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>\r\n"
                f"{auth}Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            s.sendto(msg.encode(), ("127.0.0.1", kam.port))
            text = s.recv(65535).decode()
            return int(text.split()[1]), text

        status, text = send(1)
        assert status == 401, text
        nonce = re.search(r'nonce="([^"]+)"', text)
        assert nonce, text
        ha1 = hashlib.md5(f"{USER}:hotline:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(b"REGISTER:sip:hotline").hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce.group(1)}:{ha2}".encode()).hexdigest()
        auth = (
            f'Authorization: Digest username="{USER}", realm="hotline", '
            f'nonce="{nonce.group(1)}", uri="sip:hotline", response="{response}", '
            "algorithm=MD5\r\n"
        )
        status, _ = send(2, auth)
        return status, contact


def test_a_phone_registers_with_its_password_only(registrar: Registrar) -> None:
    assert register(registrar, "wrong")[0] == 401
    status, contact = register(registrar, PASSWORD)
    assert status == 200
    assert registrar.contacts() == [contact]


def test_a_phone_back_from_another_address_replaces_its_contact(registrar: Registrar) -> None:
    """As the box's ``remove_existing = yes``: the newest contact wins, at once."""
    first = register(registrar, PASSWORD)
    again = register(registrar, PASSWORD)
    assert (first[0], again[0]) == (200, 200)
    assert first[1] != again[1]
    assert registrar.contacts() == [again[1]]


def _tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(port: int, path: str, upgrade: bool) -> str:
    """The status line Kamailio answers an HTTP GET of ``path`` on ``port`` with (a WebSocket
    handshake when ``upgrade``)."""
    key = base64.b64encode(os.urandom(16)).decode()
    headers = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if upgrade:
        headers += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                    "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: sip"]  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(("\r\n".join([*headers, "", ""])).encode())
        return s.recv(65535).decode("latin-1").split("\r\n", 1)[0]


def test_the_websocket_port_upgrades_only_a_handshake_on_its_path(tmp_path: Path) -> None:
    ws_port = _tcp_port()
    kam = Registrar(tmp_path, k.KamailioWebSocket(port=ws_port))
    try:
        assert http_get(ws_port, "/ws", upgrade=True) == "HTTP/1.1 101 Switching Protocols"
        assert http_get(ws_port, "/other", upgrade=True).startswith("HTTP/1.1 404")
        assert http_get(ws_port, "/ws", upgrade=False).startswith("HTTP/1.1 400")
    finally:
        kam.stop()
