"""The Asterisk config generator and the ``hotline asterisk*`` commands, without Asterisk.

(Whether Asterisk takes the generated files cleanly is checked against the real one in
test_calls.py.)"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.asterisk import conf, local
from ivr.asterisk.local import AsteriskConfigError
from ivr.config.bundle import ConfigBundle
from ivr.config.loader import load_config

HOTLINE = [sys.executable, "-m", "ivr.cli"]


def opts(**changes: object) -> conf.ConfOptions:
    base = conf.ConfOptions(
        agi_urls=("agi://10.0.0.1:4573/hotline", "hagi://_agi._tcp.hotline.example/hotline"),
        process_agi=conf.ProcessAGI("/opt/venv/bin/python", "/opt/hl/agi_scripts/hotline.agi"),
    )
    return conf.ConfOptions(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_every_number_of_lines_yaml_is_dialled_into_the_hotline(config: ConfigBundle) -> None:
    numbers = dict(conf.dialled_numbers(config))
    assert "12345" in numbers
    for line in config.lines.lines:
        for number in (line.number, *line.aliases):
            assert number in numbers, number
            if len(number) == 7:
                assert "0471" + number in numbers
    inbound = conf.generate(config, opts())["hotline-inbound.conf"]
    assert inbound.count("Goto(hotline-serve,${EXTEN},1)") == len(numbers)
    assert "exten => 6282333,1,Goto(hotline-serve,${EXTEN},1)" in inbound  # an alias
    # the catch-all and the no-number case are served as 12345
    assert "exten => _[+*#0-9A-Za-z].,1,Set(HOTLINE_DIALLED=${EXTEN})" in inbound
    assert "exten => s,1,Goto(hotline-serve,12345,1)" in inbound


def test_globals_list_the_fastagi_hosts_in_order_and_the_process_script(
    config: ConfigBundle,
) -> None:
    process = conf.ProcessAGI("/v/bin/python", "/p/hotline.agi", {"HOTLINE_REDIS_URL": "redis://r"})
    text = conf.generate(config, opts(process_agi=process))["hotline-globals.conf"]
    assert "HOTLINE_AGI_COUNT=2\n" in text
    assert "HOTLINE_AGI_1=agi://10.0.0.1:4573/hotline\n" in text
    assert "HOTLINE_AGI_2=hagi://_agi._tcp.hotline.example/hotline\n" in text
    assert "HOTLINE_PROCESS_ENABLED=1\n" in text
    assert (
        "HOTLINE_PROCESS_AGI=/usr/bin/env,HOTLINE_REDIS_URL=redis://r,/v/bin/python,"
        "/p/hotline.agi\n" in text
    )
    off = conf.generate(config, opts(process_agi=None))["hotline-globals.conf"]
    assert "HOTLINE_PROCESS_ENABLED=0\n" in off


@pytest.mark.parametrize(
    "urls",
    [(), ("http://x/hotline",), ("agi://x:4573/hotline,evil",), ("agi://x/a b",)],
)
def test_bad_fastagi_urls_are_refused(config: ConfigBundle, urls: tuple[str, ...]) -> None:
    with pytest.raises(AsteriskConfigError):
        conf.generate(config, opts(agi_urls=urls))


def test_a_path_that_would_break_the_dialplan_is_refused(config: ConfigBundle) -> None:
    process = conf.ProcessAGI("/v/bin/python", "/my dir/hotline.agi")
    with pytest.raises(AsteriskConfigError, match="cannot go into the dialplan"):
        conf.generate(config, opts(process_agi=process))


def test_pjsip_trunk_operators_and_queue_members(config: ConfigBundle) -> None:
    agents = (
        conf.Agent("1001", "王芳", "PJSIP/1001", "1001", "pw1"),
        conf.Agent("1002", "李强", "PJSIP/1002", "1002", "pw2", "night", 2),
        conf.Agent("1005", "刘芳", "Local/1005@operators"),
    )
    files = conf.generate(
        config,
        opts(
            sip_bind="127.0.0.1",
            sip_port=15060,
            carrier_match=("192.0.2.0/24", "198.51.100.7"),
            carrier_contact="sip:192.0.2.10:5060",
            agents=agents,
            dev_caller_password="dev",
        ),
    )
    pjsip = files["hotline-pjsip.conf"]
    assert "endpoint_identifier_order = ip,username" in pjsip  # the carrier has its own address
    assert "bind = 127.0.0.1:15060" in pjsip
    assert "[carrier](hotline-trunk)" in pjsip
    assert "match = 192.0.2.0/24\nmatch = 198.51.100.7" in pjsip
    assert "contact = sip:192.0.2.10:5060" in pjsip
    assert "[1001](hotline-operator)\ncontext = operators" in pjsip
    assert "[1001](hotline-operator-auth)\nusername = 1001\npassword = pw1" in pjsip
    assert "[1002](hotline-operator-aor)\nmax_contacts = 2" in pjsip
    assert "[1005]" not in pjsip  # no SIP account: a queue member only
    assert "[citizen](hotline-trunk)" in pjsip and "password = dev" in pjsip
    members = files["hotline-queue-members.conf"]
    assert "member => PJSIP/1001,0,王芳,PJSIP/1001" in members
    assert "member => Local/1005@operators,0,刘芳,Local/1005@operators" in members
    operators = files["hotline-operators.conf"]
    assert "[operators]\nexten => 1001,1,Dial(PJSIP/1001,30)" in operators
    assert "[night]\nexten => 1002,1,Dial(PJSIP/1002,30)" in operators
    assert "exten => 12345,1,Goto(hotline-inbound,${EXTEN},1)" in operators
    assert "include => hotline-inbound" not in operators  # Local/1005@operators: no menu
    loopback = conf.generate(config, opts(carrier_match=("127.0.0.1",)))["hotline-pjsip.conf"]
    assert "endpoint_identifier_order = username,ip" in loopback
    no_agents = conf.generate(config, opts())
    assert "member =>" not in no_agents["hotline-queue-members.conf"]
    assert "[citizen]" not in no_agents["hotline-pjsip.conf"]


def test_static_files_include_every_generated_file() -> None:
    static = "\n".join(conf.static_files().values())
    for name in conf.GENERATED_FILES:
        assert f"#include {name}" in static, name
    pjsip = conf.static_files()["pjsip.conf"]
    assert "dtmf_mode = rfc4733" in pjsip


def test_modules_conf_loads_only_modules_the_asterisk_package_has() -> None:
    modules = conf.static_modules()
    assert "res_agi.so" in modules and "app_queue.so" in modules
    assert "res_pjsip_registrar.so" in modules
    assert len(modules) == len(set(modules))
    root = local.default_root()
    if local.is_ready(root):
        moddir = next((root / "usr/lib").glob("*/asterisk/modules"))
        assert [m for m in modules if not (moddir / m).is_file()] == []


def test_operators_and_sip_passwords_from_agents_yaml(
    config_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = load_config(config_copy, tmp_path / "recordings")
    specs = [a for a in bundle.agents.agents if a.sip is not None]
    assert specs, "config/agents.yaml has operators with SIP accounts"
    for spec in specs:
        assert spec.sip is not None
        monkeypatch.delenv(spec.sip.secret.partition(":")[2], raising=False)
    secrets = tmp_path / "var" / "secrets.json"
    with pytest.raises(AsteriskConfigError, match="is not set"):
        conf.load_agents(bundle, secrets)
    agents, source = conf.load_agents(bundle, secrets, dev=True)  # the local Asterisk
    assert len(agents) == len(bundle.agents.agents) and "with a SIP account" in source
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600
    again, _ = conf.load_agents(bundle, secrets, dev=True)
    assert [a.password for a in again] == [a.password for a in agents]
    first = specs[0]
    assert first.sip is not None
    monkeypatch.setenv(first.sip.secret.partition(":")[2], "from-env")
    agents, _ = conf.load_agents(bundle, secrets, dev=True)
    by_id = {a.agent_id: a for a in agents}
    assert by_id[first.id].password == "from-env"
    assert by_id[first.id].endpoint == first.sip.username
    assert by_id[first.id].interface == first.interface


def test_cli_asterisk_conf_writes_static_and_generated_files(
    tmp_path: Path, config: ConfigBundle
) -> None:
    out = tmp_path / "etc"
    env = dict(os.environ, HOTLINE_VAR_DIR=str(tmp_path / "var"))
    for agent in config.agents.agents:
        if agent.sip is not None and agent.sip.secret.startswith("env:"):
            env[agent.sip.secret[4:]] = f"pw-{agent.id}"
    result = subprocess.run(
        [*HOTLINE, "asterisk-conf", "--out", str(out), "--agi", "agi://10.1.1.1/hotline",
         "--agi", "agi://10.1.1.2/hotline", "--carrier-match", "192.0.2.1"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    assert set(conf.static_files()) | set(conf.GENERATED_FILES) <= names
    assert "HOTLINE_AGI_2=agi://10.1.1.2/hotline" in (out / "hotline-globals.conf").read_text()
    pjsip = (out / "hotline-pjsip.conf").read_text()
    assert "match = 192.0.2.1" in pjsip
    sip_agents = [a for a in config.agents.agents if a.sip is not None]
    for agent in sip_agents:
        assert f"password = pw-{agent.id}" in pjsip
    only = tmp_path / "gen"
    result = subprocess.run(
        [*HOTLINE, "asterisk-conf", "--out", str(only), "--generated-only"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {p.name for p in only.iterdir()} == set(conf.GENERATED_FILES)


@pytest.mark.parametrize(
    "sub", [["asterisk-conf"], ["asterisk"], ["asterisk", "up"], ["asterisk", "down"]]
)
def test_asterisk_subcommands_have_help(sub: list[str]) -> None:
    result = subprocess.run(
        [*HOTLINE, *sub, "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0 and "usage: hotline" in result.stdout


def test_status_of_a_root_that_was_never_built(tmp_path: Path) -> None:
    result = subprocess.run(
        [*HOTLINE, "asterisk", "status", "--root", str(tmp_path / "none")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 3
    assert "not built" in result.stdout and "running   no" in result.stdout
