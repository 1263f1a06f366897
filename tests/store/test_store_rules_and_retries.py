"""The approved rules, pending toggles, and the deletions that let a failed job or email be retried."""

from __future__ import annotations

from datetime import UTC, datetime

from store_clock import FakeClock

from bot.adapters.store import Store
from bot.core.live import ApprovedConfig, PendingToggle

REPO = "acme/config"
RULES = b"approvals:\n  enabled: true\n"
OFF = b"approvals:\n  enabled: false\n"


def test_a_forgotten_delivery_is_processed_again(store: Store) -> None:
    assert store.record_delivery("d-1", "push")
    assert store.forget_delivery("d-1")
    assert store.delivery_received_at("d-1") is None
    assert store.record_delivery("d-1", "push")  # GitHub's Redeliver now counts as new
    assert not store.record_delivery("d-1", "push")


def test_forgetting_an_unknown_delivery_says_so(store: Store) -> None:
    assert not store.forget_delivery("never-seen")


def test_a_released_claim_can_be_claimed_again_and_others_stay(store: Store) -> None:
    assert store.claim_notification("mail:1") and store.claim_notification("mail:2")
    assert store.release_notification("mail:1")
    assert not store.release_notification("mail:1")
    assert store.claim_notification("mail:1")
    assert not store.claim_notification("mail:2")


def test_no_approved_rules_until_one_is_recorded(store: Store) -> None:
    assert store.approved_config(REPO) is None


def test_a_merge_sets_the_approved_rules_in_its_transaction_and_a_replay_does_not(
    store: Store, clock: FakeClock
) -> None:
    assert store.apply_merge("a" * 40, None, [], [], approved_config=ApprovedConfig(REPO, "a" * 40, RULES))
    approved = store.approved_config(REPO)
    assert approved == ApprovedConfig(REPO, "a" * 40, RULES, clock.now)
    assert store.apply_merge("b" * 40, 2, [], [], approved_config=ApprovedConfig(REPO, "b" * 40, OFF))
    assert store.approved_config(REPO) == ApprovedConfig(REPO, "b" * 40, OFF, clock.now)
    # A replay of the first merge changes nothing, the rules included.
    assert not store.apply_merge(
        "a" * 40, None, [], [], approved_config=ApprovedConfig(REPO, "a" * 40, RULES)
    )
    assert store.approved_config(REPO).content == OFF  # type: ignore[union-attr]
    assert store.approved_config("acme/other") is None


def test_approved_rules_may_be_a_removed_file(store: Store) -> None:
    store.set_approved_config(ApprovedConfig(REPO, "c" * 40, None))
    approved = store.approved_config(REPO)
    assert approved is not None and approved.content is None and approved.commit_sha == "c" * 40


def test_a_pending_toggle_stays_until_finished(store: Store, clock: FakeClock) -> None:
    toggle = PendingToggle(REPO, "d" * 40, False, OFF, RULES, actor="alice")
    assert store.apply_merge("d" * 40, 7, [], [], toggle=toggle)
    assert store.pending_toggles(REPO) == [
        PendingToggle(REPO, "d" * 40, False, OFF, RULES, "alice", clock.now)
    ]
    assert store.pending_toggle(REPO, "d" * 40) is not None
    assert store.pending_toggles("acme/other") == []
    assert not store.apply_merge("d" * 40, 7, [], [], toggle=toggle)
    assert len(store.pending_toggles()) == 1
    assert store.finish_toggle(REPO, "d" * 40)
    assert not store.finish_toggle(REPO, "d" * 40)
    assert store.pending_toggles() == [] and store.pending_toggle(REPO, "d" * 40) is None


def test_pending_toggles_come_oldest_first(store: Store, clock: FakeClock) -> None:
    store.apply_merge("e" * 40, None, [], [], toggle=PendingToggle(REPO, "e" * 40, False, OFF, None))
    clock.advance(seconds=5)
    store.apply_merge("1" * 40, None, [], [], toggle=PendingToggle(REPO, "1" * 40, True, RULES, OFF))
    assert [p.commit_sha[0] for p in store.pending_toggles(REPO)] == ["e", "1"]
    assert store.pending_toggles()[1].at == datetime(2030, 1, 1, 12, 0, 5, tzinfo=UTC)
