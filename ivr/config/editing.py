"""Editing the admin files from the browser, so that a bad edit never takes the line down.

A draft is checked as ``hotline check-config`` checks the directory, on a copy of the
directory with the draft in place (the menu, lines, queue, agents, catalogue ... are checked
together: a line pointing at a menu node the draft removed is found). A save is refused when
the draft has a problem, or when the file changed on disk since the editor opened it (its
``version``, a sha256 of the bytes: the answer then carries the difference between the file
on disk and the draft). An accepted save keeps the previous text in the history directory
(one file per version, named by time and version) and replaces the file atomically; the
caller then reloads the running config (``ConfigHolder.reload_async``), which checks it once
more. A rollback is a save of an older version's text, through the same checks. A save taken
by another server is applied here (:meth:`ConfigEditor.apply`) with the same checks, whatever
the version on disk (:mod:`ivr.configsync`).

Must not import: anything above ``ivr.config`` (the web layer calls this)."""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config.catalogue import CATALOGUE_FILE, check_catalogue
from ivr.config.loader import check_config
from ivr.config.quality import QUALITY_FILE, check_quality
from ivr.errors import Problem

#: the files an admin edits in the browser, as named in the config directory
EDITABLE: tuple[str, ...] = (
    "menu.yaml",
    "lines.yaml",
    "agents.yaml",
    "queue.yaml",
    "departments.yaml",
    "hours.yaml",
    "accessibility.yaml",
    "privacy.yaml",
    "notify.yaml",
    CATALOGUE_FILE.as_posix(),
    QUALITY_FILE,
)
MAX_BYTES = 1_000_000
KEEP = 50  # versions kept per file


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def diff(before: str, after: str, name: str) -> str:
    """A unified diff, ``before`` (on disk) to ``after`` (the draft)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"{name} (on disk)",
            f"{name} (draft)",
        )
    )


@dataclass(frozen=True)
class ConfigFile:
    name: str
    text: str
    version: str


@dataclass(frozen=True)
class Saved:
    name: str
    version: str  # the new text's
    previous: str  # the version kept in the history
    diff: str


@dataclass
class Conflict(Exception):
    """The file changed on disk since the editor opened it."""

    name: str
    version: str  # on disk now
    diff: str  # on disk -> draft


@dataclass
class Invalid(Exception):
    """The draft (with the rest of the directory) has problems."""

    name: str
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Version:
    id: str  # the history file's name
    at: str  # ISO 8601 UTC
    version: str
    size: int


class ConfigEditor:
    """The admin files of ``directory``; history under ``history_dir``."""

    def __init__(self, directory: Path, recordings_dir: Path, history_dir: Path) -> None:
        self.directory = directory
        self.recordings_dir = recordings_dir
        self.history_dir = history_dir

    def _path(self, name: str) -> Path:
        if name not in EDITABLE:
            raise KeyError(name)
        return self.directory / name

    def files(self) -> list[ConfigFile]:
        return [self.read(n) for n in EDITABLE if (self.directory / n).exists()]

    def read(self, name: str) -> ConfigFile:
        data = self._path(name).read_bytes()
        return ConfigFile(name, data.decode("utf-8", "replace"), version_of(data))

    def check(self, name: str, text: str) -> list[Problem]:
        """The problems of the directory with ``text`` as ``name`` (none: it may be saved)."""
        self._path(name)
        with tempfile.TemporaryDirectory(prefix="hotline-draft-") as tmp:
            copy = Path(tmp) / "config"
            shutil.copytree(self.directory, copy)
            (copy / name).write_text(text, encoding="utf-8")
            found = check_config(copy, self.recordings_dir)
            if not found and (copy / CATALOGUE_FILE).exists():
                found = check_catalogue(copy)
            if not found:
                found = check_quality(copy)
            return [_relative(p, copy) for p in found]

    def save(self, name: str, text: str, base_version: str) -> Saved:
        """Save ``text`` as ``name`` if the file is still ``base_version`` and the directory
        with it is valid; raises :class:`Conflict` or :class:`Invalid` otherwise."""
        path = self._path(name)
        current = path.read_bytes()
        before = current.decode("utf-8", "replace")
        if version_of(current) != base_version:
            raise Conflict(name, version_of(current), diff(before, text, name))
        return self._write(name, text, current)

    def apply(self, name: str, text: str) -> Saved | None:
        """Take ``text`` as ``name`` with the same checks as a save but whatever the version
        on disk (a save taken by another server); None when the file already has it. Raises
        :class:`Invalid` when the directory with it has problems here."""
        path = self._path(name)
        current = path.read_bytes() if path.exists() else b""  # a file this server lacked
        if version_of(current) == version_of(text.encode("utf-8")):
            return None
        return self._write(name, text, current)

    def _write(self, name: str, text: str, current: bytes) -> Saved:
        problems = self.check(name, text)
        if problems:
            raise Invalid(name, problems)
        path = self._path(name)
        data = text.encode("utf-8")
        previous = self._keep(name, current) if current else version_of(current)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.saving")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        before = current.decode("utf-8", "replace")
        return Saved(name, version_of(data), previous, diff(before, text, name))

    def _keep(self, name: str, data: bytes) -> str:
        folder = self.history_dir / name.replace("/", "__")
        folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        version = version_of(data)
        (folder / f"{stamp}-{version[:12]}.yaml").write_bytes(data)
        for old in sorted(folder.glob("*.yaml"))[:-KEEP]:
            old.unlink()
        return version

    def history(self, name: str) -> list[Version]:
        """The versions kept of ``name``, newest first."""
        self._path(name)
        folder = self.history_dir / name.replace("/", "__")
        out = []
        for f in sorted(folder.glob("*.yaml"), reverse=True) if folder.exists() else []:
            stamp = f.stem.partition("-")[0]
            at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)
            data = f.read_bytes()
            out.append(
                Version(f.name, at.isoformat(timespec="seconds"), version_of(data), len(data))
            )
        return out

    def version_text(self, name: str, version_id: str) -> str:
        """An older version's text (for a rollback: save it)."""
        self._path(name)
        folder = self.history_dir / name.replace("/", "__")
        path = folder / version_id
        if "/" in version_id or version_id.startswith(".") or not path.is_file():
            raise KeyError(version_id)
        return path.read_text("utf-8")


def _relative(problem: Problem, root: Path) -> Problem:
    """The problem with its file named as in the config directory (not the draft's copy)."""
    file = problem.file
    with contextlib.suppress(ValueError):  # a problem of no file in the copy keeps its name
        file = Path(file).resolve().relative_to(root.resolve()).as_posix()
    return Problem(file, problem.line, problem.column, problem.message, problem.code)
