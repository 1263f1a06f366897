"""The live state: what a merged action does to a live resource, and what the clock does to it.

Pure: the caller passes `now`. The store (bot/adapters/store/) persists these records; the engine turns a
merged PR's planned actions into `LiveChange`s with `change_for` and hands them to the store in one
transaction. The audit and lock records the store keeps are defined here too, so callers build them
without importing an adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from bot.core import schedule
from bot.core.model import Action, PendingState, PlannedAction, ResourceKey, Status

# The status each action leaves the resource in on merge (SPEC §3, "on merge (approved)"); None: gone.
# Publish edits keeps whatever status the head declares (running, paused, scheduled or live).
_STATUS_AFTER: Mapping[Action, Status | None] = {
    Action.CREATE_DRAFT: Status.DRAFT,
    Action.EDIT_DRAFT: Status.DRAFT,
    Action.DELETE_DRAFT: None,
    Action.START: Status.RUNNING,
    Action.SCHEDULE: Status.SCHEDULED,
    Action.UNSCHEDULE: Status.DRAFT,
    Action.PAUSE: Status.PAUSED,
    Action.RESUME: Status.RUNNING,
    Action.FINISH: Status.FINISHED,
    Action.DELETE: None,
    Action.PUBLISH: Status.LIVE,
}
_EDITABLE_LIVE = frozenset({Status.RUNNING, Status.PAUSED, Status.SCHEDULED, Status.LIVE})


class ApplyError(ValueError):
    """A planned action that cannot be applied: a bug or a stale plan upstream, never user input."""


@dataclass(frozen=True)
class LiveRecord:
    """One resource as it is live now."""

    key: ResourceKey
    status: Status
    document: Mapping[str, Any]  # JSON-able: the head document as merged, `status` kept in step
    revision: int = 1  # 1 on first apply, +1 on every later change
    applied_commit: str | None = None  # the merge that last changed it (the scheduler keeps it)
    updated_at: datetime | None = None

    @property
    def winner(self) -> str | None:
        value = self.document.get("winner")
        return str(value) if value is not None and self.status is Status.FINISHED else None


@dataclass(frozen=True)
class LiveChange:
    """What one merged action does to the live store: upsert `document` with `status`, or delete."""

    key: ResourceKey
    action: Action
    status: Status | None  # None: the resource is removed from the live store
    document: Mapping[str, Any] | None = None

    @property
    def deleted(self) -> bool:
        return self.status is None

    @property
    def winner(self) -> str | None:
        if self.document is None or self.status is not Status.FINISHED:
            return None
        value = self.document.get("winner")
        return None if value is None else str(value)


@dataclass(frozen=True)
class Transition:
    """A change the clock makes: scheduled → running at start_at, running → finished at end_at."""

    key: ResourceKey
    from_status: Status
    to_status: Status
    at: datetime  # the schedule time that made it due (not when the scheduler noticed)


class AuditKind(StrEnum):
    SUBMISSION = "submission"
    APPROVAL = "approval"
    REJECTION = "rejection"
    APPLY = "apply"
    REFUSAL = "refusal"
    SCHEDULE = "schedule"
    DRIFT = "drift"
    TARGET_DELIVERY = "target_delivery"
    NOTIFICATION = "notification"
    TOGGLE = "toggle"
    DRIFT_RESOLVED = "drift_resolved"
    JOB_PARKED = "job_parked"  # a job failed its last attempt: kept, to run again on a redelivery
    RULES_CHANGE = "rules_change"  # a grant, revocation or policy edit of .approvalbot.yml, applied
    WITHDRAWAL = "withdrawal"  # a ready PR converted back to draft: its request for approval withdrawn
    CLOSED = "closed"  # a PR closed without being merged


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail. `id` and `at` are filled by the store when left unset."""

    kind: AuditKind
    account: str | None = None  # taken from `resource` when not given
    resource: ResourceKey | None = None
    actor: str | None = None  # GitHub login, or "approvalbot" for the scheduler
    pr_number: int | None = None
    commit_sha: str | None = None
    action: Action | None = None
    feedback: str | None = None
    winner: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.account is None and self.resource is not None:
            object.__setattr__(self, "account", self.resource.account)


@dataclass(frozen=True)
class Lock:
    """A resource held by a ready PR until it is merged or closed (SPEC §1, "pending locks")."""

    key: ResourceKey
    pr_number: int
    pending_state: PendingState | None
    since: datetime
    # The config repository ("owner/name") of the PR: PR numbers and accounts are only unique within one.
    # "" for a lock taken before locks had repositories (schema v4), which counts as every repository's.
    repository: str = ""


@dataclass(frozen=True)
class PullHead:
    """A head commit of a pull request as approvalbot first saw it.

    GitHub's API never says who pushed a commit or when it became the PR's head; only the webhook of the
    push does. Kept so that an evaluation set off later (by a review, a comment) still knows both.
    """

    repository: str  # "owner/name"
    number: int
    sha: str
    pusher: str | None  # the `sender` of the `synchronize` webhook; None when no push event named one
    seen_at: datetime  # when approvalbot first saw this sha as the head (webhook arrival or evaluation)


@dataclass(frozen=True)
class DriftRecord:
    """A commit on the default branch that no approved PR explains: recorded, never applied.

    Open until a later commit brings the default branch back in step with the live state for every
    resource it touched (a revert, most often): then `resolved_by` names that commit.
    """

    commit_sha: str
    detail: Mapping[str, Any]
    at: datetime
    id: int | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def resources(self) -> tuple[str, ...]:
        """The resources (as `account/kind/id`) the commit changed on the default branch."""
        return tuple(str(r) for r in self.detail.get("resources", ()))


@dataclass(frozen=True)
class ApprovedConfig:
    """A repository's last approved `.approvalbot.yml`: the rules that govern (SPEC §1).

    Set by the baseline and by every applied commit that changes the file, never by drift: an
    unapproved push of the file must not change who approves what. `content` None: the approved
    commit removed the file (no rules: everything fails closed).
    """

    repository: str
    commit_sha: str
    content: bytes | None
    at: datetime | None = None


@dataclass(frozen=True)
class PendingToggle:
    """An applied commit that turned approvals on or off, whose follow-up (reverting pending requests,
    or re-checking PRs, and the emails) has not completed yet: finished by a later apply or reconcile."""

    repository: str
    commit_sha: str
    enabled: bool
    config_after: bytes  # the rules the toggle brought (for the emails' recipients)
    config_before: bytes | None  # the rules that governed just before (which PRs held a request)
    actor: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class OwedCheck:
    """The check run a commit of the default branch is owed once it was applied or recorded as drift
    (`conclusion` as GitHub names it: success, failure). Stored with the apply, so it is published
    even when the process dies right after the commit."""

    repository: str
    commit_sha: str
    conclusion: str
    title: str
    summary: str


@dataclass(frozen=True)
class OwedPost:
    """A POST of an applied merge that one outbound target is still owed (the outbox).

    Written in the merge's own transaction, so a crash after the commit cannot lose it, and deleted
    once the target took it (or after the last attempt). `target` names the target by a hash of its
    URL (a URL may carry a token); `body` is the exact JSON sent, so every retry is byte-identical and
    keeps its signature and idempotency key.
    """

    merge_sha: str
    target: str
    body: str
    attempts: int = 0  # delivery rounds already tried (each round retries quickly a few times)
    next_attempt_at: datetime | None = None  # not before; also a lease while a worker is posting
    last_error: str | None = None
    created_at: datetime | None = None


def change_for(
    planned: PlannedAction, head: Mapping[str, Any] | None, *, winner: str | None = None
) -> LiveChange:
    """The live change a merged, approved action makes.

    `head` is the resource's document on the merged head (None when the file was deleted). `winner` is
    the approver's `/winner` choice; it overrides the creator's `winner` field on a finish.
    """
    if not planned.valid or planned.action is None:
        raise ApplyError(f"{planned.key} ({planned.file}): a refused action cannot be applied")
    action = planned.action
    status = _target_status(planned)
    if status is None:
        return LiveChange(planned.key, action, None, None)
    if head is None:
        raise ApplyError(f"{planned.key} ({planned.file}): {action.label} needs the head document")
    document = dict(to_jsonable(head))
    document["status"] = status.value
    if action is Action.FINISH:
        chosen = winner if winner is not None else planned.winner or document.get("winner")
        if chosen is None:
            document.pop("winner", None)
        else:
            _check_variant(planned, str(chosen))
            document["winner"] = str(chosen)
    return LiveChange(planned.key, action, status, document)


def _target_status(planned: PlannedAction) -> Status | None:
    action = planned.action
    assert action is not None
    if action is Action.PUBLISH_EDITS:
        if planned.to_status not in _EDITABLE_LIVE:
            raise ApplyError(f"{planned.key} ({planned.file}): publish edits to status {planned.to_status}")
        return planned.to_status
    expected = _STATUS_AFTER[action]
    if planned.to_status != expected:
        raise ApplyError(
            f"{planned.key} ({planned.file}): {action.label} should leave it {expected or 'absent'}, "
            f"the plan says {planned.to_status or 'absent'}"
        )
    return expected


def _check_variant(planned: PlannedAction, chosen: str) -> None:
    if planned.variants and chosen not in planned.variants:
        raise ApplyError(
            f"{planned.key} ({planned.file}): winner {chosen!r} is not a variant "
            f"(variants: {', '.join(planned.variants)})"
        )


def effective_status(record: LiveRecord, now: datetime) -> Status:
    """The status the clock says the record has: a scheduled one past start_at runs, past end_at ends."""
    return schedule.effective_status(record.key.kind, record.status, record.document, now)


def due_transitions(records: Iterable[LiveRecord], now: datetime) -> list[Transition]:
    """Every transition the clock has made due by `now`, in the order they must be applied.

    A scheduled experiment whose start_at and end_at have both passed yields two transitions (started,
    then finished) so the audit shows both. Paused experiments are left alone: a human paused them and
    a human decides (resume or finish). Ordered by due time, then key, so replicas agree.
    """
    found = [t for record in records for t in _clock_steps(record, now)]
    return sorted(found, key=lambda t: (t.at, t.key, _STEP_ORDER[t.to_status]))


_STEP_ORDER = {Status.RUNNING: 0, Status.FINISHED: 1}


def _clock_steps(record: LiveRecord, now: datetime) -> list[Transition]:
    steps = schedule.clock_steps(record.key.kind, record.status, record.document, now)
    return [Transition(record.key, step.from_status, step.to_status, step.at) for step in steps]


def advance(record: LiveRecord, transition: Transition) -> Mapping[str, Any]:
    """The record's document after `transition` (only `status` changes)."""
    if record.status is not transition.from_status:
        raise ApplyError(f"{record.key}: is {record.status}, not {transition.from_status}")
    document = dict(record.document)
    document["status"] = transition.to_status.value
    return document


parse_time = schedule.parse_time


def to_jsonable(value: Any) -> Any:
    """`value` as JSON-able data: YAML datetimes and dates become RFC 3339 strings, tuples lists."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value
