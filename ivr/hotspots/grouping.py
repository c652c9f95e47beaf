"""Tickets into groups of similar content at the same place (热点诉求: from one case to one
class of cases, seed 002).

1. Each ticket is read into its place (:mod:`.address`) and the features of its content
   (:mod:`.words`: jieba's words less the common ones and its address, with the character
   pairs of the longer words).
2. Tickets are compared only within a block: the tickets naming one estate, one road, one
   street (a ticket naming several is in each), or naming only one district; tickets with
   no place at all are compared within their top-level category.
3. Two tickets of a block join when their contents are alike, the Dice coefficient of their
   feature sets (2·|A∩B| / (|A|+|B|)) at least ``similarity``, and they are at the same place
   (:func:`.address.same_place`). The coefficient is rapidfuzz's normalized Indel similarity
   (``rapidfuzz.process.cdist``, in C++, on both cores): each feature is one character of a
   string, in sorted order, so the longest common subsequence of two strings is the
   intersection of their sets and Indel's similarity is Dice.
4. Groups are the connected parts (single linkage: A like B and B like C groups all three);
   a group of ``min_tickets`` or more in the window is flagged.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import Indel
from rapidfuzz.process import cdist

from ivr.config.hotspot_rules import HotspotRules
from ivr.hotspots.address import Place, place_of, same_place
from ivr.hotspots.words import content_words

#: rows of one similarity matrix at a time (a block of 5,000 costs 1,000 x 5,000 floats)
CHUNK = 1000
#: the words a group shows
TOP_WORDS = 5


@dataclass(frozen=True)
class HotTicket:
    """What grouping needs of a ticket (and what a group lists)."""

    number: str
    accepted_at: dt.datetime
    category: str  # the catalogue path, housing.property
    category_top: str
    content: str
    address: str
    state: str = ""


@dataclass
class HotGroup:
    words: list[str]  # the words most of its tickets share, most shared first
    place: str  # the finest place most of its tickets name ("" if none)
    category_top: str  # the top-level category most of its tickets have
    tickets: list[HotTicket] = field(default_factory=list)  # oldest first
    flagged: bool = False

    @property
    def count(self) -> int:
        return len(self.tickets)


class _Links:
    """Union-find over ticket indices."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _blocks(places: Sequence[Place], tickets: Sequence[HotTicket]) -> dict[str, list[int]]:
    blocks: dict[str, list[int]] = {}
    for i, (place, t) in enumerate(zip(places, tickets, strict=True)):
        for key in place.keys or [f"c:{t.category_top}"]:
            blocks.setdefault(key, []).append(i)
    return blocks


def _alike(strings: list[str], cutoff: float) -> Iterable[tuple[int, int]]:
    """The pairs (i < j) of ``strings`` whose Indel similarity is at least ``cutoff``."""
    for start in range(0, len(strings), CHUNK):
        rows = strings[start : start + CHUNK]
        scores = cdist(
            rows, strings, scorer=Indel.normalized_similarity, score_cutoff=cutoff,
            dtype=np.float32, workers=-1,
        )  # fmt: skip
        for r, c in zip(*np.nonzero(scores >= cutoff), strict=True):
            i = start + int(r)
            if i < int(c):
                yield i, int(c)


def group_tickets(tickets: Sequence[HotTicket], rules: HotspotRules,
                  districts: Sequence[str] = ()) -> list[HotGroup]:  # fmt: skip
    """The groups of two or more tickets among ``tickets`` (all in one window), flagged
    ones first, then the larger, then the newer."""
    places = [place_of(t.address, districts) for t in tickets]
    words: list[frozenset[str]] = []
    strings: list[str] = []
    vocabulary: dict[str, str] = {}
    for t in tickets:
        kept, features = content_words(t.content, t.address)
        words.append(kept)
        # one character per feature, past the BMP's surrogates: ~1M distinct features
        strings.append("".join(sorted(vocabulary.setdefault(f, chr(0x10000 + len(vocabulary)))
                                      for f in features)))  # fmt: skip
    links = _Links(len(tickets))
    cutoff = rules.similarity - 1e-6  # float32 scores: 0.5 may come back as 0.49999997
    for members in _blocks(places, tickets).values():
        if len(members) < 2:
            continue
        for a, b in _alike([strings[i] for i in members], cutoff):
            i, j = members[a], members[b]
            if strings[i] and strings[j] and same_place(places[i], places[j]):
                links.join(i, j)
    parts: dict[int, list[int]] = {}
    for i in range(len(tickets)):
        parts.setdefault(links.find(i), []).append(i)
    groups = []
    for members in parts.values():
        if len(members) < 2:
            continue
        counted = Counter(w for i in members for w in words[i])
        # ties broken by the text, not by the set's order (which changes with each process)
        shared = sorted((w for w, n in counted.items() if n >= 2),
                        key=lambda w: (-counted[w], w))[:TOP_WORDS]  # fmt: skip
        labels = Counter(places[i].label for i in members if places[i].label)
        place = min(labels, key=lambda p: (-labels[p], -len(p), p)) if labels else ""
        tops = Counter(sorted(tickets[i].category_top for i in members))
        listed = sorted((tickets[i] for i in members), key=lambda t: (t.accepted_at, t.number))
        groups.append(
            HotGroup(
                words=shared,
                place=place,
                category_top=tops.most_common(1)[0][0],
                tickets=listed,
                flagged=len(members) >= rules.min_tickets,
            )
        )
    groups.sort(key=lambda g: (not g.flagged, -g.count, -g.tickets[-1].accepted_at.timestamp()))
    return groups
