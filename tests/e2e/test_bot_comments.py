"""Comments written by bots (approvalbot's own diff comment and replies, other Apps) set off no
re-evaluation: they can carry no command that counts, and re-reading on our own comments would loop."""

from __future__ import annotations

from harness import BOT_LOGIN, BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
READ_PULL = "GET /repos/{owner}/{repo}/pulls/{pull_number}"


def _evaluations(world: BotWorld) -> int:
    """Evaluations since the call log was reset: each judges one read of the PR whose test merge GitHub
    had computed (a read answered `mergeable: null` is asked again)."""
    return sum(1 for c in world.emulator.calls.of(READ_PULL) if c.body.get("mergeable") is not None)


def _open(world: BotWorld) -> int:
    pr = world.open_pr(
        "carol-contrib", {CHECKOUT: world.edited(CHECKOUT, ("status: running", "status: paused"))}
    )
    world.drain()
    return pr


def test_a_comment_by_a_bot_login_is_ignored(world: BotWorld) -> None:
    pr = _open(world)
    world.emulator.calls.reset()
    world.comment_as(pr, "ci-helper[bot]", "/approve")
    world.drain()
    assert world.emulator.calls.of(READ_PULL) == []


def test_a_comment_by_a_bot_typed_user_is_ignored(world: BotWorld) -> None:
    pr = _open(world)
    world.emulator.world.user("renovate", "Bot")
    world.emulator.calls.reset()
    world.comment_as(pr, "renovate", "/recheck")
    world.drain()
    assert world.emulator.calls.of(READ_PULL) == []


def test_a_comment_by_a_person_is_evaluated(world: BotWorld) -> None:
    pr = _open(world)
    world.emulator.calls.reset()
    world.comment_as(pr, "erin-reviewer", "/recheck")
    world.drain()
    assert _evaluations(world) == 1


def test_approvalbot_s_own_comments_set_off_no_evaluation(world: BotWorld) -> None:
    pr = _open(world)
    assert world.bot_comments(pr)  # the diff comment was written, and its webhook delivered
    own = [
        d
        for d in world.emulator.webhooks.of("issue_comment")
        if d.payload["comment"]["user"]["login"] == BOT_LOGIN
    ]
    assert own and all(d.status == 202 or d.status == 200 for d in own)
    # One evaluation for `opened` only: the diff comment's webhook read nothing.
    assert _evaluations(world) == 1
