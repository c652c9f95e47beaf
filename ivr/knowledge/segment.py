"""Chinese text -> search terms, the same way for an entry and for a query.

The terms of a text are, in order of first appearance and each once:

- for every run of Chinese characters: jieba's words (``cut_for_search``: 城乡居民 and also
  城乡, 居民) and every pair of neighbouring characters (城乡 乡居 居民 民医 医保 保缴 缴费);
  a run of one character is that character;
- every run of latin letters or digits, in lower case (``12345``, ``0471``, ``app``).

Why both: jieba alone misses a word it cuts differently in the entry and in the query, and a
trigram index misses every two-character word (医保, 社保); the character pairs find any two
characters that stand side by side in the entry, whatever jieba made of them, and jieba's
words rank the entries where the query is a whole word above those where it only touches.

Full-width letters and digits count as their half-width selves (``１２３４５`` is ``12345``):
:func:`fold` maps each character on its own, so the folded text keeps the original's offsets
(the highlighter relies on that).

jieba loads its dictionary once, on first use (about half a second from its cache, a second
or two without), quietly: its "Building prefix dict" lines are not printed. The cache file is
written where :func:`use_cache_dir` says (the server's var directory), else in the system's
temporary directory, jieba's default.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from pathlib import Path

import jieba

#: Chinese characters: the unified ideographs and extension A
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
RUN = re.compile(f"[{CJK}]+|[a-z0-9]+")

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_cache_dir: Path | None = None


def use_cache_dir(directory: Path | None) -> None:
    """Keep jieba's dictionary cache in ``directory`` (made if missing); takes effect if
    jieba has not loaded yet."""
    global _cache_dir
    _cache_dir = directory


def tokenizer() -> jieba.Tokenizer:
    """jieba's tokenizer, its dictionary loaded once (thread-safe), without its log lines."""
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            made = jieba.Tokenizer()
            if _cache_dir is not None:
                _cache_dir.mkdir(parents=True, exist_ok=True)
                made.tmp_dir = str(_cache_dir)
            made.initialize()
            _tokenizer = made
        return _tokenizer


def _fold_char(c: str) -> str:
    folded = unicodedata.normalize("NFKC", c).lower()
    if len(folded) == 1:
        return folded
    lower = c.lower()
    return lower if len(lower) == 1 else c


def fold(text: str) -> str:
    """``text`` in lower case with full-width forms made half-width, one character for one."""
    return "".join(_fold_char(c) for c in text)


def _pairs(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """The search terms of ``text`` (see the module's docstring), each once, in order."""
    seen: dict[str, None] = {}
    for match in RUN.finditer(fold(text)):
        run = match.group()
        if run[0].isascii():
            seen.setdefault(run)
            continue
        for word in tokenizer().cut_for_search(run):
            if word and RUN.fullmatch(word):
                seen.setdefault(word)
        for pair in _pairs(run):
            seen.setdefault(pair)
    return list(seen)


def joined(text: str) -> str:
    """The terms of ``text`` space-joined: what the full-text index holds."""
    return " ".join(terms(text))
