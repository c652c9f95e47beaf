"""The JSON bodies of the operators' inbox (:mod:`ivr.web.inbox_routes`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InboxDuplicate(BaseModel):
    number: str
    state: str
    state_name: str
    source: str
    source_name: str
    accepted_at: str
    caller: str
    address: str
    category_name: str
    content: str = Field(description="the first 200 characters")
    reasons: list[str] = Field(description="same_caller, same_address (and category)")
    merge_from: str = Field(description="并单: the newer of the two tickets ...")
    merge_into: str = Field(description="... merged into the older one")
    can_merge: bool = Field(description="the newer one is open and the older one too")


class InboxTicket(BaseModel):
    number: str
    state: str
    state_name: str
    source: str
    source_name: str = Field(description="the channel's name in the catalogue")
    source_kind: str = Field(description="phone, web or upper (an upper-level platform)")
    external_id: str | None = Field(description="the platform's own id of a forwarded item")
    received_at: str | None = Field(description="when the source received it, if it says")
    accepted_at: str
    accepted_by: str
    deadline: str
    overdue: bool
    due_soon: bool
    type: str
    type_name: str
    category: str
    category_name: str
    content: str
    address: str
    caller: str = Field(description="the centre's staff see a confidential caller")
    caller_name: str
    confidential: bool
    department: str | None = Field(description="the dispatch map's proposal (派单)")
    department_name: str
    duplicates: list[InboxDuplicate] = Field(description="likely duplicates, oldest first")


class InboxSource(BaseModel):
    code: str
    name: str
    kind: str
    waiting: int = Field(description="accepted tickets of this channel waiting")


class InboxList(BaseModel):
    tickets: list[InboxTicket] = Field(description="the nearest deadline first")
    total: int = Field(description="accepted tickets waiting (of the channel asked)")
    sources: list[InboxSource]
    duplicate_days: int = Field(description="the window of the duplicates (catalogue)")


class InboxDuplicates(BaseModel):
    number: str
    duplicates: list[InboxDuplicate]
    duplicate_days: int


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reply: str = Field(min_length=1, max_length=4000, description="直接办结: the reply")
    note: str = Field("", max_length=1000)


class DispatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    department: str | None = Field(
        None, max_length=40, description="派单: a department code (default: the dispatch map's)"
    )
    note: str = Field("", max_length=1000)


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(min_length=1, max_length=20, description="并单: the ticket to merge into")
    note: str = Field("", max_length=1000)


MODELS: tuple[type[BaseModel], ...] = (
    AnswerBody,
    DispatchBody,
    InboxDuplicate,
    InboxDuplicates,
    InboxList,
    InboxSource,
    InboxTicket,
    MergeBody,
)
