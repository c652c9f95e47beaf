"""The OpenAPI 3.1 document of the HTTP API, served at ``/api/openapi.json``.

Built from the route table (:func:`ivr.web.app.routes`, handed in) and the pydantic models
(:mod:`ivr.web.schemas`), so the document follows the code: each operation says who may call
it (``x-roles``; absent: open), its body, its answer and its errors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ivr.web.routing import ApiRoute
from ivr.web.schemas import MODELS

METRICS: dict[str, object] = {
    "type": "object",
    "properties": {
        "time": {
            "type": "string",
            "format": "date-time",
            "description": "when the figures were taken, ISO 8601 in the centre's zone with "
            "its offset (2026-12-04T07:40:00+08:00)",
        },
        "day": {"type": "string", "format": "date", "description": "the day 'today' is"},
        "timezone": {"type": "string", "description": "the centre's zone, e.g. Asia/Shanghai"},
        "skills": {"type": "object", "description": "per skill: waiting, agents, today's counts"},
    },
}
ERROR_TEXT = {
    400: "bad request body (HL-WEB-001) or refused input",
    401: "not logged in (HL-WEB-003), or wrong user name or password (HL-ACC-001)",
    403: "this role may not (HL-WEB-004; a recording: HL-PRV-005), or no CSRF token (HL-WEB-005)",
    404: "no such agent (HL-QUE-030), ticket (HL-TKT-003), knowledge entry (HL-KNO-001), call "
    "or recording (HL-PRV-001 ... 004)",
    409: "the agent's state (HL-QUE-nnn; to listen: HL-WEB-050, HL-WEB-054), the account's "
    "(no phone to listen on: HL-WEB-052), the ticket's (HL-TKT-002, HL-TKT-005) or the "
    "knowledge entry's (HL-KNO-003) does not allow this",
    413: "the body is too large: a batch of forwarded items over its limit (HL-IMP-005)",
    429: "too many failed logins (HL-ACC-002); wait Retry-After seconds",
    502: "Asterisk refused a transfer's channel move (HL-QUE-083) or to ring a supervisor's "
    "phone (HL-WEB-053)",
    503: "Redis (HL-WEB-002) or the database (HL-WEB-007) is unreachable, or tickets "
    "(HL-WEB-011), transfers (HL-WEB-031) or AMI (HL-QUE-082, HL-WEB-051) are not available",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(route: ApiRoute) -> dict[str, Any]:
    if route.response:
        schema: dict[str, Any] = _ref(route.response)
    else:
        schema = dict(route.response_schema or {"type": "object"})
    if route.path == "/metrics":
        ok = {"description": "ok", "content": {"text/plain": {"schema": schema}}}
    elif route.content_type != "application/json":
        ok = {"description": "ok", "content": {route.content_type: {"schema": schema}}}
    else:
        ok = {"description": "ok", **_json(schema)}
    responses: dict[str, Any] = {"200": ok}
    statuses = set(route.errors) | {503}
    if route.roles is not None:
        statuses |= {401, 403}
    for status in sorted(statuses):
        responses[str(status)] = {"description": ERROR_TEXT[status], **_json(_ref("ErrorOut"))}
    op: dict[str, Any] = {"summary": route.summary, "responses": responses}
    params = re.findall(r"{(\w+)}", route.path)
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
    if route.body:
        required = route.body == "LoginForm"
        op["requestBody"] = {"required": required, **_json(_ref(route.body))}
    if route.roles is not None:
        op["x-roles"] = list(route.roles)
        op["security"] = [{"session": [], "csrf": []}, {"token": []}]
        if route.own_agent:
            op["description"] = "An operator may do this only for its own agent id."
    return op


def document(routes: Sequence[ApiRoute], models: Sequence[type[BaseModel]] = ()) -> dict[str, Any]:
    """The document of ``routes``; ``models`` are the parts' own (besides the core's)."""
    schemas = {
        m.__name__: m.model_json_schema(ref_template="#/components/schemas/{model}")
        for m in (*MODELS, *models)
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline12345 staff API", "version": "2"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "hotline_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                "token": {"type": "http", "scheme": "bearer"},
            },
        },
    }
