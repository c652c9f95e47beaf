"""``hotline prompts build`` with the real espeak-ng and sox."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from ivr.config.loader import load_config
from ivr.prompts import build_prompts

pytestmark = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="espeak-ng and sox are installed by ./test.sh",
)


def test_build_speaks_every_prompt_as_8khz_mono_and_studio_wins(config_copy: Path) -> None:
    recordings = config_copy.parent / "recordings"
    studio = recordings / "studio" / "welcome.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(studio), "trim", "0", "0.5"],
        check=True,
    )
    bundle = load_config(config_copy, recordings)
    report = build_prompts(bundle)

    names = set(bundle.menu.prompts)
    assert set(report.built) == names - {"welcome"}
    assert report.studio == ["welcome"]
    assert not (recordings / "prompts" / "welcome.wav").exists()
    assert bundle.prompt_path("welcome") == str(studio.with_suffix(""))
    for name in report.built:
        with wave.open(str(recordings / "prompts" / f"{name}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 8000 * 0.5, f"{name} is too short to be speech"
        assert bundle.prompt_path(name) == str(recordings / "prompts" / name)

    again = build_prompts(bundle)
    assert again.built == [] and set(again.unchanged) == names - {"welcome"}

    # A changed text is rebuilt, and only that prompt.
    menu = config_copy / "menu.yaml"
    menu.write_text(menu.read_text().replace("您的输入有误", "您按的键不对", 1))
    changed = build_prompts(load_config(config_copy, recordings))
    assert changed.built == ["invalid"]
