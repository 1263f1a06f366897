"""The PR lifecycle of SPEC §1, end to end: drafts, ready, withdraw, locks, the base moving, dependencies."""

from __future__ import annotations

from harness import INSTALLATION, BotWorld

from bot.core.model import Action, Kind, PendingState, ResourceKey
from bot.engine.evaluate import evaluate_pull
from bot.engine.services import PullRef

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running
LAYOUT = "web/remote_config/homepage_layout.yaml"  # remote config, draft
MODULAR = "web/experiments/homepage_modular_layout.yaml"  # draft experiment overriding LAYOUT


def _pause(world: BotWorld) -> str:
    return world.edited(CHECKOUT, ("status: running", "status: paused"))


def test_a_draft_pr_is_evaluated_but_requests_nobody_until_ready(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)}, draft=True)
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required"
    assert "draft" in (run.summary or "").lower()
    assert world.requested(pr) == set()
    assert "#### Pause" in world.comment(pr)
    assert world.store.locks() == []  # a draft locks nothing

    world.driver.ready_for_review(world.repo, pr, "carol-contrib")
    world.drain()
    assert {"bob-approver", "alice-admin", "erin-reviewer"} <= world.requested(pr)
    assert world.labels(pr) == {"pending: PAUSE PENDING"}
    assert [lock.pr_number for lock in world.store.locks()] == [pr]

    world.driver.convert_to_draft(world.repo, pr, "carol-contrib")
    world.drain()
    assert world.requested(pr) == set()
    assert world.store.locks() == []
    world.comment(pr)  # still exactly one comment


def test_a_second_pr_on_a_locked_resource_is_blocked_until_the_first_closes(world: BotWorld) -> None:
    first = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    finish = world.edited(CHECKOUT, ("status: running", "status: finished\nwinner: green"))
    second = world.open_pr("ivan-contrib", {CHECKOUT: finish})
    world.drain()

    run = world.check(second)
    assert run is not None
    assert (run.conclusion, run.title) == ("action_required", "Blocked")
    assert f"#{first}" in (run.summary or "")
    assert "blocked" in world.labels(second)
    world.review(second, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(second).conclusion == "action_required"  # type: ignore[union-attr]

    world.close(first, "carol-contrib")
    world.drain()  # no event about #second: the bot re-evaluates it by itself
    run = world.check(second)
    assert run is not None
    assert (run.conclusion, run.title) == ("success", "Approved"), run.summary
    assert "blocked" not in world.labels(second)
    assert [lock.pr_number for lock in world.store.locks()] == [second]


def test_when_the_default_branch_moves_open_prs_are_re_evaluated(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    assert world.check(pr).conclusion == "action_required"  # type: ignore[union-attr]

    # Someone raises the bar on the default branch: the PR is judged again with no event about it.
    config = world.seed(".approvalbot.yml").replace("  required: 1\n", "  required: 2\n", 1)
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]
    world.set_base({".approvalbot.yml": config})
    world.drain()
    run = world.check(pr)
    assert run is not None
    # A direct push to the rules is itself unapproved (drift): the PR is judged again, under the last
    # approved rules, and its check says why the new ones do not count yet.
    assert run.conclusion == "success", run.summary
    assert "the rules on the default branch have unapproved changes (drift" in (run.summary or "")


def test_a_pr_behind_the_default_branch_is_judged_on_what_it_would_merge(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    world.set_base({LAYOUT: world.edited(LAYOUT, ("rows: 2", "rows: 4"))})  # an unrelated change lands
    world.drain()

    assert LAYOUT not in world.comment(pr)
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]


def test_a_pr_behind_the_default_branch_plans_only_its_own_files(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    world.set_base({LAYOUT: world.edited(LAYOUT, ("status: draft", "status: live"))})
    world.drain()

    evaluation = evaluate_pull(world.services, PullRef(world.repo, pr, INSTALLATION))
    assert evaluation is not None
    assert [(a.key.id, a.action) for a in evaluation.plan.actions] == [
        ("checkout_button_color_test", Action.PAUSE)
    ]
    assert "Note:" not in (world.check(pr).summary or "")  # type: ignore[union-attr]  # a clean test merge


def test_a_conflicted_pr_is_still_evaluated_on_its_own_change(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    # Main touches the same file (a comment only), so GitHub can make no test merge: a conflict.
    world.set_base({CHECKOUT: "# owned by growth\n" + world.seed(CHECKOUT)})
    world.set_base({LAYOUT: world.edited(LAYOUT, ("rows: 2", "rows: 4"))})
    world.drain()

    assert world.pull(pr).test_merge is not None and world.pull(pr).test_merge[2] is None  # conflicts
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run.summary
    assert "no test merge" in (run.summary or "")
    assert world.labels(pr) == {"pending: PAUSE PENDING"}
    assert LAYOUT not in world.comment(pr)

    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]


def test_a_dependency_held_by_another_pr_blocks_naming_it(world: BotWorld) -> None:
    publish = world.open_pr(
        "carol-contrib", {LAYOUT: world.edited(LAYOUT, ("status: draft", "status: live"))}
    )
    world.drain()
    start = world.edited(
        MODULAR, ("status: draft", "status: running\nschedule:\n  start_at: 2025-01-06T09:00:00Z")
    )
    pr = world.open_pr("carol-contrib", {MODULAR: start})
    world.drain()

    run = world.check(pr)
    assert run is not None
    assert run.conclusion in ("action_required", "failure")
    assert run.conclusion != "success"
    assert f"#{publish}" in (run.summary or ""), run.summary
    assert "homepage_layout" in (run.summary or "")


def test_token_auth_as_the_action_runs_shows_the_same_verdict(token_world: BotWorld) -> None:
    pr = token_world.open_pr("carol-contrib", {CHECKOUT: _pause(token_world)})
    token_world.review(pr, "bob-approver", "APPROVE")
    token_world.drain()
    run = token_world.check(pr)
    assert run is not None and (run.conclusion, run.title) == ("success", "Approved")
    assert run.app_id == 4242  # written through the App's token, so the check is trusted


def test_locks_of_another_repository_neither_block_nor_are_released(world: BotWorld) -> None:
    # One App, two config repositories, one store: the other repository's PR of the same number holds a
    # resource of the same account and id. It is another repository's resource and another PR.
    other = "acme/mobile-experiments"
    key = ResourceKey("web", Kind.EXPERIMENT, "checkout_button_color_test")
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)}, draft=True)
    world.drain()
    assert world.store.set_locks(other, pr, {key: PendingState.FINISH_PENDING}) == []

    world.driver.ready_for_review(world.repo, pr, "carol-contrib")
    world.drain()
    run = world.check(pr)
    assert run is not None and run.title != "Blocked", run.summary
    assert world.labels(pr) == {"pending: PAUSE PENDING"}
    assert {(lock.repository, lock.pr_number, lock.pending_state) for lock in world.store.locks()} == {
        (world.repo, pr, PendingState.PAUSE_PENDING),
        (other, pr, PendingState.FINISH_PENDING),
    }

    world.close(pr, "carol-contrib")
    world.drain()
    assert [(lock.repository, lock.pr_number, lock.key) for lock in world.store.locks()] == [(other, pr, key)]
