"""Issue 12, rule 5, end to end: lists longer than GitHub's 100-node page and GraphQL's rate limit.

The decisive review is a person's newest, however many reviews came before or after it; an evaluation
costs at most 2 GraphQL points (GitHub's formula, computed by the emulator); an evaluation that meets
a used-up GraphQL budget (HTTP 200 with a RATE_LIMITED error) waits for the reset and finishes."""

from __future__ import annotations

from harness import BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"


def _open(world: BotWorld) -> int:
    edited = world.edited(CHECKOUT, ("traffic_allocation: 50", "traffic_allocation: 60"))
    return world.open_pr("carol-contrib", {CHECKOUT: edited})


def _reviews_nobody_sees(world: BotWorld, pr: int, count: int) -> None:
    """`count` comment reviews whose webhooks are lost: only a later evaluation reads them."""
    world.emulator.webhooks.drop_next(count)
    for i in range(count):
        world.driver.review(world.repo, pr, f"reader-{i}", "COMMENT", body=f"looked at it ({i})")


def test_an_approval_buried_under_a_page_of_reviews_counts_and_a_newer_rejection_wins(
    world: BotWorld,
) -> None:
    pr = _open(world)
    world.drain()
    world.emulator.webhooks.drop_next(1)
    world.review(pr, "bob-approver", "APPROVE")
    _reviews_nobody_sees(world, pr, 120)
    world.review(pr, "reader-last", "COMMENT", body="one more")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]

    world.emulator.webhooks.drop_next(1)
    world.review(pr, "bob-approver", "REQUEST_CHANGES", body="no, 60 is too much")
    _reviews_nobody_sees(world, pr, 110)
    world.review(pr, "reader-last", "COMMENT", body="and another")
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion != "success", run.summary


def test_an_evaluation_costs_at_most_two_graphql_points(world: BotWorld) -> None:
    pr = _open(world)
    world.drain()
    world.emulator.graphql_budget.reset_log()
    world.review(pr, "bob-approver", "APPROVE")
    world.drain()
    assert world.check(pr).conclusion == "success"  # type: ignore[union-attr]
    # One evaluation (the review's): the facts query and the team's members, 1 point each.
    assert [points for _, points in world.emulator.graphql_budget.charged] == [1, 1]


def test_a_used_up_graphql_budget_is_waited_out(world: BotWorld) -> None:
    world.emulator.graphql_budget.set_limit(1, reset_in=1.0)
    pr = _open(world)
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run and run.summary
    limited = [
        c
        for c in world.emulator.calls.of("POST /graphql")
        if any(e.get("type") == "RATE_LIMITED" for e in (c.body or {}).get("errors", ()))
    ]
    assert limited and all(c.status == 200 for c in limited)
