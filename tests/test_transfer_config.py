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
    assert " same => n,ConfBridge(consult-${EXTEN},hotline_bridge,hotline_user)" in rooms
    assert "\nwrite = originate,call\n" in files["hotline-manager.conf"]
    assert "#include hotline-transfer.conf" in conf.static_files()["extensions.conf"]
    assert "[hotline_user]" in conf.static_files()["confbridge.conf"]
    assert "app_confbridge.so" in conf.static_modules()
    cfg.replace("queue.yaml", "transfers:\n  enabled: true", "transfers:\n  enabled: false")
    off = conf.generate(load_config(cfg.dir, tmp_path), opts)["hotline-transfer.conf"]
    assert "exten =>" not in off and "transfers are off" in off
