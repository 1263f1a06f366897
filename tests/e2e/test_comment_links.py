"""The PR comment's `file:line` links to the file at the head commit; each problem said once (issue 14)."""

from __future__ import annotations

from harness import BotWorld

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"  # running


def test_a_problem_in_the_comment_links_to_its_line_at_the_head(world: BotWorld) -> None:
    broken = world.edited(CHECKOUT, ("traffic_allocation: 50", "traffic_allocation: lots"))
    pr = world.open_pr("carol-contrib", {CHECKOUT: broken})
    world.drain()
    head = world.pull(pr).head_sha
    line = broken.splitlines().index("traffic_allocation: lots") + 1
    body = world.comment(pr)
    link = f"[`{CHECKOUT}:{line}`]("
    assert link in body, body
    target = body.split(link, 1)[1].split(")", 1)[0]
    assert target.endswith(f"/{world.repo}/blob/{head}/{CHECKOUT}#L{line}"), target
    assert target.startswith("http")
    assert body.count("traffic_allocation: must be") == 1, body  # once, at the resource

    again = broken.replace("name: Checkout button color", "name: Checkout button colour")
    world.push(pr, {CHECKOUT: again}, author="carol-contrib")
    world.drain()
    new_head = world.pull(pr).head_sha
    assert f"/blob/{new_head}/{CHECKOUT}#L{line}" in world.comment(pr)  # the same comment, edited
