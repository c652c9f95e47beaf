"""The shared part of config validation: the problem codes, the admin files, and how a
check reports a problem at its ``file:line:column`` (:class:`CheckerBase`).

The files are read by :mod:`ivr.config.validate_read`; the checks themselves:
:mod:`ivr.config.validate_menu` (menu.yaml), :mod:`ivr.config.validate_files` (lines,
departments, hours, accessibility, queue and agents); the entry point is
:func:`ivr.config.validate.validate_directory`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.config.models import DIAL_STRING_RE
from ivr.config.yamlpos import Located
from ivr.config.yamlpos import Path as YPath
from ivr.errors import Problem

YAML_SYNTAX = "HL-CFG-001"
FILE_MISSING = "HL-CFG-002"
DUPLICATE_KEY = "HL-CFG-003"
UNKNOWN_KEY = "HL-CFG-004"
WRONG_VALUE = "HL-CFG-005"
MISSING_KEY = "HL-CFG-006"
UNKNOWN_NODE = "HL-CFG-010"
UNKNOWN_PROMPT = "HL-CFG-011"
UNKNOWN_DEPARTMENT = "HL-CFG-012"
UNKNOWN_SCHEDULE = "HL-CFG-013"
UNKNOWN_EMERGENCY = "HL-CFG-014"
DUPLICATE_DTMF = "HL-CFG-020"
RESERVED_KEY = "HL-CFG-021"
AMBIGUOUS_KEY = "HL-CFG-022"
UNREACHABLE = "HL-CFG-030"
FALLBACK_NO_PERSON = "HL-CFG-031"
LOOP_NO_PERSON = "HL-CFG-032"
PROMPT_FILE_MISSING = "HL-CFG-040"
PROMPT_EMPTY = "HL-CFG-041"
DUPLICATE_NUMBER = "HL-CFG-050"
BAD_DIAL = "HL-CFG-060"
SUBCENTRE_NO_TRANSFER = "HL-CFG-061"
TRANSFER_TARGET = "HL-CFG-062"
BAD_TIME_RANGE = "HL-CFG-070"
BAD_TIMEZONE = "HL-CFG-071"
DUPLICATE_OVERRIDE = "HL-CFG-072"
DUPLICATE_AGENT = "HL-CFG-080"
UNKNOWN_SKILL = "HL-CFG-081"
BAD_INTERFACE = "HL-CFG-082"
DUPLICATE_SIP_USER = "HL-CFG-083"
BAD_OVERFLOW = "HL-CFG-084"

MENU = "menu"
LINES = "lines"
DEPARTMENTS = "departments"
HOURS = "hours"
ACCESSIBILITY = "accessibility"
QUEUE = "queue"
AGENTS = "agents"
PRIVACY = "privacy"
NOTIFY = "notify"


@dataclass
class Source:
    """One admin file: its display name, parsed data with positions, and model."""

    name: str
    located: Located = field(default_factory=lambda: Located(data=None))
    model: Any = None


def dotted(path: Iterable[object]) -> str:
    return ".".join(str(p) for p in path) or "(top)"


class CheckerBase:
    """What every check needs: the files read so far, and the problems found."""

    def __init__(self, directory: Path, recordings_dir: Path) -> None:
        self.directory = directory
        self.recordings_dir = recordings_dir
        self.problems: list[Problem] = []
        self.sources: dict[str, Source] = {}
        self.digest = hashlib.sha256()
        self.broken: dict[tuple[str, str], set[str]] = {}

    # -- reporting -----------------------------------------------------------------------

    def add(self, key: str, path: YPath, message: str, code: str, *, at_key: bool = False) -> None:
        src = self.sources[key]
        line, column = src.located.key_pos(path) if at_key else src.located.value_pos(path)
        self.problems.append(Problem(src.name, line, column, message, code))

    def where(self, key: str, path: YPath, *, at_key: bool = False) -> str:
        src = self.sources[key]
        line, column = src.located.key_pos(path) if at_key else src.located.value_pos(path)
        return f"{src.name}:{line}:{column}"

    def known(self, key: str, section: str, name: str, present: Container[str]) -> bool:
        """``name`` is defined, or defined but broken (and reported already)."""
        return name in present or name in self.broken.get((key, section), set())

    def check_dial(self, key: str, path: YPath, dial: str) -> None:
        if not DIAL_STRING_RE.match(dial):
            self.add(
                key,
                path,
                f"{dotted(path)}: {dial!r} is not an Asterisk dial string "
                "(TECH/resource, e.g. PJSIP/110@carrier)",
                BAD_DIAL,
            )
