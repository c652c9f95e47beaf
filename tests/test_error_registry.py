"""docs/errors.md is the registry of the stable error ids (HL-<AREA>-<nnn>): every id the code
uses has exactly one row there, and every row is still used by the code."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "docs" / "errors.md"
SOURCE_TREES = ("ivr", "queueing", "agi_scripts", "asterisk_conf")

ID = re.compile(r"HL-[A-Z]+-[0-9A-Z]+")
ROW = re.compile(r"^\|\s*(HL-[A-Z]+-[0-9A-Z]+)\s*\|")


def used_ids() -> dict[str, list[str]]:
    """Each id found in the source trees -> where it is used (``path:line``)."""
    found: dict[str, list[str]] = {}
    for tree in SOURCE_TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            where = path.relative_to(ROOT).as_posix()
            for n, line in enumerate(text.splitlines(), 1):
                for code in ID.findall(line):
                    found.setdefault(code, []).append(f"{where}:{n}")
    return found


def documented_ids() -> list[str]:
    """The id of every table row of docs/errors.md, in order (duplicates kept)."""
    lines = REGISTRY.read_text(encoding="utf-8").splitlines()
    return [m.group(1) for line in lines if (m := ROW.match(line))]


def test_ids_are_found() -> None:
    assert len(used_ids()) > 50
    assert len(documented_ids()) > 50


def test_every_used_id_is_documented() -> None:
    documented = set(documented_ids())
    missing = {code: where for code, where in used_ids().items() if code not in documented}
    report = "\n".join(f"  {code}: used at {', '.join(missing[code])}" for code in sorted(missing))
    assert not missing, f"ids without a row in docs/errors.md:\n{report}"


def test_every_documented_id_is_used() -> None:
    used = used_ids()
    stale = sorted({code for code in documented_ids() if code not in used})
    assert not stale, f"rows of docs/errors.md for ids no code uses any more: {', '.join(stale)}"


def test_no_id_is_documented_twice() -> None:
    twice = sorted(code for code, n in Counter(documented_ids()).items() if n > 1)
    assert not twice, f"ids with more than one row in docs/errors.md: {', '.join(twice)}"


LEADING_ID = re.compile(r"^\[?(HL-[A-Z]+-[0-9A-Z]+)\]?[ :]")


def test_every_message_opens_with_its_id_in_one_format() -> None:
    """A message that names its id first (a log line, a refusal, a reload note) writes it
    one way, as the exceptions print it: ``[HL-AREA-NNN] what happened``."""
    import ast

    wrong = []
    for tree in ("ivr", "queueing"):
        for path in sorted((ROOT / tree).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                first = node.args[0]
                if isinstance(first, ast.JoinedStr) and first.values:
                    first = first.values[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                match = LEADING_ID.match(first.value)
                if match and not first.value.startswith(f"[{match.group(1)}] "):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    wrong.append(f"{where}: {first.value[:40]!r}")
    assert wrong == [], "write the id as [HL-AREA-NNN] first:\n" + "\n".join(wrong)
