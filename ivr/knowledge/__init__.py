"""The knowledge base (常用提示): common answers and department phone numbers, found in
Chinese as the operator types (docs/knowledge.md).

- ``segment.py``: text -> search terms (jieba words and character pairs, latin and digit
  tokens), the same for an entry and for a query;
- ``fulltext.py``: the full-text index by database (SQLite FTS5 with bm25, PostgreSQL
  tsvector with GIN and ts_rank);
- ``highlight.py``: where the query stands in an entry, the snippet to show;
- ``entry.py``: an entry, a draft, who acts, a hit; ``errors.py``: ``HL-KNO-nnn``;
- ``knowledge_base.py``: :class:`KnowledgeBase`, the propose / approve / reject / edit / retire flow
  with its audit rows, and search;
- ``seed.py``: the admin file ``config/knowledge.yaml``.

Imports only the ground floor (``ivr.errors``, ``ivr.config``) and the database
(``ivr.db``); it must not import the web, the console or cli, the accounts or the tickets.
"""

from ivr.knowledge.entry import DECIDERS, KINDS, STATES, Actor, Draft, Entry, Hit
from ivr.knowledge.errors import (
    EntryInvalid,
    EntryNotFound,
    EntryStateConflict,
    KnowledgeError,
    KnowledgeFileInvalid,
    KnowledgeForbidden,
)
from ivr.knowledge.knowledge_base import KnowledgeBase

__all__ = [
    "DECIDERS",
    "KINDS",
    "STATES",
    "Actor",
    "Draft",
    "Entry",
    "EntryInvalid",
    "EntryNotFound",
    "EntryStateConflict",
    "Hit",
    "KnowledgeBase",
    "KnowledgeError",
    "KnowledgeFileInvalid",
    "KnowledgeForbidden",
]
