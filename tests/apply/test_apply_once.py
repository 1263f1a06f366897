"""Exactly once: redelivered and replayed merge events, and a crash in the middle of a merge."""

from __future__ import annotations

import pytest
from applykit import (
    CHECKOUT_TEST,
    SHIPPING_TEST,
    applies,
    approved_merge,
    edited,
    merge,
    open_pr,
    review,
    revision,
    snapshot,
    wrap_apply_merge,
)

from bot.core.live import LiveChange
from bot.core.model import Status
from bot.emulator.webhooks import Delivery
from bot.engine.reconcile import reconcile
from bot.sandbox import SANDBOX_JOBS, Sandbox


def _merge_deliveries(box: Sandbox, number: int) -> tuple[Delivery, Delivery]:
    closed = [d for d in box.emulator.webhooks.of("pull_request", "closed") if d.payload["number"] == number]
    pushes = [
        d for d in box.emulator.webhooks.of("push") if d.payload["after"] == box.pull(number).merge_commit_sha
    ]
    assert len(closed) == 1 and len(pushes) == 1
    return closed[0], pushes[0]


def _pause_and_resume(box: Sandbox) -> dict[str, str]:
    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: paused"))
    return edits | edited(box, SHIPPING_TEST, ("status: paused", "status: running"))


@pytest.mark.parametrize("event", ["pull_request.closed", "push"])
def test_a_redelivered_merge_event_applies_nothing_more(box: Sandbox, event: str) -> None:
    before = revision(box, CHECKOUT_TEST)
    merged = approved_merge(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    closed, push = _merge_deliveries(box, merged.number)
    original = closed if event == "pull_request.closed" else push
    after_merge = snapshot(box)

    again = box.emulator.webhooks.redeliver(original.id)  # GitHub's "Redeliver": same id, same bytes
    box.drain()

    assert again.status == 200  # acknowledged as a replay
    assert snapshot(box) == after_merge
    assert revision(box, CHECKOUT_TEST) == before + 1
    assert len(applies(box, CHECKOUT_TEST, merged.sha)) == 1


def test_a_replayed_merge_event_under_new_delivery_ids_applies_nothing_more(box: Sandbox) -> None:
    """Not a redelivery but the same events again (a second webhook, a proxy retry): the store keys the
    apply by the merge commit, so the delivery log is not the only guard."""
    before = revision(box, CHECKOUT_TEST)
    merged = approved_merge(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    closed, push = _merge_deliveries(box, merged.number)
    after_merge = snapshot(box)

    for _ in range(2):
        for delivery in (closed, push):
            assert box.emulator.webhooks.send(delivery.event, delivery.payload).status == 202
    box.drain()

    assert snapshot(box) == after_merge
    assert revision(box, CHECKOUT_TEST) == before + 1
    assert len(applies(box, CHECKOUT_TEST, merged.sha)) == 1
    assert not box.store.drift()


def test_closed_and_push_of_one_merge_apply_it_once(box: Sandbox) -> None:
    """A merge sends both `pull_request.closed` and `push`; they run on different queues, in parallel."""
    before = revision(box, CHECKOUT_TEST), revision(box, SHIPPING_TEST)
    merged = approved_merge(box, _pause_and_resume(box))
    assert (revision(box, CHECKOUT_TEST), revision(box, SHIPPING_TEST)) == (before[0] + 1, before[1] + 1)
    assert len(applies(box, CHECKOUT_TEST, merged.sha)) == 1
    assert len(applies(box, SHIPPING_TEST, merged.sha)) == 1


class _CrashAfterFirst:
    """Raises after the first resource of a merge is written, while armed (a crash mid-transaction)."""

    def __init__(self) -> None:
        self.armed = True
        self.crashes = 0

    def __call__(self, change: LiveChange) -> None:
        if self.armed:
            self.crashes += 1
            raise RuntimeError(f"injected crash after writing {change.key}")


def _open_approved(box: Sandbox) -> int:
    number = open_pr(box, _pause_and_resume(box))
    review(box, number, "bob-approver")
    assert box.check(number).conclusion == "success"  # type: ignore[union-attr]
    return number


def _crash_the_merge(box: Sandbox) -> tuple[str, _CrashAfterFirst, dict[object, object]]:
    number = _open_approved(box)
    before = snapshot(box)
    crash = _CrashAfterFirst()
    wrap_apply_merge(box, crash)
    sha = merge(box, number)
    # Both the closed and the push events tried, as often as the queue runs a failing job, and
    # crashed after the first resource every time; both jobs are parked, not dropped.
    assert crash.crashes == 2 * SANDBOX_JOBS.attempts
    assert box.store.jobs().counts().parked == 2
    assert snapshot(box) == before, "a crash mid-merge must leave nothing half applied"
    assert not box.store.is_applied(sha)
    assert not [e for e in box.store.audit_log(limit=1000) if e.commit_sha == sha]
    crash.armed = False
    return sha, crash, before


def _assert_applied_once(box: Sandbox, sha: str, before: dict[object, object]) -> None:
    live = box.live(CHECKOUT_TEST), box.live(SHIPPING_TEST)
    assert [r.status for r in live if r] == [Status.PAUSED, Status.RUNNING]
    for key in (CHECKOUT_TEST, SHIPPING_TEST):
        assert len(applies(box, key, sha)) == 1
        assert revision(box, key) == before[key][1] + 1  # type: ignore[index]
    assert box.store.is_applied(sha)


def test_a_crash_mid_merge_applies_nothing_then_a_new_event_applies_it_once(box: Sandbox) -> None:
    sha, _, before = _crash_the_merge(box)
    push = next(d for d in box.emulator.webhooks.of("push") if d.payload["after"] == sha)
    box.emulator.webhooks.send("push", push.payload)  # the same event again, under a new delivery id
    box.drain()
    _assert_applied_once(box, sha, before)
    box.emulator.webhooks.send("push", push.payload)
    box.drain()
    _assert_applied_once(box, sha, before)


def test_a_crash_mid_merge_that_passes_is_healed_by_the_queues_retry(box: Sandbox) -> None:
    number = _open_approved(box)
    before = snapshot(box)
    crashes: list[str] = []

    def crash_once(change: LiveChange) -> None:  # a fault that passes: a database restart, a 502
        if not crashes:
            crashes.append(str(change.key))
            raise RuntimeError(f"injected crash after writing {change.key}")

    wrap_apply_merge(box, crash_once)
    sha = merge(box, number)  # no new event, no redelivery, no reconcile: the queue retries the job
    assert len(crashes) == 1
    _assert_applied_once(box, sha, before)
    assert box.store.jobs().counts().parked == 0


def test_a_crash_mid_merge_is_caught_up_by_reconcile_once(box: Sandbox) -> None:
    sha, _, before = _crash_the_merge(box)
    result = reconcile(box.services, box.repo)
    assert [r.sha for r in result.results] == [sha]
    _assert_applied_once(box, sha, before)
    assert reconcile(box.services, box.repo).results == ()
    _assert_applied_once(box, sha, before)


def test_a_crash_mid_merge_is_retried_by_githubs_redeliver(box: Sandbox) -> None:
    sha, _, before = _crash_the_merge(box)
    push = next(d for d in box.emulator.webhooks.of("push") if d.payload["after"] == sha)
    box.emulator.webhooks.redeliver(push.id)
    box.drain()
    _assert_applied_once(box, sha, before)
