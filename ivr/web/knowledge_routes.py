"""``/api/knowledge...``: the knowledge base (常用提示) on the desk, as a :class:`WebPart`
the composition root adds: ``create_app(..., parts=[knowledge_part(kb)])``.

- ``GET /api/knowledge?q=医保&limit=10``: the approved entries that match, best first, each
  with a snippet and the spans to mark; without ``q``, the newest; a supervisor or admin may
  add ``state=proposed`` (search or list the proposals too / list them), ``rejected``,
  ``retired``;
- ``GET /api/knowledge/{entry_id}``: one entry (an operator: approved ones and its own
  proposals);
- ``POST /api/knowledge``: a new entry: an operator's is a proposal; a supervisor's or
  admin's is approved at once unless the body says ``"approve": false``;
- ``POST /api/knowledge/{entry_id}`` (edit), ``/approve``, ``/reject`` (with a note),
  ``/retire``: supervisors and admins.

Refusals: the domain's ``HL-KNO-nnn`` with their status (404, 400, 409, 403), bad query
parameters 400 ``HL-WEB-020``. Every change is audited in the change's own transaction
(``knowledge.*`` rows). The store is synchronous: it runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr.knowledge import STATES, Actor, Entry, EntryNotFound, Hit, KnowledgeBase
from ivr.knowledge.errors import KnowledgeForbidden
from ivr.knowledge.highlight import snippet
from ivr.knowledge.segment import tokenizer
from ivr.web.appkeys import QUEUE_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import ApiError
from ivr.web.knowledge_schemas import (
    KNOWLEDGE_MODELS,
    KnowledgeDecisionBody,
    KnowledgeDraftBody,
    KnowledgeEditBody,
    entry_out,
    hit_out,
)
from ivr.web.routing import DESK, SUPERVISION, ApiRoute, Handler, WebPart

BAD_QUERY = "HL-WEB-020"
KNOWLEDGE = "/api/knowledge"
ENTRY = KNOWLEDGE + "/{entry_id}"
MAX_LIMIT = 50

KNOWLEDGE_KEY: web.AppKey[KnowledgeBase] = web.AppKey("knowledge", KnowledgeBase)

T = TypeVar("T")


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[QUEUE_KEY].settings.timezone)


def _actor(request: web.Request) -> Actor:
    who = principal_of(request)
    return Actor(who.username, who.role, request.remote or "")


def _entry_id(request: web.Request) -> int:
    raw = request.match_info["entry_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise EntryNotFound(f"no knowledge entry {raw!r}: entries are numbered")
    return int(raw)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "10")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, BAD_QUERY, f"limit: give a number from 1 to {MAX_LIMIT}")
    return int(raw)


async def _run(request: web.Request, call: Callable[[KnowledgeBase], T]) -> T:
    kb = request.app[KNOWLEDGE_KEY]
    return await asyncio.to_thread(call, kb)


def _entry_json(request: web.Request, entry: Entry) -> web.Response:
    return web.json_response(entry_out(entry, _zone(request)).model_dump())


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    state = request.query.get("state", "approved")
    limit = _limit(request)
    actor = _actor(request)
    if state not in STATES:
        raise ApiError(400, BAD_QUERY, f"state: one of {', '.join(STATES)}")
    if state != "approved" and not actor.decides:
        raise KnowledgeForbidden(f"a {actor.role} sees the approved entries only")
    if query and state not in ("approved", "proposed"):
        raise ApiError(400, BAD_QUERY, "q: search the approved or the proposed entries")
    if query:
        hits = await _run(request, lambda kb: kb.search(query, limit, state == "proposed"))
    else:
        entries = await _run(request, lambda kb: kb.entries(state, limit))
        hits = [Hit(e, 0.0, False, *snippet(e.body, [])) for e in entries]
    zone = _zone(request)
    out = {"query": query, "state": state, "hits": [hit_out(h, zone).model_dump() for h in hits]}
    return web.json_response(out)


async def get_entry(request: web.Request) -> web.Response:
    entry_id, actor = _entry_id(request), _actor(request)
    return _entry_json(request, await _run(request, lambda kb: kb.get(entry_id, actor)))


async def propose(request: web.Request) -> web.Response:
    body = await read_body(request, KnowledgeDraftBody)
    actor = _actor(request)
    if body.approve and not actor.decides:
        raise KnowledgeForbidden(f"a {actor.role} proposes; a supervisor approves")
    approve = actor.decides and body.approve is not False
    entry = await _run(request, lambda kb: kb.propose(body.draft(), actor, approve=approve))
    return _entry_json(request, entry)


async def edit(request: web.Request) -> web.Response:
    entry_id = _entry_id(request)
    body = await read_body(request, KnowledgeEditBody)
    actor = _actor(request)
    entry = await _run(
        request, lambda kb: kb.edit(entry_id, body.draft(), actor, version=body.version)
    )
    return _entry_json(request, entry)


def _decision(verb: str) -> Handler:
    async def decide(request: web.Request) -> web.Response:
        entry_id = _entry_id(request)
        note = (await read_body(request, KnowledgeDecisionBody)).note
        actor = _actor(request)

        def call(kb: KnowledgeBase) -> Entry:
            if verb == "approve":
                return kb.approve(entry_id, actor, note)
            if verb == "reject":
                return kb.reject(entry_id, actor, note or "")
            return kb.retire(entry_id, actor, note)

        return _entry_json(request, await _run(request, call))

    decide.__name__ = verb
    return decide


def knowledge_routes() -> list[ApiRoute]:
    def decision(verb: str, summary: str) -> ApiRoute:
        return ApiRoute(
            "POST",
            f"{ENTRY}/{verb}",
            _decision(verb),
            SUPERVISION,
            summary,
            body="KnowledgeDecisionBody",
            response="KnowledgeEntryOut",
            errors=(400, 404, 409),
        )

    return [
        ApiRoute(
            "GET",
            KNOWLEDGE,
            search,
            DESK,
            "search the knowledge base (q), or list it (supervisors: state=proposed ...)",
            response="KnowledgeSearchOut",
            errors=(400,),
        ),
        ApiRoute(
            "GET",
            ENTRY,
            get_entry,
            DESK,
            "read a knowledge entry",
            response="KnowledgeEntryOut",
            errors=(404,),
        ),
        ApiRoute(
            "POST",
            KNOWLEDGE,
            propose,
            DESK,
            "propose a knowledge entry (a supervisor's is approved at once)",
            body="KnowledgeDraftBody",
            response="KnowledgeEntryOut",
            errors=(400,),
        ),
        ApiRoute(
            "POST",
            ENTRY,
            edit,
            SUPERVISION,
            "edit a knowledge entry",
            body="KnowledgeEditBody",
            response="KnowledgeEntryOut",
            errors=(400, 404, 409),
        ),
        decision("approve", "approve a proposed knowledge entry"),
        decision("reject", "reject a proposed knowledge entry (say why in note)"),
        decision("retire", "retire an approved knowledge entry"),
    ]


def knowledge_part(kb: KnowledgeBase) -> WebPart:
    """The knowledge base's routes, models and store; jieba's dictionary is loaded when the
    app starts (in a thread), so the first search does not wait for it."""

    loading: list[asyncio.Future[object]] = []

    async def warm(_app: web.Application) -> None:
        # in the background: the server serves at once (calls must not wait for jieba's
        # dictionary); the first search waits for it if it is not loaded yet
        loading.append(asyncio.ensure_future(asyncio.to_thread(tokenizer)))

    async def settle(_app: web.Application) -> None:
        for f in loading:
            with contextlib.suppress(Exception):
                await f

    def install(app: web.Application) -> None:
        app[KNOWLEDGE_KEY] = kb
        app.on_startup.append(warm)
        app.on_cleanup.append(settle)

    return WebPart(routes=knowledge_routes(), models=KNOWLEDGE_MODELS, install=install)
