"""The live winner and the default branch's winner always agree (issue 14).

Before: an approver's `/winner green` on a file saying `winner: control` was applied as green, while the
merge put `winner: control` on the default branch, and nothing reported it. Now a /winner the file
contradicts is refused (the approval waits); the file is changed, or the /winner dropped.
"""

from __future__ import annotations

from harness import BotWorld

from bot.emulator.scenario import FileEdits

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running


def _live_winner(world: BotWorld) -> str | None:
    [record] = [r for r in world.store.live("web") if r.key.id == "checkout_button_color_test"]
    return record.winner


def test_a_winner_the_file_contradicts_is_refused_until_the_file_says_it(world: BotWorld) -> None:
    finish = world.edited(CHECKOUT, ("status: running", "status: finished\nwinner: control"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: finish})
    world.review(pr, "bob-approver", "APPROVE", "Green won clearly.\n/winner green")
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run.summary
    summary = run.summary or ""
    assert "/winner green was refused: the file says winner: control" in summary
    assert "approve without /winner to keep control" in summary

    edits: FileEdits = {CHECKOUT: finish.replace("winner: control", "winner: green")}
    world.push(pr, edits, author="carol-contrib")
    world.drain()
    world.later(5)
    world.review(pr, "bob-approver", "APPROVE", "/winner green")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]

    world.merge(pr, "alice-admin")
    world.drain()
    assert _live_winner(world) == "green"
    gh = world.emulator.world
    repo = gh.repo(world.repo)
    assert b"winner: green" in gh.snapshot(repo, repo.branches["main"])[CHECKOUT]


def test_a_winner_the_file_agrees_with_counts(world: BotWorld) -> None:
    finish = world.edited(CHECKOUT, ("status: running", "status: finished\nwinner: green"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: finish})
    world.review(pr, "bob-approver", "APPROVE", "/winner green")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]
