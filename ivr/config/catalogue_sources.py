"""The channels tickets come in by (``sources`` of the ticket catalogue,
``config/tickets/catalogue.yaml``): their models and checks. :mod:`ivr.config.catalogue` reads
them with the rest of the file.

``phone`` and ``web`` always exist (:data:`BUILT_IN_SOURCES`; the file may rename them but not
change their kind); every other source is an upper-level platform (kind ``upper``) that
forwards items, counted in the report under its ``group`` and answered through its ``reply``
(one JSON file per reply in a directory, or a webhook, signed with ``secret`` when given).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ivr.config.models import Strict
from ivr.config.yamlpos import Located
from ivr.errors import Problem

CAT_SOURCE = "HL-CAT-009"  # a source of the wrong kind, a reply to nowhere or to two places


class ReplyModel(Strict):
    """Where a finished item's reply goes back to its upper-level platform: one of them."""

    directory: str | None = Field(
        None, min_length=1, description="write one JSON file per reply here (relative: var/)"
    )
    webhook: str | None = Field(
        None, pattern=r"^https?://\S+$", description="POST each reply as JSON to this URL"
    )
    secret: str | None = Field(
        None, min_length=1, description="the webhook's signing key: env:NAME or the key"
    )


class SourceModel(Strict):
    name: str = Field(min_length=1, max_length=80)
    kind: Literal["phone", "web", "upper"] = "upper"
    group: str | None = Field(
        None, min_length=1, max_length=80, description="the report counts sources by group"
    )
    reply: ReplyModel | None = None


#: the channels that exist whatever the file says (the file may rename them)
BUILT_IN_SOURCES: dict[str, SourceModel] = {
    "phone": SourceModel(name="12345热线电话", kind="phone"),
    "web": SourceModel(name="网上诉求", kind="web"),
}


def source_problems(name: str, located: Located, sources: dict[str, SourceModel]) -> list[Problem]:
    """A built-in channel keeps its kind; a reply goes to one place; a web or phone channel
    has no reply (it answers the citizen, not a platform)."""
    problems = []
    for code, src in sources.items():
        built = BUILT_IN_SOURCES.get(code)
        where = ("sources", code)
        if built is not None and src.kind != built.kind:
            line, col = located.value_pos((*where, "kind"))
            problems.append(
                Problem(
                    name, line, col,
                    f"sources.{code}: the {code!r} channel is of kind {built.kind!r}; "
                    "give another code to a new channel",
                    CAT_SOURCE,
                )
            )  # fmt: skip
        if built is None and src.kind != "upper":
            line, col = located.value_pos((*where, "kind"))
            problems.append(
                Problem(
                    name, line, col,
                    f"sources.{code}: kind {src.kind!r} is the built-in channel "
                    f"{'phone' if src.kind == 'phone' else 'web'!r}'s; a new source is 'upper'",
                    CAT_SOURCE,
                )
            )  # fmt: skip
        reply = src.reply
        if reply is None:
            continue
        if src.kind != "upper":
            line, col = located.key_pos((*where, "reply"))
            problems.append(
                Problem(
                    name, line, col,
                    f"sources.{code}.reply: only an upper-level platform gets replies sent back",
                    CAT_SOURCE,
                )
            )  # fmt: skip
        elif (reply.directory is None) == (reply.webhook is None):
            line, col = located.key_pos((*where, "reply"))
            problems.append(
                Problem(
                    name, line, col,
                    f"sources.{code}.reply: give one of 'directory' or 'webhook'",
                    CAT_SOURCE,
                )
            )  # fmt: skip
        elif reply.secret is not None and reply.webhook is None:
            line, col = located.key_pos((*where, "reply", "secret"))
            problems.append(
                Problem(
                    name, line, col,
                    f"sources.{code}.reply.secret: a secret signs a webhook; this reply "
                    "writes files",
                    CAT_SOURCE,
                )
            )  # fmt: skip
    return problems
