"""Issue 14, "holes to close": the merge-time judgement is the PR-time one.

A merge applies only when the check of exactly that head, on that base, for that change said approved
(locks included), and the merge-time judgement, made by the same `decide` from the same facts (every
pusher of every head, GitHub's time of the head, the approvals given strictly before the merge),
agrees. Each test here failed before the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import INSTALLATION, REPO, BotWorld, world_fixture

from bot.core.model import Kind, ResourceKey, Status
from bot.emulator.gitobjects import Identity
from bot.engine.reconcile import reconcile
from bot.sandbox import sample_files

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running
CHECKOUT_KEY = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")
CONFIG = ".approvalbot.yml"


def _pause(world: BotWorld) -> str:
    return world.edited(CHECKOUT, ("status: running", "status: paused"))


def _traffic(world: BotWorld, value: int) -> str:
    return world.edited(CHECKOUT, ("traffic_allocation: 50", f"traffic_allocation: {value}"))


def _started(world: BotWorld) -> None:
    """The bot's starting point: the branch as it is now is live."""
    reconcile(world.services, world.repo, installation=INSTALLATION)
    live = world.store.get_live(CHECKOUT_KEY)
    assert live is not None and live.status is Status.RUNNING


def _conclusion(world: BotWorld, pr: int) -> str:
    run = world.check(pr)
    assert run is not None
    return f"{run.conclusion}: {run.title}\n{run.summary}"


def _not_applied(world: BotWorld, sha: str) -> str:
    """The merge `sha` went nowhere near the live state and is recorded as drift; its reasons."""
    assert not world.store.is_applied(sha)
    live = world.store.get_live(CHECKOUT_KEY)
    assert live is not None and live.status is Status.RUNNING and "traffic_allocation" in str(live.document)
    assert live.document["traffic_allocation"] == 50
    records = [d for d in world.store.drift() if d.commit_sha == sha]
    assert len(records) == 1, [d.commit_sha for d in world.store.drift()]
    return "\n".join(records[0].detail["reasons"])


def _applied(world: BotWorld, sha: str) -> None:
    assert world.store.is_applied(sha), [d.detail for d in world.store.drift()]
    assert world.store.drift() == []


# --- 1. the merge-time re-read knows who pushed ---


def test_an_approver_who_pushed_to_the_pr_cannot_approve_it_at_merge_either(world: BotWorld) -> None:
    _started(world)
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    # bob pushes to carol's branch with carol's commit identity: only the push webhook says it was him.
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib", pusher="bob-approver")
    world.drain()
    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert _conclusion(world, pr).startswith("action_required"), _conclusion(world, pr)

    world.later()
    sha = world.merge(pr)  # an admin merges past the check
    world.drain()
    reasons = _not_applied(world, sha)
    assert "bob-approver is a creator" in reasons


# --- 2. every pusher of every head is a creator; an unknown pusher is not nobody ---


def test_an_approver_who_pushed_once_stays_a_creator_after_the_author_pushes(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib", pusher="bob-approver")
    world.drain()
    world.push(pr, {"web/README.md": "notes\n"}, author="carol-contrib")  # carol is the last pusher
    world.drain()
    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "bob-approver is a creator of this change (a pusher of this pull request's branch)" in summary


def test_a_push_whose_webhook_was_lost_has_an_unknown_pusher_and_blocks(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    world.emulator.webhooks.drop_next(2)  # the push and its pull_request.synchronize
    head = world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib", pusher="bob-approver")
    world.drain()
    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required: Blocked"), summary
    assert f"Who pushed commit {head[:7]} to this pull request is unknown" in summary
    assert "Redeliver" in summary

    # GitHub redelivers the lost synchronize: the pusher is known, and he is a creator.
    lost = [d for d in world.emulator.webhooks.of("pull_request", "synchronize")][-1]
    world.emulator.webhooks.redeliver(lost.id)
    world.drain()
    summary = _conclusion(world, pr)
    assert "is unknown" not in summary
    assert "bob-approver is a creator" in summary


def test_a_merge_whose_pusher_is_unknown_waits_for_the_redelivery_then_applies(world: BotWorld) -> None:
    """Merged while a lost synchronize left its last push's pusher unknown: not drift for good (GitHub
    still holds the webhook), but waiting; the redelivery the heal asks for makes it known, and the
    merge applies then (issue 13: nothing lost, issue 14: never on an unknown fact)."""
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    world.emulator.webhooks.drop_next(2)  # the push and its pull_request.synchronize
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib", pusher="carol-contrib")
    world.drain()
    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    world.later()
    sha = world.merge(pr)
    world.drain()
    assert not world.store.is_applied(sha) and world.store.drift() == []

    lost = [d for d in world.emulator.webhooks.of("pull_request", "synchronize")][-1]
    world.emulator.webhooks.redeliver(lost.id)
    world.drain()

    assert world.store.is_applied(sha) and world.store.drift() == []
    live = world.store.get_live(CHECKOUT_KEY)
    assert live is not None and live.applied_commit == sha


# --- 3. the merge-time judgement keeps the locks ---


def test_a_pr_blocked_by_a_lock_and_merged_anyway_is_drift(world: BotWorld) -> None:
    _started(world)
    first = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    second = world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 70)})
    world.drain()
    world.later()
    world.review(second, "bob-approver", "APPROVE")
    world.drain()
    summary = _conclusion(world, second)
    assert summary.startswith("action_required: Blocked") and f"locked by #{first}" in summary, summary

    world.later()
    sha = world.merge(second)
    world.drain()
    reasons = _not_applied(world, sha)
    assert f"is locked by #{first}" in reasons  # judged at the merge with the locks as the check saw them


# --- 4. an approval in the merge's own second ---


def test_an_approval_in_the_same_second_as_the_merge_does_not_count(world: BotWorld) -> None:
    _started(world)
    pr = world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 70)})
    world.drain()
    moment = world.emulator.world.now() + timedelta(seconds=5)
    with world.emulator.world.lock:
        world.emulator.world.clock = lambda: moment
    sha = world.merge(pr)  # past the pending check ...
    world.review(pr, "bob-approver", "APPROVE")  # ... and the approval comes after, stamped alike
    world.drain()
    assert world.pull(pr).merged_at == world.pull(pr).reviews[-1].submitted_at
    _not_applied(world, sha)


# --- 5. an approval by command is an approval at merge too ---


def test_an_approve_command_that_turned_the_check_green_applies_at_merge(world: BotWorld) -> None:
    _started(world)
    pr = world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 70)})
    world.drain()
    world.later()
    world.comment_as(pr, "bob-approver", "/approve")
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)

    world.later()
    sha = world.merge(pr)
    world.drain()
    _applied(world, sha)
    live = world.store.get_live(CHECKOUT_KEY)
    assert live is not None and live.document["traffic_allocation"] == 70


# --- 6. a retarget makes the approval stale ---


def test_retargeting_the_pr_to_another_base_makes_the_approval_stale(world: BotWorld) -> None:
    _started(world)
    world.driver.push(REPO, "staging", {"web/README.md": "staging notes\n"}, author="alice-admin")
    pr = int(
        world.driver.open_pr(
            REPO, "carol-contrib", "to-staging", {CHECKOUT: _traffic(world, 70)}, base="staging"
        )
    )
    world.drain()
    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)

    world.later()
    world.driver.edit_pr(REPO, pr, "carol-contrib", base="main")
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "before the pull request's base branch was changed" in summary

    world.later()
    sha = world.merge(pr)
    world.drain()
    _not_applied(world, sha)


# --- 7. GitHub's clock against GitHub's clock ---


def test_a_command_made_before_a_push_stays_stale_when_github_s_clock_is_ahead(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    with world.emulator.world.lock:  # GitHub's clock runs half a minute ahead of approvalbot's
        world.emulator.world.clock = lambda: datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    world.comment_as(pr, "bob-approver", "/approve")
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)

    world.later()
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib")
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "it was made before the latest push" in summary


# --- 8. a force-push back to an older head ---


def test_a_force_push_back_to_an_old_head_does_not_inherit_a_later_command(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    old = world.pull(pr).head_sha
    world.later()
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib")
    world.drain()
    world.later()
    world.comment_as(pr, "bob-approver", "/approve")  # for the new head
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)

    world.later()
    world.driver.force_push(REPO, world.pull(pr).head_ref, old, pusher="carol-contrib")
    world.drain()
    assert world.pull(pr).head_sha == old
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "it was made before the latest push" in summary


# --- 9. commands only in prose ---

QUOTED_COMMANDS = """Looks fine to me, but this is how it would read:

```text
/approve
```

<!--
/approve
-->

> carol wrote:
/approve

    /approve
"""


def test_an_approve_in_code_an_html_comment_or_a_quote_does_not_count(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    world.later()
    world.comment_as(pr, "bob-approver", QUOTED_COMMANDS)
    world.drain()
    assert _conclusion(world, pr).startswith("action_required"), _conclusion(world, pr)

    world.comment_as(pr, "bob-approver", "Now for real:\n\n/approve")
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)


# --- 10. the rules are an admin's, whatever approvals.enabled says ---


@pytest.fixture
def disabled_world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    """The sample repository with `approvals.enabled: false` from the start."""
    files = sample_files()
    files[CONFIG] = files[CONFIG].replace(b"enabled: true", b"enabled: false")
    yield from world_fixture(emulator, github_settings, tmp_path, files=files)


def test_with_the_workflow_off_a_change_to_the_rules_still_needs_an_admin(disabled_world: BotWorld) -> None:
    world = disabled_world
    reconcile(world.services, world.repo, installation=INSTALLATION)
    rules = world.seed(CONFIG).replace("admin: [alice-admin]", "admin: [alice-admin, carol-contrib]")
    pr = world.open_pr("carol-contrib", {CONFIG: rules})  # and approvals back on (the seed's file)
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "needs an admin" in summary and "alice-admin" in world.requested(pr)

    world.later()
    sha = world.merge(pr, actor="carol-contrib")  # anyone who can merge
    world.drain()
    assert not world.store.is_applied(sha)
    assert any(d.commit_sha == sha for d in world.store.drift())
    approved = world.store.approved_config(world.repo)
    assert approved is None or b"admin: [alice-admin, carol-contrib]" not in (approved.content or b"")


# --- 13. a bot is never a reason to skip approval ---


@pytest.fixture
def hightouch_world(emulator: Any, github_settings: Any, tmp_path: Path) -> Iterator[BotWorld]:
    """The sample repository with `subject: draft_contributors` (only their changes need approval)."""
    files = sample_files()
    files[CONFIG] = files[CONFIG].replace(b"subject: everyone", b"subject: draft_contributors")
    yield from world_fixture(emulator, github_settings, tmp_path, files=files)


def test_a_pr_written_and_opened_by_a_bot_needs_approval(hightouch_world: BotWorld) -> None:
    world = hightouch_world
    world.driver.add_user("renovate[bot]", kind="Bot")
    pr = world.open_pr("renovate[bot]", {CHECKOUT: _traffic(world, 70)})
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "renovate[bot] is a bot, and a bot's change always needs approval" in summary

    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)


# --- 14. an outage withdraws the verdict it cannot refresh ---

PULL = "GET /repos/{owner}/{repo}/pulls/{pull_number}"


def test_a_re_evaluation_that_cannot_read_stops_saying_approved(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 70)})
    world.drain()
    world.later()
    review = world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)

    world.emulator.faults.fail(PULL, times=200, status=502, message="Bad Gateway")  # GitHub is down ...
    world.driver.dismiss_review(REPO, pr, review, "alice-admin")  # ... while the approval is dismissed
    world.drain()
    summary = _conclusion(world, pr)
    world.emulator.faults.clear()
    assert summary.startswith("failure: Not judged: GitHub could not be read"), summary
    assert "an earlier verdict no longer stands" in summary

    run = world.check(pr)
    assert run is not None
    world.driver.rerequest_check(world.repo, run.id, "carol-contrib")  # GitHub answers again
    world.drain()
    assert _conclusion(world, pr).startswith("action_required"), _conclusion(world, pr)


# --- 12. words someone else put in an approver's mouth ---


def _finish(world: BotWorld) -> int:
    # No winner in the file: the approver's /winner picks it (one the file contradicts is refused).
    finish = world.edited(CHECKOUT, ("status: running", "status: finished"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: finish})
    world.drain()
    world.later()
    return pr


def test_an_approval_whose_body_another_user_edited_counts_for_nothing(world: BotWorld) -> None:
    pr = _finish(world)
    review = world.review(pr, "bob-approver", "APPROVE", "/winner green")
    world.drain()
    assert _conclusion(world, pr).startswith("success"), _conclusion(world, pr)
    assert "Winner chosen by the approver: `green`" in _conclusion(world, pr)

    world.driver.edit_review(REPO, pr, review, "/winner control", "mallory")  # anyone with write access
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "its body was edited by mallory" in summary and "bob-approver must review again" in summary


def test_an_approver_s_winner_comment_edited_by_another_holds_the_approval(world: BotWorld) -> None:
    pr = _finish(world)
    world.review(pr, "bob-approver", "APPROVE")
    comment = world.comment_as(pr, "bob-approver", "/winner green")
    world.drain()
    assert "Winner chosen by the approver: `green`" in _conclusion(world, pr)

    world.driver.edit_comment(REPO, comment, "/winner control", "mallory")
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary  # the creator's winner does not go live on it
    assert "the comment was edited by mallory" in summary
    assert "bob-approver's approval waits until bob-approver writes /winner VARIANT" in summary


# --- 11. identities GitHub maps to nobody ---


def test_a_co_author_known_only_by_the_email_in_users_is_a_creator(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    bob_by_mail = Identity("Bob", "bob@example.com", None)  # `users:` gives bob-approver this email
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib", co_authors=(bob_by_mail,))
    world.drain()
    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required"), summary
    assert "bob-approver is a creator of this change" in summary and "as bob@example.com" in summary


def test_a_commit_by_an_email_that_names_nobody_blocks_approval(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    stranger = Identity("Someone", "someone@laptop.local", None)
    head = world.push(pr, {CHECKOUT: _traffic(world, 70)}, author=stranger, pusher="carol-contrib")
    world.drain()
    world.later()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    summary = _conclusion(world, pr)
    assert summary.startswith("action_required: Blocked"), summary
    assert f"commit {head[:7]} is by someone@laptop.local" in summary and "users:" in summary
