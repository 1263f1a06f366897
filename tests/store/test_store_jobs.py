"""The job table (issue 13): a delivery and its job in one transaction, claims in per-key order under a
lease with a fencing token, retries with backoff, then parked; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.adapters.store import Store
from bot.adapters.store.jobs import Accepted, Backoff, JobStatus, JobStore
from bot.core.live import AuditKind
from bot.ports import Job


def _job(delivery: str, key: str = "acme/config#1", event: str = "pull_request") -> Job:
    return Job(key=key, event=event, delivery_id=delivery, payload={"n": delivery})


def _jobs(store: Store, clock: Any, **backoff: float) -> JobStore:
    return store.jobs(Backoff(**backoff) if backoff else None, clock=clock)  # type: ignore[arg-type]


def test_a_delivery_is_accepted_once_with_its_job(store: Store, clock: Any) -> None:
    jobs = _jobs(store, clock)
    assert jobs.accept(_job("d-1")) is Accepted.QUEUED
    assert jobs.accept(_job("d-1")) is Accepted.PENDING  # not run yet: it will be
    claimed = jobs.claim("w", lease=30)
    assert claimed is not None and claimed.job == _job("d-1")
    assert jobs.finish(claimed)
    assert jobs.accept(_job("d-1")) is Accepted.DONE  # a replay
    assert store.record_delivery("d-1", "pull_request") is False  # the delivery log agrees


def test_claims_keep_the_order_of_a_key_and_run_keys_side_by_side(store: Store, clock: Any) -> None:
    jobs = _jobs(store, clock)
    for delivery, key in (("a1", "k#1"), ("a2", "k#1"), ("b1", "k#2")):
        jobs.accept(_job(delivery, key))
    first = jobs.claim("w1", lease=30)
    second = jobs.claim("w2", lease=30)
    assert first is not None and second is not None
    assert (first.job.delivery_id, second.job.delivery_id) == ("a1", "b1")  # a2 waits behind a1
    assert jobs.claim("w3", lease=30) is None
    jobs.finish(first)
    third = jobs.claim("w3", lease=30)
    assert third is not None and third.job.delivery_id == "a2"


def test_a_dead_workers_job_is_claimed_again_once_its_lease_lapses(store: Store, clock: Any) -> None:
    jobs = _jobs(store, clock)
    jobs.accept(_job("d-1"))
    worker = jobs.claim("dead", lease=30)
    assert worker is not None
    clock.advance(seconds=20)
    assert jobs.renew(worker, lease=30)  # alive: renewing keeps it
    clock.advance(seconds=20)
    assert jobs.claim("other", lease=30) is None  # renewed 20 s ago: still held
    clock.advance(seconds=11)  # no renewal for 31 s: the worker is taken for dead
    heir = jobs.claim("other", lease=30)
    assert heir is not None and heir.job == worker.job


def test_a_zombie_cannot_close_a_job_after_losing_its_lease(store: Store, clock: Any) -> None:
    jobs = _jobs(store, clock)
    jobs.accept(_job("d-1"))
    zombie = jobs.claim("dead", lease=30)
    assert zombie is not None
    clock.advance(seconds=31)
    heir = jobs.claim("heir", lease=30)
    assert heir is not None and heir.id == zombie.id and heir.fence == zombie.fence + 1
    assert heir.attempts == 2
    assert not jobs.renew(zombie, lease=30)
    assert not jobs.finish(zombie)
    assert jobs.fail(zombie, "late") is None
    assert jobs.finish(heir)
    assert jobs.accept(_job("d-1")) is Accepted.DONE


def test_a_failing_job_backs_off_then_is_parked_and_a_redelivery_queues_it_again(
    store: Store, clock: Any
) -> None:
    jobs = _jobs(store, clock, base=10.0, cap=100.0, max_attempts=3)
    jobs.accept(_job("d-1"))
    for attempt in (1, 2):
        claimed = jobs.claim("w", lease=30)
        assert claimed is not None and claimed.attempts == attempt
        assert jobs.fail(claimed, "GitHub answered 502") is JobStatus.QUEUED
        assert jobs.claim("w", lease=30) is None  # backing off
        clock.advance(seconds=10 * 2 ** (attempt - 1))
    last = jobs.claim("w", lease=30)
    assert last is not None and last.attempts == 3
    assert jobs.fail(last, "GitHub answered 502") is JobStatus.PARKED
    clock.advance(days=1)
    assert jobs.claim("w", lease=30) is None
    assert jobs.counts().parked == 1
    (parked,) = jobs.parked()
    assert parked["delivery_id"] == "d-1" and "502" in parked["last_error"]
    # Parked once, in the audit trail (only the last attempt's failure is written there).
    (entry,) = [e for e in store.audit_log() if e.kind is AuditKind.JOB_PARKED]
    assert entry.actor == "approvalbot" and entry.detail["delivery_id"] == "d-1"
    assert entry.detail["attempts"] == 3 and "502" in entry.detail["error"]
    # GitHub's "Redeliver" of that delivery runs it again, from the first attempt.
    assert jobs.accept(_job("d-1")) is Accepted.REQUEUED
    again = jobs.claim("w", lease=30)
    assert again is not None and again.attempts == 1


def test_a_parked_job_does_not_hold_its_key_back(store: Store, clock: Any) -> None:
    jobs = _jobs(store, clock, max_attempts=1)
    jobs.accept(_job("d-1"))
    jobs.accept(_job("d-2"))
    first = jobs.claim("w", lease=30)
    assert first is not None and jobs.fail(first, "bug") is JobStatus.PARKED
    second = jobs.claim("w", lease=30)
    assert second is not None and second.job.delivery_id == "d-2"


def test_the_engines_own_jobs_are_not_queued_twice_while_one_waits(store: Store, clock: Any) -> None:
    jobs = _jobs(store, clock)
    again = Job(key="k#1", event="reevaluate", delivery_id="reevaluate:k#1", payload={})
    first = jobs.add(again)
    assert jobs.add(again) == first
    claimed = jobs.claim("w", lease=30)
    assert claimed is not None and claimed.job == again
    assert jobs.add(again) != first  # one started: a later change needs a later read


def test_racing_workers_claim_each_job_once(store_url: str, store: Store) -> None:
    stores = [store, *(Store.from_url(store_url) for _ in range(3))]
    try:
        jobs = store.jobs()
        for i in range(40):
            jobs.accept(_job(f"d-{i}", key=f"k#{i % 8}"))
        seen: list[str] = []

        def work(s: Store) -> None:
            mine = s.jobs()
            while (claimed := mine.claim(f"w{id(s)}", lease=30)) is not None:
                seen.append(claimed.job.delivery_id)
                assert mine.finish(claimed)

        with ThreadPoolExecutor(len(stores)) as pool:
            list(pool.map(work, stores))
        assert sorted(seen) == sorted(f"d-{i}" for i in range(40))
    finally:
        for other in stores[1:]:
            other.close()


def test_backoff_is_jittered_exponential_and_capped() -> None:
    rng = random.Random(1)
    backoff = Backoff(base=2.0, cap=30.0)
    delays = [backoff.delay(n, rng) for n in range(1, 8)]
    assert all(
        0.5 * min(30.0, 2.0 * 2 ** (n - 1)) <= d <= min(30.0, 2.0 * 2 ** (n - 1))
        for n, d in enumerate(delays, 1)
    )
    assert max(delays) <= 30.0
