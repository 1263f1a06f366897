"""A merged or closed PR waits for nothing: its pending and `blocked` labels go (issue 14).

Before: a merged PR kept `approved` + `pending: PAUSE PENDING`, and a closed one its pending label.
`approved` and `rejected` stay: they say how the PR ended.
"""

from __future__ import annotations

from harness import BotWorld

from bot.emulator.state import Label

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running


def _pause(world: BotWorld) -> str:
    return world.edited(CHECKOUT, ("status: running", "status: paused"))


def test_a_merged_pr_keeps_approved_and_loses_its_pending_label(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.labels(pr) == {"approved", "pending: PAUSE PENDING"}

    world.merge(pr, "alice-admin")
    world.drain()
    assert world.state(pr) == "closed" and world.pull(pr).merged
    assert world.labels(pr) == {"approved"}


def test_a_pr_closed_unmerged_loses_its_pending_label_and_a_blocked_one_its_blocked(world: BotWorld) -> None:
    first = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    finish = world.edited(CHECKOUT, ("status: running", "status: finished\nwinner: green"))
    second = world.open_pr("ivan-contrib", {CHECKOUT: finish})
    world.drain()
    assert world.labels(first) == {"pending: PAUSE PENDING"}
    assert world.labels(second) == {"blocked"}

    world.close(second, "ivan-contrib")
    world.close(first, "carol-contrib")
    world.drain()
    assert world.labels(first) == set() and world.labels(second) == set()


def test_labels_a_person_set_stay_on_a_closed_pr(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    # A person's label (set straight in the emulator: GitHub's `labeled` webhook is one the bot ignores).
    with world.emulator.world.lock:
        repo = world.emulator.world.repo(world.repo)
        repo.labels["needs-design"] = Label(world.emulator.world.new_id(), "needs-design", "ededed", "")
        world.pull(pr).labels.append("needs-design")
    world.close(pr, "carol-contrib")
    world.drain()
    assert world.labels(pr) == {"needs-design"}
