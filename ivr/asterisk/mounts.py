"""Mounts under the local Asterisk's root: finding them (``/proc/self/mountinfo``), making
them, unmounting them all, and deleting a tree only when nothing is mounted inside it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from ivr.asterisk.chroot import POLL_SECONDS, root_path, run_tool
from ivr.asterisk.errors import AsteriskMountError


def _unescape_mount(path: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as octal (\040 ...)
    out: list[str] = []
    i = 0
    while i < len(path):
        if path[i] == "\\" and i + 3 < len(path) and path[i + 1 : i + 4].isdigit():
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def mounts_under(root: Path) -> list[Path]:
    """Mount points below ``root``, deepest first (the order to unmount them in). ``root``
    itself may be a mount point of the admin's (its own disk, an overlay): that one is not
    ours to unmount."""
    root = root_path(root)
    found: list[Path] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5:
                continue
            point = Path(_unescape_mount(fields[4]))
            if root in point.parents:
                found.append(point)
    # deepest first; for the same point mounted twice, both entries are kept
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def mount(args: Sequence[str], target: Path) -> None:
    """``mount ARGS TARGET``; raise :class:`AsteriskMountError` if it fails."""
    proc = run_tool(["mount", *args, str(target)], check=False)
    if proc.returncode != 0:
        raise AsteriskMountError(
            f"mount {' '.join(args)} {target} failed: {(proc.stderr or proc.stdout).strip()}"
        )


def unmount_all(root: Path, *, timeout: float = 10.0) -> None:
    """Unmount everything under ``root`` (deepest first); raise if anything is left."""
    root = root_path(root)
    deadline = time.monotonic() + timeout
    while True:
        left = mounts_under(root)
        if not left:
            return
        errors: list[str] = []
        for point in left:
            proc = run_tool(["umount", str(point)], check=False)
            if proc.returncode != 0:
                errors.append(f"{point}: {(proc.stderr or proc.stdout).strip()}")
        if not mounts_under(root):
            return
        if time.monotonic() >= deadline:
            # Last resort: detach lazily so the host is left clean, then report.
            for point in mounts_under(root):
                run_tool(["umount", "-l", str(point)], check=False)
            left = mounts_under(root)
            if left:
                raise AsteriskMountError(
                    f"mounts left under {root}: {', '.join(map(str, left))}; "
                    f"errors: {'; '.join(errors)}"
                )
            raise AsteriskMountError(
                f"mounts under {root} were busy and had to be detached lazily (umount -l): "
                f"{'; '.join(errors)}"
            )
        time.sleep(POLL_SECONDS)


def rmtree_safely(path: Path) -> None:
    """Remove a directory tree, refusing if anything is mounted inside it."""
    left = mounts_under(path)
    if left:
        raise AsteriskMountError(
            f"refusing to delete {path}: still mounted inside: {', '.join(map(str, left))}"
        )
    shutil.rmtree(path)


# --------------------------------------------------------------------------------------------
