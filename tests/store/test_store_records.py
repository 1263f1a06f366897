"""Deliveries, notifications, locks, audit paging and drift: the store's bookkeeping."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters.store import AuditEntry, AuditKind, Lock, Store
from bot.core.model import Action, Kind, PendingState, ResourceKey

A = ResourceKey("web", Kind.EXPERIMENT, "a")
B = ResourceKey("web", Kind.EXPERIMENT, "b")
C = ResourceKey("mobile", Kind.REMOTE_CONFIG, "c")


def test_a_delivery_is_recorded_once(store: Store) -> None:
    assert store.record_delivery("d-1", "pull_request")
    assert not store.record_delivery("d-1", "pull_request")
    assert store.record_delivery("d-2", "pull_request")


def test_racing_threads_record_a_delivery_once(store_url: str, store: Store) -> None:
    others = [Store.from_url(store_url) for _ in range(3)]
    try:
        stores = [store, *others] * 2
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(lambda s: s.record_delivery("same", "push"), stores))
        assert results.count(True) == 1
    finally:
        for other in others:
            other.close()


def test_a_notification_is_claimed_once(store: Store) -> None:
    assert store.claim_notification("approved:pr12:abc:alice")
    assert not store.claim_notification("approved:pr12:abc:alice")
    assert store.claim_notification("approved:pr12:def:alice")


REPO = "acme/experiments"
OTHER = "acme/mobile-config"


def test_locks_are_set_replaced_and_released(store: Store, clock: Any) -> None:
    t0 = clock.now
    assert store.set_locks(REPO, 12, {A: PendingState.PAUSE_PENDING, B: None}) == []
    assert store.locks() == [
        Lock(A, 12, PendingState.PAUSE_PENDING, t0, REPO),
        Lock(B, 12, None, t0, REPO),
    ]
    later = clock.advance(minutes=5)
    # Replacing: B released, A's pending state changes but it keeps its place (since), C taken now.
    assert store.set_locks(REPO, 12, {A: PendingState.FINISH_PENDING, C: PendingState.DELETE_PENDING}) == []
    assert store.locks() == [
        Lock(C, 12, PendingState.DELETE_PENDING, later, REPO),
        Lock(A, 12, PendingState.FINISH_PENDING, t0, REPO),
    ]
    assert store.lock_holder(REPO, B) is None
    assert store.release_locks(REPO, 12) == 2
    assert store.locks() == []


def test_a_lock_held_by_another_pr_is_not_taken(store: Store, clock: Any) -> None:
    store.set_locks(REPO, 7, {A: PendingState.APPROVAL_PENDING})
    conflicts = store.set_locks(REPO, 9, {A: PendingState.PAUSE_PENDING, B: PendingState.PAUSE_PENDING})
    assert conflicts == [Lock(A, 7, PendingState.APPROVAL_PENDING, clock.now, REPO)]
    holder = store.lock_holder(REPO, A)
    assert holder is not None and holder.pr_number == 7
    holder_b = store.lock_holder(REPO, B)
    assert holder_b is not None and holder_b.pr_number == 9
    store.release_locks(REPO, 7)
    assert store.set_locks(REPO, 9, {A: PendingState.PAUSE_PENDING, B: PendingState.PAUSE_PENDING}) == []
    assert {lock.key: lock.pr_number for lock in store.locks()} == {A: 9, B: 9}


def test_two_repositories_with_the_same_account_and_pr_number_lock_independently(
    store: Store, clock: Any
) -> None:
    t0 = clock.now
    # PR #3 of each repository, both on account "web", both on experiment "a".
    assert store.set_locks(REPO, 3, {A: PendingState.PAUSE_PENDING}) == []
    later = clock.advance(minutes=1)
    assert store.set_locks(OTHER, 3, {A: PendingState.FINISH_PENDING, B: None}) == []
    assert store.locks(REPO) == [Lock(A, 3, PendingState.PAUSE_PENDING, t0, REPO)]
    assert store.locks(OTHER) == [
        Lock(A, 3, PendingState.FINISH_PENDING, later, OTHER),
        Lock(B, 3, None, later, OTHER),
    ]
    assert store.lock_holder(REPO, B) is None  # B is locked in the other repository only
    assert store.lock_holder(REPO, A) == Lock(A, 3, PendingState.PAUSE_PENDING, t0, REPO)
    # Re-setting one repository's PR #3 leaves the other's alone.
    assert store.set_locks(REPO, 3, {B: None}) == []
    assert {(lock.repository, lock.key) for lock in store.locks()} == {(REPO, B), (OTHER, A), (OTHER, B)}
    assert store.release_locks(OTHER, 3) == 2
    assert store.locks() == [Lock(B, 3, None, clock.now, REPO)]
    assert store.release_locks(OTHER, 3) == 0
    assert store.release_locks(REPO, 3) == 1
    assert store.locks() == []


def test_any_repository_s_holder_is_found_when_none_is_named(store: Store) -> None:
    store.set_locks(OTHER, 5, {A: PendingState.PAUSE_PENDING})
    holder = store.lock_holder(None, A)
    assert holder is not None and (holder.repository, holder.pr_number) == (OTHER, 5)
    assert store.lock_holder(REPO, A) is None
    assert store.lock_holder(None, B) is None


def test_a_lock_needs_a_repository(store: Store) -> None:
    with pytest.raises(ValueError, match="needs the PR's repository"):
        store.set_locks("", 1, {A: None})
    with pytest.raises(ValueError, match="needs the PR's repository"):
        store.release_locks("", 1)
    assert store.locks() == []


def test_the_audit_log_pages_newest_first(store: Store, clock: Any) -> None:
    for n in range(25):
        clock.advance(seconds=1)
        account_key = A if n % 5 else C
        store.audit(AuditEntry(AuditKind.SUBMISSION, resource=account_key, actor=f"u{n}", pr_number=n))
    pages: list[list[AuditEntry]] = []
    before: int | None = None
    while page := store.audit_log(limit=10, before_id=before):
        pages.append(page)
        before = page[-1].id
    assert [len(p) for p in pages] == [10, 10, 5]
    actors = [e.actor for p in pages for e in p]
    assert actors == [f"u{n}" for n in reversed(range(25))]
    mobile = store.audit_log("mobile", limit=3)
    assert [e.actor for e in mobile] == ["u20", "u15", "u10"]
    assert [e.actor for e in store.audit_log("mobile", limit=10, before_id=mobile[-1].id)] == ["u5", "u0"]
    with pytest.raises(ValueError, match="limit"):
        store.audit_log(limit=0)


def test_an_audit_entry_round_trips(store: Store, clock: Any) -> None:
    entry = AuditEntry(
        AuditKind.REJECTION,
        resource=A,
        actor="bob",
        pr_number=4,
        commit_sha="abc",
        action=Action.FINISH,
        feedback="too risky: ünïcode ✓",
        winner="b",
        detail={"nested": {"at": datetime(2030, 1, 1, tzinfo=UTC)}, "list": [1, 2]},
    )
    saved = store.audit(entry)
    assert saved.id is not None and saved.at == clock.now
    (read,) = store.audit_log()
    assert read == saved
    assert read.detail == {"nested": {"at": "2030-01-01T00:00:00+00:00"}, "list": [1, 2]}
    toggle = store.audit(
        AuditEntry(AuditKind.TOGGLE, account="web", actor="admin", detail={"enabled": False})
    )
    assert toggle.resource is None and toggle.account == "web"


def test_drift_is_recorded_once_per_commit(store: Store, clock: Any) -> None:
    assert store.record_drift("c0ffee", {"reason": "direct push", "pusher": "mallory"})
    assert not store.record_drift("c0ffee", {"reason": "direct push", "pusher": "mallory"})
    clock.advance(seconds=1)
    assert store.record_drift("beef", {"reason": "merged past the check"})
    assert [(d.commit_sha, d.detail.get("reason")) for d in store.drift()] == [
        ("c0ffee", "direct push"),
        ("beef", "merged past the check"),
    ]


def test_ping(store: Store) -> None:
    assert store.ping()


def test_drift_stays_open_until_resolved_once(store: Store, clock: Any) -> None:
    store.record_drift("c0ffee", {"resources": ["web/experiment/a"]})
    store.record_drift("beef", {"resources": ["web/experiment/b"]})
    first = store.drift()[0]
    assert first.open and first.resources == ("web/experiment/a",) and first.resolved_by is None
    clock.advance(minutes=5)
    assert store.resolve_drift("c0ffee", "f00d")
    assert not store.resolve_drift("c0ffee", "other")  # the first resolution stands
    assert [d.commit_sha for d in store.drift(open_only=True)] == ["beef"]
    resolved = store.drift()[0]
    assert (resolved.open, resolved.resolved_by, resolved.resolved_at) == (False, "f00d", clock.now)
