"""Issue 12, rule 4, end to end: GitHub computes `mergeable` and the test merge in the background, so
the first read after a push answers `mergeable: null` (REST "Get a pull request"). The bot asks again,
as the docs say, and judges the test merge: one verdict, written once, that a re-evaluation leaves
alone. When GitHub takes longer than the bot waits, the check says how it judged and what to do."""

from __future__ import annotations

from harness import BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
PULL = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
CHECK_WRITES = (
    "POST /repos/{owner}/{repo}/check-runs",
    "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
)


def _traffic(world: BotWorld, value: int) -> str:
    return world.edited(CHECKOUT, ("traffic_allocation: 50", f"traffic_allocation: {value}"))


def _check_writes(world: BotWorld) -> int:
    return sum(len(world.emulator.calls.of(route)) for route in CHECK_WRITES)


def test_a_push_is_judged_once_on_the_test_merge_github_computed_after_it(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 60)})
    world.drain()
    world.emulator.calls.reset()

    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib")
    world.drain()

    answers = [c.body["mergeable"] for c in world.emulator.calls.of(PULL)]
    assert answers[:2] == [None, True], answers  # null right after the push; asked again
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required"
    assert "**Note:**" not in (run.summary or "")  # judged on the test merge
    assert _check_writes(world) == 1

    world.emulator.calls.reset()
    world.driver.rerequest_check(world.repo, run.id, "carol-contrib")
    world.drain()
    assert _check_writes(world) == 0  # the same verdict: nothing to write


def test_a_test_merge_github_is_slow_to_compute_is_judged_three_way_and_said(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _traffic(world, 60)})
    world.drain()
    world.emulator.faults.still_merging(times=20)
    world.push(pr, {CHECKOUT: _traffic(world, 70)}, author="carol-contrib")
    world.drain()

    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required"
    assert "still computing the test merge" in (run.summary or "")
    assert "Re-run this check" in (run.summary or "")

    while world.emulator.faults.take_still_merging():  # GitHub is done now
        pass
    world.driver.rerequest_check(world.repo, run.id, "carol-contrib")
    world.drain()
    rerun = world.check(pr)
    assert rerun is not None and rerun.conclusion == "action_required"  # the same verdict
    assert "still computing" not in (rerun.summary or "")
