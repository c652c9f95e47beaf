"""queue.yaml on reload: what takes effect at once, and what waits for a restart.

The waiter reads queue.yaml per decision (announcements, callback offer, overflow, survey,
ring timeout, dial options), so those follow a reload at once. The queue and the hub hold
queue.yaml's ``settings`` (:class:`~queueing.options.QueueOptions`); they get the new ones
here, except the settings that name things already in Redis or already connected:
``centre`` (the Redis hash tag), ``timezone`` (the day of today's metrics) and ``dialler``
(the AMI connection). Those keep their running values until the next restart, and the reload
says so in its status.
"""

from __future__ import annotations

from typing import Protocol

from ivr.config.queue_models import QueueFile
from queueing.options import QueueOptions


class _HasSettings(Protocol):
    settings: QueueOptions


def apply_queue_reload(
    queue: _HasSettings, hub: _HasSettings, old: QueueFile, new: QueueFile
) -> list[str]:
    """Give ``queue`` and ``hub`` the new settings; return notes for what waits for a restart."""
    notes: list[str] = []
    settings = new.settings
    restart = [
        name
        for name in ("centre", "timezone")
        if getattr(old.settings, name) != getattr(settings, name)
    ]
    if restart:
        settings = settings.model_copy(
            update={name: getattr(queue.settings, name) for name in restart}
        )
    if old.dialler != new.dialler:
        restart.append("dialler")
    if restart:
        notes.append(
            f"[HL-QUE-050] queue.yaml: {', '.join(restart)} changed; this takes effect when "
            "the server restarts (the rest of queue.yaml applies now)"
        )
    queue.settings = settings
    hub.settings = settings
    return notes
