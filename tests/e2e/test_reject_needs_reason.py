"""`/reject` with no reason asks for one instead of closing the PR with an empty quote (issue 14)."""

from __future__ import annotations

from harness import BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running


def test_a_bare_reject_asks_for_a_reason_and_a_reasoned_one_closes_with_it(world: BotWorld) -> None:
    pause = world.edited(CHECKOUT, ("status: running", "status: paused"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: pause})
    world.drain()
    world.later(5)
    world.comment_as(pr, "bob-approver", "/reject")
    world.drain()
    assert world.state(pr) == "open"
    assert world.labels(pr) == {"pending: PAUSE PENDING"}
    replies = [b for b in world.bot_comments(pr) if b.startswith("@bob-approver")]
    assert len(replies) == 1 and "/reject does not count: it gives no reason" in replies[0]
    assert "/reject REASON" in replies[0]

    world.comment_as(pr, "bob-approver", "/reject\nPausing now loses the holiday traffic.\nWait a week.")
    world.drain()
    assert world.state(pr) == "closed"
    [closing] = [b for b in world.bot_comments(pr) if b.startswith("**Rejected.**")]
    assert "> **bob-approver**: Pausing now loses the holiday traffic.\n> Wait a week." in closing
