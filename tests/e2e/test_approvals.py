"""Who may approve, end to end (SPEC §4): creators never count, approvals go stale on push, rejection
closes (or keeps open) with the feedback shown, `/winner` on finish, edited commands ignored, and a
change of `.approvalbot.yml` needs an admin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import BotWorld, world_fixture

from bot.core.live import AuditKind
from bot.sandbox import sample_files

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
CONFIG = ".approvalbot.yml"


def _pause(world: BotWorld) -> str:
    return world.edited(CHECKOUT, ("status: running", "status: paused"))


def _traffic(world: BotWorld, value: int) -> str:
    return world.edited(CHECKOUT, ("traffic_allocation: 50", f"traffic_allocation: {value}"))


def _pending(world: BotWorld, pr: int) -> None:
    run = world.check(pr)
    assert run is not None
    assert run.conclusion == "action_required", run.summary
    assert "approved" not in world.labels(pr)


def _approved(world: BotWorld, pr: int) -> None:
    run = world.check(pr)
    assert run is not None
    assert (run.conclusion, run.title) == ("success", "Approved"), run.summary
    assert "approved" in world.labels(pr)


def test_the_author_approving_by_command_does_not_count(world: BotWorld) -> None:
    pr = world.open_pr("bob-approver", {CHECKOUT: _pause(world)})
    world.drain()
    assert "bob-approver" not in world.requested(pr)  # never asked to review their own change

    world.comment_as(pr, "bob-approver", "/approve")
    world.drain()
    _pending(world, pr)
    summary = world.check(pr).summary or ""  # type: ignore[union-attr]
    assert "bob-approver is a creator of this change (author of this pull request)" in summary

    world.review(pr, "erin-reviewer", "APPROVE")
    world.drain()
    _approved(world, pr)


def test_a_co_author_approving_does_not_count(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.push(
        pr,
        {CHECKOUT: world.edited(CHECKOUT, ("status: running", "status: paused"), ("50\n", "50 \n"))},
        author="carol-contrib",
        co_authors=("bob-approver",),
    )
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    _pending(world, pr)

    world.review(pr, "alice-admin", "APPROVE")
    world.drain()
    _approved(world, pr)


def test_the_last_pusher_approving_does_not_count(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.push(pr, {"web/README.md": "notes\n"}, author="carol-contrib", pusher="bob-approver")
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    _pending(world, pr)


def test_a_push_after_approval_makes_it_stale(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 60)})
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    _approved(world, pr)

    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib")
    world.drain()
    _pending(world, pr)
    assert world.labels(pr) == {"pending: APPROVAL PENDING"}
    assert "60" not in world.comment(pr).split("→")[-1]  # the comment shows the new head: 50 → 70
    assert "`70`" in world.comment(pr)


def test_changes_requested_closes_the_pr_with_the_feedback(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.review(pr, "bob-approver", "REQUEST_CHANGES", "Not during the holiday sale, please.")
    world.drain()

    run = world.check(pr)
    assert run is not None and run.conclusion == "failure" and run.title == "Rejected"
    assert world.state(pr) == "closed"
    assert "rejected" in world.labels(pr)
    feedback = [c for c in world.bot_comments(pr) if "Rejected" in c]
    assert len(feedback) == 1
    assert "Not during the holiday sale, please." in feedback[0] and "closed" in feedback[0]
    assert not world.pull(pr).merged
    assert [e.kind for e in world.store.audit_log() if e.pr_number == pr].count(AuditKind.REJECTION) == 1


@pytest.fixture
def keep_open_world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    """The sample repository with `on_reject: keep_open` from the start (a direct push changing the
    rules would be drift, and the last approved rules would still close)."""
    files = sample_files()
    files[CONFIG] = files[CONFIG].replace(b"on_reject: close", b"on_reject: keep_open")
    yield from world_fixture(emulator, github_settings, tmp_path, files=files)


def test_keep_open_leaves_a_rejected_pr_open(keep_open_world: BotWorld) -> None:
    world = keep_open_world
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.review(pr, "bob-approver", "REQUEST_CHANGES", "Wait for Monday.")
    world.drain()

    assert world.check(pr).conclusion == "failure"  # type: ignore[union-attr]
    assert world.state(pr) == "open"
    assert "rejected" in world.labels(pr)
    assert any("Wait for Monday." in c and "keep_open" in c for c in world.bot_comments(pr))


def test_the_approver_picks_the_winner_on_finish(world: BotWorld) -> None:
    # The file names no winner: the approver's /winner is the one (tests/e2e/test_winner_agreement.py:
    # a /winner the file contradicts is refused).
    finish = world.edited(CHECKOUT, ("status: running", "status: finished"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: finish})
    world.review(pr, "bob-approver", "APPROVE", "Green won clearly.\n/winner green")
    world.drain()

    _approved(world, pr)
    assert "green" in (world.check(pr).summary or "")  # type: ignore[union-attr]
    approvals = [e for e in world.store.audit_log() if e.pr_number == pr and e.kind is AuditKind.APPROVAL]
    assert [e.winner for e in approvals] == ["green"]


def test_an_edited_approve_command_is_ignored(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    comment = world.comment_as(pr, "bob-approver", "Looks fine to me")
    world.driver.edit_comment(world.repo, comment, "/approve", "bob-approver")
    world.drain()
    _pending(world, pr)
    assert "the comment was edited" in (world.check(pr).summary or "")  # type: ignore[union-attr]


def test_an_approve_command_from_an_approver_counts(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.later()
    world.comment_as(pr, "bob-approver", "/approve")
    world.drain()
    _approved(world, pr)


def test_an_approve_command_made_before_a_push_is_stale(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.later()
    comment = world.comment_as(pr, "bob-approver", "/approve")
    world.drain()
    _approved(world, pr)

    stamped = world.emulator.world.repo(world.repo).comments[comment].created_at
    while datetime.now(UTC) <= stamped:  # the push really comes after the comment's (rounded) stamp
        time.sleep(0.02)
    world.push(pr, {"web/README.md": "more notes\n"}, author="carol-contrib")
    world.drain()
    _pending(world, pr)
    assert "a push made it stale" in (world.check(pr).summary or "")  # type: ignore[union-attr]


def test_a_backdated_push_does_not_revive_an_old_approve_command(world: BotWorld) -> None:
    # The commit's own date is the committer's to choose; approvalbot times the head by when it saw it.
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.comment_as(pr, "bob-approver", "/approve")
    world.drain()
    world.later(-3600)  # the next commit claims to be an hour old
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib")
    world.later(3600)
    world.drain()
    _pending(world, pr)


def test_a_change_to_the_repo_config_needs_an_admin(world: BotWorld) -> None:
    config = world.seed(CONFIG).replace("merge_on_approval: false", "merge_on_approval: true")
    pr = world.open_pr("carol-contrib", {CONFIG: config})
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    _pending(world, pr)
    assert "alice-admin" in world.requested(pr)

    world.review(pr, "alice-admin", "APPROVE")
    world.drain()
    _approved(world, pr)
