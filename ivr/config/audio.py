"""Prompt audio on disk: how long a file plays, and where its pieces are.

A prompt plays in pieces of at most about two seconds (``hotline prompts build`` writes them,
:mod:`ivr.prompts`), so that the menu can stop between two pieces when an operator is free.
The pieces of a prompt live in ``recordings/prompts/pieces/NAME/01.wav``, ``02.wav`` ...;
``source.txt`` beside them names the file they were cut from (path, size, modification time),
so pieces of an older recording are never played.
"""

from __future__ import annotations

import contextlib
import wave
from pathlib import Path

PIECES_DIR = "pieces"
#: the longest piece ``hotline prompts build`` cuts a prompt into
MAX_PIECE_SECONDS = 2.0
SOURCE_STAMP = "source.txt"
#: how ``hotline prompts build`` speaks (:func:`ivr.prompts.synthesize`); part of every
#: generated prompt's stamp, so that a change of voice rebuilds every prompt
VOICE = "espeak-ng cmn-latn-pinyin -s 200 -p 50; sox 8000 Hz, trimmed"

#: bytes per second of the raw formats Asterisk plays (8 kHz unless the name says otherwise)
RAW_RATES = {
    "sln": 16000,
    "sln16": 32000,
    "ulaw": 8000,
    "alaw": 8000,
    "g722": 8000,
    "g729": 1000,
    "gsm": 1650,  # 33 bytes per 20 ms frame
}


def audio_seconds(path: Path) -> float | None:
    """How long ``path`` plays; None when it is missing or its length cannot be told."""
    suffix = path.suffix.lower().lstrip(".")
    try:
        if suffix == "wav":
            with wave.open(str(path), "rb") as w:
                rate = w.getframerate()
                return w.getnframes() / rate if rate else None
        per_second = RAW_RATES.get(suffix)
        return path.stat().st_size / per_second if per_second else None
    except (OSError, EOFError, wave.Error):
        return None


def text_stamp(text: str) -> str:
    """What a generated prompt's ``NAME.txt`` holds: its text and the voice that spoke it."""
    return f"{text}\n# {VOICE}\n"


def source_stamp(source: Path) -> str:
    """What identifies the file pieces were cut from."""
    st = source.stat()
    return f"{source}\n{st.st_size}\n{st.st_mtime_ns}\n"


def pieces_dir(recordings_dir: Path, name: str) -> Path:
    return recordings_dir / "prompts" / PIECES_DIR / name


def current_pieces(recordings_dir: Path, name: str, source: Path) -> list[Path]:
    """The pieces cut from ``source`` as it is now (WAV paths in order); empty when there are
    none, or they were cut from another file or an older version of it."""
    directory = pieces_dir(recordings_dir, name)
    stamp = directory / SOURCE_STAMP
    with contextlib.suppress(OSError):
        if stamp.read_text() == source_stamp(source):
            return sorted(directory.glob("[0-9][0-9].wav"))
    return []


def prompt_of(played: str) -> str:
    """The prompt a played path belongs to: ``.../prompts/pieces/NAME/01`` -> ``NAME``,
    ``.../prompts/NAME`` or ``.../studio/NAME`` -> ``NAME`` (for logs, the call simulator and
    test fakes)."""
    parts = played.replace("\\", "/").rsplit("/", 3)
    if len(parts) >= 3 and parts[-3] == PIECES_DIR and parts[-1][:2].isdigit():
        return parts[-2]
    return parts[-1].rsplit(".", 1)[0] if parts[-1].endswith(".wav") else parts[-1]
