"""Load the admin config directory into a :class:`~ivr.config.bundle.ConfigBundle`.

``load_config`` refuses the whole config when anything is wrong, listing every problem (see the
code table in :mod:`ivr.config.validate`); ``check_config`` only lists the problems, for a
``hotline check`` command or an admin UI.

``menu.yaml``, ``lines.yaml`` and ``departments.yaml`` are required; ``hours.yaml`` and
``accessibility.yaml`` may be left out and then take their defaults (no schedules, no
overrides; no priority callers). So may the operator queue's ``queue.yaml`` (default settings)
and ``agents.yaml`` (no agents).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ivr.config.bundle import ConfigBundle, normalize_number
from ivr.config.calendar import BusinessCalendar
from ivr.config.models import LineMode, LinesFile
from ivr.config.validate import validate_directory
from ivr.errors import ConfigError, Problem
from queueing.config import AgentsFile, QueueFile


def _recordings(directory: Path, recordings_dir: Path | None) -> Path:
    return recordings_dir if recordings_dir is not None else directory.parent / "recordings"


def check_config(directory: Path, recordings_dir: Path | None = None) -> list[Problem]:
    """Every problem in the config directory, sorted by file and position; empty when valid."""
    directory = Path(directory)
    return validate_directory(directory, _recordings(directory, recordings_dir)).problems


def load_config(directory: Path, recordings_dir: Path | None = None) -> ConfigBundle:
    """Load and validate the config in ``directory``.

    ``recordings_dir`` defaults to ``directory.parent / "recordings"``. The bundle's
    ``version`` is a short sha256 of the files' bytes, so two loads of the same files have
    the same version. Raises :class:`~ivr.errors.ConfigError` with all problems found.
    """
    directory = Path(directory)
    recordings = _recordings(directory, recordings_dir)
    result = validate_directory(directory, recordings)
    if result.problems:
        raise ConfigError(result.problems)
    assert result.menu is not None and result.lines is not None
    assert result.departments is not None and result.hours is not None
    assert result.accessibility is not None
    return ConfigBundle(
        directory=directory,
        recordings_dir=recordings,
        menu=result.menu,
        lines=result.lines,
        departments=result.departments,
        hours=result.hours,
        accessibility=result.accessibility,
        version=result.version,
        loaded_at=dt.datetime.now(dt.UTC),
        calendar=BusinessCalendar(result.hours),
        queue=(result.queue or QueueFile()).with_lines(parallel_lines(result.lines)),
        agents=result.agents or AgentsFile(),
    )


def parallel_lines(lines: LinesFile) -> dict[str, list[str]]:
    """Each parallel line's number -> all its numbers, normalized as calls are routed (the
    queue's default widening leaves these lines' callers with their own seats unless
    queue.yaml ``widen.parallel_lines`` lists them)."""
    area = lines.hotline.area_code
    return {
        normalize_number(line.number, area): sorted(
            {normalize_number(n, area) for n in (line.number, *line.aliases)}
            | {line.number, *line.aliases}
        )
        for line in lines.lines
        if line.mode is LineMode.PARALLEL
    }
