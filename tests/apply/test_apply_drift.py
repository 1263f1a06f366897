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
    SHIPPING_TEST,
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


# --- getting back in step: reverts, and changes refused until then ---------------------------------


def _pause_directly(box: Sandbox) -> str:
    edits = edited(box, CHECKOUT_TEST, ("status: running", "status: paused"))
    sha = box.driver.push(box.repo, "main", edits, author=CREATOR, message="Pause it, quickly")
    box.drain()
    return sha


def _run_text(run: object) -> str:
    return " ".join(str(getattr(run, part) or "") for part in ("title", "summary", "text"))


def test_a_direct_revert_of_drift_needs_no_approval_and_resolves_it(
    alerted: Sandbox, notifier: RecordingNotifier
) -> None:
    box = alerted
    before = snapshot(box)
    drift = _pause_directly(box)
    back = edited(box, CHECKOUT_TEST, ("status: paused", "status: running"))
    revert = box.driver.push(box.repo, "main", back, author=ADMIN, message="Revert the pause")
    box.drain()

    assert snapshot(box) == before  # nothing was ever applied, nothing is now
    assert box.store.is_applied(revert) and [d.commit_sha for d in box.store.drift()] == [drift]
    [record] = box.store.drift()
    assert not record.open and record.resolved_by == revert
    assert box.store.drift(open_only=True) == []
    run = box.check(revert)
    assert run is not None and run.conclusion == "success" and run.title == "Back in step with the live state"
    assert drift[:12] in _run_text(run)
    [resolved] = audit(box, AuditKind.DRIFT_RESOLVED, commit_sha=drift)
    assert resolved.detail["resolved_by"] == revert
    assert len(notifier.of(NotificationEvent.BYPASS)) == 1  # the revert alerts nobody
    api, auth = read_api(box, TOKENS), {"Authorization": "Bearer all-token"}
    assert api.get("/api/v1/drift", headers=auth).get_json()["drift"] == []  # open drift only, by default
    [listed] = api.get("/api/v1/drift?state=resolved", headers=auth).get_json()["drift"]
    assert (listed["commit"], listed["resolved_by"]) == (drift, revert) and listed["resolved_at"]
    assert len(api.get("/api/v1/drift?state=all", headers=auth).get_json()["drift"]) == 1
    wrong = api.get("/api/v1/drift?state=closed", headers=auth)
    assert wrong.status_code == 400 and "open, resolved, all" in wrong.get_json()["message"]


def test_a_pull_request_touching_a_drifted_resource_is_refused(box: Sandbox) -> None:
    drift = _pause_directly(box)
    rename = edited(box, CHECKOUT_TEST, ("status: paused", "status: paused\ndescription: Now in green"))
    number = open_pr(box, rename)
    review(box, number, WEB_APPROVER)
    run = box.check(number)
    assert run is not None and run.conclusion == "failure"
    assert "out of step with the live state" in _run_text(run) and drift[:12] in _run_text(run)
    # Merged anyway (an admin past the check), it is not applied either: the pause never goes live.
    sha = merge(box, number, ADMIN)
    assert box.live(CHECKOUT_TEST).status.value == "running"  # type: ignore[union-attr]
    assert not box.store.is_applied(sha) and sha in [d.commit_sha for d in box.store.drift(open_only=True)]


def test_a_pull_request_that_reverts_drift_may_be_merged_and_resolves_it(box: Sandbox) -> None:
    drift = _pause_directly(box)
    number = open_pr(box, edited(box, CHECKOUT_TEST, ("status: paused", "status: running")))
    run = box.check(number)
    assert run is not None and "out of step" not in _run_text(run)  # it puts the live state back
    sha = merge(box, number, ADMIN)
    assert box.store.is_applied(sha) and box.store.drift(open_only=True) == []
    assert box.store.drift()[0].resolved_by == sha and box.store.drift()[0].commit_sha == drift


def test_drift_of_two_resources_is_resolved_when_both_are_back(box: Sandbox) -> None:
    edits = {
        **edited(box, CHECKOUT_TEST, ("status: running", "status: paused")),
        **edited(box, SHIPPING_TEST, ("status: paused", "status: running")),
    }
    drift = box.driver.push(box.repo, "main", edits, author=CREATOR)
    box.drain()
    first = box.driver.push(
        box.repo, "main", edited(box, CHECKOUT_TEST, ("status: paused", "status: running")), author=ADMIN
    )
    box.drain()
    assert box.store.is_applied(first)  # in step again, though the drift is not resolved yet
    assert [d.commit_sha for d in box.store.drift(open_only=True)] == [drift]
    second = box.driver.push(
        box.repo, "main", edited(box, SHIPPING_TEST, ("status: running", "status: paused")), author=ADMIN
    )
    box.drain()
    assert box.store.is_applied(second) and box.store.drift(open_only=True) == []
    assert box.store.drift()[0].resolved_by == second


def test_drift_whose_resources_are_back_on_the_branch_holds_nothing_back(box: Sandbox) -> None:
    # As an older approvalbot left it: a drift record still open though a later revert (recorded as
    # drift too, back then) put the branch back in step. A change to the resource is judged on its own.
    box.store.record_drift("0" * 40, {"repository": box.repo, "resources": [str(CHECKOUT_TEST)]})
    number = open_pr(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    run = box.check(number)
    assert run is not None and "out of step" not in _run_text(run)
    review(box, number, WEB_APPROVER)
    merge(box, number, ADMIN)
    assert box.live(CHECKOUT_TEST).status.value == "paused"  # type: ignore[union-attr]
    assert box.store.drift(open_only=True) == []  # the apply brought its only resource in step
