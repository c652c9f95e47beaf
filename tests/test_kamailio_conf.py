"""The generated Kamailio front door (issue 18): Kamailio itself accepts the config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.asterisk import kamailio as k
from ivr.asterisk.conf_options import Agent
from ivr.asterisk.errors import AsteriskConfigError

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
