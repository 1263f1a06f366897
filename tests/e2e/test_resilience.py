"""GitHub misbehaving, end to end: errors and rate limits are retried with nothing lost; a read that
fails or comes back truncated never approves; the comment is edited in place; unchanged means no write."""

from __future__ import annotations

import time

from harness import BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
PULL = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
CHECK_RUNS = "POST /repos/{owner}/{repo}/check-runs"
COMMENT_EDIT = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"
COMMENT_NEW = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"


def _traffic(world: BotWorld, value: int) -> str:
    return world.edited(CHECKOUT, ("traffic_allocation: 50", f"traffic_allocation: {value}"))


def _open(world: BotWorld) -> int:
    return world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 60)})


def test_github_answering_500_then_200_is_retried(world: BotWorld) -> None:
    world.emulator.faults.fail(PULL, times=2, status=500)
    world.emulator.faults.fail(CHECK_RUNS, times=1, status=502, message="Bad Gateway")
    pr = _open(world)
    world.drain()

    assert [c.status for c in world.emulator.calls.of(PULL)][:3] == [500, 500, 200]
    assert [c.status for c in world.emulator.calls.of(CHECK_RUNS)] == [502, 201]
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required"
    assert len(world.checks(pr)) == 1  # the retried create made one run, not two
    assert world.labels(pr) == {"pending: APPROVAL PENDING"}


def test_a_rate_limit_with_a_reset_is_waited_out_and_retried(world: BotWorld) -> None:
    world.emulator.faults.rate_limit(PULL, reset_at=int(time.time()) + 1)
    started = time.monotonic()
    pr = _open(world)
    world.drain()

    assert [c.status for c in world.emulator.calls.of(PULL)][:2] == [403, 200]
    assert time.monotonic() - started < 15
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required"
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]


def test_a_truncated_read_never_approves(world: BotWorld) -> None:
    pr = _open(world)
    world.drain()
    world.emulator.faults.truncate("graphql reviews", keep=0)
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()

    run = world.check(pr)
    assert run is not None
    assert run.conclusion == "failure", run.summary
    assert "could not be read in full" in (run.title or "") + (run.summary or "")

    world.driver.rerequest_check(world.repo, run.id, "carol-contrib")  # once GitHub reads in full again
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]


def test_a_failing_read_never_approves(world: BotWorld) -> None:
    pr = _open(world)
    world.drain()
    world.emulator.faults.fail("POST /graphql", times=50, status=500)
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    world.emulator.faults.clear()

    run = world.check(pr)
    assert run is not None and run.conclusion != "success"
    assert "approved" not in world.labels(pr)

    world.driver.rerequest_check(world.repo, run.id, "carol-contrib")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]


def test_the_comment_is_edited_in_place_on_every_push(world: BotWorld) -> None:
    pr = _open(world)
    world.drain()
    first = world.comment(pr)
    for value in (70, 80):
        world.push(pr, {CHECKOUT: _traffic(world, value)}, author="carol-contrib")
        world.drain()
        assert f"`{value}`" in world.comment(pr)  # still exactly one comment, now showing the new value
    assert world.comment(pr) != first
    assert len(world.emulator.calls.of(COMMENT_NEW)) == 1
    assert len(world.emulator.calls.of(COMMENT_EDIT)) == 2


def test_nothing_is_written_when_nothing_changed(world: BotWorld) -> None:
    pr = _open(world)
    world.drain()
    run = world.check(pr)
    assert run is not None
    world.emulator.calls.reset()

    world.driver.rerequest_check(world.repo, run.id, "carol-contrib")
    world.drain()

    assert world.emulator.calls.reads > 0  # it did re-read and re-evaluate
    assert world.emulator.calls.writes == 0, world.emulator.calls.counts()
    assert len(world.checks(pr)) == 1
