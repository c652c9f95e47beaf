"""``hotline prompts build``: speak every prompt that has no studio recording, and cut every
prompt into short pieces.

espeak-ng speaks the prompt's text in Mandarin (voice ``cmn-latn-pinyin``: the plain ``cmn``
voice of espeak-ng 1.51 reads the tone digits of its pinyin in English); sox turns it into
8 kHz mono 16-bit WAV, which Asterisk's format_wav plays, and trims the silence around it. A
studio recording (``recordings/studio/NAME.*``, or a prompt's ``file``) always wins: no file
is generated for it. A text file beside each generated prompt remembers the text (and the
voice) it was made from, so only changed prompts are rebuilt.

Every prompt that plays longer than ``max_piece_seconds`` (2 s), generated or a WAV studio
recording, is also cut into pieces (:mod:`ivr.config.audio`: ``prompts/pieces/NAME/01.wav``
...): each cut is at the quietest 20 ms of the second before the limit, so it falls in a pause.
The engine plays the pieces one by one and can put a free operator through between two of
them. Pieces of prompts that changed are replaced, pieces of prompts that went away removed.
"""

from __future__ import annotations

import array
import contextlib
import functools
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config.audio import (
    MAX_PIECE_SECONDS,
    PIECES_DIR,
    SOURCE_STAMP,
    current_pieces,
    pieces_dir,
    source_stamp,
    text_stamp,
)
from ivr.config.bundle import ConfigBundle
from ivr.errors import HotlineError

#: espeak-ng: words (for Mandarin, syllables) per minute and pitch (0-99). At 200 a prompt
#: runs at about 4.3 syllables a second, the pace of a clear telephone announcement; the
#: default 175 drags, and above 220 the tones blur.
RATE = 200
PITCH = 50
#: a cut lands in the quietest 20 ms frame of the last ``MAX_PIECE_SECONDS / 2`` of a piece
FRAME_SECONDS = 0.02
#: a last piece shorter than this is avoided when a cut can be placed earlier
MIN_TAIL_SECONDS = 0.3
DIGIT_NAMES = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))


class PromptToolMissing(HotlineError):
    code = "HL-PRM-001"


@dataclass(frozen=True)
class BuildReport:
    built: list[str]
    unchanged: list[str]
    studio: list[str]
    cut: list[str] = field(default_factory=list)  # prompts whose pieces were (re)written

    def __str__(self) -> str:
        return (
            f"{len(self.built)} built, {len(self.unchanged)} unchanged, "
            f"{len(self.studio)} from studio recordings, pieces updated for {len(self.cut)}"
        )


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PromptToolMissing(f"{name} is not installed; run ./run.sh or apt-get install {name}")
    return path


@functools.cache
def voice() -> str:
    """``cmn-latn-pinyin`` where this espeak-ng has it, else ``cmn``."""
    out = subprocess.run(
        [_tool("espeak-ng"), "--voices=cmn"], capture_output=True, text=True, check=False
    ).stdout
    return "cmn-latn-pinyin" if "cmn-Latn-pinyin" in out or "cmn-latn-pinyin" in out else "cmn"


def speakable(text: str) -> str:
    """The text as espeak-ng should read it: numbers of three digits or more (12345, a phone
    number) digit by digit, as they are said on the phone (幺二三四五); shorter ones (按1,
    15秒) as numbers."""
    return re.sub(r"\d{3,}", lambda m: "".join(DIGIT_NAMES[d] for d in m.group()), text)


def synthesize(text: str, target: Path, voice_name: str | None = None) -> None:
    """Speak ``text`` into ``target`` as 8 kHz mono 16-bit signed PCM WAV."""
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        spoken = speakable(text)
        cmd = [espeak, "-v", voice_name or voice(), "-s", str(RATE), "-p", str(PITCH)]
        subprocess.run([*cmd, "-w", str(raw), spoken], check=True)
        out = target.with_name(f".{target.stem}.{os.getpid()}.wav")
        # 8 kHz mono 16-bit; the silence espeak-ng leaves around the speech trimmed to a
        # short lead-in and tail (prompts follow each other)
        trim = ["silence", "1", "0.02", "-45d", "reverse", "silence", "1", "0.02", "-45d"]
        sox_fmt = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
        effects = [*trim, "reverse", "pad", "0.05", "0.15", "gain", "-n", "-3"]
        subprocess.run([sox, "-V1", str(raw), *sox_fmt, str(out), *effects], check=True)
        os.replace(out, target)  # a call in progress never finds half a file


# ----------------------------------------------------------------------------- pieces


def _energies(samples: Sequence[int], per_frame: int, channels: int, bias: int) -> list[int]:
    """Sum of squares of each 20 ms frame (``per_frame`` sample frames)."""
    step = per_frame * channels
    return [
        sum((s - bias) * (s - bias) for s in samples[i : i + step])
        for i in range(0, len(samples), step)
    ]


def cut_points(energies: Sequence[int], per_frame: int, total: int, max_frames: int) -> list[int]:
    """Where to cut (sample-frame indices), so that no piece is longer than ``max_frames``:
    the middle of the quietest 20 ms frame between half the limit and the limit after the
    previous cut (the latest of equally quiet ones)."""
    cuts: list[int] = []
    prev = 0
    tail = int(MIN_TAIL_SECONDS / FRAME_SECONDS) * per_frame
    while total - prev > max_frames:
        lo, hi = prev + max_frames // 2, prev + max_frames
        if hi > total - tail and total - tail - per_frame > lo:
            hi = total - tail  # leave the last piece a little sound
        first = -(-lo // per_frame)  # frames are counted from the start of the file
        last = (hi - per_frame) // per_frame
        if last < first:
            cut = hi
        else:
            best = min(range(first, last + 1), key=lambda k: (energies[k], -k))
            cut = best * per_frame + per_frame // 2
        cut = max(prev + 1, min(cut, prev + max_frames))
        cuts.append(cut)
        prev = cut
    return cuts


_TYPECODES = {1: "B", 2: "h", 4: "i"}


def cut_wav(source: Path, out_dir: Path, max_seconds: float = MAX_PIECE_SECONDS) -> int:
    """Cut ``source`` (PCM WAV) into ``out_dir/01.wav`` ... of at most ``max_seconds`` each, in
    the same format. Returns the number of pieces; 0 (nothing written) when it is short
    enough to play whole or not a PCM WAV this can read."""
    with wave.open(str(source), "rb") as w:
        params = w.getparams()
        raw = w.readframes(params.nframes)
    code = _TYPECODES.get(params.sampwidth)
    rate, channels, total = params.framerate, params.nchannels, params.nframes
    if code is None or rate <= 0 or total <= int(max_seconds * rate):
        return 0
    samples = array.array(code, raw)
    if code != "B" and sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    per_frame = max(1, int(rate * FRAME_SECONDS))
    energies = _energies(samples, per_frame, channels, 128 if code == "B" else 0)
    cuts = cut_points(energies, per_frame, total, int(max_seconds * rate))
    width = params.sampwidth * channels
    out_dir.mkdir(parents=True, exist_ok=True)
    bounds = [0, *cuts, total]
    for i, (start, end) in enumerate(itertools.pairwise(bounds), 1):
        with wave.open(str(out_dir / f"{i:02d}.wav"), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(params.sampwidth)
            out.setframerate(rate)
            out.writeframes(raw[start * width : end * width])
    return len(bounds) - 1


def build_pieces(
    recordings_dir: Path, name: str, source: Path | None, max_seconds: float = MAX_PIECE_SECONDS
) -> bool:
    """Bring the pieces of prompt ``name`` in line with ``source`` (the file that plays).
    Returns True when pieces were written or removed."""
    target = pieces_dir(recordings_dir, name)
    if source is None or source.suffix.lower() != ".wav":
        return _remove(target)  # only WAV is cut; other formats play whole
    if current_pieces(recordings_dir, name, source) or _stamped_whole(target, source):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    # written aside, then renamed into place: a call never finds half a set of pieces, and
    # two servers building at once do not meet
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    tmp.chmod(0o755)  # Asterisk may run as another user
    try:
        count = cut_wav(source, tmp, max_seconds)
    except (OSError, EOFError, wave.Error):
        count = 0
    if count == 0:
        for piece in tmp.glob("*.wav"):
            piece.unlink()  # this source plays whole: the stamp alone says so
    (tmp / SOURCE_STAMP).write_text(source_stamp(source))
    old = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent)) / "old"
    with contextlib.suppress(FileNotFoundError):
        target.rename(old)
    try:
        tmp.rename(target)
    except OSError:  # another server put the same pieces in place meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old.parent, ignore_errors=True)
    return True


def _stamped_whole(target: Path, source: Path) -> bool:
    """The stamp says ``source`` was looked at and plays whole (no pieces)."""
    try:
        return (target / SOURCE_STAMP).read_text() == source_stamp(source)
    except OSError:
        return False


def _remove(target: Path) -> bool:
    if target.exists():
        shutil.rmtree(target)
        return True
    return False


# ----------------------------------------------------------------------------- build


def build_prompts(
    config: ConfigBundle, force: bool = False, names: Sequence[str] | None = None
) -> BuildReport:
    """Speak the prompts (``names``, default all) whose text changed, then cut every prompt
    that plays longer than the piece limit into pieces."""
    out_dir = config.recordings_dir / "prompts"
    built: list[str] = []
    unchanged: list[str] = []
    studio: list[str] = []
    cut: list[str] = []
    wanted = sorted(config.menu.prompts) if names is None else sorted(names)
    for name in wanted:
        prompt = config.menu.prompts[name]
        if prompt.file or config.studio_file(name) is not None or not prompt.text:
            studio.append(name)
        else:
            wav, stamp = out_dir / f"{name}.wav", out_dir / f"{name}.txt"
            text = text_stamp(prompt.text)
            if not force and wav.is_file() and stamp.is_file() and stamp.read_text() == text:
                unchanged.append(name)
            else:
                synthesize(prompt.text, wav)
                stamp.write_text(text)
                built.append(name)
        if build_pieces(config.recordings_dir, name, config.prompt_source(name)):
            cut.append(name)
    if names is None:
        _remove_stale(out_dir / PIECES_DIR, set(config.menu.prompts))
    return BuildReport(built, unchanged, studio, cut)


def changed_prompts(config: ConfigBundle) -> list[str]:
    """The prompts that ``build_prompts`` would speak again (text changed, or never built),
    or cut again (their recording changed)."""
    out: list[str] = []
    for name, prompt in sorted(config.menu.prompts.items()):
        source = config.prompt_source(name)
        if not (prompt.file or config.studio_file(name) is not None or not prompt.text):
            stamp = config.recordings_dir / "prompts" / f"{name}.txt"
            try:
                fresh = source is not None and stamp.read_text() == text_stamp(prompt.text)
            except OSError:
                fresh = False
            if not fresh:
                out.append(name)
                continue
        if source is not None and source.suffix.lower() == ".wav":
            target = pieces_dir(config.recordings_dir, name)
            if not (
                current_pieces(config.recordings_dir, name, source)
                or _stamped_whole(target, source)
            ):
                out.append(name)
    return out


def _remove_stale(directory: Path, names: set[str]) -> None:
    if not directory.is_dir():
        return
    for child in directory.iterdir():
        if child.is_dir() and child.name not in names and not child.name.startswith("."):
            shutil.rmtree(child, ignore_errors=True)
