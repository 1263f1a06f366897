"""The scheduler pass against the store, with an injected clock; the compiled config from live rows."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from bot.adapters.store import AuditKind, LiveChange, Store
from bot.core.compile import compile_remote_config, etag
from bot.core.live import change_for
from bot.core.model import Action, Kind, PlannedAction, ResourceKey, Status

EXP = ResourceKey("web", Kind.EXPERIMENT, "checkout")
VAR = ResourceKey("web", Kind.REMOTE_CONFIG, "button_color")
START_AT = "2030-01-01T13:00:00Z"  # the clock starts at 12:00
END_AT = "2030-01-01T15:00:00+01:00"  # 14:00 UTC


def scheduled(key: ResourceKey = EXP, start: str = START_AT, end: str | None = END_AT) -> LiveChange:
    schedule = {"start_at": start, **({"end_at": end} if end else {})}
    return LiveChange(
        key, Action.SCHEDULE, Status.SCHEDULED, {"id": key.id, "status": "scheduled", "schedule": schedule}
    )


def test_a_scheduled_experiment_starts_at_start_at_and_ends_at_end_at(store: Store, clock: Any) -> None:
    store.apply_merge("m1", 1, [scheduled()], [])
    assert store.apply_due_transitions(clock.advance(minutes=59)) == []
    assert store.get_live(EXP).status is Status.SCHEDULED  # type: ignore[union-attr]

    (started,) = store.apply_due_transitions(clock.advance(minutes=1))
    assert (started.from_status, started.to_status) == (Status.SCHEDULED, Status.RUNNING)
    record = store.get_live(EXP)
    assert record is not None
    assert (record.status, record.document["status"], record.revision) == (Status.RUNNING, "running", 2)
    assert record.updated_at == clock.now
    assert record.applied_commit == "m1"  # the clock is not a merge
    assert store.apply_due_transitions(clock.advance(minutes=30)) == []

    (ended,) = store.apply_due_transitions(clock.advance(minutes=90))
    assert (ended.to_status, ended.at) == (Status.FINISHED, clock.now - timedelta(hours=1))
    record = store.get_live(EXP)
    assert record is not None and (record.status, record.revision) == (Status.FINISHED, 3)
    assert record.winner is None
    assert store.apply_due_transitions(clock.advance(days=1)) == []

    audit = [e for e in reversed(store.audit_log()) if e.kind is AuditKind.SCHEDULE]
    assert [(e.action, e.detail["from"], e.detail["to"], e.actor) for e in audit] == [
        (Action.START, "scheduled", "running", "approvalbot"),
        (Action.FINISH, "running", "finished", "approvalbot"),
    ]
    assert audit[0].detail["due_at"] == "2030-01-01T13:00:00+00:00"


def test_a_tick_after_the_whole_window_starts_and_finishes_it(store: Store, clock: Any) -> None:
    store.apply_merge("m1", 1, [scheduled()], [])
    steps = store.apply_due_transitions(clock.advance(hours=5))
    assert [s.to_status for s in steps] == [Status.RUNNING, Status.FINISHED]
    record = store.get_live(EXP)
    assert record is not None and (record.status, record.revision) == (Status.FINISHED, 3)


def test_paused_and_draft_experiments_are_left_alone(store: Store, clock: Any) -> None:
    other = ResourceKey("web", Kind.EXPERIMENT, "other")
    paused = LiveChange(
        EXP, Action.PAUSE, Status.PAUSED, {"status": "paused", "schedule": {"end_at": START_AT}}
    )
    draft = LiveChange(
        other, Action.UNSCHEDULE, Status.DRAFT, {"status": "draft", "schedule": {"start_at": START_AT}}
    )
    store.apply_merge("m1", 1, [paused, draft], [])
    assert store.apply_due_transitions(clock.advance(days=2)) == []


def test_two_replicas_ticking_together_make_each_transition_once(
    store_url: str, store: Store, clock: Any
) -> None:
    keys = [ResourceKey("web", Kind.EXPERIMENT, f"e{n:02}") for n in range(20)]
    store.apply_merge("m1", 1, [scheduled(k) for k in keys], [])
    other = Store.from_url(store_url, clock=clock)
    now = clock.advance(hours=5)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def tick(target: Store) -> None:
        barrier.wait()
        results.append(len(target.apply_due_transitions(now)))

    try:
        threads = [threading.Thread(target=tick, args=(s,)) for s in (store, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.close()
    assert sum(results) == 40
    assert {r.revision for r in store.live()} == {3}
    assert len([e for e in store.audit_log(limit=500) if e.kind is AuditKind.SCHEDULE]) == 40


def planned(
    key: ResourceKey, action: Action, to_status: Status | None, winner: str | None = None
) -> PlannedAction:
    return PlannedAction(
        key,
        f"web/{key.kind}/{key.id}.yaml",
        action,
        None,
        to_status,
        None,
        True,
        variants=("control", "green"),
        winner=winner,
    )


EXPERIMENT = {
    "kind": "experiment",
    "id": "checkout",
    "variants": [
        {"id": "control", "weight": 50, "control": True},
        {"id": "green", "weight": 50, "overrides": {"button_color": "green"}},
    ],
}


def test_finishing_with_a_winner_rolls_it_out_in_the_compiled_config(store: Store, clock: Any) -> None:
    variable = {
        "kind": "remote_config",
        "id": "button_color",
        "key": "button_color",
        "type": "string",
        "default": "blue",
        "status": "live",
    }
    store.apply_merge("m1", 1, [change_for(planned(VAR, Action.PUBLISH, Status.LIVE), variable)], [])
    clock.advance(minutes=1)
    start = change_for(planned(EXP, Action.START, Status.RUNNING), {**EXPERIMENT, "status": "running"})
    store.apply_merge("m2", 2, [start], [])
    running = compile_remote_config("web", store.live("web"))
    assert [e["id"] for e in running["experiments"]] == ["checkout"]
    assert running["variables"]["button_color"]["default"] == "blue"
    assert etag(running) == etag(compile_remote_config("web", store.live("web")))

    clock.advance(minutes=1)
    finish = change_for(
        planned(EXP, Action.FINISH, Status.FINISHED), {**EXPERIMENT, "status": "finished"}, winner="green"
    )
    store.apply_merge("m3", 3, [finish], [])
    finished = compile_remote_config("web", store.live("web"))
    assert finished["experiments"] == []
    assert finished["rollouts"][0]["variant"] == "green"
    assert finished["variables"]["button_color"]["default"] == "green"
    assert etag(finished) != etag(running)
    assert etag(finished) == etag(compile_remote_config("web", store.live("web")))
