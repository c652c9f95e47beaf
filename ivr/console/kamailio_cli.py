"""``hotline kamailio-conf --out DIR``: the SIP front door's ``kamailio.cfg`` and
``dispatcher.list`` (:mod:`ivr.asterisk.kamailio`, docs/scale-out-sip.md), generated from the
admin config. Registered by :mod:`ivr.cli`.

The operators' SIP user names and passwords are those of agents.yaml, resolved as
``hotline asterisk up`` resolves them (``env:NAME``, ``file:/path``, else the development
password kept in ``var/asterisk-secrets.json``), so a phone registers with Kamailio with the
same account it would use on the box. The boxes come from ``--box host:port`` (repeatable),
else ``$HOTLINE_KAMAILIO_BOXES``. ``--ws-port`` (plain ws) and ``--wss-port`` with
``--wss-cert``/``--wss-key`` let the desks' browser phones register with Kamailio over a
WebSocket (:mod:`ivr.asterisk.kamailio_ws`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ivr.asterisk import conf, kamailio
from ivr.asterisk.errors import KamailioWriteError
from ivr.config.loader import load_config
from ivr.settings import Settings


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "kamailio-conf",
        help="write the Kamailio front door's kamailio.cfg and dispatcher.list "
        "(docs/scale-out-sip.md)",
    )
    p.add_argument("--out", required=True, type=Path, help="directory to write into")
    p.add_argument("--config", help="admin config directory (default: config/)")
    p.add_argument(
        "--box",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="an Asterisk box's SIP address (repeatable; default $HOTLINE_KAMAILIO_BOXES)",
    )
    p.add_argument(
        "--listen",
        default="0.0.0.0",
        help="Kamailio's address (default 0.0.0.0: needs --advertise)",
    )
    p.add_argument(
        "--advertise",
        default="",
        help="the address the boxes and phones reach Kamailio at, written into Via and "
        "Record-Route (required with a wildcard --listen)",
    )
    p.add_argument("--port", type=int, default=5060, help="Kamailio's UDP port (default 5060)")
    p.add_argument(
        "--ping-interval", type=int, default=10, help="seconds between OPTIONS probes of a box"
    )
    p.add_argument(
        "--run-dir",
        type=Path,
        help="Kamailio's control socket directory (default: Debian's /run/kamailio)",
    )
    p.add_argument(
        "--ws-port",
        type=int,
        default=0,
        help="take the browser phones' SIP over plain ws on this TCP port (development)",
    )
    p.add_argument(
        "--wss-port", type=int, default=0, help="take them over wss (TLS) on this TCP port"
    )
    p.add_argument("--wss-cert", default="", help="wss: the certificate (with its chain), absolute")
    p.add_argument("--wss-key", default="", help="wss: the private key, absolute path")
    p.add_argument("--ws-path", default="/ws", help="the WebSocket's HTTP path (default /ws)")
    p.set_defaults(func=cmd_kamailio_conf)


def cmd_kamailio_conf(args: argparse.Namespace, settings: Settings) -> int:
    config_dir = Path(args.config) if args.config else settings.config_dir
    bundle = load_config(config_dir, settings.recordings_dir)
    agents, source = conf.load_agents(bundle, settings.var_dir / conf.DEV_SECRETS_FILE, dev=True)
    boxes = tuple(args.box) or kamailio.boxes_from_env()
    out: Path = args.out
    opts = kamailio.KamailioOptions(
        boxes=boxes,
        listen=args.listen,
        advertise=args.advertise,
        port=args.port,
        ping_interval=max(1, args.ping_interval),
        agents=tuple(agents),
        run_dir=args.run_dir.resolve() if args.run_dir else None,
        ws=kamailio.KamailioWebSocket(
            port=args.ws_port,
            tls_port=args.wss_port,
            cert=args.wss_cert,
            key=args.wss_key,
            path=args.ws_path,
        ),
    )
    files = kamailio.generate(opts, out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = out / name
            # kamailio.cfg holds the operators' SIP passwords: owner and group only
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            os.fchmod(fd, 0o640)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {path}")
    except OSError as exc:
        raise KamailioWriteError(f"cannot write the Kamailio config into {out}: {exc}") from None
    where = [f"udp {opts.listen}:{opts.port}"]
    where += [f"ws {opts.listen}:{opts.ws.port}{opts.ws.path}"] if opts.ws.port else []
    where += [f"wss {opts.listen}:{opts.ws.tls_port}{opts.ws.path}"] if opts.ws.tls_port else []
    print(f"boxes: {', '.join(boxes)}; Kamailio on {', '.join(where)}")
    print(f"operators: {source}")
    print(f"check it: kamailio -c -f {out / kamailio.CONFIG_FILE}")
    return 0
