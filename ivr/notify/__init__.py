"""The outbox's two ends (docs/notify.md): what a ticket's change asks to be sent, written in
the change's own transaction (``messages.py``: the SMS receipt on acceptance, the SMS with
the reply and the reply to an upper-level platform when finished; once-only by key), and the
delivery loop of ``hotline serve`` that claims due messages, sends them and retries with
backoff (``delivery.py``, its claims and marks in the database in ``claims.py``), through an
SMS gateway (``gateways.py``: a file, a provider's HTTP API) or a platform's reply channel
(``replies.py``: a directory, a signed webhook); the admin's listing and retry
(``admin.py``), the Prometheus counters (``metrics.py``).

Imports the ground floor, ``ivr.config`` (notify.yaml, the catalogue's sources) and
``ivr.db`` (the outbox rows, the tickets read). Must not import the tickets' service (it is
handed an :class:`OutboxNotices` through its ``TicketNotices`` interface), the web, the
records, the queue's client, the composition root or the console."""

from ivr.notify.messages import OutboxNotices, is_mobile

__all__ = ["OutboxNotices", "is_mobile"]
