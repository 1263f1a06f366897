"""Pull request heads: who pushed each head and when approvalbot first saw it (the API never says)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.store import PullHead, Store

REPO = "acme/experiments"
SHA = "1" * 40
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_a_head_is_recorded_with_its_pusher_and_first_sighting(store: Store) -> None:
    assert store.head(REPO, 4, SHA) is None
    recorded = store.record_head(REPO, 4, SHA, pusher="bob", seen_at=T0)
    assert recorded == PullHead(REPO, 4, SHA, "bob", T0)
    assert store.head(REPO, 4, SHA) == recorded


def test_a_later_sighting_keeps_the_first_time_and_the_known_pusher(store: Store) -> None:
    store.record_head(REPO, 4, SHA, pusher="bob", seen_at=T0)
    again = store.record_head(REPO, 4, SHA, pusher="mallory", seen_at=T0 + timedelta(minutes=5))
    assert again == PullHead(REPO, 4, SHA, "bob", T0)
    assert store.record_head(REPO, 4, SHA, seen_at=T0 + timedelta(hours=1)) == again


def test_a_pusher_learnt_later_fills_a_missing_one(store: Store) -> None:
    # The evaluation of a review may run before the `synchronize` webhook that names the pusher.
    assert store.record_head(REPO, 4, SHA, seen_at=T0).pusher is None
    filled = store.record_head(REPO, 4, SHA, pusher="bob", seen_at=T0 + timedelta(seconds=3))
    assert filled == PullHead(REPO, 4, SHA, "bob", T0)


def test_heads_are_kept_apart_by_repository_pr_and_sha(store: Store) -> None:
    store.record_head(REPO, 4, SHA, pusher="bob", seen_at=T0)
    assert store.head(REPO, 5, SHA) is None
    assert store.head("acme/other", 4, SHA) is None
    assert store.head(REPO, 4, "2" * 40) is None
    other = store.record_head(REPO, 5, SHA, pusher="carol", seen_at=T0 + timedelta(seconds=1))
    assert other.pusher == "carol" and store.head(REPO, 4, SHA).pusher == "bob"  # type: ignore[union-attr]


def test_racing_replicas_agree_on_the_first_sighting(store_url: str, store: Store) -> None:
    others = [Store.from_url(store_url) for _ in range(3)]
    try:
        stores = [store, *others] * 2

        def record(index: int) -> Any:
            return stores[index].record_head(REPO, 9, SHA, seen_at=T0 + timedelta(seconds=index))

        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(record, range(len(stores))))
        assert len({r.seen_at for r in results}) == 1
    finally:
        for other in others:
            other.close()


def test_a_delivery_remembers_when_it_arrived(store: Store, clock: Any) -> None:
    assert store.delivery_received_at("d-1") is None
    store.record_delivery("d-1", "pull_request")
    clock.advance(seconds=30)
    store.record_delivery("d-1", "pull_request")  # a redelivery does not move the arrival
    assert store.delivery_received_at("d-1") == T0
