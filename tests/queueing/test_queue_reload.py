"""queue.yaml follows a reload: the waiter's decisions and the queue's settings change at
once; the centre (Redis hash tag), the timezone and the dialler wait for a restart, and the
reload status says so."""

from __future__ import annotations

from pathlib import Path

from ivr.config.queue_models import QueueFile, QueueSettings
from ivr.queuewait.queue_reload import apply_queue_reload
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from ivr.runtime import ConfigHolder
from queueing.events import MemoryEventSink
from queueing.queue import RedisQueue


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


async def test_reload_applies_queue_yaml(config_copy: Path, redis_url: str) -> None:
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings")
    queue = RedisQueue.from_url(redis_url, holder.current.queue.settings)
    hub = QueueHub(queue, MemoryEventSink(), reaper=False)
    holder.listeners.append(lambda old, new: apply_queue_reload(queue, hub, old.queue, new.queue))
    waiter = RedisQueueWaiter(hub, options=lambda: holder.current.queue)
    try:
        assert waiter.settings.ring_timeout == 20 and queue.settings.wrapup_seconds == 10
        queue_yaml = config_copy / "queue.yaml"
        _edit(queue_yaml, "ring_timeout: 20 ", "ring_timeout: 25 ")
        _edit(queue_yaml, "wrapup_seconds: 10 ", "wrapup_seconds: 30 ")
        result = holder.reload()
        assert result.ok and result.notes == ()
        assert waiter.settings.ring_timeout == 25  # the next offer rings 25 s
        assert queue.settings.wrapup_seconds == 30 and hub.settings.wrapup_seconds == 30

        _edit(queue_yaml, "centre: hotline ", "centre: night ")
        _edit(queue_yaml, "ring_timeout: 25 ", "ring_timeout: 30 ")
        result = holder.reload()
        assert result.ok
        assert len(result.notes) == 1 and result.notes[0].startswith("[HL-QUE-050] ")
        assert "centre" in result.notes[0]
        assert queue.settings.centre == "hotline"  # still the running Redis keys
        assert queue.settings.ring_timeout == 30  # the rest applies
    finally:
        await queue.close()


def test_dialler_change_waits_for_a_restart() -> None:
    class Holder:
        settings = QueueSettings()

    q, h = Holder(), Holder()
    old = QueueFile()
    new = QueueFile.model_validate({"dialler": {"enabled": not old.dialler.enabled}})
    notes = apply_queue_reload(q, h, old, new)
    assert notes and "dialler" in notes[0]
