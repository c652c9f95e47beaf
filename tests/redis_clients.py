"""Test clients for a Redis URL, single or cluster (``redis+cluster://``): the asyncio one is
the queue's own (:func:`queueing.client.redis_client`), the blocking one its twin."""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster

from queueing.client import cluster_nodes, is_cluster, redis_client

__all__ = ["redis_client", "sync_client"]


def sync_client(url: str, **kwargs: Any) -> redis.Redis:
    """A blocking client for ``url``: a RedisCluster for a cluster URL (typed as a plain
    client: it answers the same commands; FLUSHDB goes to every master)."""
    if is_cluster(url):
        nodes = [ClusterNode(h, p) for h, p in cluster_nodes(url)]
        client: Any = RedisCluster(startup_nodes=nodes, **kwargs)
        return client  # type: ignore[no-any-return]
    return redis.Redis.from_url(url, **kwargs)
