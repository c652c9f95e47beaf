"""The desk's transfer service (:class:`queueing.transfer.TransferService`) built from
queue.yaml: its ``transfers`` targets (read again at each transfer, so a reload applies) and
the AMI user of ``dialler`` (a connection of its own, opened at the first transfer). What
:mod:`ivr.compose.root` hands to :func:`ivr.web.call_routes.calls_part`; and the AMI
connection of the supervisors' spy (:func:`ivr.web.spy_routes.spy_part`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ivr.config.queue_models import QueueFile
from ivr.config.transfer_models import TransferSettings
from queueing.ami import AMIClient, find_secret
from queueing.queue import RedisQueue
from queueing.transfer import Target, TransferService


def service_targets(settings: TransferSettings) -> list[Target]:
    """queue.yaml's targets as the service takes them, in the file's order."""
    return [
        Target(key, t.name, t.kind, t.dial, tuple(t.modes), t.ring_timeout)
        for key, t in settings.targets.items()
    ]


def open_transfers(
    queue: RedisQueue, options: Callable[[], QueueFile], secret_file: Path
) -> TransferService | None:
    """The service, or None when queue.yaml turns transfers or the AMI user (``dialler``)
    off (the routes then answer 503 ``HL-WEB-031``). ``secret_file`` is the per-install AMI
    secret (``var/ami-secret``) used when ``dialler.secret``'s variable is not set."""
    first = options()
    ami = open_manager(first, secret_file)
    if not first.transfers.enabled or ami is None:
        return None
    t = first.transfers
    return TransferService(
        queue.client,
        ami,
        lambda: service_targets(options().transfers),
        centre=queue.centre,
        context=t.context,
        consult_context=t.consult_context,
        colleague_ring_timeout=t.colleague_ring_timeout,
    )


def open_manager(options: QueueFile, secret_file: Path) -> AMIClient | None:
    """A connection as queue.yaml's AMI user (``dialler``; opened at its first action), or
    None when the dialler is off. The transfers have one, the supervisors' spy another."""
    if not options.dialler.enabled:
        return None
    d = options.dialler
    return AMIClient(d.host, d.port, d.username, lambda: find_secret(d.secret, secret_file))


async def close_transfers(service: TransferService | None) -> None:
    """Stop: the originates under way are cancelled, the AMI connection is closed."""
    if service is None:
        return
    await service.close()
    if isinstance(service.ami, AMIClient):
        await service.ami.close()
