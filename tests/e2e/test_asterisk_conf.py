"""The Asterisk config generator and the ``hotline asterisk*`` commands, without Asterisk.

(Whether Asterisk takes the generated files cleanly is checked against the real one in
test_calls.py.)"""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.asterisk import conf, local
from ivr.asterisk.local import AsteriskConfigError
from ivr.config.bundle import ConfigBundle
from ivr.config.loader import check_config, load_config
from ivr.settings import Settings
from queueing.ami import find_secret

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


def test_the_process_script_uses_the_servers_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a PostgreSQL install the fallback script writes to the same database as the
    servers, not to a SQLite file of its own."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", "postgresql://hotline@db/hotline")
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path))
    process = conf.process_agi_for(Settings.from_env())
    assert process.env["HOTLINE_DATABASE_URL"] == "postgresql://hotline@db/hotline"
    monkeypatch.delenv("HOTLINE_DATABASE_URL")
    assert "HOTLINE_DATABASE_URL" not in conf.process_agi_for(Settings.from_env()).env


def test_a_held_queued_caller_retries_the_fastagi_hosts_within_its_lease(
    config: ConfigBundle,
) -> None:
    """A queued caller whose server died is held on music and the FastAGI hosts are tried
    again every HOTLINE_AGI_RETRY_SECONDS, HOTLINE_AGI_RETRY_ROUNDS times: by default for half
    of queue.yaml's lease, while its place in the queue is kept."""
    lease = config.queue.settings.lease_seconds
    text = conf.generate(config, opts())["hotline-globals.conf"]
    assert "HOTLINE_AGI_RETRY_SECONDS=2\n" in text
    assert f"HOTLINE_AGI_RETRY_ROUNDS={int(lease / 2 // 2)}\n" in text
    assert f"HOTLINE_MOH_CLASS={config.queue.settings.moh_class}\n" in text
    custom = conf.generate(config, opts(agi_retry_seconds=3, agi_retry_window=10))
    assert "HOTLINE_AGI_RETRY_ROUNDS=3\n" in custom["hotline-globals.conf"]
    off = conf.generate(config, opts(agi_retry_window=0))["hotline-globals.conf"]
    assert "HOTLINE_AGI_RETRY_ROUNDS=0\n" in off


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
        if agent.webrtc is not None and agent.webrtc.secret.startswith("env:"):
            env[agent.webrtc.secret[4:]] = f"web-{agent.id}"  # the browser phones'
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


# -- the callback dialler: [hotline-callback] and its AMI user --------------------------------


def test_callback_dialplan_dials_the_citizen_through_the_trunk_and_reports(
    config: ConfigBundle,
) -> None:
    d = config.queue.dialler
    assert d.enabled  # on by default in the shipped queue.yaml
    text = conf.generate(config, opts())["hotline-callback.conf"]
    assert f"[{d.context}]" in text and f"[{d.context}-answered]" in text
    for pattern in ("_X.", "_+X."):
        assert f"exten => {pattern},1,NoOp(" in text
    ring = round(d.citizen_ring_timeout)
    assert (
        f"Dial(PJSIP/${{EXTEN}}@carrier,{ring},U({d.context}-answered^${{HOTLINE_CALLBACK}}))"
        in text
    )
    assert f"Set(CALLERID(num)={d.caller_id})" in text  # the citizen sees the hotline
    assert (
        "hangup_handler_push" in text and "Stage: hangup,Status: ${HOTLINE_CALLBACK_STATUS}" in text
    )
    assert "UserEvent(HotlineCallback,Callback: ${ARG1},Stage: answer)" in text
    assert f"Playback({config.prompt_path('queue_callback_noanswer')})" in text
    quiet = config.queue.model_copy(
        update={
            "dialler": d.model_copy(update={"noanswer_prompt": None, "trunk": "SIP/9{number}@gw"})
        }
    )
    bundle = dataclasses.replace(config, queue=quiet)
    text = conf.generate(bundle, opts())["hotline-callback.conf"]
    assert "Playback(" not in text and f"Dial(SIP/9${{EXTEN}}@gw,{ring}," in text


def test_ami_user_secret_from_the_environment_else_made_once_per_install(
    config: ConfigBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = config.queue.dialler
    var = tmp_path / "var"
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "from-env-1")
    user = conf.ami_user(d, var)
    assert user is not None and (user.username, user.secret, user.port) == (
        "hotline",
        "from-env-1",
        5038,
    )
    assert not (var / "ami-secret").exists()
    manager = conf.generate(config, opts(ami=user))["hotline-manager.conf"]
    for line in ("enabled = yes", "bindaddr = 127.0.0.1", "port = 5038", "[hotline]",
                 "secret = from-env-1", "permit = 127.0.0.1/255.255.255.255", "read = call,user",
                 "write = originate,call"):  # fmt: skip
        assert f"\n{line}\n" in manager, line
    monkeypatch.delenv("HOTLINE_AMI_SECRET")
    made = conf.ami_user(d, var)
    assert made is not None and len(made.secret) >= 24
    assert stat.S_IMODE(os.stat(var / "ami-secret").st_mode) == 0o600
    again = conf.ami_user(d, var)
    assert again is not None and again.secret == made.secret  # once per install
    # the server finds the same one (hotline serve: dialler.secret, else var/ami-secret)
    assert find_secret(d.secret, var / "ami-secret") == made.secret
    with pytest.raises(AsteriskConfigError, match=r"dialler\.secret"):
        conf.ami_user(d, None)  # nowhere to keep one
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "has space")
    with pytest.raises(AsteriskConfigError, match=r"manager\.conf cannot take it"):
        conf.ami_user(d, var)
    # written readable by owner and group only
    written = conf.write(tmp_path / "etc", {"hotline-manager.conf": manager})
    assert stat.S_IMODE(os.stat(written[0]).st_mode) == 0o640


def test_no_ami_when_the_dialler_is_off(config: ConfigBundle, tmp_path: Path) -> None:
    off = config.queue.dialler.model_copy(update={"enabled": False})
    assert conf.ami_user(off, tmp_path) is None and not (tmp_path / "ami-secret").exists()
    manager = conf.generate(config, opts())["hotline-manager.conf"]
    assert "enabled = no" in manager and "secret" not in manager
    assert "#include hotline-manager.conf" in conf.static_files()["manager.conf"]


@pytest.mark.parametrize(
    ("trunk", "message"),
    [("PJSIP/123@carrier", "must contain {number}"), ("PJSIP/{number}@a,b", "not a dial string")],
)
def test_a_bad_callback_trunk_is_refused_at_its_place(
    config_copy: Path, trunk: str, message: str
) -> None:
    path = config_copy / "queue.yaml"
    path.write_text(path.read_text("utf-8").replace("PJSIP/{number}@carrier", trunk), "utf-8")
    problems = check_config(config_copy)
    assert any(p.file.endswith("queue.yaml") and message in p.message for p in problems), problems
