"""The outbox of target POSTs: written with the merge, leased to one worker, kept until delivered."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from store_clock import FakeClock

from bot.adapters.store import Store
from bot.core.live import LiveChange, OwedPost
from bot.core.model import Action, Kind, ResourceKey, Status

SHA = "a" * 40
CHANGE = LiveChange(ResourceKey("web", Kind.EXPERIMENT, "x"), Action.START, Status.RUNNING, {"id": "x"})


def owed(target: str, next_attempt_at: datetime | None = None) -> OwedPost:
    return OwedPost(SHA, target, '{"commit": "' + SHA + '"}', next_attempt_at=next_attempt_at)


def test_owed_posts_are_written_with_the_merge_and_not_on_replay(store: Store, clock: FakeClock) -> None:
    posts = [owed("t1"), owed("t2")]
    assert store.apply_merge(SHA, 7, [CHANGE], [], owed=posts)
    assert [(p.target, p.body, p.attempts, p.created_at) for p in store.owed_posts()] == [
        ("t1", posts[0].body, 0, clock.now),
        ("t2", posts[1].body, 0, clock.now),
    ]
    assert not store.apply_merge(SHA, 7, [CHANGE], [], owed=posts)  # a replay owes nothing more
    assert len(store.owed_posts()) == 2


def test_a_merge_that_fails_owes_nothing(store: Store, clock: FakeClock) -> None:
    def crash(change: LiveChange) -> None:
        raise RuntimeError("crash inside the transaction")

    with pytest.raises(RuntimeError):
        store.apply_merge(SHA, 7, [CHANGE], [], after_each=crash, owed=[owed("t1")])
    assert store.owed_posts() == [] and not store.is_applied(SHA)


def test_only_posts_due_by_a_time_are_listed(store: Store, clock: FakeClock) -> None:
    later = clock.now + timedelta(minutes=5)
    store.apply_merge(SHA, 7, [], [], owed=[owed("now"), owed("later", later)])
    assert [p.target for p in store.owed_posts(due_by=clock.now)] == ["now"]
    assert [p.target for p in store.owed_posts(due_by=later)] == ["later", "now"]


def test_a_post_is_leased_to_one_worker_until_the_lease_ends(store: Store, clock: FakeClock) -> None:
    store.apply_merge(SHA, 7, [], [], owed=[owed("t1")])
    [post] = store.owed_posts()
    until = clock.now + timedelta(minutes=5)
    assert store.take_owed(post, clock.now, until)
    assert not store.take_owed(post, clock.now, until)  # the other worker finds it taken
    assert store.owed_posts(due_by=clock.now) == []
    assert store.take_owed(post, until, until + timedelta(minutes=5))  # the lease ran out: due again


def test_a_failed_round_is_counted_and_retried_later_and_a_delivery_ends_it(
    store: Store, clock: FakeClock
) -> None:
    store.apply_merge(SHA, 7, [], [], owed=[owed("t1")])
    [post] = store.owed_posts()
    retry = clock.now + timedelta(minutes=1)
    store.post_failed(post, "HTTP 503 Service Unavailable", retry)
    [again] = store.owed_posts()
    assert (again.attempts, again.last_error, again.next_attempt_at) == (
        1,
        "HTTP 503 Service Unavailable",
        retry,
    )
    store.post_failed(again, "cannot reach", retry + timedelta(minutes=2))
    assert store.owed_posts()[0].attempts == 2
    assert store.posted(again)
    assert store.owed_posts() == []
    assert not store.posted(again)
