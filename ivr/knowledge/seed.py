"""The admin file of the knowledge base, ``config/knowledge.yaml``: entries an administrator
ships with the config, imported approved by ``hotline knowledge import`` (docs/knowledge.md).

    entries:
      - title: 城乡居民医保缴费
        department: medical_insurance      # a department code of the ticket catalogue
        tags: [医保, 缴费]
        body: 每年9月1日至12月31日缴纳次年的城乡居民医保……
      - title: 供水报修电话
        kind: phone
        department: water
        phone: 0471-6969110
        body: 停水、漏水、水压低……

A file that does not match is refused whole (``HL-KNO-005``, with the entry and field).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from ivr.config.models import Strict
from ivr.knowledge.entry import MAX_BODY, MAX_TITLE, Draft
from ivr.knowledge.errors import KnowledgeFileInvalid

KNOWLEDGE_FILE = "knowledge.yaml"


class KnowledgeItem(Strict):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    kind: Literal["answer", "phone"] = "answer"
    department: str | None = None
    phone: str | None = Field(None, max_length=40)
    tags: list[str] = Field(default_factory=list)


class KnowledgeFile(Strict):
    entries: list[KnowledgeItem] = Field(default_factory=list)


def _where(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ())) or "the file"
    return f"{loc}: {err.get('msg', 'invalid')}"


def read_knowledge_file(path: Path, departments: Collection[str] | None = None) -> list[Draft]:
    """The entries of ``path`` as drafts; ``departments``: the known department codes (each
    entry's department must be one)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KnowledgeFileInvalid(f"{path}: cannot be read ({exc})") from exc
    try:
        model = KnowledgeFile.model_validate(data or {})
    except ValidationError as exc:
        raise KnowledgeFileInvalid(f"{path}: {_where(exc)}") from exc
    drafts = []
    for n, item in enumerate(model.entries):
        if departments is not None and item.department and item.department not in departments:
            raise KnowledgeFileInvalid(
                f"{path}: entries.{n} ({item.title}): department {item.department!r} is not "
                "in the ticket catalogue"
            )
        if item.kind == "phone" and not item.phone:
            raise KnowledgeFileInvalid(f"{path}: entries.{n} ({item.title}): give its phone")
        drafts.append(
            Draft(item.title, item.body, item.kind, item.department, item.phone, tuple(item.tags))
        )
    return drafts
