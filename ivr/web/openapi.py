"""The OpenAPI 3.1 document of :mod:`ivr.web.app`, served at ``/openapi.json``.

Schemas come from the pydantic models (:mod:`ivr.web.schemas`), so the document follows the
code; a test checks that every route is documented and every documented path is routed.
"""

from __future__ import annotations

from typing import Any

from ivr.web.schemas import MODELS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


AGENT_ID = {
    "name": "agent_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "the agent's id in agents.yaml",
}
ERRORS = {
    "404": {"description": "agent not in agents.yaml", **_json(_ref("ErrorOut"))},
    "409": {"description": "the agent's state does not allow this", **_json(_ref("ErrorOut"))},
}


METRICS = {
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


def _agent_op(summary: str, body: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [AGENT_ID],
        "responses": {"200": {"description": "the agent", **_json(_ref("AgentOut"))}, **ERRORS},
    }
    if body:
        op["requestBody"] = {"required": False, **_json(_ref(body))}
        op["responses"]["400"] = {"description": "bad body", **_json(_ref("ErrorOut"))}
    return op


def document() -> dict[str, Any]:
    schemas = {
        m.__name__: m.model_json_schema(ref_template="#/components/schemas/{model}") for m in MODELS
    }
    text = {"content": {"text/plain": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline12345 queue API", "version": "1"},
        "paths": {
            "/agents/{agent_id}/login": {
                "post": _agent_op("log in (paused 'login', or ready)", "LoginBody")
            },
            "/agents/{agent_id}/ready": {"post": _agent_op("ready for calls")},
            "/agents/{agent_id}/pause": {
                "post": _agent_op("pause now, or after the current call", "PauseBody")
            },
            "/agents/{agent_id}/logout": {
                "post": _agent_op("log out now, or after the current call", "LogoutBody")
            },
            "/agents/{agent_id}/heartbeat": {
                "post": _agent_op("the desk is alive (else logged out by the reaper)")
            },
            "/agents/{agent_id}": {"get": _agent_op("the agent's state")},
            "/agents": {
                "get": {
                    "summary": "every configured agent's state",
                    "responses": {
                        "200": {
                            "description": "agents",
                            **_json({"type": "array", "items": _ref("AgentOut")}),
                        }
                    },
                }
            },
            "/queue/metrics": {
                "get": {
                    "summary": "live queue metrics per skill (JSON)",
                    "responses": {"200": {"description": "metrics", **_json(METRICS)}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text exposition", **text}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "this document",
                    "responses": {"200": {"description": "OpenAPI", **_json({"type": "object"})}},
                }
            },
        },
        "components": {"schemas": schemas},
    }
