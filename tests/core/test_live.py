"""What merging an action does to a live resource, and what the clock does to scheduled experiments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.core.live import (
    ApplyError,
    AuditEntry,
    AuditKind,
    LiveRecord,
    Transition,
    advance,
    change_for,
    due_transitions,
    effective_status,
    parse_time,
    to_jsonable,
)
from bot.core.model import Action, Kind, PlannedAction, Problem, ResourceKey, Status

EXP = ResourceKey("web", Kind.EXPERIMENT, "checkout")
VAR = ResourceKey("web", Kind.REMOTE_CONFIG, "button_color")
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def planned(
    action: Action | None,
    to_status: Status | None,
    *,
    key: ResourceKey = EXP,
    winner: str | None = None,
    errors: tuple[Problem, ...] = (),
) -> PlannedAction:
    return PlannedAction(
        key=key,
        file=f"web/experiments/{key.id}.yaml",
        action=action,
        from_status=None,
        to_status=to_status,
        pending_state=None,
        requires_approval=True,
        errors=errors,
        variants=("a", "b"),
        winner=winner,
    )


def doc(status: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "experiment", "id": "checkout", "status": status, **extra}


@pytest.mark.parametrize(
    ("action", "to_status", "expected"),
    [
        (Action.CREATE_DRAFT, Status.DRAFT, Status.DRAFT),
        (Action.EDIT_DRAFT, Status.DRAFT, Status.DRAFT),
        (Action.START, Status.RUNNING, Status.RUNNING),
        (Action.SCHEDULE, Status.SCHEDULED, Status.SCHEDULED),
        (Action.UNSCHEDULE, Status.DRAFT, Status.DRAFT),
        (Action.PAUSE, Status.PAUSED, Status.PAUSED),
        (Action.RESUME, Status.RUNNING, Status.RUNNING),
        (Action.FINISH, Status.FINISHED, Status.FINISHED),
        (Action.PUBLISH_EDITS, Status.RUNNING, Status.RUNNING),
        (Action.PUBLISH_EDITS, Status.PAUSED, Status.PAUSED),
        (Action.PUBLISH_EDITS, Status.SCHEDULED, Status.SCHEDULED),
        (Action.PUBLISH, Status.LIVE, Status.LIVE),
    ],
)
def test_each_action_leaves_the_state_table_status(
    action: Action, to_status: Status, expected: Status
) -> None:
    change = change_for(planned(action, to_status), doc(to_status.value, name="new name"))
    assert change.status is expected
    assert change.document is not None
    assert change.document["status"] == expected.value
    assert change.document["name"] == "new name"
    assert change.action is action
    assert not change.deleted


@pytest.mark.parametrize("action", [Action.DELETE, Action.DELETE_DRAFT])
def test_delete_actions_remove_the_resource(action: Action) -> None:
    change = change_for(planned(action, None), None)
    assert change.deleted
    assert change.document is None


def test_finish_keeps_the_creators_winner() -> None:
    change = change_for(planned(Action.FINISH, Status.FINISHED, winner="b"), doc("finished", winner="b"))
    assert change.winner == "b"


def test_the_approvers_winner_overrides_the_creators() -> None:
    change = change_for(
        planned(Action.FINISH, Status.FINISHED, winner="a"), doc("finished", winner="a"), winner="b"
    )
    assert change.document is not None and change.document["winner"] == "b"
    assert change.winner == "b"


def test_a_winner_that_is_not_a_variant_is_refused() -> None:
    with pytest.raises(ApplyError, match="winner 'z' is not a variant"):
        change_for(planned(Action.FINISH, Status.FINISHED), doc("finished"), winner="z")


def test_finish_without_winner_has_none() -> None:
    change = change_for(planned(Action.FINISH, Status.FINISHED), doc("finished"))
    assert change.winner is None


def test_a_refused_action_cannot_be_applied() -> None:
    problem = Problem("web/experiments/checkout.yaml", 3, 1, "running → absent: finish it first")
    with pytest.raises(ApplyError, match="refused action"):
        change_for(planned(None, None, errors=(problem,)), None)


def test_a_plan_whose_status_contradicts_its_action_is_refused() -> None:
    with pytest.raises(ApplyError, match="pause should leave it paused"):
        change_for(planned(Action.PAUSE, Status.RUNNING), doc("running"))


def test_a_status_change_without_head_document_is_refused() -> None:
    with pytest.raises(ApplyError, match="needs the head document"):
        change_for(planned(Action.START, Status.RUNNING), None)


def test_yaml_datetimes_become_rfc3339_strings() -> None:
    head = doc("scheduled", schedule={"start_at": datetime(2030, 1, 1, 12, tzinfo=UTC)}, day=date(2030, 1, 2))
    change = change_for(planned(Action.SCHEDULE, Status.SCHEDULED), head)
    assert change.document is not None
    assert change.document["schedule"] == {"start_at": "2030-01-01T12:00:00+00:00"}
    assert change.document["day"] == "2030-01-02"
    assert to_jsonable({"t": (1, 2)}) == {"t": [1, 2]}


def record(
    status: Status, start: str | None = None, end: str | None = None, key: ResourceKey = EXP
) -> LiveRecord:
    schedule = {k: v for k, v in (("start_at", start), ("end_at", end)) if v}
    return LiveRecord(key, status, doc(status.value, schedule=schedule), revision=1)


def test_nothing_is_due_before_start_at() -> None:
    assert due_transitions([record(Status.SCHEDULED, "2030-01-01T13:00:00Z")], T0) == []


def test_scheduled_starts_at_start_at() -> None:
    found = due_transitions([record(Status.SCHEDULED, "2030-01-01T12:00:00Z")], T0)
    assert found == [Transition(EXP, Status.SCHEDULED, Status.RUNNING, T0)]


def test_running_finishes_at_end_at_in_another_zone() -> None:
    found = due_transitions([record(Status.RUNNING, "2029-12-01T00:00:00Z", "2030-01-01T13:00:00+02:00")], T0)
    assert found == [Transition(EXP, Status.RUNNING, Status.FINISHED, T0 - timedelta(hours=1))]


def test_a_missed_window_yields_start_then_finish() -> None:
    rec = record(Status.SCHEDULED, "2030-01-01T08:00:00Z", "2030-01-01T10:00:00Z")
    found = due_transitions([rec], T0)
    assert [(t.from_status, t.to_status) for t in found] == [
        (Status.SCHEDULED, Status.RUNNING),
        (Status.RUNNING, Status.FINISHED),
    ]
    assert effective_status(rec, T0) is Status.FINISHED
    assert effective_status(rec, T0 - timedelta(hours=3)) is Status.RUNNING


@pytest.mark.parametrize("status", [Status.PAUSED, Status.DRAFT, Status.FINISHED])
def test_other_statuses_are_left_alone(status: Status) -> None:
    assert due_transitions([record(status, "2029-01-01T00:00:00Z", "2029-02-01T00:00:00Z")], T0) == []


def test_remote_config_has_no_schedule() -> None:
    rec = LiveRecord(VAR, Status.LIVE, {"status": "live", "schedule": {"start_at": "2000-01-01T00:00:00Z"}})
    assert due_transitions([rec], T0) == []


def test_due_transitions_are_ordered_by_time_then_key() -> None:
    late = record(Status.SCHEDULED, "2030-01-01T11:00:00Z", key=ResourceKey("web", Kind.EXPERIMENT, "a"))
    early = record(Status.SCHEDULED, "2030-01-01T09:00:00Z", key=ResourceKey("web", Kind.EXPERIMENT, "z"))
    assert [t.key.id for t in due_transitions([late, early], T0)] == ["z", "a"]


def test_advance_changes_only_the_status() -> None:
    rec = record(Status.SCHEDULED, "2030-01-01T12:00:00Z")
    (step,) = due_transitions([rec], T0)
    assert advance(rec, step) == {**rec.document, "status": "running"}
    with pytest.raises(ApplyError):
        advance(record(Status.PAUSED), step)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-01-01T12:00:00Z", T0),
        ("2030-01-01T12:00:00", T0),
        (datetime(2030, 1, 1, 12), T0),
        ("not a time", None),
        (42, None),
        (None, None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_audit_entry_takes_its_account_from_the_resource() -> None:
    assert AuditEntry(AuditKind.APPLY, resource=EXP).account == "web"
