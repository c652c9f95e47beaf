"""``hotline prompts build``: speak every prompt that has no studio recording.

espeak-ng speaks the prompt's text in Mandarin; sox turns it into 8 kHz mono 16-bit WAV, which
Asterisk's format_wav plays. A studio recording (``recordings/studio/NAME.*``, or a prompt's
``file``) always wins: no file is generated for it. A text file beside each generated prompt
remembers the text it was made from, so only changed prompts are rebuilt.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ivr.config.bundle import ConfigBundle
from ivr.errors import HotlineError


class PromptToolMissing(HotlineError):
    code = "HL-PRM-001"


@dataclass(frozen=True)
class BuildReport:
    built: list[str]
    unchanged: list[str]
    studio: list[str]

    def __str__(self) -> str:
        return (
            f"{len(self.built)} built, {len(self.unchanged)} unchanged, "
            f"{len(self.studio)} from studio recordings"
        )


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PromptToolMissing(f"{name} is not installed; run ./run.sh or apt-get install {name}")
    return path


def synthesize(text: str, target: Path, voice: str = "cmn") -> None:
    """Speak ``text`` into ``target`` as 8 kHz mono 16-bit signed PCM WAV."""
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
        out = Path(tmp) / "out.wav"
        subprocess.run(
            [
                sox,
                "-V1",
                str(raw),
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(out),
                "gain",
                "-n",
                "-3",
            ],
            check=True,
        )
        shutil.move(out, target)


def build_prompts(config: ConfigBundle, force: bool = False) -> BuildReport:
    out_dir = config.recordings_dir / "prompts"
    built: list[str] = []
    unchanged: list[str] = []
    studio: list[str] = []
    for name, prompt in sorted(config.menu.prompts.items()):
        if prompt.file or config.studio_file(name) is not None or not prompt.text:
            studio.append(name)
            continue
        wav, stamp = out_dir / f"{name}.wav", out_dir / f"{name}.txt"
        if not force and wav.is_file() and stamp.is_file() and stamp.read_text() == prompt.text:
            unchanged.append(name)
            continue
        synthesize(prompt.text, wav)
        stamp.write_text(prompt.text)
        built.append(name)
    return BuildReport(built, unchanged, studio)
