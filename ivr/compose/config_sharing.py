"""The admin console's saves shared by every hotline server (:mod:`ivr.configsync`): the
follower of a server, on its config directory, its database and the queue's Redis."""

from __future__ import annotations

import os
import socket

from ivr.config.editing import ConfigEditor
from ivr.configsync.follower import ConfigFollower
from ivr.configsync.saves import SaveRecord
from ivr.db.database import Database
from ivr.runtime import ConfigHolder
from ivr.settings import Settings
from queueing import keys
from queueing.notices import NoticeSubscriber
from queueing.queue import RedisQueue


async def follow_saves(
    settings: Settings, holder: ConfigHolder, queue: RedisQueue, db: Database, port: int
) -> ConfigFollower:
    """This server's follower, caught up with the saves made while it was down (or at most
    10 s of that: the rest follows in the background); ``port`` names the server in the
    record (its HTTP port, else its FastAGI port)."""
    editor = ConfigEditor(holder.directory, settings.recordings_dir, settings.var_dir / "config")
    follower = ConfigFollower(
        SaveRecord(db),
        editor,
        holder.reload_async,
        NoticeSubscriber(settings.redis_url, queue.centre, channel=keys.config_saves(queue.centre)),
        queue.client.publish,
        settings.var_dir / "config-sync.json",
        f"{socket.gethostname()}:{port} (pid {os.getpid()})",
    )
    await follower.start()
    return follower
