"""``hotline queue`` subcommands: the live queue and agent control from a shell.

``hotline queue status`` (per skill: waiting, longest wait, agents by state, today's figures),
``agents``, ``login AGENT [--ready]``, ``ready AGENT``, ``pause AGENT [--reason R]``,
``logout AGENT``. Agents are those of agents.yaml; ``--json`` prints the raw picture.

The command is the hotline's (it reads the admin config), so it lives in ``ivr`` and drives
:class:`queueing.queue.RedisQueue`; ``queueing`` imports nothing from here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.config.loader import load_config
from ivr.settings import Settings
from queueing.queue import QueueError, RedisQueue


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands. Each sets ``func(args, settings) -> int``."""
    p = sub.add_parser("queue", help="the operator queue: status and agent control")
    p.add_argument("--config", help="config directory")
    p.add_argument("--redis-url", help="Redis URL (default from HOTLINE_REDIS_URL)")
    qsub = p.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    s = qsub.add_parser("status", help="per skill: waiting, longest wait, agents, today")
    s.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    s.set_defaults(func=cmd_queue)
    s = qsub.add_parser("agents", help="logged-in agents and their state")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_queue)
    s = qsub.add_parser("login", help="log an agent of agents.yaml in (paused unless --ready)")
    s.add_argument("agent")
    s.add_argument("--ready", action="store_true")
    s.set_defaults(func=cmd_queue)
    for name, text in (("ready", "ready for calls"), ("logout", "log out")):
        s = qsub.add_parser(name, help=text)
        s.add_argument("agent")
        s.set_defaults(func=cmd_queue)
    s = qsub.add_parser("pause", help="pause (after the current call, if on one)")
    s.add_argument("agent")
    s.add_argument("--reason", default="pause")
    s.set_defaults(func=cmd_queue)


def cmd_queue(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    config_dir = Path(args.config) if args.config else settings.config_dir
    bundle = load_config(config_dir, settings.recordings_dir)
    queue = RedisQueue.from_url(args.redis_url or settings.redis_url, bundle.queue.settings)
    try:
        action = args.queue_command
        if action in ("status", "agents"):
            snap = await queue.snapshot()
            if args.json:
                print(json.dumps(snap if action == "status" else snap["agents"], indent=2,
                                 ensure_ascii=False))  # fmt: skip
            elif action == "status":
                _print_status(snap)
            else:
                _print_agents(snap["agents"])
            return 0
        agent = args.agent
        if action == "login":
            spec = bundle.agents.by_id().get(agent)
            if spec is None:
                print(f"[HL-QUE-030] agent {agent!r} is not in agents.yaml")
                return 1
            state = await queue.login(spec, ready=args.ready)
        elif action == "ready":
            state = await queue.ready(agent)
        elif action == "pause":
            state = await queue.pause(agent, args.reason)
        else:
            state = await queue.logout(agent)
        print(f"{agent}: {state}")
        return 0
    except QueueError as exc:
        print(exc)
        return 1
    except (RedisConnectionError, RedisTimeoutError) as exc:
        url = args.redis_url or settings.redis_url
        print(f"[HL-QUE-070] Redis at {redact(url)} is unreachable ({exc}): start redis-server, "
              "or point HOTLINE_REDIS_URL / --redis-url at the hotline's Redis")  # fmt: skip
        return 1
    finally:
        await queue.close()


def redact(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _print_status(snap: dict[str, Any]) -> None:
    print(f"{'skill':<20} {'wait':>5} {'longest':>8} {'staffed':>7} {'ready':>5}  "
          f"{'offered':>7} {'answered':>8} {'in SL':>5} {'aband.':>6} {'cb':>3}")  # fmt: skip
    for name, s in sorted(snap["skills"].items()):
        t = s["today"]
        print(
            f"{name:<20} {s['waiting']:>5} {s['longest_wait_ms'] / 1000:>7.0f}s "
            f"{s['staffed']:>7} {s['ready']:>5}  {t['offered']:>7} {t['answered']:>8} "
            f"{t['answered_in_sl']:>5} {t['abandoned']:>6} {t.get('callbacks', 0):>3}"
        )


def _print_agents(agents: list[dict[str, Any]]) -> None:
    for a in sorted(agents, key=lambda a: str(a["id"])):
        reason = f" ({a['reason']})" if a.get("reason") else ""
        call = f" call {a['call']}" if a.get("call") else ""
        print(f"{a['id']:<8} {a.get('name', ''):<8} {a['state']}{reason}{call}  {a['skills']}")
