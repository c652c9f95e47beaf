"""``hotline asterisk-conf`` and ``hotline asterisk ...``, registered by :mod:`ivr.cli`.

* ``hotline asterisk-conf [--out DIR]``: write the Asterisk config (static ``asterisk_conf/``
  files and the parts generated from the admin config) for an Asterisk of your own.
* ``hotline asterisk up | down | status | reload``: the local Asterisk 22 (a Debian sid chroot
  under ``.cache/asterisk-root``, see :mod:`ivr.asterisk.local`) with that config, on loopback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr import runinfo
from ivr.asterisk import conf, local
from ivr.asterisk.chroot import held_by_a_session
from ivr.config.loader import load_config
from ivr.settings import Settings
from queueing.ami import SECRET_FILE

#: where ``hotline asterisk-conf`` writes by default, under the var directory
CONF_OUT = "asterisk"
SECRETS = conf.DEV_SECRETS_FILE


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands. Each sets ``func(args, settings) -> int``."""
    p = sub.add_parser(
        "asterisk-conf",
        help="write the Asterisk 22 config: asterisk_conf/ plus the parts generated "
        "from the admin config",
    )
    _conf_options(p, sip_bind="0.0.0.0")
    p.add_argument("--out", help="directory to write into (default: var/asterisk)")
    p.add_argument(
        "--generated-only",
        action="store_true",
        help="write only the generated files, not the static ones from asterisk_conf/",
    )
    p.set_defaults(func=cmd_asterisk_conf)

    p = sub.add_parser("asterisk", help="the local Asterisk 22 (chroot) for development and tests")
    asub = p.add_subparsers(dest="asterisk_command", required=True, metavar="ACTION")
    up = asub.add_parser(
        "up",
        help="build or reuse the Asterisk root, install the config, start on loopback "
        "(reload the config if it runs already)",
    )
    _conf_options(up, sip_bind="127.0.0.1")
    up.add_argument("--root", type=Path, help="the Asterisk root (default .cache/asterisk-root)")
    up.set_defaults(func=cmd_asterisk_up)
    reload = asub.add_parser("reload", help="install the regenerated config and reload it")
    _conf_options(reload, sip_bind="127.0.0.1")
    reload.add_argument("--root", type=Path, help="the Asterisk root")
    reload.set_defaults(func=cmd_asterisk_reload)
    down = asub.add_parser("down", help="stop the local Asterisk and unmount everything")
    down.add_argument("--root", type=Path, help="the Asterisk root")
    down.set_defaults(func=cmd_asterisk_down)
    status = asub.add_parser("status", help="whether the local Asterisk runs, and its channels")
    status.add_argument("--root", type=Path, help="the Asterisk root")
    status.set_defaults(func=cmd_asterisk_status)


def _conf_options(p: argparse.ArgumentParser, *, sip_bind: str) -> None:
    p.add_argument("--config", help="admin config directory (default: config/)")
    p.add_argument(
        "--agi",
        action="append",
        default=[],
        metavar="URL",
        help="FastAGI URL, tried in the order given (repeatable; default $HOTLINE_AGI_URLS "
        "or agi://HOTLINE_AGI_HOST:HOTLINE_AGI_PORT/hotline)",
    )
    p.add_argument(
        "--sip-bind",
        default=os.environ.get("HOTLINE_SIP_BIND", sip_bind),
        help=f"SIP UDP bind address (default {sip_bind})",
    )
    p.add_argument(
        "--sip-port",
        type=int,
        default=int(os.environ.get("HOTLINE_SIP_PORT", "5060")),
        help="SIP UDP port (default $HOTLINE_SIP_PORT or 5060)",
    )
    p.add_argument(
        "--carrier-match",
        action="append",
        default=[],
        metavar="ADDR",
        help="address or network the carrier's gateway sends from (repeatable; default 127.0.0.1)",
    )
    p.add_argument(
        "--carrier-contact",
        default=os.environ.get("HOTLINE_CARRIER_CONTACT", ""),
        metavar="URI",
        help="where transfers to the carrier go, e.g. sip:192.0.2.10:5060",
    )
    p.add_argument(
        "--kamailio",
        default=os.environ.get("HOTLINE_KAMAILIO", ""),
        metavar="URI",
        help="the Kamailio front door this box stands behind, sip:host:port (default "
        "$HOTLINE_KAMAILIO; docs/scale-out-sip.md)",
    )
    p.add_argument(
        "--no-process-agi",
        action="store_true",
        help="leave out the process AGI layer (the dialplan goes from FastAGI to the queue)",
    )


@dataclass
class Built:
    files: dict[str, str]
    opts: conf.ConfOptions
    summary: str
    source: str = ""  # which hotline server the dialplan was generated for, and why


def build(args: argparse.Namespace, settings: Settings, *, dev: bool, static: bool = True) -> Built:
    """The whole config for these options: static files (if ``static``) plus generated."""
    config_dir = Path(args.config) if args.config else settings.config_dir
    bundle = load_config(config_dir, settings.recordings_dir)
    secrets_file = settings.var_dir / SECRETS
    agents, source = conf.load_agents(bundle, secrets_file, dev=dev)
    settings, agi_urls, used = _target(args, settings)
    opts = conf.ConfOptions(
        agi_urls=agi_urls,
        sip_bind=args.sip_bind,
        sip_port=args.sip_port,
        carrier_match=tuple(args.carrier_match) or ("127.0.0.1",),
        carrier_contact=args.carrier_contact,
        process_agi=None if args.no_process_agi else conf.process_agi_for(settings, config_dir),
        moh_dir=Path(settings.for_asterisk(str(settings.recordings_dir.resolve() / "moh"))),
        agents=tuple(agents),
        agents_source=source,
        dev_caller_password=conf.dev_caller_password(secrets_file) if dev else None,
        ami=conf.ami_user(bundle.queue.dialler, settings.var_dir),
        websocket=conf.websocket_from_env(),  # the browser phones (docs/webrtc.md)
        kamailio=args.kamailio,  # the SIP front door (docs/scale-out-sip.md)
    )
    files = conf.static_files() if static else {}
    files.update(conf.generate(bundle, opts))
    return Built(files, opts, conf.numbers_summary(bundle), used)


def _target(args: argparse.Namespace, settings: Settings) -> tuple[Settings, tuple[str, ...], str]:
    """The FastAGI URLs (and the Redis of the process-AGI layer) to generate for: ``--agi``,
    else ``$HOTLINE_AGI_URLS``, else the hotline server running from this var directory
    (var/server.json), else this shell's ``HOTLINE_AGI_HOST``/``PORT``; and a line saying
    which."""
    if args.agi:
        return settings, tuple(args.agi), "FastAGI from --agi"
    if os.environ.get("HOTLINE_AGI_URLS"):
        return settings, conf.default_agi_urls(settings), "FastAGI from $HOTLINE_AGI_URLS"
    running = runinfo.read(settings)
    if running is not None:
        settings = dataclasses.replace(settings, redis_url=running.redis_url)
        return (
            settings,
            (running.agi_url,),
            f"FastAGI and Redis of the hotline server running as pid {running.pid} "
            f"({runinfo.path(settings)})",
        )
    return (
        settings,
        conf.default_agi_urls(settings),
        "FastAGI from this shell's HOTLINE_AGI_HOST/HOTLINE_AGI_PORT (no hotline server runs "
        f"from {settings.var_dir})",
    )


def cmd_asterisk_conf(args: argparse.Namespace, settings: Settings) -> int:
    built = build(args, settings, dev=False, static=not args.generated_only)
    out = Path(args.out) if args.out else settings.var_dir / CONF_OUT
    for path in conf.write(out, built.files):
        print(f"wrote {path}")
    print(f"FastAGI: {', '.join(built.opts.agi_urls)}; {built.opts.agents_source}")
    print(f"generated for: {built.source}")
    print(ami_note(built, settings))
    return 0


def ami_note(built: Built, settings: Settings) -> str:
    """Where the callback dialler's AMI is, and where its secret comes from."""
    ami = built.opts.ami
    if ami is None:
        return "AMI: off (queue.yaml dialler.enabled is false: no callbacks are dialled)"
    source = settings.var_dir / SECRET_FILE
    return (
        f"AMI: {ami.bind}:{ami.port}, user {ami.username} for the callback dialler; secret from "
        f"the queue.yaml dialler.secret, else {source} (mode 0600, read by `hotline serve`)"
    )


def _root(args: argparse.Namespace, *, change: bool = True) -> Path:
    root = Path(args.root) if getattr(args, "root", None) else local.default_root()
    if change and held_by_a_session(root):
        raise local.AsteriskError(
            f"{root} is in use by an end-to-end test session ({root}.lock is held); "
            "wait for it to finish, or use --root"
        )
    return root


def bind_mounts(settings: Settings, config_dir: Path | None = None) -> list[Path]:
    """What the chroot must see at the same path: the project (prompts, the process script,
    its virtualenv), the Python installation the virtualenv uses (unless it is the system's),
    and the config, recordings and var directories when they live elsewhere."""
    wanted = [
        local.project_dir(),
        Path(sys.base_prefix).resolve(),
        Path(config_dir or settings.config_dir).resolve(),
        settings.recordings_dir.resolve(),
        settings.var_dir.resolve(),
    ]
    out: list[Path] = []
    for path in wanted:
        if path == Path("/") or path.parts[:2] in (("/", "usr"), ("/", "proc"), ("/", "dev")):
            continue  # the system Python lives in /usr: it cannot be shared with the chroot
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        if any(path == o or o in path.parents for o in out):
            continue
        out = [o for o in out if path not in o.parents]
        out.append(path)
    return out


def install(root: Path, built: Built, *, modules: list[str] | None = None) -> list[str]:
    """Install the config into the root (``/etc/asterisk``), checking the module list."""
    return local.install_config(root, None, built.files, modules=modules or conf.static_modules())


def cmd_asterisk_up(args: argparse.Namespace, settings: Settings) -> int:
    root = _root(args)
    built = build(args, settings, dev=True)
    if built.opts.moh_dir is not None:
        conf.ensure_moh(built.opts.moh_dir)
    print(f"asterisk: root {root} (building it the first time takes about a minute) ...")
    local.ensure_root(root)
    install(root, built)
    st = local.status(root)
    if st.running:
        problems = local.reload_config(root)
        print(f"asterisk: already running (pid {st.pid}); config reloaded")
        for line in problems:
            print(f"  {line}")
    else:
        config_dir = Path(args.config) if args.config else None
        ast = local.start(root, bind_mounts(settings, config_dir))
        print(f"asterisk: {ast.version()}")
        print(f"asterisk: running (pid {ast.pid}), log {ast.log_path}")
    print(softphone_help(built))
    print(f"asterisk: dialplan generated for {built.source}")
    print(ami_note(built, settings))
    return 0


def softphone_help(built: Built) -> str:
    o = built.opts
    server = f"{'127.0.0.1' if o.sip_bind in ('0.0.0.0', '') else o.sip_bind}:{o.sip_port}"
    lines = [
        f"SIP: udp {server}; inbound calls go to {', '.join(o.agi_urls)}, then the process "
        f"AGI script, then queue {conf.STATIC_QUEUE}.",
        "Register a softphone (Linphone, MicroSIP, baresip ...) on this machine, UDP, "
        "DTMF RFC 2833:",
    ]
    if o.dev_caller_password is not None:
        lines.append(
            f"  as a citizen:  user {conf.DEV_CALLER}  password {o.dev_caller_password}  "
            f"domain {server}"
        )
    phones = [a for a in o.agents if a.endpoint]
    for agent in phones[:10]:
        lines.append(
            f"  as operator {agent.name} ({agent.agent_id}): user {agent.endpoint}  "
            f"password {agent.password}  domain {server}"
        )
    if len(phones) > 10:
        lines.append(f"  ... {len(phones) - 10} more operators (passwords: agents.yaml sip.secret)")
    if not phones:
        lines.append(f"  operators: {o.agents_source}")
    if o.kamailio:
        lines.append(
            f"Behind Kamailio ({o.kamailio}): operators' phones register there, and citizens "
            "call there, not here (docs/scale-out-sip.md)."
        )
    lines.append(f"Then dial {built.summary}, or any other number (served as 12345).")
    ws = o.websocket
    if ws is not None and ws.bind and any(a.webrtc for a in o.agents):
        lines.append(
            f"Browser phones (docs/webrtc.md): the desk registers them over "
            f"ws://{ws.bind}:{ws.port}/ws (choose 浏览器 browser on /desk, then Ready)."
        )
    return "\n".join(lines)


def cmd_asterisk_reload(args: argparse.Namespace, settings: Settings) -> int:
    root = _root(args)
    built = build(args, settings, dev=True)
    install(root, built)
    if not local.status(root).running:
        print("asterisk: not running; the config is installed for the next `hotline asterisk up`")
        return 0
    problems = local.reload_config(root)
    for line in problems:
        print(line)
    print("asterisk: config reloaded" + (f" with {len(problems)} problem(s)" if problems else ""))
    print(f"asterisk: FastAGI {', '.join(built.opts.agi_urls)}: {built.source}")
    return 1 if problems else 0


def cmd_asterisk_down(args: argparse.Namespace, settings: Settings) -> int:
    root = _root(args)
    was = local.status(root)
    local.stop(root)
    print(f"asterisk: {'stopped' if was.running else 'was not running'}; no mounts left")
    return 0


def cmd_asterisk_status(args: argparse.Namespace, settings: Settings) -> int:
    st = local.status(_root(args, change=False))
    print(f"root      {st.root} ({'ready' if st.ready else 'not built'})")
    print(f"running   {'yes, pid ' + str(st.pid) if st.running else 'no'}")
    if st.running:
        print(f"version   {st.version or '?'}")
        print(f"booted    {'yes' if st.fully_booted else 'no'}")
        try:
            channels = local.rx(st.root, "core show channels count").strip()
            print(f"channels  {' / '.join(channels.splitlines())}")
        except local.AsteriskCommandError as exc:
            print(f"channels  ? ({exc})")
    print(f"mounts    {', '.join(map(str, st.mounts)) or 'none'}")
    if st.log_path:
        print(f"log       {st.log_path}")
    return 0 if st.running else 3
