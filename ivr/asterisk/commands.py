"""``hotline`` subcommands of this package, registered by :mod:`ivr.cli`."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands. Each sets ``func(args, settings) -> int``."""
