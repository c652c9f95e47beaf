"""A loaded, validated admin config: the object the rest of the hotline reads.

A bundle is immutable. Reload builds a new bundle and swaps it in; a call keeps the bundle it
started with until it ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config.audio import audio_seconds, current_pieces, text_stamp
from ivr.config.calendar import BusinessCalendar
from ivr.config.models import (
    AccessibilityFile,
    DepartmentsFile,
    HoursFile,
    Line,
    LineMode,
    LinesFile,
    MenuFile,
)
from ivr.config.notify_models import NotifyFile
from ivr.config.privacy_models import PrivacyFile
from ivr.config.queue_models import AgentsFile, QueueFile

AUDIO_EXTENSIONS = ("wav", "WAV", "gsm", "sln", "sln16", "ulaw", "alaw", "g722", "g729", "mp3")


def normalize_number(raw: str, area_code: str | None) -> str:
    """Digits of a dialled number as the carrier may deliver it, reduced to the local form.

    ``+86 471 6960110``, ``86 0471 6960110``, ``04716960110`` and ``6960110`` all become
    ``6960110`` when the area code is ``0471``. Short national numbers (12345, 12333) pass.
    """
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.strip().startswith("+86") or (digits.startswith("86") and len(digits) > 11):
        digits = digits[2:]
        if area_code and not digits.startswith("0") and digits.startswith(area_code[1:]):
            digits = "0" + digits
    if area_code and digits.startswith(area_code) and len(digits) - len(area_code) in (7, 8):
        digits = digits[len(area_code) :]
    return digits


@dataclass(frozen=True)
class Route:
    """Where a dialled number leads: the hotline itself, or one legacy line."""

    number: str
    line: Line | None  # None for 12345 itself

    @property
    def mode(self) -> LineMode | None:
        return self.line.mode if self.line else None


@dataclass(frozen=True)
class ConfigBundle:
    directory: Path
    recordings_dir: Path
    menu: MenuFile
    lines: LinesFile
    departments: DepartmentsFile
    hours: HoursFile
    accessibility: AccessibilityFile
    version: str
    loaded_at: dt.datetime
    calendar: BusinessCalendar
    # the operator queue (queueing/): queue.yaml and agents.yaml
    queue: QueueFile = field(default_factory=QueueFile)
    agents: AgentsFile = field(default_factory=AgentsFile)
    # who may play recordings, how long things are kept (privacy.yaml)
    privacy: PrivacyFile = field(default_factory=PrivacyFile)
    # the SMS and the outbox's delivery (notify.yaml)
    notify: NotifyFile = field(default_factory=NotifyFile)
    _by_number: dict[str, Line] = field(default_factory=dict, repr=False)
    _accessible: frozenset[str] = field(default_factory=frozenset, repr=False)
    _prompt_paths: dict[str, str] = field(default_factory=dict, repr=False)
    _prompt_pieces: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        area = self.lines.hotline.area_code
        for line in self.lines.lines:
            for number in (line.number, *line.aliases):
                self._by_number[normalize_number(number, area)] = line
        accessible = {normalize_number(c.number, area) for c in self.accessibility.callers}
        object.__setattr__(self, "_accessible", frozenset(accessible))

    # -- routing -------------------------------------------------------------------------

    def route(self, dnid: str, extension: str = "") -> Route:
        """Route by the dialled number as Asterisk reports it: ``agi_dnid``, then
        ``agi_extension``. Anything not a legacy line is served as 12345 itself: a caller
        never meets a dead number because of a routing gap."""
        area = self.lines.hotline.area_code
        for raw in (dnid, extension):
            if not raw or raw in ("unknown", "s"):
                continue
            number = normalize_number(raw, area)
            line = self._by_number.get(number)
            if line is not None:
                return Route(number=number, line=line)
        return Route(number=self.lines.hotline.number, line=None)

    def line_skill(self, line: Line | None) -> str:
        if line is None:
            return self.menu.settings.default_skill
        if line.skill:
            return line.skill
        dept = self.departments.departments.get(line.department)
        return dept.skill if dept else self.menu.settings.default_skill

    def is_accessible(self, caller: str) -> bool:
        return normalize_number(caller, self.lines.hotline.area_code) in self._accessible

    def department_open(self, department: str, when: dt.datetime) -> bool:
        dept = self.departments.departments.get(department)
        if dept is None or dept.hours is None:
            return True
        return self.calendar.is_open(dept.hours, when)

    # -- prompts -------------------------------------------------------------------------

    def studio_file(self, name: str) -> Path | None:
        studio = self.recordings_dir / "studio"
        for ext in AUDIO_EXTENSIONS:
            candidate = studio / f"{name}.{ext}"
            if candidate.is_file():
                return candidate
        return None

    def prompt_path(self, name: str) -> str:
        """The sound file Asterisk plays for a prompt, without extension.

        A studio recording with the prompt's name always wins, then the prompt's explicit
        ``file``, then the generated ``recordings/prompts/NAME.wav``. Resolved once per
        bundle: a new studio recording is picked up by ``hotline reload``."""
        path = self._prompt_paths.get(name)
        if path is None:
            path = self._prompt_paths[name] = self._resolve_prompt(name)
        return path

    def _resolve_prompt(self, name: str) -> str:
        studio = self.studio_file(name)
        if studio is not None:
            return str(studio.with_suffix(""))
        prompt = self.menu.prompts.get(name)
        if prompt is not None and prompt.file:
            return str((self.directory / prompt.file).with_suffix(""))
        return str(self.recordings_dir / "prompts" / name)

    def prompt_source(self, name: str) -> Path | None:
        """The audio file (with its extension) that plays for a prompt; None when there is
        none yet (a generated prompt not built)."""
        studio = self.studio_file(name)
        if studio is not None:
            return studio
        prompt = self.menu.prompts.get(name)
        if prompt is not None and prompt.file:
            path = self.directory / prompt.file
        else:
            path = self.recordings_dir / "prompts" / f"{name}.wav"
        return path if path.is_file() else None

    def prompt_pieces(self, name: str) -> list[str]:
        """The files to play for a prompt, in order, as :meth:`prompt_path` gives them
        (absolute, without extension): its pieces of at most 2 s when ``hotline prompts
        build`` cut the file that plays now, else ``[prompt_path(name)]``. Resolved once per
        bundle, like :meth:`prompt_path`."""
        pieces = self._prompt_pieces.get(name)
        if pieces is None:
            source = self.prompt_source(name)
            found = current_pieces(self.recordings_dir, name, source) if source else []
            pieces = [str(p.with_suffix("")) for p in found] or [self.prompt_path(name)]
            self._prompt_pieces[name] = pieces
        return list(pieces)

    def prompt_seconds(self, name: str) -> float | None:
        """How long the file that would play for a prompt lasts; None when there is no file
        or its length cannot be told (an mp3)."""
        source = self.prompt_source(name)
        return audio_seconds(source) if source is not None else None

    def prompt_current(self, name: str) -> bool:
        """The file that would play is this config's: a recording, or a prompt generated
        from its present text (``hotline prompts build`` has run since it changed)."""
        source = self.prompt_source(name)
        if source is None:
            return False
        prompt = self.menu.prompts.get(name)
        if self.studio_file(name) is not None or prompt is None or prompt.file or not prompt.text:
            return True
        stamp = source.with_suffix(".txt")
        try:
            return stamp.read_text() == text_stamp(prompt.text)
        except OSError:
            return False

    def prompt_text(self, name: str) -> str:
        prompt = self.menu.prompts.get(name)
        return (prompt.text or "") if prompt else ""
