"""The JSON bodies of the citizens' pages (:mod:`ivr.citizen.citizen_app`), length-limited."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

CONTENT_MAX = 2000
ADDRESS_MAX = 200
NAME_MAX = 40


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubmitBody(_Strict):
    phone: str = Field(min_length=1, max_length=40, description="mainland mobile or fixed line")
    content: str = Field(min_length=1, max_length=CONTENT_MAX, description="诉求内容")
    address: str = Field("", max_length=ADDRESS_MAX, description="where it happens")
    name: str = Field("", max_length=NAME_MAX, description="optional")
    type: str = Field(min_length=1, max_length=40, description="a type code of the catalogue")
    category: str = Field(
        "", max_length=40, description="a top-level category code; empty: 不清楚 (the default)"
    )
    confidential: bool = Field(False, description="保密: number and name hidden from departments")


class LookupBody(_Strict):
    number: str = Field(min_length=1, max_length=20, description="the ticket number")
    phone: str = Field(min_length=1, max_length=40, description="the number it was filed with")


class Choice(BaseModel):
    code: str
    name: str


class FormOut(BaseModel):
    types: list[Choice]
    categories: list[Choice]
    default_category: str = Field(description="taken when the citizen does not know")
    form_token: str = Field(description="send back as X-Form-Token (also set as a cookie)")
    content_max: int = CONTENT_MAX


class SubmitOut(BaseModel):
    number: str = Field(description="the ticket number, for the lookup")
    accepted_at: str
    deadline: str = Field(description="the working-day deadline of the request's type")


class LookupOut(BaseModel):
    number: str
    state: str = Field(description="accepted, dispatched, handling, finished")
    state_words: str = Field(description="the state in words, for the citizen")
    type_name: str
    category_name: str
    accepted_at: str
    finished_at: str | None
    reply: str = Field(description="the reply, once finished (else empty)")
    merged_into: str | None = Field(description="the ticket this one was merged into (并单)")


MODELS: tuple[type[BaseModel], ...] = (SubmitBody, LookupBody, FormOut, SubmitOut, LookupOut)
