"""Reading a request's JSON body into its pydantic model: a body that is not JSON, or does
not match, is 400 ``HL-WEB-001`` naming the field."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ivr.web.errors import BAD_BODY, ApiError

M = TypeVar("M", bound=BaseModel)


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"


async def read_body(request: web.Request, model: type[M], *, json_only: bool = False) -> M:
    """The body as ``model``; an empty body is ``{}``. ``json_only``: the request must say
    ``Content-Type: application/json`` (a form another site posts cannot)."""
    if json_only and request.content_type != "application/json":
        raise ApiError(400, BAD_BODY, "send the body as JSON (Content-Type: application/json)")
    raw = await request.read()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ApiError(400, BAD_BODY, f"the body is not JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = {"problems": json.loads(exc.json(include_url=False, include_input=False))}
        raise ApiError(400, BAD_BODY, f"bad request body: {_first_problem(exc)}", details) from None
