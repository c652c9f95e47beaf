"""``hotline cluster redis up|down|status``: a local Redis Cluster (3 masters with a replica
each, loopback ports, ``var/redis-cluster/``) for development and tests of the scale-out
(docs/scale-out.md). ``up`` prints the ``HOTLINE_REDIS_URL`` that points the hotline at it.
Registered by :mod:`ivr.cli`; the cluster itself is :mod:`ivr.devtools.redis_cluster`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ivr.devtools.redis_cluster import ClusterError, LocalRedisCluster
from ivr.settings import Settings


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("cluster", help="a local cluster for development (docs/scale-out.md)")
    csub = p.add_subparsers(dest="cluster_part", required=True, metavar="PART")
    r = csub.add_parser("redis", help="Redis Cluster: 3 masters with a replica each")
    r.add_argument("action", choices=("up", "down", "status"))
    r.set_defaults(func=cmd_cluster_redis)


def cmd_cluster_redis(args: argparse.Namespace, settings: Settings) -> int:
    cluster = LocalRedisCluster(settings.var_dir / "redis-cluster")
    if args.action == "up":
        try:
            cluster.start()
        except ClusterError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"HOTLINE_REDIS_URL={cluster.url}")
        return 0
    if args.action == "down":
        was = cluster.running()
        cluster.stop()
        print("stopped" if was else "not running")
        return 0
    if not cluster.running():
        print("not running")
        return 3
    print(f"HOTLINE_REDIS_URL={cluster.url}")
    print("\n".join(cluster.status()))
    return 0 if cluster.healthy() else 1
