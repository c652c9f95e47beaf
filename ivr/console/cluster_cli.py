"""``hotline cluster up|down|status``: the whole scale-out set on one machine (Redis Cluster,
PostgreSQL, two hotline servers, two Asterisk boxes, Kamailio; ``var/cluster/``,
:mod:`ivr.devtools.local_cluster`), and ``hotline cluster redis up|down|status``: a local
Redis Cluster alone (3 masters with a replica each, loopback ports, ``var/redis-cluster/``,
:mod:`ivr.devtools.redis_cluster`). ``up`` prints where each part runs and the
``HOTLINE_REDIS_URL`` (and ``HOTLINE_DATABASE_URL``) that point the hotline at it
(docs/scale-out.md). Registered by :mod:`ivr.cli`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from ivr.asterisk.errors import AsteriskError
from ivr.devtools.local_cluster import LocalCluster
from ivr.devtools.redis_cluster import ClusterError, LocalRedisCluster
from ivr.settings import Settings


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("cluster", help="a local cluster for development (docs/scale-out.md)")
    csub = p.add_subparsers(dest="cluster_part", required=True, metavar="PART")
    r = csub.add_parser("redis", help="Redis Cluster: 3 masters with a replica each")
    r.add_argument("action", choices=("up", "down", "status"))
    r.set_defaults(func=cmd_cluster_redis)
    for action, text in (
        (
            "up",
            "start the whole set on loopback (var/cluster/): Redis Cluster, PostgreSQL, "
            "two hotline servers, two Asterisk boxes, Kamailio",
        ),
        ("down", "stop every part of the set, in reverse order"),
        ("status", "every part of the set and whether it is up (exit 1 if one is down)"),
    ):
        a = csub.add_parser(action, help=text)
        a.set_defaults(func=cmd_cluster, action=action)


def local_cluster(settings: Settings) -> LocalCluster:
    return LocalCluster(
        settings.var_dir / "cluster",
        config_dir=settings.config_dir,
        recordings_dir=settings.recordings_dir,
    )


def cmd_cluster(args: argparse.Namespace, settings: Settings) -> int:
    cluster = local_cluster(settings)
    try:
        if args.action == "up":
            print("cluster: starting (an Asterisk root is built or copied the first time) ...")
            cluster.up()
            print("\n".join(cluster.summary()))
            return 0
        if args.action == "down":
            stopped = cluster.down()
            print(f"stopped: {', '.join(stopped)}" if stopped else "not running")
            return 0
    except (ClusterError, AsteriskError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"[HL-CLU-023] the local cluster did not start: {exc}", file=sys.stderr)
        return 1
    parts = cluster.status()
    for part in parts:
        print(part.line())
    return 0 if all(p.up for p in parts) else 1


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
