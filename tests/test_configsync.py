"""The follower of the console's saves in one process, on a real SQLite database and Redis:
the paths the two-server tests do not take (tests/test_two_servers.py has those): the
database away (said once, the running config kept, then "can be read again"), a file this
server lacks, a save already running here, and the state kept across restarts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.config.editing import ConfigEditor, version_of
from ivr.configsync.follower import ConfigFollower
from ivr.configsync.saves import SaveRecord
from ivr.db.database import Database
from ivr.runtime import ConfigHolder
from queueing import keys
from queueing.notices import NoticeSubscriber
from tests.redis_clients import redis_db

published: list[tuple[str, str]] = []


async def publish(channel: str, message: str) -> int:
    published.append((channel, message))
    return 0


def follower(config: Path, db: Database, redis_url: str) -> ConfigFollower:
    holder = ConfigHolder(config, config.parent / "recordings")
    editor = ConfigEditor(config, config.parent / "recordings", config.parent / "history")
    channel = keys.config_saves("test")
    return ConfigFollower(
        SaveRecord(db),
        editor,
        holder.reload_async,
        NoticeSubscriber(redis_db(redis_url, 9), "test", channel=channel),
        publish,
        config.parent / "var" / "config-sync.json",
        "test-server",
    )


@pytest.fixture
async def unmigrated(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'sync.db'}")
    yield db
    db.close()


async def test_the_database_away_is_said_once_and_the_running_config_stays(
    config_copy: Path, unmigrated: Database, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    f = follower(config_copy, unmigrated, redis_url)
    before = (config_copy / "menu.yaml").read_bytes()
    assert await f.catch_up() == 0  # no config_saves table: as good as away
    assert await f.catch_up() == 0
    said = [r.getMessage() for r in caplog.records if "HL-CFG-098" in r.getMessage()]
    assert len(said) == 1 and "could not read the config saves" in said[0]
    assert (config_copy / "menu.yaml").read_bytes() == before
    unmigrated.upgrade()
    assert await f.catch_up() == 0
    assert any("can be read again" in r.getMessage() for r in caplog.records)


async def test_a_save_is_applied_once_and_a_file_this_server_lacked_is_written(
    config_copy: Path, unmigrated: Database, redis_url: str, tmp_path: Path
) -> None:
    unmigrated.upgrade()
    # another server's saves: quality.yaml (this server has none) and menu.yaml as it is here
    quality = (config_copy / "quality.yaml").read_text("utf-8")
    (config_copy / "quality.yaml").unlink()
    menu = (config_copy / "menu.yaml").read_text("utf-8")
    record = SaveRecord(unmigrated)
    record.add("quality.yaml", quality, version_of(quality.encode()), "0" * 64, "other", "admin")
    same = record.add("menu.yaml", menu, version_of(menu.encode()), "0" * 64, "other", "admin")
    f = follower(config_copy, unmigrated, redis_url)
    assert await f.catch_up() == 2  # quality.yaml written; menu.yaml on disk: reloaded only
    assert (config_copy / "quality.yaml").read_text("utf-8") == quality
    assert f.applied["menu.yaml"] == same
    assert await f.catch_up() == 0  # once
    # a restart (a new follower on the same var/) applies nothing again
    again = follower(config_copy, unmigrated, redis_url)
    assert again.applied == f.applied
    assert await again.catch_up() == 0


async def test_after_a_database_restore_the_newest_save_there_is_taken(
    config_copy: Path, unmigrated: Database, redis_url: str
) -> None:
    unmigrated.upgrade()
    f = follower(config_copy, unmigrated, redis_url)
    f.applied = {"agents.yaml": 99}  # ids of the database before it was restored
    text = (config_copy / "agents.yaml").read_text("utf-8") + "# restored\n"
    SaveRecord(unmigrated).add(
        "agents.yaml", text, version_of(text.encode()), "0" * 64, "other", None
    )
    assert await f.catch_up() == 1
    assert (config_copy / "agents.yaml").read_text("utf-8") == text
