"""One item forwarded by an upper-level platform, as a file or the API gives it, and the errors
of reading items.

The fields (JSON keys; a CSV file's header names them the same, or in Chinese, see
:data:`CHINESE_HEADERS`): ``external_id`` (the platform's own id: with the source, what makes
an item the same item again), ``received_at`` (when the platform received it; ISO 8601, a time
without a zone is the centre's local time), ``phone``, ``name``, ``content``, ``address``,
``type`` and ``category`` (catalogue codes or names), ``confidential`` and an optional
``department`` (a hint: the department the platform names); ``source``, when an item names
it, must be the batch's."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ivr.errors import HotlineError

BAD_BATCH = "HL-IMP-001"  # the file or body cannot be read as items at all
BAD_ITEM = "HL-IMP-002"  # one item: a field missing or wrong
BAD_SOURCE = "HL-IMP-003"  # the source is not an upper-level platform of the catalogue
NOT_IN_CATALOGUE = "HL-IMP-004"  # one item: type, category or department unknown
TOO_LARGE = "HL-IMP-005"  # the API's body or item count over its limit


class IntakeError(HotlineError):
    """A batch refused whole: nothing of it was imported."""

    code = BAD_BATCH


class UnknownSource(IntakeError):
    code = BAD_SOURCE


class BatchTooLarge(IntakeError):
    code = TOO_LARGE
    status = 413


# the Chinese column names of a platform's export -> the field
CHINESE_HEADERS: dict[str, str] = {
    "来源": "source",
    "编号": "external_id",
    "外部编号": "external_id",
    "留言编号": "external_id",
    "收到时间": "received_at",
    "接收时间": "received_at",
    "留言时间": "received_at",
    "电话": "phone",
    "联系电话": "phone",
    "姓名": "name",
    "内容": "content",
    "诉求内容": "content",
    "留言内容": "content",
    "地址": "address",
    "类型": "type",
    "诉求类型": "type",
    "分类": "category",
    "诉求分类": "category",
    "保密": "confidential",
    "是否保密": "confidential",
    "承办单位": "department",
    "部门": "department",
}

_YES = {"1", "true", "yes", "y", "是", "保密"}
_NO = {"", "0", "false", "no", "n", "否", "不保密"}
EARLIEST, LATEST = dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1)
_SLASH_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})")


class IntakeItem(BaseModel):
    """One item as read; the catalogue look-ups (type, category, department) come after."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: str | None = Field(None, max_length=20, description="if given: the batch's source")
    external_id: str = Field(min_length=1, max_length=120, description="the platform's own id")
    received_at: dt.datetime = Field(
        description="when the platform received it (ISO 8601; no zone: the centre's time)"
    )
    phone: str = Field(pattern=r"^\+?[0-9][0-9 ()-]{2,38}$", description="the citizen's number")
    name: str = Field("", max_length=80)
    content: str = Field(min_length=1, max_length=20000)
    address: str = Field("", max_length=255)
    type: str = Field(min_length=1, max_length=40, description="a ticket type: code or name")
    category: str = Field(
        "", max_length=120, description="a catalogue category: path or name; empty: the default"
    )
    confidential: bool = False
    department: str = Field("", max_length=80, description="a hint: a department, code or name")

    @field_validator("received_at", mode="before")
    @classmethod
    def _slash_dates(cls, value: Any) -> Any:
        """``2020/02/03 08:30`` (as Chinese spreadsheets write dates) reads as ISO."""
        if isinstance(value, str):
            value = value.strip()
            m = _SLASH_DATE.match(value)
            if m:
                y, mo, d = m.groups()
                value = f"{y}-{int(mo):02d}-{int(d):02d}{value[m.end() :]}"
        return value

    @field_validator("source", mode="before")
    @classmethod
    def _no_source(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("confidential", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _YES:
                return True
            if word in _NO:
                return False
            raise ValueError("write 是 or 否 (or true / false, 1 / 0)")
        return value

    @field_validator("phone", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("external_id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("received_at")
    @classmethod
    def _plausible(cls, value: dt.datetime) -> dt.datetime:
        if not EARLIEST <= value.replace(tzinfo=None) <= LATEST:
            raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year}")
        return value

    def local_received(self, tz: dt.tzinfo) -> dt.datetime:
        """``received_at`` with a zone (the centre's when it had none)."""
        at = self.received_at
        return at.replace(tzinfo=tz) if at.tzinfo is None else at
