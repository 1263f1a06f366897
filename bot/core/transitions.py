"""The state machine of SPEC §3, as data.

`classify` looks a transition up in `TABLE`: (kind, effective base status or absent, head status or
absent, edited?) → the action it submits, its pending state and whether it needs approval. Anything
not in the table is refused, with the transition tried and the actions allowed from the current
state, so a user learns what to do instead of only what went wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.core import schedule
from bot.core.model import Action, Kind, PendingState, Resource, Status

ABSENT = "absent"  # how a missing file reads in messages

# Statuses whose resource is live somewhere: changing the status of one is a submission of its own, so it
# must not carry other edits along (CleverTap approves one action at a time).
LIVE_STATUSES = frozenset({Status.SCHEDULED, Status.RUNNING, Status.PAUSED, Status.LIVE})

# Statuses of an experiment that depend on the remote config variables it uses being live.
USING_STATUSES = frozenset({Status.SCHEDULED, Status.RUNNING, Status.PAUSED})


@dataclass(frozen=True)
class Transition:
    """An allowed row of the state table."""

    action: Action
    pending_state: PendingState | None
    requires_approval: bool
    # Fields that belong to the action and may change along with the status on a live resource
    # (a finish names its winner; an unschedule may drop its schedule).
    rides_along: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Refusal:
    """A transition the state machine forbids, and what the user may do instead."""

    tried: str  # "running → absent"
    reason: str  # why, and what to do
    allowed: tuple[Action, ...]  # actions allowed from the current state

    @property
    def message(self) -> str:
        allowed = ", ".join(a.label for a in self.allowed) or "none"
        return f"{self.tried} is not allowed: {self.reason} (allowed from here: {allowed})"


# (kind, base, head, edited) — `None` for base/head means absent; `edited` means fields other than
# `status` changed; `None` for edited means "either".
TableKey = tuple[Kind, Status | None, Status | None, bool | None]


def _row(action: Action, pending: PendingState | None, rides: frozenset[str] = frozenset()) -> Transition:
    return Transition(action, pending, pending is not None, rides)


_E, _R = Kind.EXPERIMENT, Kind.REMOTE_CONFIG
_S = Status
_P = PendingState

TABLE: Mapping[TableKey, Transition] = {
    # experiments
    (_E, None, _S.DRAFT, None): _row(Action.CREATE_DRAFT, None),
    (_E, _S.DRAFT, _S.DRAFT, True): _row(Action.EDIT_DRAFT, None),
    (_E, _S.DRAFT, None, None): _row(Action.DELETE_DRAFT, None),
    (_E, None, _S.RUNNING, None): _row(Action.START, _P.APPROVAL_PENDING),
    (_E, _S.DRAFT, _S.RUNNING, None): _row(Action.START, _P.APPROVAL_PENDING),
    (_E, None, _S.SCHEDULED, None): _row(Action.SCHEDULE, _P.SCHEDULING_PENDING),
    (_E, _S.DRAFT, _S.SCHEDULED, None): _row(Action.SCHEDULE, _P.SCHEDULING_PENDING),
    (_E, _S.SCHEDULED, _S.DRAFT, None): _row(Action.UNSCHEDULE, _P.APPROVAL_PENDING, frozenset({"schedule"})),
    (_E, _S.RUNNING, _S.PAUSED, None): _row(Action.PAUSE, _P.PAUSE_PENDING),
    (_E, _S.RUNNING, _S.FINISHED, None): _row(Action.FINISH, _P.FINISH_PENDING, frozenset({"winner"})),
    (_E, _S.RUNNING, _S.RUNNING, True): _row(Action.PUBLISH_EDITS, _P.APPROVAL_PENDING),
    (_E, _S.PAUSED, _S.PAUSED, True): _row(Action.PUBLISH_EDITS, _P.APPROVAL_PENDING),
    (_E, _S.SCHEDULED, _S.SCHEDULED, True): _row(Action.PUBLISH_EDITS, _P.APPROVAL_PENDING),
    (_E, _S.PAUSED, _S.RUNNING, None): _row(Action.RESUME, _P.RESUME_PENDING),
    (_E, _S.PAUSED, _S.FINISHED, None): _row(Action.FINISH, _P.FINISH_PENDING, frozenset({"winner"})),
    (_E, _S.FINISHED, None, None): _row(Action.DELETE, _P.DELETE_PENDING),
    # remote config variables
    (_R, None, _S.DRAFT, None): _row(Action.CREATE_DRAFT, None),
    (_R, _S.DRAFT, _S.DRAFT, True): _row(Action.EDIT_DRAFT, None),
    (_R, _S.DRAFT, None, None): _row(Action.DELETE_DRAFT, None),
    (_R, None, _S.LIVE, None): _row(Action.PUBLISH, _P.APPROVAL_PENDING),
    (_R, _S.DRAFT, _S.LIVE, None): _row(Action.PUBLISH, _P.APPROVAL_PENDING),
    (_R, _S.LIVE, _S.LIVE, True): _row(Action.PUBLISH_EDITS, _P.APPROVAL_PENDING),
    (_R, _S.LIVE, None, None): _row(Action.DELETE, _P.DELETE_PENDING),
}

# Why a forbidden transition is forbidden, where a specific word helps more than the list of allowed
# actions alone. Keyed by (kind, base, head); `None` is absent.
HINTS: Mapping[tuple[Kind, Status | None, Status | None], str] = {
    (_E, _S.RUNNING, None): "finish it first, then delete it in another change",
    (_E, _S.PAUSED, None): "finish it first, then delete it in another change",
    (_E, _S.SCHEDULED, None): "unschedule it first, then delete the draft in another change",
    (_E, None, _S.PAUSED): "a new experiment starts as draft, running or scheduled",
    (_E, None, _S.FINISHED): "a new experiment starts as draft, running or scheduled",
    (_E, _S.DRAFT, _S.PAUSED): "only a running experiment can be paused",
    (_E, _S.DRAFT, _S.FINISHED): "only a running or paused experiment can be finished",
    (_E, _S.RUNNING, _S.DRAFT): "a running experiment cannot go back to draft; pause or finish it",
    (_E, _S.RUNNING, _S.SCHEDULED): "a running experiment cannot be rescheduled; pause or finish it",
    (_E, _S.PAUSED, _S.DRAFT): "a paused experiment cannot go back to draft; resume or finish it",
    (_E, _S.PAUSED, _S.SCHEDULED): "a paused experiment cannot be rescheduled; resume or finish it",
    (_E, _S.SCHEDULED, _S.RUNNING): "it starts at its start_at; edit schedule.start_at instead",
    (_E, _S.SCHEDULED, _S.PAUSED): "a scheduled experiment has not started yet",
    (_E, _S.SCHEDULED, _S.FINISHED): "a scheduled experiment has not started yet; unschedule it instead",
    (_R, _S.LIVE, _S.DRAFT): "a live variable cannot go back to draft; edit it, or delete it",
}
FINISHED_HINT = "a finished experiment can only be deleted"
NEW_FILE_HINT = "a new file must start as {starts}"
TWO_SUBMISSIONS = "two submissions: change the status in one PR and the other fields ({fields}) in another"
WRONG_KIND_STATUS = "status {status} does not exist for a {kind}"

_KIND_STATUSES: Mapping[Kind, frozenset[Status]] = {
    Kind.EXPERIMENT: frozenset({_S.DRAFT, _S.SCHEDULED, _S.RUNNING, _S.PAUSED, _S.FINISHED}),
    Kind.REMOTE_CONFIG: frozenset({_S.DRAFT, _S.LIVE}),
}


def status_name(status: Status | None) -> str:
    return status.value if status is not None else ABSENT


def allowed_actions(kind: Kind, base: Status | None) -> tuple[Action, ...]:
    """Every action the table allows from `base` (absent when None), in table order, without repeats."""
    found: list[Action] = []
    for (k, b, _head, _edited), row in TABLE.items():
        if k == kind and b == base and row.action not in found:
            found.append(row.action)
    return tuple(found)


def classify(
    kind: Kind, base: Status | None, head: Status | None, changed_fields: frozenset[str] = frozenset()
) -> Transition | Refusal | None:
    """The row of the state table for one resource; None when the change submits nothing.

    `base` is the effective status on the base (None: the file is absent), `head` the status on the
    head, `changed_fields` the top-level fields other than `status` whose values differ.
    """
    if base is None and head is None:
        return None
    tried = f"{status_name(base)} → {status_name(head)}"
    allowed = allowed_actions(kind, base)
    for status in (base, head):
        if status is not None and status not in _KIND_STATUSES[kind]:
            return Refusal(tried, WRONG_KIND_STATUS.format(status=status.value, kind=kind.value), allowed)
    edited = bool(changed_fields)
    if base == head and not edited:
        return None
    row = TABLE.get((kind, base, head, edited)) or TABLE.get((kind, base, head, None))
    if row is None:
        return Refusal(tried, _reason(kind, base, head), allowed)
    extra = changed_fields - row.rides_along
    if base in LIVE_STATUSES and head is not None and base != head and extra:
        return Refusal(tried, TWO_SUBMISSIONS.format(fields=", ".join(sorted(extra))), allowed)
    return row


def _reason(kind: Kind, base: Status | None, head: Status | None) -> str:
    if kind is Kind.EXPERIMENT and base is Status.FINISHED:
        return FINISHED_HINT
    hint = HINTS.get((kind, base, head))
    if hint:
        return hint
    if base is None:
        starts = " or ".join(s.value for s in _statuses_reachable_from_absent(kind))
        return NEW_FILE_HINT.format(starts=starts)
    return "the state machine has no such transition"


def _statuses_reachable_from_absent(kind: Kind) -> list[Status]:
    out: list[Status] = []
    for k, b, h, _ in TABLE:
        if k == kind and b is None and h is not None and h not in out:
            out.append(h)
    return out


def effective_status(resource: Resource, now: datetime) -> Status:
    """The status a resource really has at `now`: schedules take effect without a commit (SPEC §3)."""
    return schedule.effective_status(resource.key.kind, resource.status, resource.data, now)


parse_time = schedule.parse_time
