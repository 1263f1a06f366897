"""A change that reaches the default branch unapproved is not applied: drift, alert, failing check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from applykit import (
    ADMIN,
    CHECKOUT_TEST,
    CREATOR,
    HOMEPAGE_TEST,
    WEB_APPROVER,
    RecordingNotifier,
    audit,
    edited,
    merge,
    open_pr,
    read_api,
    review,
    snapshot,
)

from bot.core.live import AuditKind
from bot.core.notifications import NotificationEvent
from bot.sandbox import Sandbox

TOKENS = {"all-token": "*", "web-token": "web", "mobile-token": "mobile"}


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def alerted(notifier: RecordingNotifier) -> Iterator[Sandbox]:
    with Sandbox(notifier=notifier) as sandbox:
        yield sandbox


def _assert_drift(box: Sandbox, sha: str, before: dict[object, object], pr: int | None) -> None:
    assert snapshot(box) == before, "an unapproved change must not reach the live state"
    assert not box.store.is_applied(sha)
    [record] = [d for d in box.store.drift() if d.commit_sha == sha]
    assert record.detail["pull_request"] == pr
    assert "web" in record.detail["accounts"]
    assert str(CHECKOUT_TEST) in record.detail["resources"]
    [entry] = audit(box, AuditKind.DRIFT, commit_sha=sha)
    assert entry.pr_number == pr
    run = box.check(sha)
    assert run is not None and run.conclusion == "failure" and "Not applied" in (run.title or "")
    assert not audit(box, AuditKind.APPLY, commit_sha=sha)


def _assert_drift_api(box: Sandbox, sha: str) -> None:
    api = read_api(box, TOKENS)
    answer = api.get("/api/v1/drift", headers={"Authorization": "Bearer all-token"})
    assert answer.status_code == 200
    assert sha in [d["commit"] for d in answer.get_json()["drift"]]
    web = api.get("/api/v1/drift?account=web", headers={"Authorization": "Bearer web-token"})
    assert web.status_code == 200 and sha in [d["commit"] for d in web.get_json()["drift"]]
    mobile = api.get("/api/v1/drift?account=mobile", headers={"Authorization": "Bearer mobile-token"})
    assert mobile.status_code == 200 and sha not in [d["commit"] for d in mobile.get_json()["drift"]]
    assert api.get("/api/v1/drift").status_code == 401
    other = api.get("/api/v1/drift?account=web", headers={"Authorization": "Bearer mobile-token"})
    assert other.status_code == 403


def test_an_admin_merge_past_the_check_is_not_applied(alerted: Sandbox, notifier: RecordingNotifier) -> None:
    box = alerted
    before = snapshot(box)
    number = open_pr(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    assert box.check(number).conclusion == "action_required"  # type: ignore[union-attr]
    sha = merge(box, number, ADMIN)  # GitHub lets an admin merge past a pending required check

    _assert_drift(box, sha, before, number)
    bodies = [c.body for c in box.comments(number)]
    assert any("Not applied" in b and sha[:12] in b for b in bodies), bodies
    [alert] = notifier.of(NotificationEvent.BYPASS)
    assert ADMIN in alert.recipients and WEB_APPROVER not in alert.recipients
    _assert_drift_api(box, sha)


def _replay_push(box: Sandbox, sha: str) -> None:
    push = next(d for d in box.emulator.webhooks.of("push") if d.payload["after"] == sha)
    box.emulator.webhooks.send("push", push.payload)
    box.drain()


def test_an_approval_given_after_the_merge_does_not_count(box: Sandbox) -> None:
    before = snapshot(box)
    number = open_pr(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    sha = merge(box, number, ADMIN)
    moment = box.emulator.world.clock()
    box.emulator.world.clock = lambda: moment + timedelta(seconds=5)
    review(box, number, WEB_APPROVER)  # too late: reviews count as they stood at the merge
    _replay_push(box, sha)
    _assert_drift(box, sha, before, number)


def test_a_recorded_drift_stays_drift_when_the_merge_event_is_replayed(box: Sandbox) -> None:
    """The approval comes in the merge's second, so the merge-time cutoff cannot exclude it: the commit
    was judged drift when it landed and a replay must not apply it."""
    before = snapshot(box)
    number = open_pr(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    moment = box.emulator.world.clock()
    box.emulator.world.clock = lambda: moment
    sha = merge(box, number, ADMIN)
    review(box, number, WEB_APPROVER)
    _replay_push(box, sha)
    _assert_drift(box, sha, before, number)


def test_a_stale_approval_does_not_cover_a_later_push(box: Sandbox) -> None:
    before = snapshot(box)
    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: paused"))
    number = open_pr(box, edits)
    review(box, number, WEB_APPROVER)
    later = edited(box, HOMEPAGE_TEST, ("name: Modular homepage", "name: Modular homepage v2"))
    box.driver.push(box.repo, box.pull(number).head_ref, later, author=CREATOR)
    box.drain()
    assert box.check(number).conclusion == "action_required"  # type: ignore[union-attr]
    sha = merge(box, number, ADMIN)
    _assert_drift(box, sha, before, number)


def test_a_direct_push_to_the_default_branch_is_not_applied(
    alerted: Sandbox, notifier: RecordingNotifier
) -> None:
    box = alerted
    before = snapshot(box)
    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: paused"))
    sha = box.driver.push(box.repo, "main", edits, author=CREATOR, message="Pause it, quickly")
    box.drain()

    _assert_drift(box, sha, before, None)
    [entry] = audit(box, AuditKind.DRIFT, commit_sha=sha)
    assert entry.actor == CREATOR
    [alert] = notifier.of(NotificationEvent.BYPASS)
    assert set(alert.recipients) == {ADMIN}
    _assert_drift_api(box, sha)

    # Redelivering the push neither records the drift twice nor alerts again.
    push = next(d for d in box.emulator.webhooks.of("push") if d.payload["after"] == sha)
    box.emulator.webhooks.send("push", push.payload)
    box.drain()
    assert len([d for d in box.store.drift() if d.commit_sha == sha]) == 1
    assert len(audit(box, AuditKind.DRIFT, commit_sha=sha)) == 1
    assert len(notifier.of(NotificationEvent.BYPASS)) == 1


def test_a_direct_push_of_a_draft_edit_needs_no_approval_and_is_applied(box: Sandbox) -> None:
    edits = edited(box, HOMEPAGE_TEST, ("name: Modular homepage", "name: Modular homepage v2"))
    sha = box.driver.push(box.repo, "main", edits, author=CREATOR)
    box.drain()
    record = box.live(HOMEPAGE_TEST)
    assert record is not None and record.document["name"] == "Modular homepage v2"
    assert box.store.is_applied(sha) and not box.store.drift()
