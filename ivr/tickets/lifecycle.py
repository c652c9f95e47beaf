"""The ticket state machine (pure: no database here).

::

    受理 accepted ──answer──────────────────────────────▶ 办结 finished
        │                                                  ▲
        └─dispatch─▶ 派单 dispatched ─sign─▶ 签收 signed ─handle─▶ 办理 handling ─finish─┘
                        ▲   │                 │                   │
                        │   └──────return─────┴───────────────────┘ ─▶ 退单 returned
                        └──────────────redispatch (改派)──────────────────┘
    finished ─callback─▶ 回访 visited ─archive─▶ 归档 archived
    finished / visited ─redo (重办, citizen not satisfied)─▶ dispatched (or accepted)
    any open state ─merge (并单)─▶ merged

Actions that keep the state: ``remind`` (催办), ``supervise`` (督办), ``extend_request`` /
``extend_approve`` / ``extend_reject`` (延期). Every action is checked here first; what the
table does not allow raises :class:`~ivr.tickets.errors.TransitionRefused`.
"""

from __future__ import annotations

from enum import StrEnum

from ivr.tickets.errors import OwnExtensionRefused, TransitionRefused


class State(StrEnum):
    ACCEPTED = "accepted"  # 受理
    DISPATCHED = "dispatched"  # 派单
    SIGNED = "signed"  # 签收
    HANDLING = "handling"  # 办理
    RETURNED = "returned"  # 退单
    FINISHED = "finished"  # 办结
    VISITED = "visited"  # 回访
    ARCHIVED = "archived"  # 归档
    MERGED = "merged"  # 并单


S = State
OPEN: frozenset[State] = frozenset({S.ACCEPTED, S.DISPATCHED, S.SIGNED, S.HANDLING, S.RETURNED})
AT_DEPARTMENT: frozenset[State] = frozenset({S.DISPATCHED, S.SIGNED, S.HANDLING})
DONE: frozenset[State] = frozenset({S.FINISHED, S.VISITED, S.ARCHIVED})

STATE_NAMES = {
    S.ACCEPTED: "受理",
    S.DISPATCHED: "派单",
    S.SIGNED: "签收",
    S.HANDLING: "办理",
    S.RETURNED: "退单",
    S.FINISHED: "办结",
    S.VISITED: "回访",
    S.ARCHIVED: "归档",
    S.MERGED: "并单",
}

# action -> (states it is allowed in, the state it leads to; None keeps the state)
TRANSITIONS: dict[str, tuple[frozenset[State], State | None]] = {
    "answer": (frozenset({S.ACCEPTED}), S.FINISHED),
    "dispatch": (frozenset({S.ACCEPTED}), S.DISPATCHED),
    "sign": (frozenset({S.DISPATCHED}), S.SIGNED),
    "handle": (frozenset({S.SIGNED}), S.HANDLING),
    "finish": (frozenset({S.HANDLING}), S.FINISHED),
    "return": (AT_DEPARTMENT, S.RETURNED),
    "redispatch": (frozenset({S.RETURNED}), S.DISPATCHED),
    "extend_request": (AT_DEPARTMENT, None),
    "extend_approve": (AT_DEPARTMENT, None),
    "extend_reject": (AT_DEPARTMENT, None),
    "remind": (OPEN, None),
    "supervise": (OPEN | frozenset({S.FINISHED, S.VISITED}), None),
    "callback": (frozenset({S.FINISHED}), S.VISITED),
    "redo": (frozenset({S.FINISHED, S.VISITED}), S.DISPATCHED),  # ACCEPTED without department
    "archive": (frozenset({S.VISITED}), S.ARCHIVED),
    "merge": (OPEN, S.MERGED),
}

ACTION_NAMES = {
    "accept": "受理",
    "answer": "直接办结",
    "dispatch": "派单",
    "sign": "签收",
    "handle": "办理",
    "finish": "办结",
    "return": "退单",
    "redispatch": "改派",
    "extend_request": "申请延期",
    "extend_approve": "批准延期",
    "extend_reject": "驳回延期",
    "remind": "催办",
    "supervise": "督办",
    "callback": "回访",
    "redo": "重办",
    "archive": "归档",
    "merge": "并单",
}

# The status words the self-service lookup plays (prompt ``lookup_<word>``).
STATUS_WORDS = {
    S.ACCEPTED: "accepted",
    S.DISPATCHED: "dispatched",
    S.SIGNED: "dispatched",
    S.HANDLING: "handling",
    S.RETURNED: "handling",
    S.FINISHED: "finished",
    S.VISITED: "finished",
    S.ARCHIVED: "finished",
    S.MERGED: "merged",
}


# Actions that need an extension request pending, and the one that needs none pending.
#: The national five satisfaction levels (回访, the phone survey, the reports).
SATISFACTION = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}

NEEDS_PENDING_EXTENSION = frozenset({"extend_approve", "extend_reject"})


def allowed_actions(state: State | str, extension_pending: bool | None = None) -> list[str]:
    """The actions possible in ``state``. With ``extension_pending`` known, approve/reject of
    an extension are offered only while one is pending and a new request only while none is
    (``None``: the state alone decides)."""
    state = State(state)
    actions = [action for action, (sources, _) in TRANSITIONS.items() if state in sources]
    if extension_pending is None:
        return actions
    if extension_pending:
        return [a for a in actions if a != "extend_request"]
    return [a for a in actions if a not in NEEDS_PENDING_EXTENSION]


def check_not_own_extension(number: str, action: str, actor: str, requester: str | None) -> None:
    """Nobody approves or rejects their own extension request (checked by the acting name;
    the roles of web accounts will say who may approve)."""
    if action in NEEDS_PENDING_EXTENSION and requester is not None and actor == requester:
        raise OwnExtensionRefused(
            f"ticket {number}: {actor} asked for this extension and cannot also "
            f"{'approve' if action == 'extend_approve' else 'reject'} it "
            f"({ACTION_NAMES[action]}); another person must decide"
        )


def check(
    state: State | str, action: str, number: str = "", extension_pending: bool | None = None
) -> State:
    """The state after ``action`` in ``state``; raises TransitionRefused if not allowed (the
    message lists the actions possible now, see :func:`allowed_actions`)."""
    state = State(state)
    if action not in TRANSITIONS:
        raise TransitionRefused(
            f"unknown action {action!r}; known actions: {', '.join(TRANSITIONS)}"
        )
    sources, target = TRANSITIONS[action]
    if state not in sources:
        what = f"ticket {number}" if number else "the ticket"
        allowed = ", ".join(allowed_actions(state, extension_pending)) or "none"
        raise TransitionRefused(
            f"{what} is {state.value} ({STATE_NAMES[state]}): "
            f"{action} ({ACTION_NAMES[action]}) is not allowed; allowed now: {allowed}"
        )
    return state if target is None else target
