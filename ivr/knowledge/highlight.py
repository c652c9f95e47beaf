"""Where a query's terms stand in an entry's text, and the snippet of the answer to show.

The spans are found in the folded text (:func:`ivr.knowledge.segment.fold`, which keeps the
offsets), so they mark the original text; overlapping and touching spans are merged (医保 and
保缴 and 缴费 mark 医保缴费 as one)."""

from __future__ import annotations

from collections.abc import Sequence

from ivr.knowledge.segment import fold

ELLIPSIS = "…"


def spans(text: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """The merged [start, end) spans of ``text`` where one of ``words`` (folded) stands."""
    folded = fold(text)
    found: list[tuple[int, int]] = []
    for word in words:
        start = folded.find(word)
        while start >= 0:
            found.append((start, start + len(word)))
            start = folded.find(word, start + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def snippet(
    text: str, words: Sequence[str], width: int = 80, before: int = 20
) -> tuple[str, list[tuple[int, int]]]:
    """At most ``width`` characters of ``text`` (one line), from a little ``before`` the first
    match (else from the start), with the spans of the matches in it."""
    flat = " ".join(text.split())
    marks = spans(flat, words)
    start = max(0, marks[0][0] - before) if marks else 0
    if len(flat) - start < width:
        start = max(0, len(flat) - width)
    end = min(len(flat), start + width)
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(flat) else ""
    shift = len(head) - start
    inside = [
        (max(a, start) + shift, min(b, end) + shift) for a, b in marks if a < end and b > start
    ]
    return head + flat[start:end] + tail, inside
