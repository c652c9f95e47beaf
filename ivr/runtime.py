"""The running config, and its reload.

New calls take :attr:`ConfigHolder.current`; a call keeps the bundle it started with, so a
reload never changes a call in progress. An invalid config is refused, the reason is logged,
and the running config stays in place.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ivr.config.bundle import ConfigBundle
from ivr.config.loader import load_config
from ivr.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    version: str  # the version running after the attempt
    at: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # accepted, but some of it waits for a restart


#: Told of every accepted reload (old bundle, new bundle); returns notes for the status.
ReloadListener = Callable[[ConfigBundle, ConfigBundle], list[str]]


class ConfigHolder:
    def __init__(
        self, directory: Path, recordings_dir: Path | None = None, status_file: Path | None = None
    ) -> None:
        self.directory = directory
        self.recordings_dir = recordings_dir
        self.status_file = status_file
        self.current: ConfigBundle = load_config(directory, recordings_dir)
        self.last = ReloadResult(True, self.current.version, _now())
        self.listeners: list[ReloadListener] = []
        self._reloading = asyncio.Lock()
        self._write_status()

    def reload(self) -> ReloadResult:
        """Load, check and apply the config in this thread (the CLI, tests)."""
        return self._apply(self._load())

    async def reload_async(self) -> ReloadResult:
        """:meth:`reload` for the running server: reading and validating the files happens
        in a worker thread, so calls in progress never wait on a reload; only the switch to
        the new bundle (and its listeners) runs on the event loop. Reloads run one at a
        time, in the order asked."""
        async with self._reloading:
            loaded = await asyncio.to_thread(self._load)
            return self._apply(loaded)

    def _load(self) -> ConfigBundle | ReloadResult:
        try:
            return load_config(self.directory, self.recordings_dir)
        except ConfigError as exc:
            log.error("HL-CFG-RELOAD refused: %s", exc)
            problems = tuple(str(p) for p in exc.problems)
            return ReloadResult(False, self.current.version, _now(), problems)
        except Exception as exc:  # an unreadable file must never take the line down either
            log.exception("HL-CFG-RELOAD refused: could not read the config")
            return ReloadResult(False, self.current.version, _now(), (repr(exc),))

    def _apply(self, loaded: ConfigBundle | ReloadResult) -> ReloadResult:
        if isinstance(loaded, ReloadResult):
            self.last = loaded
            self._write_status()
            return loaded
        bundle = loaded
        old, self.current = self.current, bundle
        log.info("config %s loaded from %s", bundle.version, self.directory)
        notes: list[str] = []
        for listener in self.listeners:
            try:
                notes += listener(old, bundle)
            except Exception as exc:  # a listener's bug must not undo an accepted reload
                log.exception("HL-CFG-RELOAD listener failed")
                notes.append(f"HL-CFG-099 could not apply part of the reload: {exc!r}")
        for note in notes:
            log.warning("%s", note)
        self.last = ReloadResult(True, bundle.version, _now(), (), tuple(notes))
        self._write_status()
        return self.last

    def _write_status(self) -> None:
        if self.status_file is None:
            return
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.last.__dict__, ensure_ascii=False, indent=1))
        os.replace(tmp, self.status_file)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
