"""A hotline server's follower of the admin console's saves: whichever server took a save, it
runs on this one too, within a couple of seconds.

The server that takes a save records it (:meth:`ConfigFollower.share`: a row of
``config_saves`` with the file's text and version) and publishes the row's id on the centre's
channel (:func:`queueing.keys.config_saves`). Every server's follower wakes on that notice,
at its start (the saves made while it was down), when its subscriber comes back after losing
Redis, and every ``poll_seconds`` (a notice missed), and takes the newest save of each file
other than the one it applied last (their ids kept in ``var/config-sync.json``; other than:
newer, or whatever is newest in a database restored or replaced since):

- the server that took a save marks it applied as it records it: it never takes its own
  save again, and applying publishes nothing, so nothing loops; each save is taken once per
  server (the ids applied survive a restart);
- a file already at that version here (servers of one machine sharing a config directory:
  the one that took the save wrote it for all) is not written again, but the running config
  is reloaded;
- otherwise it is checked with this server's directory as a save is checked
  (:meth:`ivr.config.editing.ConfigEditor.apply`), written atomically with the previous
  version kept in this server's history, and the running config reloaded (checked once more);
- a save refused here (this server's directory differs: a recording missing, another file
  edited by hand) is logged once (``HL-CFG-097``) and this server keeps its running config;
  it is tried again at the next start or superseded by the next save of that file.

The audit row stays with the server that took the save (the web's ``config.save``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from ivr.config.editing import ConfigEditor, Invalid, Saved
from ivr.configsync.saves import SaveRecord, SharedSave
from ivr.runtime import ReloadResult
from queueing.notices import NoticeSubscriber
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

Reload = Callable[[], Awaitable[ReloadResult]]
#: PUBLISH on the Redis of the queue: (channel, message)
Publish = Callable[[str, str], Awaitable[Any]]


class ConfigFollower:
    """The saves of ``record`` applied through ``editor`` and ``reload``."""

    def __init__(
        self,
        record: SaveRecord,
        editor: ConfigEditor,
        reload: Reload,
        subscriber: NoticeSubscriber,
        publish: Publish,
        state_file: Path,
        server: str,
        poll_seconds: float = 30.0,
    ) -> None:
        self.record, self.editor, self.reload = record, editor, reload
        self.subscriber, self.publish = subscriber, publish
        self.state_file, self.server, self.poll_seconds = state_file, server, poll_seconds
        self.applied: dict[str, int] = self._read_state()
        self.written = 0  # saves of other servers taken here (tests, logs)
        self._refused: set[int] = set()
        self._failing = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, timeout: float = 10.0) -> None:
        """Catch up with the saves made while this server was down (at most ``timeout``
        seconds before the server goes on starting; the rest in the background), then follow."""
        try:
            await asyncio.wait_for(self.catch_up(), timeout)
        except TimeoutError:
            log.warning(
                "[HL-CFG-098] catching up with the config saves took over %.0f s at start; "
                "the server starts and goes on in the background",
                timeout,
            )
            self._wake.set()
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._follow())]

    async def stop(self) -> None:
        await self.subscriber.close()
        for task in self._tasks:
            await stop_task(task)

    async def _listen(self) -> None:
        async for _ in self.subscriber.messages():  # a save's id, or None: Redis came back
            self._wake.set()

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            await self.catch_up()

    async def catch_up(self) -> int:
        """Apply the saves newer than this server's; how many were taken here."""
        async with self._lock:
            return await self._catch_up()

    @contextlib.asynccontextmanager
    async def saving(self) -> AsyncIterator[None]:
        """Around a save taken here (and its :meth:`share`): the others' saves applied first
        (a draft of an older version is then a conflict here too), and none applied until
        the save is recorded, so that an earlier save of the same file never lands on it."""
        async with self._lock:
            await self._catch_up()
            yield

    async def _catch_up(self) -> int:
        try:
            saves = await asyncio.to_thread(self.record.newest, dict(self.applied))
        except Exception as exc:  # the database away: keep the running config, retry
            self._failed(f"could not read the config saves from the database: {exc}")
            return 0
        self._works()
        written = [s for s in saves if await self._take(s)]
        if saves:
            await asyncio.to_thread(self._write_state)
        if not written:
            return 0
        result = await self.reload()
        names = ", ".join(f"{s.name} (saved on {s.server})" for s in written)
        if result.ok:
            log.info("config saves applied: %s; running %s", names, result.version)
        else:  # checked as a save, so only a difference of the reload's own checks
            problems = "; ".join(result.problems)
            log.error(
                "[HL-CFG-097] config saves %s written but the reload refused them: %s; "
                "the running config stays",
                names,
                problems,
            )
        self.written += len(written)
        return len(written)

    async def _take(self, save: SharedSave) -> bool:
        """Write ``save`` here if it is new here and accepted; whether it is to run (written,
        or found on disk already)."""
        if save.id in self._refused:
            return False
        try:
            done = await asyncio.to_thread(self.editor.apply, save.name, save.text)
        except Invalid as exc:
            first = exc.problems[0] if exc.problems else "?"
            self._refuse(save, f"{len(exc.problems)} problem(s) here, the first {first}")
            return False
        except (KeyError, OSError) as exc:
            self._refuse(save, f"cannot write it here: {exc!r}")
            return False
        self.applied[save.name] = save.id
        if done is None:  # already on disk here (written by a server sharing the directory)
            log.info("config save of %s (saved on %s) already on disk here", save.name, save.server)
        return True

    def _refuse(self, save: SharedSave, why: str) -> None:
        self._refused.add(save.id)
        log.error("[HL-CFG-097] the save of %s (version %s, saved on %s at %s) is refused on "
                  "this server, which keeps its running config: %s", save.name,
                  save.version[:12], save.server, save.saved_at.isoformat(timespec="seconds"),
                  why)  # fmt: skip

    async def share(self, name: str, text: str, saved: Saved, by: str | None) -> bool:
        """Record a save this server took and tell the other servers; whether it is recorded
        (when not, the other servers keep theirs: logged, the save stays here). Called inside
        :meth:`saving`."""
        try:
            row = await asyncio.to_thread(
                self.record.add, name, text, saved.version, saved.previous, self.server, by
            )
        except Exception as exc:
            log.error("[HL-CFG-098] the save of %s is running on this server only: it could "
                      "not be recorded in the database (%s)", name, exc)  # fmt: skip
            return False
        self.applied[name] = row
        await asyncio.to_thread(self._write_state)
        try:
            await self.publish(self.subscriber.channel, str(row))
        except Exception as exc:  # the others find it at their next poll
            log.warning("[HL-CFG-098] the save of %s is recorded but the other servers could not "
                        "be told at once (%s); they take it within %.0f s", name, exc,
                        self.poll_seconds)  # fmt: skip
        return True

    def _failed(self, why: str) -> None:
        if not self._failing:
            self._failing = True
            log.warning("[HL-CFG-098] %s; this server keeps its running config and tries again",
                        why)  # fmt: skip

    def _works(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("[HL-CFG-098] the config saves can be read again")

    def _read_state(self) -> dict[str, int]:
        try:
            data = json.loads(self.state_file.read_text("utf-8"))
            return {str(k): int(v) for k, v in data.get("applied", {}).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _write_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"applied": self.applied}, indent=1), "utf-8")
        os.replace(tmp, self.state_file)
