"""Applying merges: once, never twice, never half; concurrent appliers; revisions and audit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from bot.adapters.store import AuditEntry, AuditKind, LiveChange, Store
from bot.core.model import Action, Kind, ResourceKey, Status

EXP = ResourceKey("web", Kind.EXPERIMENT, "checkout")
VAR = ResourceKey("web", Kind.REMOTE_CONFIG, "button_color")
MOBILE = ResourceKey("mobile", Kind.EXPERIMENT, "onboarding")


def start(key: ResourceKey = EXP, **extra: Any) -> LiveChange:
    return LiveChange(key, Action.START, Status.RUNNING, {"id": key.id, "status": "running", **extra})


def publish(key: ResourceKey = VAR, default: str = "blue") -> LiveChange:
    return LiveChange(key, Action.PUBLISH, Status.LIVE, {"id": key.id, "status": "live", "default": default})


def applied_audit(*changes: LiveChange) -> list[AuditEntry]:
    return [AuditEntry(AuditKind.APPLY, resource=c.key, actor="alice", action=c.action) for c in changes]


def snapshot(store: Store) -> tuple[Any, ...]:
    return (store.live(), store.audit_log(limit=1000))


def test_a_merge_is_applied_once(store: Store) -> None:
    changes = [publish(), start()]
    assert store.apply_merge("m1", 12, changes, applied_audit(*changes))
    assert store.is_applied("m1")
    records = {r.key: r for r in store.live()}
    assert records[EXP].status is Status.RUNNING
    assert records[EXP].document == {"id": "checkout", "status": "running"}
    assert records[EXP].revision == 1
    assert records[EXP].applied_commit == "m1"
    assert records[VAR].status is Status.LIVE
    entries = store.audit_log()
    assert [(e.kind, e.resource, e.actor, e.pr_number, e.commit_sha) for e in reversed(entries)] == [
        (AuditKind.APPLY, VAR, "alice", 12, "m1"),
        (AuditKind.APPLY, EXP, "alice", 12, "m1"),
    ]


def test_a_replayed_merge_changes_nothing(store: Store) -> None:
    changes = [start()]
    assert store.apply_merge("m1", 12, changes, applied_audit(*changes))
    before = snapshot(store)
    assert not store.apply_merge("m1", 12, [start(name="different")], applied_audit(*changes))
    assert snapshot(store) == before


def test_later_merges_bump_revisions_and_delete(store: Store) -> None:
    store.apply_merge("m1", 1, [start(), publish()], [])
    pause = LiveChange(EXP, Action.PAUSE, Status.PAUSED, {"id": "checkout", "status": "paused"})
    store.apply_merge("m2", 2, [pause, LiveChange(VAR, Action.DELETE, None)], [])
    (record,) = store.live()
    assert (record.key, record.status, record.revision, record.applied_commit) == (
        EXP,
        Status.PAUSED,
        2,
        "m2",
    )
    assert store.get_live(VAR) is None
    assert store.get_live(EXP) == record


def test_live_is_filtered_by_account(store: Store) -> None:
    store.apply_merge("m1", 1, [start(), start(MOBILE)], [])
    assert [r.key for r in store.live("mobile")] == [MOBILE]
    assert [r.key for r in store.live()] == [MOBILE, EXP]


class Crash(RuntimeError):
    pass


def test_a_crash_between_two_resources_applies_nothing_then_the_retry_applies_once(store: Store) -> None:
    changes = [publish(), start(), start(MOBILE)]
    seen: list[ResourceKey] = []

    def crash_after_first(change: LiveChange) -> None:
        seen.append(change.key)
        raise Crash("power cut")

    with pytest.raises(Crash):
        store.apply_merge("m1", 7, changes, applied_audit(*changes), after_each=crash_after_first)
    assert seen == [VAR]
    assert store.live() == []
    assert store.audit_log() == []
    assert not store.is_applied("m1")

    assert store.apply_merge("m1", 7, changes, applied_audit(*changes))
    assert not store.apply_merge("m1", 7, changes, applied_audit(*changes))
    assert [r.revision for r in store.live()] == [1, 1, 1]
    assert len(store.audit_log()) == 3


CRASHING_APPLIER = textwrap.dedent(
    """
    import os, sys
    from bot.adapters.store import LiveChange, Store
    from bot.core.model import Action, Kind, ResourceKey, Status
    store = Store.from_url(sys.argv[1])
    keys = [ResourceKey("web", Kind.EXPERIMENT, f"e{i}") for i in range(3)]
    changes = [LiveChange(k, Action.START, Status.RUNNING, {"id": k.id, "status": "running"}) for k in keys]
    def die(change):
        if change.key.id == "e1":
            os._exit(17)  # the process dies mid-transaction: no rollback, no cleanup
    store.apply_merge("m-crash", 3, changes, [], after_each=die)
    """
)


def test_a_process_killed_mid_apply_leaves_nothing_applied(store_url: str, store: Store) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_APPLIER, store_url], capture_output=True, timeout=60
    )
    assert result.returncode == 17, result.stderr.decode()
    assert store.live() == []
    assert not store.is_applied("m-crash")
    change = start(ResourceKey("web", Kind.EXPERIMENT, "e0"))
    assert store.apply_merge("m-crash", 3, [change], [])
    assert [r.key.id for r in store.live()] == ["e0"]


def test_two_processes_applying_one_merge_at_once_apply_it_once(store_url: str, store: Store) -> None:
    # Two stores = two engines = two connections, as two replicas would have. The first to get in
    # holds its transaction open (after_each sleeps) so the second surely queues behind it.
    other = Store.from_url(store_url)
    try:
        for n in range(5):
            results = race(store, other, f"race-{n}", n, [start(), publish(default=f"c{n}")])
            assert sorted(results.values()) == [False, True], results
        assert {r.key: r.revision for r in store.live()} == {EXP: 5, VAR: 5}
        assert len(store.audit_log(limit=100)) == 10
    finally:
        other.close()


def race(first: Store, second: Store, sha: str, pr: int, changes: list[LiveChange]) -> dict[str, bool]:
    """Both stores apply the same merge at once; the first in holds its transaction open a moment."""
    results: dict[str, bool] = {}
    barrier = threading.Barrier(2)

    def apply(name: str, target: Store) -> None:
        barrier.wait()
        hold = lambda _change: time.sleep(0.1)  # noqa: E731 - the loser queues behind an open transaction
        results[name] = target.apply_merge(sha, pr, changes, applied_audit(*changes), after_each=hold)

    threads = [threading.Thread(target=apply, args=(name, s)) for name, s in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_audit_entries_keep_their_own_pr_and_commit(store: Store) -> None:
    entry = AuditEntry(AuditKind.APPROVAL, resource=EXP, actor="bob", pr_number=3, commit_sha="head1")
    store.apply_merge("m1", 9, [start()], [entry])
    (saved,) = store.audit_log()
    assert (saved.pr_number, saved.commit_sha) == (3, "head1")


def test_applied_answers_for_many_shas(store: Store) -> None:
    store.apply_merge("a", 1, [], [])
    store.apply_merge("c", 2, [], [])
    assert store.applied(["a", "b", "c", "a"]) == {"a", "c"}
    assert store.applied([]) == set()
