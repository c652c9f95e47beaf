"""pydantic's refusals of a YAML file read on its own (the ticket catalogue, the quality
form), each turned into a :class:`~ivr.errors.Problem` at its ``file:line:col``, in the words
the main validator (:mod:`ivr.config.validate_read`) uses. Imports the ground and
:mod:`ivr.config.yamlpos` only."""

from __future__ import annotations

from pydantic import ValidationError

from ivr.config.yamlpos import Located
from ivr.errors import Problem

__all__ = ["schema_problems"]


def _dotted(path: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in path) or "(top)"


def schema_problems(
    name: str, located: Located, exc: ValidationError, code: str, *, key_word: str = "key"
) -> list[Problem]:
    """One problem per error of ``exc``: an unknown key at the key, a missing one at its
    mapping, a bad value at the value (a bad dict key, called ``key_word``, at the key)."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = tuple(p for p in loc if p != "[key]")  # pydantic's marker of a dict key's error
        kind = err["type"]
        if kind == "extra_forbidden":
            line, col = located.key_pos(path)
            msg = f"{_dotted(path[:-1])}: unknown key {path[-1]!r}"
        elif kind == "missing":
            line, col = located.key_pos(path[:-1])
            msg = f"{_dotted(path)}: missing required key {path[-1]!r}"
        else:
            is_key = "[key]" in loc
            line, col = located.key_pos(path) if is_key else located.value_pos(path)
            what = key_word if is_key else "value"
            msg = f"{_dotted(path)}: bad {what} {err.get('input')!r}: {err['msg']}"
        problems.append(Problem(name, line, col, msg, code))
    return problems
