from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.model import Action, Document, Kind, PendingState, Resource, ResourceKey, Status
from bot.core.transitions import (
    TABLE,
    Refusal,
    Transition,
    allowed_actions,
    classify,
    effective_status,
    parse_time,
)

E, R = Kind.EXPERIMENT, Kind.REMOTE_CONFIG
S = Status
P = PendingState
EDIT = frozenset({"description"})
NO_EDIT: frozenset[str] = frozenset()

# SPEC §3, row by row: (kind, base, head, changed fields) → (action, pending state, needs approval)
ALLOWED = [
    (E, None, S.DRAFT, NO_EDIT, Action.CREATE_DRAFT, None, False),
    (E, S.DRAFT, S.DRAFT, EDIT, Action.EDIT_DRAFT, None, False),
    (E, S.DRAFT, None, NO_EDIT, Action.DELETE_DRAFT, None, False),
    (E, S.DRAFT, None, EDIT, Action.DELETE_DRAFT, None, False),
    (E, S.DRAFT, S.RUNNING, NO_EDIT, Action.START, P.APPROVAL_PENDING, True),
    (E, S.DRAFT, S.RUNNING, EDIT, Action.START, P.APPROVAL_PENDING, True),
    (E, None, S.RUNNING, NO_EDIT, Action.START, P.APPROVAL_PENDING, True),
    (E, S.DRAFT, S.SCHEDULED, EDIT, Action.SCHEDULE, P.SCHEDULING_PENDING, True),
    (E, None, S.SCHEDULED, NO_EDIT, Action.SCHEDULE, P.SCHEDULING_PENDING, True),
    (E, S.SCHEDULED, S.DRAFT, NO_EDIT, Action.UNSCHEDULE, P.APPROVAL_PENDING, True),
    (E, S.SCHEDULED, S.DRAFT, frozenset({"schedule"}), Action.UNSCHEDULE, P.APPROVAL_PENDING, True),
    (E, S.RUNNING, S.PAUSED, NO_EDIT, Action.PAUSE, P.PAUSE_PENDING, True),
    (E, S.RUNNING, S.FINISHED, NO_EDIT, Action.FINISH, P.FINISH_PENDING, True),
    (E, S.RUNNING, S.FINISHED, frozenset({"winner"}), Action.FINISH, P.FINISH_PENDING, True),
    (E, S.RUNNING, S.RUNNING, EDIT, Action.PUBLISH_EDITS, P.APPROVAL_PENDING, True),
    (E, S.PAUSED, S.PAUSED, EDIT, Action.PUBLISH_EDITS, P.APPROVAL_PENDING, True),
    (E, S.SCHEDULED, S.SCHEDULED, EDIT, Action.PUBLISH_EDITS, P.APPROVAL_PENDING, True),
    (E, S.PAUSED, S.RUNNING, NO_EDIT, Action.RESUME, P.RESUME_PENDING, True),
    (E, S.PAUSED, S.FINISHED, frozenset({"winner"}), Action.FINISH, P.FINISH_PENDING, True),
    (E, S.FINISHED, None, NO_EDIT, Action.DELETE, P.DELETE_PENDING, True),
    (R, None, S.DRAFT, NO_EDIT, Action.CREATE_DRAFT, None, False),
    (R, S.DRAFT, S.DRAFT, EDIT, Action.EDIT_DRAFT, None, False),
    (R, S.DRAFT, None, NO_EDIT, Action.DELETE_DRAFT, None, False),
    (R, None, S.LIVE, NO_EDIT, Action.PUBLISH, P.APPROVAL_PENDING, True),
    (R, S.DRAFT, S.LIVE, EDIT, Action.PUBLISH, P.APPROVAL_PENDING, True),
    (R, S.LIVE, S.LIVE, EDIT, Action.PUBLISH_EDITS, P.APPROVAL_PENDING, True),
    (R, S.LIVE, None, NO_EDIT, Action.DELETE, P.DELETE_PENDING, True),
]


@pytest.mark.parametrize(("kind", "base", "head", "changed", "action", "pending", "approval"), ALLOWED)
def test_every_row_of_the_state_table(
    kind: Kind,
    base: Status | None,
    head: Status | None,
    changed: frozenset[str],
    action: Action,
    pending: PendingState | None,
    approval: bool,
) -> None:
    row = classify(kind, base, head, changed)
    assert isinstance(row, Transition)
    assert (row.action, row.pending_state, row.requires_approval) == (action, pending, approval)


def test_the_table_holds_exactly_the_spec_rows() -> None:
    spec_rows = {(k, b, h, a) for k, b, h, _c, a, _p, _r in ALLOWED}
    table_rows = {(k, b, h, row.action) for (k, b, h, _e), row in TABLE.items()}
    assert table_rows == spec_rows


# (kind, base, head, changed fields, words the message must contain, actions allowed from base)
REFUSED = [
    (E, S.RUNNING, None, NO_EDIT, "finish it first", (Action.PAUSE, Action.FINISH, Action.PUBLISH_EDITS)),
    (E, S.PAUSED, None, NO_EDIT, "finish it first", (Action.PUBLISH_EDITS, Action.RESUME, Action.FINISH)),
    (E, S.SCHEDULED, None, NO_EDIT, "unschedule it first", (Action.UNSCHEDULE, Action.PUBLISH_EDITS)),
    (E, S.FINISHED, S.RUNNING, NO_EDIT, "can only be deleted", (Action.DELETE,)),
    (E, S.FINISHED, S.FINISHED, EDIT, "can only be deleted", (Action.DELETE,)),
    (E, S.FINISHED, S.DRAFT, NO_EDIT, "can only be deleted", (Action.DELETE,)),
    (E, S.FINISHED, S.PAUSED, NO_EDIT, "can only be deleted", (Action.DELETE,)),
    (E, None, S.PAUSED, NO_EDIT, "starts as draft, running or scheduled", None),
    (E, None, S.FINISHED, NO_EDIT, "starts as draft, running or scheduled", None),
    (E, S.DRAFT, S.PAUSED, NO_EDIT, "only a running experiment can be paused", None),
    (E, S.DRAFT, S.FINISHED, NO_EDIT, "only a running or paused", None),
    (E, S.RUNNING, S.DRAFT, NO_EDIT, "cannot go back to draft", None),
    (E, S.RUNNING, S.SCHEDULED, NO_EDIT, "cannot be rescheduled", None),
    (E, S.PAUSED, S.DRAFT, NO_EDIT, "cannot go back to draft", None),
    (E, S.PAUSED, S.SCHEDULED, NO_EDIT, "cannot be rescheduled", None),
    (E, S.SCHEDULED, S.RUNNING, NO_EDIT, "edit schedule.start_at", None),
    (E, S.SCHEDULED, S.PAUSED, NO_EDIT, "has not started yet", None),
    (E, S.SCHEDULED, S.FINISHED, NO_EDIT, "has not started yet", None),
    (E, S.RUNNING, S.PAUSED, EDIT, "two submissions: change the status in one PR", None),
    (E, S.RUNNING, S.FINISHED, frozenset({"winner", "name"}), "other fields (name)", None),
    (E, S.PAUSED, S.RUNNING, EDIT, "two submissions", None),
    (E, S.SCHEDULED, S.DRAFT, frozenset({"schedule", "variants"}), "other fields (variants)", None),
    (E, S.DRAFT, S.LIVE, NO_EDIT, "status live does not exist for a experiment", None),
    (R, S.LIVE, S.DRAFT, NO_EDIT, "cannot go back to draft", (Action.PUBLISH_EDITS, Action.DELETE)),
    (R, None, S.RUNNING, NO_EDIT, "status running does not exist", (Action.CREATE_DRAFT, Action.PUBLISH)),
]


@pytest.mark.parametrize(("kind", "base", "head", "changed", "words", "allowed"), REFUSED)
def test_every_refusal_names_the_transition_and_what_is_allowed(
    kind: Kind,
    base: Status | None,
    head: Status | None,
    changed: frozenset[str],
    words: str,
    allowed: tuple[Action, ...] | None,
) -> None:
    refusal = classify(kind, base, head, changed)
    assert isinstance(refusal, Refusal)
    assert words in refusal.message
    tried = f"{base.value if base else 'absent'} → {head.value if head else 'absent'}"
    assert refusal.message.startswith(f"{tried} is not allowed")
    assert refusal.allowed == allowed_actions(kind, base)
    if allowed is not None:
        assert set(refusal.allowed) == set(allowed)
    for action in refusal.allowed:
        assert action.label in refusal.message


def test_the_same_status_without_edits_submits_nothing() -> None:
    assert classify(E, S.RUNNING, S.RUNNING, NO_EDIT) is None
    assert classify(R, S.LIVE, S.LIVE, NO_EDIT) is None
    assert classify(E, None, None, NO_EDIT) is None


def test_a_status_change_with_edits_is_fine_while_not_live() -> None:
    row = classify(E, S.DRAFT, S.RUNNING, frozenset({"variants", "name"}))
    assert isinstance(row, Transition) and row.action is Action.START


def experiment(status: str, start: str | None = None, end: str | None = None) -> Resource:
    schedule = {k: v for k, v in (("start_at", start), ("end_at", end)) if v is not None}
    data = {"id": "x", "status": status, **({"schedule": schedule} if schedule else {})}
    return Resource(ResourceKey("web", Kind.EXPERIMENT, "x"), "web/experiments/x.yaml", Document(data))


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "start", "end", "expected"),
    [
        ("scheduled", "2026-03-01T12:00:01Z", None, S.SCHEDULED),
        ("scheduled", "2026-03-01T12:00:00Z", None, S.RUNNING),
        ("scheduled", "2026-03-01T13:00:00+02:00", None, S.RUNNING),  # 11:00 UTC
        ("scheduled", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z", S.FINISHED),
        ("running", "2026-02-01T00:00:00Z", "2026-03-01T11:59:59Z", S.FINISHED),
        ("running", "2026-02-01T00:00:00Z", "2026-03-02T00:00:00Z", S.RUNNING),
        ("paused", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z", S.PAUSED),
        ("draft", "2026-02-01T00:00:00Z", None, S.DRAFT),
        ("scheduled", "not a time", None, S.SCHEDULED),
        ("scheduled", None, None, S.SCHEDULED),
    ],
)
def test_effective_status_follows_the_clock(
    status: str, start: str | None, end: str | None, expected: Status
) -> None:
    assert effective_status(experiment(status, start, end), NOW) is expected


def test_effective_status_accepts_datetimes_yaml_already_parsed() -> None:
    resource = experiment("scheduled")
    data = {**resource.data, "schedule": {"start_at": NOW - timedelta(seconds=1)}}
    moved = Resource(resource.key, resource.path, Document(data))
    assert effective_status(moved, NOW) is S.RUNNING
    assert parse_time(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)


def test_remote_config_status_ignores_the_clock() -> None:
    rc = Resource(ResourceKey("web", Kind.REMOTE_CONFIG, "k"), "p", Document({"status": "live"}))
    assert effective_status(rc, NOW) is S.LIVE


# --- property: legal sequences never reach an invalid live state ------------------------------------

EXPERIMENT_STATES = [None, S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED, S.FINISHED]
RC_STATES = [None, S.DRAFT, S.LIVE]
FIELDS = st.frozensets(st.sampled_from(["name", "winner", "schedule", "variants"]), max_size=2)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([E, R]),
    steps=st.lists(st.tuples(st.integers(0, 5), FIELDS), max_size=25),
)
def test_random_legal_sequences_never_reach_an_invalid_state(
    kind: Kind, steps: list[tuple[int, frozenset[str]]]
) -> None:
    states = EXPERIMENT_STATES if kind is E else RC_STATES
    state: Status | None = None
    for index, changed in steps:
        head = states[index % len(states)]
        verdict = classify(kind, state, head, changed)
        if not isinstance(verdict, Transition):
            # a refusal always leaves a way forward
            assert verdict is None or verdict.allowed
            continue
        # Independent restatement of the machine's invariants.
        assert head is None or head in states
        assert verdict.requires_approval == (verdict.pending_state is not None)
        assert verdict.requires_approval != (
            verdict.action in (Action.CREATE_DRAFT, Action.EDIT_DRAFT, Action.DELETE_DRAFT)
        )
        if head is S.PAUSED:
            assert state in (S.RUNNING, S.PAUSED)
        if state is S.FINISHED:
            assert head is None
        if head is None:
            assert state in ((S.DRAFT, S.FINISHED) if kind is E else (S.DRAFT, S.LIVE))
        if state in (S.RUNNING, S.PAUSED):
            assert head not in (S.DRAFT, S.SCHEDULED, None)
        if state in (S.RUNNING, S.PAUSED, S.SCHEDULED, S.LIVE) and head not in (state, None):
            assert changed <= verdict.rides_along
        state = head
