"""The 15-second rule, computed: how long a caller can wait before a free operator can take
the call, on every line and every path that leads to a person.

The model (:mod:`ivr.engine.menu`, :mod:`ivr.engine.place`): a caller is placed in the
operator queue when the call is answered. The must-hear prompts play first, to their end: the
line's announcement (a merged line's ``line_moved`` by default), then ``settings.notice``.
Then the menu plays in pieces (``hotline prompts build`` cuts every prompt into pieces of at
most 2 s); before each piece, and each second of a digit wait (the waiter's
``wait_chunk_seconds`` once queued), the engine looks for a free operator. So the longest time
from the answer to the first moment a free operator can take the call is

    sum of the must-hear prompts + the longest piece that may play after them + one step.

Paths to a person: pressing nothing; each chain of menu keys that ends in a queue node
(``0``, wrong keys twice, ``*9`` then nothing, a key that picks a skill...); the accessibility
route (straight to the queue after the must-hear prompts); a line without a menu. A lookup, a
message or a transfer is self-service (the caller leaves the queue) and ends a path. A
sub-centre line rings another centre: it is reported apart (the seconds before its transfer).

Durations come from the prompt files as built; a generated prompt not built from its present
text yet is estimated from its text (and flagged), so ``check-config`` can judge a menu before
``hotline prompts build``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ivr.config.audio import MAX_PIECE_SECONDS, audio_seconds, current_pieces
from ivr.config.bundle import ConfigBundle
from ivr.config.models import (
    HoursNode,
    Line,
    LineMode,
    MenuNode,
    PlayNode,
    QueueNode,
)

#: the national rule: a person within 15 s of the answer
LIMIT_SECONDS = 15.0
#: a merged line's "your number has moved" notice may take this long
ANNOUNCEMENT_LIMIT_SECONDS = 5.0
#: the engine checks for a free operator at least this often while it waits for a key
STEP_SECONDS = 1.0
#: estimating a prompt not built yet from its text (espeak-ng at the rate of ivr.prompts,
#: measured): a fixed part, each syllable, each pause at a punctuation mark
EST_BASE, EST_SYLLABLE, EST_PAUSE = 0.5, 0.2, 0.35
MAX_DEPTH = 12


@dataclass(frozen=True)
class PromptTime:
    name: str
    seconds: float
    longest_piece: float
    estimated: bool  # from the text: not built (or built from another text)


@dataclass(frozen=True)
class PathTime:
    """One path to a person on one line."""

    line: str  # the dialled number: 12345, or the line's number
    line_name: str
    path: str  # "nothing pressed", "keys 4", "keys 1 2", "wrong keys", "accessibility" ...
    must_hear: tuple[str, ...]
    must_hear_seconds: float
    piece_prompt: str  # the prompt with the longest piece after the must-hear ones ("" none)
    piece_seconds: float
    step_seconds: float
    estimated: tuple[str, ...] = ()  # prompts whose length is estimated from their text
    line_index: int | None = None  # index in lines.yaml ``lines``; None for 12345 itself

    @property
    def seconds(self) -> float:
        return self.must_hear_seconds + self.piece_seconds + self.step_seconds

    def describe(self) -> str:
        parts = [f"{' + '.join(self.must_hear) or 'no notice'} {self.must_hear_seconds:.1f} s"]
        if self.piece_prompt:
            parts.append(f"a piece of {self.piece_prompt} {self.piece_seconds:.1f} s")
        parts.append(f"a step {self.step_seconds:.0f} s")
        est = f"; estimated from the text: {', '.join(self.estimated)}" if self.estimated else ""
        return f"{self.seconds:.1f} s ({' + '.join(parts)}{est})"


@dataclass(frozen=True)
class SubcentreTime:
    """A sub-centre line: another centre answers after the transfer."""

    line: str
    line_name: str
    line_index: int
    before_transfer_seconds: float  # the line's announcement, played before the transfer
    ring_seconds: float = 30.0


@dataclass
class Timing:
    paths: list[PathTime] = field(default_factory=list)
    subcentres: list[SubcentreTime] = field(default_factory=list)

    def worst(self) -> PathTime | None:
        return max(self.paths, key=lambda p: p.seconds, default=None)

    def over(self, limit: float = LIMIT_SECONDS) -> list[PathTime]:
        return [p for p in self.paths if p.seconds > limit + 1e-9]


def estimate_seconds(text: str) -> float:
    """How long espeak-ng takes to say ``text`` at the rate of :mod:`ivr.prompts`, roughly."""
    digits = sum(len(m) if len(m) >= 3 else 1 for m in re.findall(r"\d+", text))
    syllables = len(re.findall(r"[\u3400-\u9fff]", text)) + digits
    pauses = len(re.findall(r"[，。；：、！？,.;:!?]", text.rstrip("。.!！?？ ")))
    return EST_BASE + EST_SYLLABLE * syllables + EST_PAUSE * pauses


def prompt_time(bundle: ConfigBundle, name: str) -> PromptTime:
    """A prompt's length and its longest piece, from the built files where they are current."""
    source = bundle.prompt_source(name)
    seconds = audio_seconds(source) if source is not None else None
    if seconds is not None and bundle.prompt_current(name):
        assert source is not None
        pieces = current_pieces(bundle.recordings_dir, name, source)
        lengths = [audio_seconds(p) for p in pieces]
        longest = max((s for s in lengths if s is not None), default=seconds)
        return PromptTime(name, seconds, longest, False)
    estimate = estimate_seconds(bundle.prompt_text(name))
    return PromptTime(name, estimate, min(estimate, MAX_PIECE_SECONDS), True)


class _Walker:
    def __init__(self, bundle: ConfigBundle) -> None:
        self.bundle = bundle
        self.menu = bundle.menu
        self.settings = bundle.menu.settings
        self._times: dict[str, PromptTime] = {}
        self.step = max(STEP_SECONDS, bundle.queue.settings.wait_chunk_seconds)

    def time(self, name: str) -> PromptTime:
        if name not in self._times:
            self._times[name] = prompt_time(self.bundle, name)
        return self._times[name]

    def paths(self, start: str) -> Iterator[tuple[str, frozenset[str]]]:
        """Every path from ``start`` to a queue node: (label, prompts played on the way)."""
        yield from self._walk(start, (), frozenset(), frozenset(), 0)

    def _walk(
        self,
        node_id: str,
        label: tuple[str, ...],
        prompts: frozenset[str],
        seen: frozenset[str],
        depth: int,
    ) -> Iterator[tuple[str, frozenset[str]]]:
        node = self.menu.nodes.get(node_id)
        if node is None or node_id in seen or depth > MAX_DEPTH:
            return
        seen = seen | {node_id}
        prompts = prompts | set(node.prompt)
        if isinstance(node, QueueNode):
            yield _label(label), prompts
        elif isinstance(node, PlayNode):
            yield from self._walk(node.next, label, prompts, seen, depth + 1)
        elif isinstance(node, HoursNode):
            yield from self._walk(node.open, (*label, "(open)"), prompts, seen, depth + 1)
            yield from self._walk(node.closed, (*label, "(closed)"), prompts, seen, depth + 1)
        elif isinstance(node, MenuNode):
            yield from self._menu(node_id, node, label, prompts, seen, depth)
        # lookup, message, transfer: self-service or another number; the caller leaves the queue

    def _menu(
        self,
        node_id: str,
        node: MenuNode,
        label: tuple[str, ...],
        prompts: frozenset[str],
        seen: frozenset[str],
        depth: int,
    ) -> Iterator[tuple[str, frozenset[str]]]:
        s = self.settings
        again = set(node.prompt if node.reprompt is None else node.reprompt)
        no_input = s.max_no_input if node.max_no_input is None else node.max_no_input
        max_invalid = s.max_invalid if node.max_invalid is None else node.max_invalid
        silent = prompts | again if no_input > 0 else prompts
        moves: list[tuple[str, str, frozenset[str]]] = [
            ("nothing", node.on_no_input or s.fallback, silent)
        ]
        for key, target in node.options.items():
            moves.append((key, target, prompts))
        moves.append((s.operator_key, s.fallback, prompts))
        if s.emergency_key:
            moves.append((s.emergency_key, s.emergency, prompts))
        wrong = prompts | {s.invalid_prompt} | again if max_invalid > 0 else prompts
        moves.append(("wrong keys", node.on_invalid or s.fallback, wrong))
        for step, target, played in moves:
            yield from self._walk(target, (*label, step), played, seen, depth + 1)

    def path_time(
        self,
        line: str,
        name: str,
        index: int | None,
        label: str,
        must_hear: list[str],
        after: frozenset[str],
    ) -> PathTime:
        heard = [self.time(n) for n in must_hear]
        pieces = [self.time(n) for n in sorted(after)]
        worst = max(pieces, key=lambda t: t.longest_piece, default=None)
        return PathTime(
            line=line,
            line_name=name,
            path=label,
            must_hear=tuple(must_hear),
            must_hear_seconds=sum(t.seconds for t in heard),
            piece_prompt=worst.name if worst else "",
            piece_seconds=worst.longest_piece if worst else 0.0,
            step_seconds=self.step,
            estimated=tuple(t.name for t in [*heard, *pieces] if t.estimated),
            line_index=index,
        )


def _label(steps: tuple[str, ...]) -> str:
    if all(s == "nothing" or s.startswith("(") for s in steps):
        return " ".join(["nothing pressed", *(s for s in steps if s.startswith("("))])
    named = {"nothing": "(nothing)", "wrong keys": "(wrong keys twice)"}
    return "keys " + " ".join(named.get(s, s) for s in steps)


def must_hear(bundle: ConfigBundle, line: Line | None) -> list[str]:
    """The prompts a caller of ``line`` hears to the end before an operator is connected."""
    notices = list(bundle.menu.settings.notice)
    if line is None:
        return notices
    announcement = line.announcement
    if line.mode is LineMode.MERGED:
        announcement = announcement or "line_moved"
    return ([announcement] if announcement else []) + notices


def time_to_person(bundle: ConfigBundle) -> Timing:
    """Every path to a person on every line (12345 itself first), with its longest time."""
    walker = _Walker(bundle)
    timing = Timing()
    hotline = bundle.lines.hotline
    lines: list[tuple[int | None, Line | None]] = [(None, None)]
    lines += list(enumerate(bundle.lines.lines))
    for index, line in lines:
        number = line.number if line else hotline.number
        name = line.name if line else hotline.name
        heard = must_hear(bundle, line)
        if line is not None and line.mode is LineMode.SUBCENTRE:
            before = walker.time(line.announcement).seconds if line.announcement else 0.0
            assert index is not None
            timing.subcentres.append(SubcentreTime(number, name, index, before))
        # accessibility: straight to the queue after the must-hear prompts
        timing.paths.append(
            walker.path_time(number, name, index, "accessibility", heard, frozenset())
        )
        if line is not None and line.mode is LineMode.SUBCENTRE:
            continue  # the rest of its callers ring the sub-centre
        start: str | None = bundle.menu.settings.entry
        if line is not None:
            start = (line.entry or start) if line.mode is LineMode.MERGED else line.entry
        if start is None:
            timing.paths.append(
                walker.path_time(number, name, index, "no menu", heard, frozenset())
            )
            continue
        for label, prompts in walker.paths(start):
            timing.paths.append(walker.path_time(number, name, index, label, heard, prompts))
    return timing
