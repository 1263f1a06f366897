"""Merge methods: a squash or a rebase of an approved PR is applied once, as one submission; a pending
PR merged by any method is applied never and recorded as drift (emulator ⇄ real HTTP ⇄ the bot)."""

from __future__ import annotations

import pytest
from applykit import (
    ADMIN,
    CHECKOUT_TEST,
    CREATOR,
    HOMEPAGE_TEST,
    SHIPPING_TEST,
    WEB_APPROVER,
    applies,
    audit,
    edited,
    open_pr,
    review,
    revision,
    snapshot,
)

from bot.core.live import AuditKind
from bot.core.model import ResourceKey, Status
from bot.engine.reconcile import reconcile
from bot.sandbox import Sandbox

METHODS = ["merge", "squash", "rebase"]


def _three_commit_pr(box: Sandbox) -> int:
    """Pause the checkout test, then resume the shipping test, then edit a draft: three commits, the
    last of which alone would need no approval (so judging it alone would apply it)."""
    number = open_pr(box, edited(box, CHECKOUT_TEST, ("status: running", "status: paused")))
    branch = box.pull(number).head_ref
    for edits in (
        edited(box, SHIPPING_TEST, ("status: paused", "status: running")),
        edited(box, HOMEPAGE_TEST, ("name: Modular homepage", "name: Modular homepage v2")),
    ):
        box.driver.push(box.repo, branch, edits, author=CREATOR)
        box.drain()
    return number


def _merge(box: Sandbox, number: int, method: str) -> str:
    sha: str = box.driver.merge(box.repo, number, ADMIN, method=method)
    box.drain()
    return sha


def _written(box: Sandbox, number: int) -> tuple[str, ...]:
    written: tuple[str, ...] = box.pull(number).merged_commits
    return written


def _nothing_of_its_own(box: Sandbox, shas: tuple[str, ...]) -> None:
    """The commits of a rebase before its last: neither applied nor drift nor audited on their own."""
    drift = {d.commit_sha for d in box.store.drift()}
    for sha in shas:
        assert not box.store.is_applied(sha) and sha not in drift
        assert not audit(box, commit_sha=sha)


KEYS: tuple[ResourceKey, ...] = (CHECKOUT_TEST, SHIPPING_TEST, HOMEPAGE_TEST)


@pytest.mark.parametrize("method", ["squash", "rebase"])
def test_an_approved_pr_is_applied_once_whatever_the_method(box: Sandbox, method: str) -> None:
    before = {key: revision(box, key) for key in KEYS}
    number = _three_commit_pr(box)
    review(box, number, WEB_APPROVER)
    assert box.check(number).conclusion == "success"  # type: ignore[union-attr]

    sha = _merge(box, number, method)

    written = _written(box, number)
    assert len(written) == (3 if method == "rebase" else 1) and written[-1] == sha
    assert box.live(CHECKOUT_TEST).status is Status.PAUSED  # type: ignore[union-attr]
    assert box.live(SHIPPING_TEST).status is Status.RUNNING  # type: ignore[union-attr]
    for key in KEYS:
        assert revision(box, key) == before[key] + 1
        [entry] = audit(box, AuditKind.APPLY, resource=key)[-1:]
        assert entry.commit_sha == sha and len(applies(box, key, sha)) == 1
    assert box.store.is_applied(sha) and not box.store.drift()
    _nothing_of_its_own(box, written[:-1])
    run = box.check(sha)
    assert run is not None and (run.conclusion, run.title) == ("success", "Applied 3 changes")


@pytest.mark.parametrize("first", ["push", "closed"])
def test_a_rebase_is_applied_once_whichever_event_comes_first_and_however_often(
    box: Sandbox, first: str
) -> None:
    number = _three_commit_pr(box)
    review(box, number, WEB_APPROVER)
    box.emulator.webhooks.drop_next(2)  # the merge's `closed` and `push` are lost, then sent by hand
    sha = _merge(box, number, "rebase")
    hooks = box.emulator.webhooks
    closed = next(d for d in hooks.of("pull_request", "closed") if d.payload["number"] == number)
    push = next(d for d in hooks.of("push") if d.payload["after"] == sha)
    assert [c["id"] for c in push.payload["commits"]] == list(_written(box, number))
    assert box.live(CHECKOUT_TEST).status is Status.RUNNING  # type: ignore[union-attr]  # not yet

    order = [push, closed] if first == "push" else [closed, push]
    for delivery in order:
        hooks.send(delivery.event, delivery.payload)
        box.drain()
    after = snapshot(box)
    for delivery in order[::-1] + order:  # replayed in both orders under new delivery ids
        hooks.send(delivery.event, delivery.payload)
    box.drain()
    reconcile(box.services, box.repo)

    assert snapshot(box) == after
    assert box.live(CHECKOUT_TEST).status is Status.PAUSED  # type: ignore[union-attr]
    written = set(_written(box, number))
    for key in KEYS:
        assert len(applies(box, key, sha)) == 1
        assert [
            e.commit_sha for e in audit(box, AuditKind.APPLY, resource=key) if e.commit_sha in written
        ] == [sha]
    assert not box.store.drift()
    _nothing_of_its_own(box, _written(box, number)[:-1])


def test_a_rebase_found_only_by_reconcile_is_applied_once(box: Sandbox) -> None:
    number = _three_commit_pr(box)
    review(box, number, WEB_APPROVER)
    box.emulator.webhooks.drop_next(2)  # both merge events lost: reconcile finds the commits
    sha = _merge(box, number, "rebase")

    result = reconcile(box.services, box.repo)

    assert [r.outcome.value for r in result.results] == ["part_of_merge", "part_of_merge", "applied"]
    assert box.live(CHECKOUT_TEST).status is Status.PAUSED  # type: ignore[union-attr]
    assert all(len(applies(box, key, sha)) == 1 for key in KEYS) and not box.store.drift()
    again = reconcile(box.services, box.repo)
    assert again.results == ()


@pytest.mark.parametrize("method", METHODS)
def test_a_pending_pr_merged_past_the_check_is_never_applied(box: Sandbox, method: str) -> None:
    before = snapshot(box)
    number = _three_commit_pr(box)
    assert box.check(number).conclusion == "action_required"  # type: ignore[union-attr]

    sha = _merge(box, number, method)  # an admin merges past the pending check

    assert snapshot(box) == before, "nothing of an unapproved PR may reach the live state"
    assert not box.store.is_applied(sha)
    [record] = box.store.drift()
    assert record.commit_sha == sha and record.detail["pull_request"] == number
    assert set(record.resources) == {str(k) for k in KEYS}
    assert not audit(box, AuditKind.APPLY, commit_sha=sha)
    run = box.check(sha)
    assert run is not None and run.conclusion == "failure" and "Not applied" in (run.title or "")
    if method == "rebase":
        _nothing_of_its_own(box, _written(box, number)[:-1])
    # The drift blocks: a PR touching one of its resources is refused until it is reverted.
    later = open_pr(box, edited(box, HOMEPAGE_TEST, ("name: Modular homepage", "name: Homepage v3")))
    assert box.check(later).conclusion == "failure"  # type: ignore[union-attr]
