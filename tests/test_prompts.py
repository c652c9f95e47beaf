"""``hotline prompts build`` with the real espeak-ng and sox: every prompt spoken as 8 kHz mono
WAV, then cut into pieces of at most 2 s at its pauses (studio WAV recordings too)."""

from __future__ import annotations

import array
import itertools
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from ivr.config.audio import MAX_PIECE_SECONDS, audio_seconds, prompt_of
from ivr.config.loader import load_config
from ivr.prompts import (
    build_prompts,
    changed_prompts,
    cut_points,
    speakable,
    voice,
)

pytestmark = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="espeak-ng and sox are installed by ./test.sh",
)


def _frames(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.readframes(w.getnframes())


def _sox(*args: str) -> None:
    subprocess.run(["sox", "-V1", *args], check=True)


def test_build_speaks_every_prompt_as_8khz_mono_and_studio_wins(config_copy: Path) -> None:
    recordings = config_copy.parent / "recordings"
    studio = recordings / "studio" / "welcome.wav"
    _sox("-n", "-r", "8000", "-c", "1", "-b", "16", str(studio), "trim", "0", "0.5")
    bundle = load_config(config_copy, recordings)
    report = build_prompts(bundle)

    names = set(bundle.menu.prompts)
    assert set(report.built) == names - {"welcome"}
    assert report.studio == ["welcome"]
    assert not (recordings / "prompts" / "welcome.wav").exists()
    assert bundle.prompt_path("welcome") == str(studio.with_suffix(""))
    assert bundle.prompt_pieces("welcome") == [str(studio.with_suffix(""))], "0.5 s plays whole"
    for name in report.built:
        with wave.open(str(recordings / "prompts" / f"{name}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 8000 * 0.5, f"{name} is too short to be speech"
        assert bundle.prompt_path(name) == str(recordings / "prompts" / name)
        assert bundle.prompt_seconds(name) == audio_seconds(recordings / "prompts" / f"{name}.wav")
        assert bundle.prompt_current(name)

    again = build_prompts(bundle)
    assert again.built == [] and again.cut == [] and set(again.unchanged) == names - {"welcome"}
    assert changed_prompts(bundle) == []

    # A changed text is rebuilt, and only that prompt (and its pieces).
    menu = config_copy / "menu.yaml"
    menu.write_text(menu.read_text().replace("输入有误", "您按的键不对", 1))
    changed_bundle = load_config(config_copy, recordings)
    assert changed_prompts(changed_bundle) == ["invalid"]
    assert not changed_bundle.prompt_current("invalid")
    changed = build_prompts(changed_bundle)
    assert changed.built == ["invalid"]
    assert changed_bundle.prompt_current("invalid")


def test_every_prompt_is_cut_into_pieces_of_at_most_2_s(config_copy: Path) -> None:
    recordings = config_copy.parent / "recordings"
    bundle = load_config(config_copy, recordings)
    build_prompts(bundle)
    cut = 0
    for name in bundle.menu.prompts:
        whole = recordings / "prompts" / f"{name}.wav"
        pieces = bundle.prompt_pieces(name)
        seconds = bundle.prompt_seconds(name)
        assert seconds is not None
        if seconds <= MAX_PIECE_SECONDS:
            assert pieces == [bundle.prompt_path(name)], name
            continue
        cut += 1
        folder = recordings / "prompts" / "pieces" / name
        assert pieces == [str(folder / f"{i:02d}") for i in range(1, len(pieces) + 1)]
        lengths = [audio_seconds(Path(p + ".wav")) for p in pieces]
        assert all(s is not None and 0 < s <= MAX_PIECE_SECONDS for s in lengths), (name, lengths)
        # nothing lost, nothing added: the pieces are the prompt
        assert b"".join(_frames(Path(p + ".wav")) for p in pieces) == _frames(whole), name
    assert cut >= 10, "most shipped prompts are longer than one piece"
    assert len(bundle.prompt_pieces("main_menu")) >= 4


def test_cuts_fall_in_the_pauses_of_a_studio_recording(config_copy: Path) -> None:
    """A 6.3 s studio recording: tones of 0.9 s with 0.3 s of silence between them. Every cut
    lands in a silence, and the pieces go when the recording does."""
    recordings = config_copy.parent / "recordings"
    studio = recordings / "studio" / "main_menu.wav"
    parts = []
    for i in range(6):
        tone, gap = recordings / f"t{i}.wav", recordings / f"g{i}.wav"
        _sox("-n", "-r", "8000", "-c", "1", "-b", "16", str(tone), "synth", "0.9", "sine", "440")
        _sox("-n", "-r", "8000", "-c", "1", "-b", "16", str(gap), "trim", "0", "0.15")
        parts += [str(gap), str(tone), str(gap)]
    _sox(*parts, str(studio))
    bundle = load_config(config_copy, recordings)
    report = build_prompts(bundle)
    assert "main_menu" in report.studio and "main_menu" in report.cut
    pieces = bundle.prompt_pieces("main_menu")
    assert len(pieces) >= 4
    for piece in pieces:
        samples = array.array("h", _frames(Path(piece + ".wav")))
        edge = 80  # the first and last 10 ms of each piece are silence: cut in a pause
        assert max(map(abs, samples[:edge])) < 50 and max(map(abs, samples[-edge:])) < 50
    assert b"".join(_frames(Path(p + ".wav")) for p in pieces) == _frames(studio)

    studio.unlink()  # back to the generated prompt: its own pieces
    bundle = load_config(config_copy, recordings)
    build_prompts(bundle)
    generated = bundle.prompt_pieces("main_menu")
    assert generated[0] == str(recordings / "prompts" / "pieces" / "main_menu" / "01")
    joined = b"".join(_frames(Path(p + ".wav")) for p in generated)
    assert joined == _frames(recordings / "prompts" / "main_menu.wav")


def test_pieces_of_a_prompt_that_went_away_are_removed(config_copy: Path) -> None:
    recordings = config_copy.parent / "recordings"
    build_prompts(load_config(config_copy, recordings))
    stale = recordings / "prompts" / "pieces" / "old_prompt"
    stale.mkdir()
    (stale / "01.wav").write_bytes(b"")
    build_prompts(load_config(config_copy, recordings))
    assert not stale.exists()


def test_pieces_of_an_older_recording_are_never_played(config_copy: Path) -> None:
    recordings = config_copy.parent / "recordings"
    build_prompts(load_config(config_copy, recordings))
    wav = recordings / "prompts" / "main_menu.wav"
    _sox("-n", "-r", "8000", "-c", "1", "-b", "16", str(wav), "trim", "0", "3")  # replaced
    bundle = load_config(config_copy, recordings)
    assert bundle.prompt_pieces("main_menu") == [str(wav.with_suffix(""))]
    assert "main_menu" in changed_prompts(bundle)


def test_cut_points_keep_every_piece_within_the_limit() -> None:
    per_frame, rate = 160, 8000
    total = rate * 7 + 123
    energies = [1000] * (total // per_frame + 1)
    for quiet in (70, 140, 200, 300):  # 1.4 s, 2.8 s, 4.0 s, 6.0 s
        energies[quiet] = 0
    cuts = cut_points(energies, per_frame, total, 2 * rate)
    assert cuts[:3] == [70 * per_frame + 80, 140 * per_frame + 80, 200 * per_frame + 80]
    bounds = [0, *cuts, total]
    assert all(0 < b - a <= 2 * rate for a, b in itertools.pairwise(bounds))
    # no quiet frame at all: still within the limit
    flat = cut_points([5] * 400, per_frame, 8000 * 6, 2 * rate)
    bounds = [0, *flat, 8000 * 6]
    assert all(0 < b - a <= 2 * rate for a, b in itertools.pairwise(bounds))


def test_numbers_are_read_digit_by_digit_and_the_voice_speaks_mandarin() -> None:
    assert speakable("欢迎致电12345。") == "欢迎致电幺二三四五。"
    assert speakable("请按1，15秒") == "请按1，15秒"  # keys and short numbers stay numbers
    # espeak-ng 1.51's ``cmn`` reads the tone digits of its pinyin in English
    assert voice() in ("cmn-latn-pinyin", "cmn")
    phonemes = subprocess.run(
        ["espeak-ng", "-v", voice(), "-q", "-x", "您好"], capture_output=True, text=True, check=True
    ).stdout
    if voice() == "cmn-latn-pinyin":
        assert "(en)" not in phonemes, phonemes


def test_a_played_piece_names_its_prompt(config_copy: Path) -> None:
    recordings = config_copy.parent / "recordings"
    bundle = load_config(config_copy, recordings)
    build_prompts(bundle)
    for name in ("main_menu", "welcome", "invalid"):
        assert {prompt_of(p) for p in bundle.prompt_pieces(name)} == {name}
        assert prompt_of(bundle.prompt_path(name)) == name
