"""The running config, and its reload.

New calls take :attr:`ConfigHolder.current`; a call keeps the bundle it started with, so a
reload never changes a call in progress. An invalid config is refused, the reason is logged,
and the running config stays in place.

Before a new config is swapped in, the prompts whose text changed (or that were never built)
are spoken again and cut into pieces (:func:`ivr.prompts.build_prompts`), in the same worker
thread as the loading; a prompt that cannot be built is a warning (HL-PRM-002), never a
refused reload: the old audio keeps playing. The warnings of the new config
(:mod:`ivr.config.warn`: a path to a person over 15 s ...) are logged and kept in the status.
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
from ivr.config.catalogue import CATALOGUE_FILE, check_catalogue
from ivr.config.loader import load_config
from ivr.config.warn import config_warnings
from ivr.errors import ConfigError
from ivr.prompts import build_prompts, changed_prompts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    version: str  # the version running after the attempt
    at: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # accepted, but some of it waits for a restart
    warnings: tuple[str, ...] = ()  # accepted; the config's warnings (ivr.config.warn), HL-PRM-002
    prompts: tuple[str, ...] = ()  # prompts spoken again or cut again for this config


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

    def _load(self) -> _Loaded | ReloadResult:
        try:
            bundle = load_config(self.directory, self.recordings_dir)
            # the ticket catalogue, when the directory has one, is checked as `hotline reload`
            # checks it: a bare SIGHUP refuses a broken catalogue too
            if (self.directory / CATALOGUE_FILE).exists() and (
                found := check_catalogue(self.directory)
            ):
                raise ConfigError(found)
        except ConfigError as exc:
            log.error("[HL-CFG-RELOAD] refused: %s", exc)
            problems = tuple(str(p) for p in exc.problems)
            return ReloadResult(False, self.current.version, _now(), problems)
        except Exception as exc:  # an unreadable file must never take the line down either
            log.exception("[HL-CFG-RELOAD] refused: could not read the config")
            return ReloadResult(False, self.current.version, _now(), (repr(exc),))
        built, warnings = rebuild_prompts(bundle)
        try:
            warnings += [str(w) for w in config_warnings(bundle)]
        except Exception:  # a bug in a warning must not refuse a good config
            log.exception("[HL-CFG-RELOAD] could not compute the config's warnings")
        return _Loaded(bundle, tuple(built), tuple(warnings))

    def _apply(self, loaded: _Loaded | ReloadResult) -> ReloadResult:
        if isinstance(loaded, ReloadResult):
            self.last = loaded
            self._write_status()
            return loaded
        bundle = loaded.bundle
        old, self.current = self.current, bundle
        log.info("config %s loaded from %s", bundle.version, self.directory)
        notes: list[str] = []
        for listener in self.listeners:
            try:
                notes += listener(old, bundle)
            except Exception as exc:  # a listener's bug must not undo an accepted reload
                log.exception("[HL-CFG-RELOAD] listener failed")
                notes.append(f"[HL-CFG-099] could not apply part of the reload: {exc!r}")
        for note in notes:
            log.warning("%s", note)
        for warning in loaded.warnings:
            log.warning("%s", warning)
        self.last = ReloadResult(
            True, bundle.version, _now(), (), tuple(notes), loaded.warnings, loaded.prompts
        )
        self._write_status()
        return self.last

    def _write_status(self) -> None:
        if self.status_file is None:
            return
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.last.__dict__, ensure_ascii=False, indent=1))
        os.replace(tmp, self.status_file)


@dataclass(frozen=True)
class _Loaded:
    bundle: ConfigBundle
    prompts: tuple[str, ...]
    warnings: tuple[str, ...]


def rebuild_prompts(bundle: ConfigBundle) -> tuple[list[str], list[str]]:
    """Speak again (and cut again) the prompts of ``bundle`` whose text or recording changed.
    Returns the prompts rebuilt and the warnings (HL-PRM-002 when building failed: the old
    audio, or none, keeps playing; the reload goes on)."""
    try:
        names = changed_prompts(bundle)
        if not names:
            return [], []
        report = build_prompts(bundle, names=names)
    except Exception as exc:
        log.warning("[HL-PRM-002] could not rebuild the prompts: %s", exc)
        return [], [
            f"[HL-PRM-002] could not rebuild the changed prompts ({exc}); the old audio keeps "
            "playing: fix it (apt-get install espeak-ng sox), then run hotline prompts build"
        ]
    done = sorted({*report.built, *report.cut})
    log.info("prompts rebuilt for the new config: %s", ", ".join(done) or "none")
    return done, []


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
