"""``hotline asterisk-conf`` (and ``asterisk reload``) generate the dialplan for the hotline
server that runs from this var directory, not for whatever the shell's environment says, and
print which they used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ivr.asterisk.conf_options import dialplan_redis_url
from tests.conftest import ROOT
from tests.redis_clients import redis_db
from tests.test_outages import QUEUE_YAML, Server


def conf_for(var: Path, out: Path, config: Path, **env: str) -> tuple[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    environ.update(
        HOTLINE_CONFIG_DIR=str(config),
        HOTLINE_RECORDINGS_DIR=str(config.parent / "recordings"),
        HOTLINE_VAR_DIR=str(var),
        **{f"HOTLINE_SIP_{n}": "secret" for n in ("1001", "1002", "1003", "1004", "1005")},
        **{f"HOTLINE_WEB_{n}": "secret" for n in ("1001", "1002", "1003", "1004", "1005")},
        **env,
    )
    r = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "asterisk-conf", "--out", str(out)],
        env=environ, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout, (out / "hotline-globals.conf").read_text()


def test_the_dialplan_is_generated_for_the_running_server(
    config_copy: Path, redis_url: str
) -> None:
    (config_copy / "queue.yaml").write_text(QUEUE_YAML)
    var = config_copy.parent / "var"
    url = redis_db(redis_url, 6)
    server = Server(config_copy, url, var, f"sqlite:///{var / 'hotline.db'}").start()
    try:
        said, globals_conf = conf_for(var, config_copy.parent / "out1", config_copy)
        assert f"HOTLINE_AGI_1=agi://127.0.0.1:{server.agi_port}/hotline" in globals_conf
        assert dialplan_redis_url(url) in globals_conf  # the process-AGI layer: the same Redis
        assert "hotline server running as pid" in said
    finally:
        server.kill()
    said, globals_conf = conf_for(var, config_copy.parent / "out2", config_copy)
    assert "HOTLINE_AGI_1=agi://127.0.0.1:4573/hotline" in globals_conf
    assert "no hotline server runs" in said
