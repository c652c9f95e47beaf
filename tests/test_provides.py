"""A runtime protocol check known once per class (ivr.engine.provides): the same answers as
isinstance, for each class apart."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ivr.engine.attempt import has_state
from ivr.engine.provides import provides


@runtime_checkable
class Greets(Protocol):
    def greet(self) -> str: ...


class Polite:
    def greet(self) -> str:
        return "您好"


class Rude:
    pass


def test_the_answer_is_isinstance_per_class() -> None:
    for _ in range(2):  # the second round from what is known
        assert provides(Polite(), Greets) and not provides(Rude(), Greets)
        assert isinstance(Polite(), Greets) and not isinstance(Rude(), Greets)


def test_a_channel_that_reads_its_state_and_one_that_cannot() -> None:
    class Stateful:
        async def evaluate(self, expression: str) -> str:
            return ""

        async def caller_present(self) -> bool:
            return True

    assert has_state(Stateful()) and not has_state(Polite())
