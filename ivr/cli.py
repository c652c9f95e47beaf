"""``hotline``: the single entry point. Every subcommand has ``--help``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ivr import logfmt
from ivr.config.audio import PIECES_DIR, prompt_of
from ivr.config.catalogue import catalogue_warnings, check_catalogue
from ivr.config.loader import check_config, load_config
from ivr.config.quality import check_quality
from ivr.config.validate import validate_directory
from ivr.console import (
    asterisk_cli,
    backup_cli,
    cluster_cli,
    data_cli,
    hotspots_cli,
    import_cli,
    kamailio_cli,
    knowledge_cli,
    outbox_cli,
    purge_cli,
    queue_cli,
    users_cli,
)
from ivr.errors import ConfigError, HotlineError, Problem
from ivr.prompts import build_prompts
from ivr.settings import Settings

log = logging.getLogger("hotline")


def _config_dir(arg: str | None, settings: Settings) -> Path:
    return Path(arg) if arg else settings.config_dir


# --------------------------------------------------------------------------- check-config


def admin_problems(directory: Path, recordings: Path | None) -> list[Problem]:
    """Every problem in every admin file: the menu and lines, the ticket catalogue and the
    quality-check form."""
    found = [*check_config(directory, recordings), *check_catalogue(directory)]
    return sorted([*found, *check_quality(directory)])


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    directory = _config_dir(args.dir, settings)
    recordings = Path(args.recordings) if args.recordings else directory.parent / "recordings"
    checked = validate_directory(directory, recordings)  # read once: problems, then warnings
    problems = sorted([*checked.problems, *check_catalogue(directory), *check_quality(directory)])
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    warnings = [*checked.warnings, *catalogue_warnings(directory)]
    for warning in warnings:  # worth fixing, but the line runs
        print(f"warning: {warning}")
    if checked.timing is not None and args.verbose:
        worst = checked.timing.worst()
        if worst is not None:
            print(f"longest time to a person: line {worst.line}, {worst.path}: {worst.describe()}")
    warned = f" ({len(warnings)} warning(s))" if warnings else ""
    print(f"{directory}: OK{warned}")
    return 0


# --------------------------------------------------------------------------- serve

#: On a graceful stop, how long callers still in the menu may finish it (a caller who reaches
#: the queue meanwhile is handed back at once); then their sessions end and the dialplan takes
#: them to the next server.
MENU_GRACE_SECONDS = 15.0


async def _serve(
    settings: Settings,
    config_dir: Path,
    http_port: int | None = None,
    wait: bool = False,
    citizen_port: int | None = None,
) -> None:
    # lazy: the server's stack (aiohttp, SQLAlchemy, the ticket service) costs about 1.4 s of
    # CPU at start that every other `hotline` command would pay.
    from ivr.compose.root import start_server

    running = await start_server(settings, config_dir, http_port, wait, citizen_port)
    holder, server = running.holder, running.server
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[object]] = set()

    def reload() -> None:  # read and checked off the loop: no call waits on a reload
        task = asyncio.create_task(holder.reload_async())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    # What the start built (config, menu, SQLAlchemy, aiohttp: about 220,000 objects) lives
    # as long as the process: frozen out of the cyclic GC, whose full collections walked it
    # all about once per 1,000 calls (0.14 s each, issue 13). Refcounting still frees it.
    gc.collect()
    gc.freeze()
    http = f", HTTP on http://{settings.agi_host}:{http_port}/" if http_port is not None else ""
    if citizen_port is not None:
        http += f", citizens' pages on http://{settings.citizen_bind}:{citizen_port}/"
    print(
        f"hotline: FastAGI on agi://{settings.agi_host}:{server.port}/hotline{http}, "
        f"config {holder.current.version} from {config_dir}, redis {settings.redis_url}, "
        f"queue server id {running.queue.server}",
        flush=True,
    )
    # after the line above: whoever sees the pid file finds the server's line in its log
    running.announce()  # the pid file, and what `hotline asterisk reload` reads
    try:
        await stop.wait()
    finally:
        # Graceful stop: accept no more calls; waiting callers go back to the dialplan with
        # their places (the next server takes them), callers in the menu get a grace period,
        # callers with an operator or in the survey finish. A second signal: stop now.
        print("hotline: stopping, letting calls in progress finish", flush=True)
        running.stop_accepting()
        stop.clear()
        draining = asyncio.create_task(running.drain(MENU_GRACE_SECONDS))
        hurry = asyncio.create_task(stop.wait())
        await asyncio.wait({draining, hurry}, return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        drained = draining.done()
        if not drained:
            draining.cancel()
            print("hotline: second signal, ending the calls now", flush=True)
        await running.close(drained)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.host:
        settings = _replace(settings, agi_host=args.host)
    if args.port is not None:
        settings = _replace(settings, agi_port=args.port)
    if args.redis_url:
        settings = _replace(settings, redis_url=args.redis_url)
    try:
        config_dir = _config_dir(args.config, settings)
        citizen_port = args.citizen_port
        if citizen_port is None:
            citizen_port = settings.citizen_port
        asyncio.run(_serve(settings, config_dir, args.http_port, args.queue_wait, citizen_port))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _replace(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- reload


def cmd_reload(args: argparse.Namespace, settings: Settings) -> int:
    """Check the config first, then signal the server and wait for its verdict."""
    directory = _config_dir(args.config, settings)
    problems = admin_problems(directory, settings.recordings_dir)
    if problems:
        for problem in problems:
            print(problem)
        print("reload refused: the running config stays in place", file=sys.stderr)
        return 1
    try:
        pid = int(settings.pidfile.read_text())
    except (FileNotFoundError, ValueError):
        print(f"no running server (no pid in {settings.pidfile})", file=sys.stderr)
        return 2
    before = settings.reload_status.stat().st_mtime_ns if settings.reload_status.exists() else 0
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if settings.reload_status.exists() and settings.reload_status.stat().st_mtime_ns != before:
            status = json.loads(settings.reload_status.read_text())
            if status["ok"]:
                print(f"reloaded: config {status['version']} is running")
                for note in status.get("notes", []):
                    print(note)
                for name in status.get("prompts", []):
                    print(f"prompt rebuilt: {name}")
                for warning in status.get("warnings", []):
                    print(f"warning: {warning}")
                return 0
            print("reload refused by the server; still running", status["version"])
            for problem in status["problems"]:
                print(problem)
            return 1
        time.sleep(0.05)
    print("the server did not confirm the reload in time", file=sys.stderr)
    return 1


# --------------------------------------------------------------------------- call


def describe_route(variables: dict[str, str]) -> str:
    """Where a call ended up, from the variables the engine set on the channel."""
    route = variables.get("HOTLINE_ROUTE", "")
    if route == "queue" and variables.get("HOTLINE_AGENT"):
        return (
            f"operator {variables['HOTLINE_AGENT']} (skill {variables.get('HOTLINE_SKILL')}, "
            f"waited {variables.get('HOTLINE_QUEUE_WAIT', '?')} s)"
        )
    if route == "queue":
        return (
            f"operator queue, skill {variables.get('HOTLINE_SKILL')}, "
            f"priority {variables.get('HOTLINE_PRIORITY')}, "
            f"position {variables.get('HOTLINE_POSITION')}"
        )
    if route in ("emergency", "transfer", "subcentre"):
        return f"{route} transfer to {variables.get('HOTLINE_TRANSFER')}"
    if route == "callback":
        return "a callback, keeping the caller's place in the queue"
    if route == "message":
        return "a message, recorded for a ticket"
    return route or "no route set"


def cmd_call(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: the FastAGI stack and the fake Asterisk load for `hotline call` only, not for
    # `hotline --help` nor the other commands.
    from ivr.agi.simulator import simulate_call

    host = args.host or settings.agi_host
    port = args.port or settings.agi_port
    result = asyncio.run(
        simulate_call(
            host,
            port,
            to=args.to,
            caller=args.caller,
            digits=args.digits,
            caller_name=args.name,
            hangup_after=args.hangup_after,
            dial_status=args.dial_status,
        )
    )
    texts: dict[str, str] = {}
    with contextlib.suppress(HotlineError):
        bundle = load_config(_config_dir(args.config, settings), settings.recordings_dir)
        texts = {name: p.text or "" for name, p in bundle.menu.prompts.items()}
    print(f"call {args.caller} -> {args.to}, keys {args.digits!r}")
    for played in result.played:
        if f"/{PIECES_DIR}/" in played and not played.rsplit("/", 1)[-1].startswith("01"):
            continue  # the next piece of a prompt already shown
        name = prompt_of(played)
        print(f"  hears  {name}: {texts.get(name, '')}")
    for dialled in result.dialled:
        print(f"  dial   {dialled}")
    print(f"  ends   {describe_route(result.variables)} ({result.ended})")
    return 0


# --------------------------------------------------------------------------- prompts


def cmd_prompts_build(args: argparse.Namespace, settings: Settings) -> int:
    bundle = load_config(_config_dir(args.config, settings), settings.recordings_dir)
    report = build_prompts(bundle, force=args.force)
    for name in report.built:
        print(f"built {settings.recordings_dir / 'prompts' / name}.wav")
    print(report)
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="12345 citizen-service hotline: IVR, queue and tickets"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check-config", help="validate the admin config files")
    p.add_argument("dir", nargs="?", help="config directory (default: config/)")
    p.add_argument("--recordings", help="recordings directory (default: DIR/../recordings)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("serve", help="run the FastAGI server (reloads config on SIGHUP)")
    p.add_argument("--config", help="config directory")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 4573)")
    p.add_argument("--redis-url", help="Redis URL (default redis://127.0.0.1:6379/0)")
    p.add_argument(
        "--http-port", type=int, help="also serve the agent/metrics HTTP API on this port"
    )
    p.add_argument(
        "--citizen-port",
        type=int,
        help="also serve the citizens' pages (网上诉求: submit, look up) on this port, on "
        "HOTLINE_CITIZEN_BIND (default 127.0.0.1; HOTLINE_CITIZEN_PORT sets it too)",
    )
    p.add_argument(
        "--queue-wait",
        action="store_true",
        help="keep queued callers on the line (music, announcements) and dial the agent "
        "assigned; without it the call is handed to the dialplan once queued",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("reload", help="check the config, then make the running server reload it")
    p.add_argument("--config", help="config directory")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the verdict")
    p.set_defaults(func=cmd_reload)

    p = sub.add_parser("call", help="simulate a call against a running FastAGI server")
    p.add_argument("--to", default="12345", help="the dialled number")
    p.add_argument("--from", dest="caller", default="13800138000", help="the caller's number")
    p.add_argument("--name", default="", help="the caller's name")
    p.add_argument(
        "--digits", default="", help="keys pressed in turn; '.' stays silent through one wait"
    )
    p.add_argument("--hangup-after", type=int, help="hang up after this many commands")
    p.add_argument("--dial-status", default="ANSWER", help="DIALSTATUS for transfers")
    p.add_argument("--host", help="server address")
    p.add_argument("--port", type=int, help="server port")
    p.add_argument("--config", help="config directory, to print prompt texts")
    p.set_defaults(func=cmd_call)

    p = sub.add_parser("prompts", help="voice prompts")
    psub = p.add_subparsers(dest="prompts_command", required=True, metavar="ACTION")
    b = psub.add_parser("build", help="speak prompts without a studio recording (espeak-ng)")
    b.add_argument("--config", help="config directory")
    b.add_argument("--force", action="store_true", help="rebuild every generated prompt")
    b.set_defaults(func=cmd_prompts_build)

    queue_cli.register(sub)
    data_cli.register(sub)
    asterisk_cli.register(sub)
    kamailio_cli.register(sub)
    backup_cli.register(sub)
    users_cli.register(sub)
    knowledge_cli.register(sub)
    purge_cli.register(sub)
    outbox_cli.register(sub)
    hotspots_cli.register(sub)
    import_cli.register(sub)
    cluster_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logfmt.configure(logging.DEBUG if args.verbose else logging.INFO)  # 北京时间, with offset
    settings = Settings.from_env()
    try:
        return int(args.func(args, settings))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except HotlineError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
