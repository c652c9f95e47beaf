"""A recording's file as a call row names it (relative to the recordings root), found only
inside that root: an absolute path, ``..`` or a symlink leading out of it is refused
(:class:`OutsideRecordings`), so that neither the playback route nor the purge ever reads or
deletes a file elsewhere."""

from __future__ import annotations

from pathlib import Path

from ivr.errors import HotlineError

#: the suffix a stored path without one is tried with (Asterisk's RECORD FILE adds it)
DEFAULT_SUFFIX = ".wav"


class OutsideRecordings(HotlineError):
    """A stored recording path leads out of the recordings root."""

    code = "HL-PRV-004"


def recording_file(root: Path, stored: str) -> Path | None:
    """The file of ``stored`` under ``root`` (symlinks resolved), or None when there is none
    (a stored path without a suffix is also tried with ``.wav``). Raises
    :class:`OutsideRecordings` for a path that resolves outside ``root``."""
    base = root.resolve()
    candidates = [stored]
    if stored and not Path(stored).suffix:
        candidates.append(stored + DEFAULT_SUFFIX)
    for name in candidates:
        if not name or "\0" in name:
            raise OutsideRecordings(f"recording path {name!r} is not a file name")
        path = (base / name).resolve()
        if not path.is_relative_to(base) or path == base:
            raise OutsideRecordings(f"recording path {stored!r} leads outside {base}: refused")
        if path.is_file():
            return path
    return None
