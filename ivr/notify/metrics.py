"""The outbox's Prometheus counters, this server's since it started (``GET /metrics`` adds
them to the queue's): messages sent, attempts that failed and will be retried, messages given
up, by kind (``sms``, ``reply``); and the outbox as the database has it, for every server at
once (``hotline_outbox_messages{kind, state}``: alert on ``failed``, or on ``pending`` that
grows)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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


class OutboxGauge(Collector):
    """The rows of the outbox by kind and state (``claims.counts``), every state shown."""

    def __init__(self, counts: dict[tuple[str, str], int]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "hotline_outbox_messages", "outbox messages by kind and state", labels=["kind", "state"]
        )
        for kind in ("sms", "reply"):
            for state in ("pending", "sent", "failed"):
                gauge.add_metric([kind, state], self.counts.get((kind, state), 0))
        yield gauge
