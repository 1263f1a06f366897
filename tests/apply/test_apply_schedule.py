"""Schedules with an injected clock: a merged `schedule` waits for start_at, runs, and ends at end_at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from applykit import (
    MOBILE_APPROVER,
    MOBILE_CREATOR,
    PAYWALL_TEST,
    SEARCH_TEST,
    Clock,
    audit,
    edited,
    open_pr,
    review,
    revision,
)

from bot.core.compile import compile_remote_config
from bot.core.live import AuditKind
from bot.core.model import Action, Status
from bot.sandbox import Sandbox
from bot.server import Scheduler

START = datetime(2029, 6, 5, 9, 0, tzinfo=UTC)
END = datetime(2029, 6, 10, 9, 0, tzinfo=UTC)
SCHEDULE = "status: scheduled\nschedule:\n  start_at: 2029-06-05T09:00:00Z\n  end_at: 2029-06-10T09:00:00Z"


@pytest.fixture
def clock() -> Clock:
    # Before every schedule in the sample (the earliest is 2030-01-15), so only ours is due.
    return Clock(datetime(2029, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def timed(clock: Clock) -> Iterator[Sandbox]:
    with Sandbox(clock=clock) as sandbox:
        yield sandbox


def _status(box: Sandbox) -> Status:
    record = box.live(PAYWALL_TEST)
    assert record is not None, "the scheduled test must be live"
    return record.status


def _schedule_pr(box: Sandbox) -> int:
    return open_pr(box, edited(box, PAYWALL_TEST, ("status: draft", SCHEDULE)), author=MOBILE_CREATOR)


def test_a_merged_schedule_runs_at_start_at_and_ends_at_end_at(timed: Sandbox, clock: Clock) -> None:
    box = timed
    scheduler = Scheduler(box.services)
    number = _schedule_pr(box)
    review(box, number, MOBILE_APPROVER)
    box.driver.merge(box.repo, number, "alice-admin")
    box.drain()
    assert _status(box) is Status.SCHEDULED
    merged_revision = revision(box, PAYWALL_TEST)

    clock.set(datetime(2029, 6, 5, 8, 59, 59, tzinfo=UTC))
    assert scheduler.tick() == 0
    assert _status(box) is Status.SCHEDULED

    clock.set(START)
    assert scheduler.tick() == 1
    assert _status(box) is Status.RUNNING
    assert revision(box, PAYWALL_TEST) == merged_revision + 1
    running = compile_remote_config("mobile", box.store.live("mobile"), clock())
    assert "paywall_copy_test" in {e["id"] for e in running["experiments"]}
    assert scheduler.tick() == 0  # a second tick at the same time changes nothing

    clock.set(END)
    assert scheduler.tick() == 1
    record = box.live(PAYWALL_TEST)
    assert record is not None and record.status is Status.FINISHED and record.document["status"] == "finished"
    assert record.revision == merged_revision + 2

    steps = audit(box, AuditKind.SCHEDULE, resource=PAYWALL_TEST)
    assert [(e.action, e.detail["from"], e.detail["to"]) for e in steps] == [
        (Action.START, "scheduled", "running"),
        (Action.FINISH, "running", "finished"),
    ]
    assert [e.detail["due_at"] for e in steps] == [START.isoformat(), END.isoformat()]
    assert all(e.actor == "approvalbot" for e in steps)


def test_a_tick_after_both_times_starts_then_finishes(timed: Sandbox, clock: Clock) -> None:
    box = timed
    number = _schedule_pr(box)
    review(box, number, MOBILE_APPROVER)
    box.driver.merge(box.repo, number, "alice-admin")
    box.drain()
    clock.set(datetime(2029, 7, 1, tzinfo=UTC))
    assert [(t.from_status, t.to_status) for t in box.store.apply_due_transitions(clock())] == [
        (Status.SCHEDULED, Status.RUNNING),
        (Status.RUNNING, Status.FINISHED),
    ]
    assert _status(box) is Status.FINISHED
    assert box.store.apply_due_transitions(clock()) == []


def test_a_rejected_schedule_never_runs(timed: Sandbox, clock: Clock) -> None:
    box = timed
    number = _schedule_pr(box)
    review(box, number, MOBILE_APPROVER, "REQUEST_CHANGES", "Not before the paywall redesign ships.")
    assert box.pull(number).state == "closed"
    clock.set(datetime(2029, 7, 1, tzinfo=UTC))
    assert Scheduler(box.services).tick() == 0
    assert _status(box) is Status.DRAFT
    assert not audit(box, AuditKind.SCHEDULE, resource=PAYWALL_TEST)


def test_an_unmerged_approved_schedule_never_runs(timed: Sandbox, clock: Clock) -> None:
    box = timed
    number = _schedule_pr(box)
    review(box, number, MOBILE_APPROVER)
    clock.set(datetime(2029, 7, 1, tzinfo=UTC))
    assert Scheduler(box.services).tick() == 0
    assert _status(box) is Status.DRAFT


def test_an_unscheduled_test_does_not_start(timed: Sandbox, clock: Clock) -> None:
    box = timed
    number = open_pr(box, edited(box, SEARCH_TEST, ("status: scheduled", "status: draft")))
    review(box, number, "bob-approver")
    box.driver.merge(box.repo, number, "alice-admin")
    box.drain()
    clock.set(datetime(2030, 1, 16, tzinfo=UTC))  # past the sample's start_at 2030-01-15
    Scheduler(box.services).tick()
    record = box.live(SEARCH_TEST)
    assert record is not None and record.status is Status.DRAFT
