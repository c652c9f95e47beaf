"""queue.yaml ``transfers:`` (ivr/config/transfer_models.py): validated at file:line:column
like the rest of the config, and what the Asterisk config generates from it (the conference
rooms of hotline-transfer.conf, the AMI user's rights)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.asterisk import conf
from ivr.config.loader import load_config
from tests.test_config_validate import SHIPPED, Cfg


@pytest.fixture
def cfg(tmp_path: Path) -> Cfg:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED, directory)
    return Cfg(directory)


def test_the_shipped_targets() -> None:
    t = load_config(SHIPPED, SHIPPED.parent / "recordings").queue.transfers
    assert t.enabled and (t.context, t.consult_context) == ("hotline-transfer", "hotline-consult")
    assert [k for k, v in t.targets.items() if v.kind == "emergency"] == [
        "110",
        "119",
        "120",
        "122",
    ]
    assert t.targets["110"].dial == "PJSIP/110@carrier"
    assert t.targets["110"].modes == ["blind", "threeway"]
    assert t.targets["water"].modes == ["blind", "threeway", "consult"]


def test_a_bad_dial_string_is_refused_where_it_is(cfg: Cfg) -> None:
    cfg.replace("queue.yaml", "dial: PJSIP/119@carrier", "dial: 119 (fire)")
    problem = cfg.expect("HL-CFG-005", "queue.yaml", "119 (fire)")
    assert "transfers.targets.119.dial" in problem.message
    assert "not an Asterisk dial string" in problem.message


def test_an_unknown_mode_is_refused_where_it_is(cfg: Cfg) -> None:
    cfg.replace("queue.yaml", "modes: [blind, threeway]}", "modes: [blind, park]}")
    problem = cfg.expect("HL-CFG-005", "queue.yaml", "park")
    assert "transfers.targets.110.modes.1" in problem.message


def test_the_generated_rooms_and_ami_rights(cfg: Cfg, tmp_path: Path) -> None:
    bundle = load_config(cfg.dir, tmp_path)
    opts = conf.ConfOptions(("agi://127.0.0.1/hotline",), ami=conf.AmiUser("hotline", "s3cret"))
    files = conf.generate(bundle, opts)
    rooms = files["hotline-transfer.conf"]
    assert "[hotline-transfer]\nexten => _X.,1," in rooms
    assert " same => n,ConfBridge(${EXTEN},hotline_bridge,hotline_user)" in rooms
    assert "[hotline-consult]" in rooms
    consult = rooms.split("[hotline-consult]", 1)[1]
    assert "ConfBridge(consult-${EXTEN},hotline_bridge,${IF(" in consult
    assert "?hotline_operator:hotline_consulted)})" in consult
    # the consulted party goes on to the caller's room when the operator leaves
    assert consult.index("ConfBridge(consult-") < consult.index("ConfBridge(${EXTEN},")
    assert "\nwrite = originate,call\n" in files["hotline-manager.conf"]
    assert "#include hotline-transfer.conf" in conf.static_files()["extensions.conf"]
    assert "[hotline_user]" in conf.static_files()["confbridge.conf"]
    assert "app_confbridge.so" in conf.static_modules()
    cfg.replace("queue.yaml", "transfers:\n  enabled: true", "transfers:\n  enabled: false")
    off = conf.generate(load_config(cfg.dir, tmp_path), opts)["hotline-transfer.conf"]
    assert "exten =>" not in off and "transfers are off" in off


async def test_the_service_built_from_queue_yaml(cfg: Cfg, tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    from ivr.compose.transfers import close_transfers, open_transfers
    from queueing.queue import RedisQueue

    options = load_config(cfg.dir, tmp_path).queue
    queue = RedisQueue(aioredis.Redis.from_url("redis://127.0.0.1:1/0"), options.settings)
    service = open_transfers(queue, lambda: options, tmp_path / "ami-secret")
    assert service is not None
    assert [t.key for t in service.targets()][:4] == ["110", "119", "120", "122"]
    assert service.targets()[0].modes == ("blind", "threeway")
    assert (service.context, service.consult_context) == ("hotline-transfer", "hotline-consult")
    await close_transfers(service)
    off = options.model_copy(update={"transfers": options.transfers.model_copy(
        update={"enabled": False})})  # fmt: skip
    assert open_transfers(queue, lambda: off, tmp_path / "ami-secret") is None
    await queue.close()
