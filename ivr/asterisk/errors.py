"""The local Asterisk's errors (the ``HL-AST`` ids): building its root, starting it, its CLI,
mounts and the config installed into it."""

from __future__ import annotations

from ivr.errors import HotlineError

__all__ = [
    "AsteriskCommandError",
    "AsteriskConfigError",
    "AsteriskError",
    "AsteriskMountError",
    "AsteriskRootError",
    "AsteriskStartError",
    "KamailioConfigError",
    "KamailioWebSocketError",
    "KamailioWriteError",
]


class AsteriskError(HotlineError):
    """Something about the local Asterisk failed."""

    code = "HL-AST-000"


class AsteriskRootError(AsteriskError):
    """The chroot could not be built (debootstrap failed) or is not usable."""

    code = "HL-AST-001"


class AsteriskStartError(AsteriskError):
    """Asterisk did not start, or did not finish booting in time."""

    code = "HL-AST-002"


class AsteriskCommandError(AsteriskError):
    """``asterisk -rx`` failed (Asterisk not running, or the command timed out)."""

    code = "HL-AST-003"


class AsteriskMountError(AsteriskError):
    """Mounting or unmounting under the root failed, or mounts were left behind."""

    code = "HL-AST-004"


class AsteriskConfigError(AsteriskError):
    """The config to install is invalid (bad file name, module missing from the package)."""

    code = "HL-AST-005"


class KamailioConfigError(AsteriskConfigError):
    """The Kamailio front door's config cannot be generated: no Asterisk box, a box that is
    not ``host:port``, a bad port, a wildcard listen address without one to advertise, a SIP
    user name or password Kamailio cannot take."""

    code = "HL-KAM-001"


class KamailioWriteError(AsteriskError):
    """``hotline kamailio-conf`` could not write into its ``--out`` directory."""

    code = "HL-KAM-002"


class KamailioWebSocketError(KamailioConfigError):
    """The browser phones' WebSocket on Kamailio is wrongly asked for: ``wss`` without an
    absolute certificate or key path, a bad port or path, or the UDP port taken twice."""

    code = "HL-KAM-003"
