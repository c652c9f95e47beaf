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

from pathlib import Path

from ivr.config.bundle import ConfigBundle
from ivr.config.notify_models import NotifyFile
from ivr.config.validate import validate_directory
from ivr.config.yamlpos import UnreadableText, YamlSyntaxError, decode_text, load_text
from ivr.errors import ConfigError, Problem


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
    return result.bundle(directory, recordings)


def load_notify(directory: Path) -> NotifyFile:
    """``notify.yaml`` alone (the ticket commands' SMS and replies), its defaults when left
    out; raises ConfigError with the file's problems at their ``file:line:column``."""
    directory = Path(directory)
    path = directory / "notify.yaml"
    try:
        data = load_text(decode_text(path.read_bytes())).data or {}
        return NotifyFile.model_validate(data)
    except FileNotFoundError:
        return NotifyFile()
    except (OSError, ValueError, UnreadableText, YamlSyntaxError):
        pass  # told with its position by the whole check
    problems = [p for p in check_config(directory) if Path(p.file) == path]
    raise ConfigError(problems or [Problem(str(path), 1, 1, "cannot be read", "HL-CFG-001")])
