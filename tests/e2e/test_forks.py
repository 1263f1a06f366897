"""Rule 7, forks, in App mode, end to end (the App over real HTTP): a PR from a fork is evaluated and
approved like any other; its check's "Re-run" names no PR (GitHub leaves fork heads out of
`check_run.pull_requests`), and the bot finds the PR among the open ones by its head sha; after the merge
the approved change is applied once.
"""

from __future__ import annotations

from harness import REPO, BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
FORKER = "carol-contrib"


def _fork_pr(world: BotWorld) -> int:
    fork = world.driver.fork_repo(REPO, FORKER)
    edits = {CHECKOUT: world.edited(CHECKOUT, ("traffic_allocation: 50", "traffic_allocation: 60"))}
    return int(world.driver.open_pr(REPO, FORKER, "more-traffic", edits, title="More traffic", fork=fork))


def test_a_fork_pr_is_evaluated_and_its_rerun_finds_the_pr_without_pull_requests(
    http_world: BotWorld,
) -> None:
    world = http_world
    pr = _fork_pr(world)
    world.drain()
    opened = world.emulator.webhooks.of("pull_request", "opened")[-1].payload["pull_request"]
    assert opened["head"]["repo"]["full_name"] == f"{FORKER}/experiments" and opened["head"]["repo"]["fork"]
    assert opened["base"]["repo"]["full_name"] == REPO
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required"

    world.emulator.webhooks.drop_next()  # the review's webhook is lost: only a Re-run can tell the bot
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "action_required"  # type: ignore[union-attr]

    before = len(world.emulator.calls.calls)
    world.driver.rerequest_check(world.repo, run.id, "bob-approver")
    world.drain()
    rerun_calls = [c.route for c in world.emulator.calls.calls[before:]]
    # Finding the PR cost one REST call (the open PRs, one page per 100), then the usual evaluation.
    assert rerun_calls.count("GET /repos/{owner}/{repo}/pulls") == 1, rerun_calls
    rerun = world.emulator.webhooks.of("check_run", "rerequested")[-1].payload["check_run"]
    assert rerun["pull_requests"] == [] and rerun["check_suite"]["head_branch"] is None
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]
    # GitHub's "commits/{sha}/pulls" does not find a fork's open PR by its head; the bot did not rely on it.
    head = world.pull(pr).head_sha
    found = world.emulator.calls.of("GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls")
    assert all(head not in c.path for c in found)


def test_a_push_to_the_forks_branch_synchronizes_the_pr_and_a_merge_applies_once(world: BotWorld) -> None:
    pr = _fork_pr(world)
    world.drain()
    fork = f"{FORKER}/experiments"
    edits = {CHECKOUT: world.edited(CHECKOUT, ("traffic_allocation: 50", "traffic_allocation: 70"))}
    head = world.driver.push(fork, "more-traffic", edits, author=FORKER)
    world.drain()
    assert world.pull(pr).head_sha == head
    assert world.emulator.webhooks.of("pull_request", "synchronize")
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]
    sha = world.merge(pr)
    world.drain()
    assert world.store.is_applied(sha)
