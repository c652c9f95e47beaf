"""Log lines as a person on duty reads them: the time in the centre's zone (``hours.yaml``
``timezone``, 北京时间 by default) with its offset, whatever the host's clock zone is:
``2026-12-04T07:40:00.123+08:00 WARNING hotline: ...``."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CentreTimeFormatter(logging.Formatter):
    """``%(asctime)s`` in :attr:`zone`, ISO 8601 with milliseconds and the offset."""

    def __init__(self, fmt: str = FORMAT, zone: str = DEFAULT_ZONE) -> None:
        super().__init__(fmt)
        self.zone = ZoneInfo(zone)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return dt.datetime.fromtimestamp(record.created, self.zone).isoformat(
            timespec="milliseconds"
        )


def configure(level: int, zone: str = DEFAULT_ZONE) -> None:
    """The process's logging: one stderr handler with :class:`CentreTimeFormatter`."""
    handler = logging.StreamHandler()
    handler.setFormatter(CentreTimeFormatter(zone=zone))
    logging.basicConfig(level=level, handlers=[handler])


def set_zone(zone: str) -> None:
    """Once the config is read: log in its zone (the root logger's handlers)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, CentreTimeFormatter):
            handler.formatter.zone = ZoneInfo(zone)
