"""A local Asterisk 22 in a chroot, for tests, transcript recording and development: the one
import for its callers (``hotline asterisk``, the end-to-end tests, tools and benchmarks).

This module only gathers the public names of the modules that do the work:

* :mod:`ivr.asterisk.chroot`: where the root lives (:func:`default_root`, :func:`project_dir`)
  and whether it is ready (:func:`is_ready`);
* :mod:`ivr.asterisk.provision`: building it (:func:`ensure_root`) and installing a config
  into it (:func:`install_config`, :data:`DEFAULT_MODULES`);
* :mod:`ivr.asterisk.mounts`: the mounts under it (:func:`mounts_under`);
* :mod:`ivr.asterisk.control`: running Asterisk in it (:func:`start`, :func:`stop`,
  :func:`rx`, :func:`status`), found by its pid in :mod:`ivr.asterisk.pids`
  (:data:`STATE_NAME`);
* :mod:`ivr.asterisk.pbx_reload`: reloading its config (:func:`reload_config`) and the problems
  its log got (:func:`log_offset`, :func:`log_problems`);
* :mod:`ivr.asterisk.errors`: what fails (the ``HL-AST`` ids).

Asterisk 22 is not packaged for Debian bookworm but sid has it, so we build a small Debian sid
root with ``debootstrap --variant=minbase --include=asterisk`` under a cache directory (default
``<project>/.cache/asterisk-root``, or ``$HOTLINE_ASTERISK_ROOT``) and run ``asterisk -f`` chrooted
into it. Everything here needs root (debootstrap, chroot, mount).

Typical use::

    root = default_root()
    ensure_root(root)                       # about a minute the first time, then a no-op
    install_config(root, Path("asterisk_conf"), {"extensions.conf": "..."})
    with start(root, [project_dir()]) as ast:   # project dir bind-mounted at the same path
        print(ast.rx("core show version"))
    # leaving the block runs stop(root): core stop now, wait, kill if needed, unmount all

The library keeps state in two files inside the root: a marker written only after the root was
built successfully (:data:`MARKER_NAME`) and a state file while Asterisk runs
(:data:`STATE_NAME`, with the pid and the mounts made). :func:`stop` and :func:`status` work
from another process (a CLI) too: they find Asterisk by its pid file and check that the
process really runs inside this root before signalling it.
"""

from __future__ import annotations

from ivr.asterisk.chroot import MARKER_NAME, default_root, is_ready, project_dir
from ivr.asterisk.control import AsteriskProcess, AsteriskStatus, rx, start, status, stop
from ivr.asterisk.errors import (
    AsteriskCommandError,
    AsteriskConfigError,
    AsteriskError,
    AsteriskMountError,
    AsteriskRootError,
    AsteriskStartError,
)
from ivr.asterisk.mounts import mounts_under
from ivr.asterisk.pbx_reload import log_offset, log_problems, reload_config
from ivr.asterisk.pids import STATE_NAME
from ivr.asterisk.provision import DEFAULT_MODULES, ensure_root, install_config

__all__ = [
    "DEFAULT_MODULES",
    "MARKER_NAME",
    "STATE_NAME",
    "AsteriskCommandError",
    "AsteriskConfigError",
    "AsteriskError",
    "AsteriskMountError",
    "AsteriskProcess",
    "AsteriskRootError",
    "AsteriskStartError",
    "AsteriskStatus",
    "default_root",
    "ensure_root",
    "install_config",
    "is_ready",
    "log_offset",
    "log_problems",
    "mounts_under",
    "project_dir",
    "reload_config",
    "rx",
    "start",
    "status",
    "stop",
]
