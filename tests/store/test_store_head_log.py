"""The log of a PR's heads and each head's PR-time verdict (issue 14, migration v10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.adapters.store import Store
from bot.core.judgement import HeadEvent, HeadEventKind, Verdict

REPO = "acme/experiments"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_the_head_log_keeps_every_event_in_github_s_time_order(store: Store) -> None:
    later = HeadEvent("b" * 40, "main", T0 + timedelta(seconds=5), HeadEventKind.PUSH, "bob")
    first = HeadEvent("a" * 40, "main", T0, HeadEventKind.PUSH, "carol")
    store.record_head_event(REPO, 4, later)
    store.record_head_event(REPO, 4, first)  # a late webhook sorts where GitHub's clock puts it
    store.record_head_event(REPO, 4, first)  # redelivered: not repeated
    store.record_head_event(
        REPO, 4, HeadEvent("a" * 40, "main", T0 + timedelta(seconds=9), HeadEventKind.SEEN)
    )
    log = store.head_events(REPO, 4)
    assert [(e.sha[0], e.kind, e.pusher, e.at) for e in log] == [
        ("a", HeadEventKind.PUSH, "carol", T0),
        ("b", HeadEventKind.PUSH, "bob", T0 + timedelta(seconds=5)),
        ("a", HeadEventKind.SEEN, None, T0 + timedelta(seconds=9)),
    ]
    assert store.head_events(REPO, 5) == [] and store.head_events("acme/other", 4) == []


def test_a_newer_verdict_of_a_head_replaces_the_older(store: Store) -> None:
    verdict = Verdict(REPO, 4, "a" * 40, "main", "c" * 40, "d" * 64, "pending", (), T0)
    assert store.verdict(REPO, 4, "a" * 40) is None
    store.record_verdict(verdict)
    assert store.verdict(REPO, 4, "a" * 40) == verdict
    approved = Verdict(REPO, 4, "a" * 40, "main", "c" * 40, "d" * 64, "approved", ("bob",), T0)
    store.record_verdict(approved)
    assert store.verdict(REPO, 4, "a" * 40) == approved
    assert store.verdict(REPO, 4, "b" * 40) is None and store.verdict("acme/other", 4, "a" * 40) is None
