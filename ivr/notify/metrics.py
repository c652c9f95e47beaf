"""The outbox's Prometheus counters, this server's since it started (``GET /metrics`` adds
them to the queue's): messages sent, attempts that failed and will be retried, messages given
up, by kind (``sms``, ``reply``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry()
SENT = Counter("hotline_outbox_sent", "outbox messages sent", ["kind"], registry=REGISTRY)
RETRIED = Counter(
    "hotline_outbox_retried", "outbox attempts that failed, to be retried", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
FAILED = Counter(
    "hotline_outbox_failed", "outbox messages given up (failed)", ["kind"], registry=REGISTRY
)

for _kind in ("sms", "reply"):  # shown at 0 before the first message
    for _counter in (SENT, RETRIED, FAILED):
        _counter.labels(_kind)
