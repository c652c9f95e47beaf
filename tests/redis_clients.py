"""Test clients for a Redis URL, single or cluster (``redis+cluster://``): an asyncio one and
a blocking one, each a RedisCluster for a cluster URL (typed as a plain client: it answers
the same commands; FLUSHDB goes to every master)."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AioNode
from redis.asyncio.cluster import RedisCluster as AioCluster
from redis.cluster import ClusterNode, RedisCluster

from queueing.client import cluster_nodes, is_cluster


def redis_client(url: str, **kwargs: Any) -> aioredis.Redis:
    if is_cluster(url):
        nodes = [AioNode(h, p) for h, p in cluster_nodes(url)]
        client: Any = AioCluster(startup_nodes=nodes, **kwargs)
        return client  # type: ignore[no-any-return]
    return aioredis.Redis.from_url(url, **kwargs)


def sync_client(url: str, **kwargs: Any) -> redis.Redis:
    if is_cluster(url):
        nodes = [ClusterNode(h, p) for h, p in cluster_nodes(url)]
        client: Any = RedisCluster(startup_nodes=nodes, **kwargs)
        return client  # type: ignore[no-any-return]
    return redis.Redis.from_url(url, **kwargs)


def redis_db(url: str, n: int) -> str:
    """``url`` with database ``n`` (a test's own); a cluster has database 0 only: its URL as
    it is."""
    return url if is_cluster(url) else url.rsplit("/", 1)[0] + f"/{n}"
