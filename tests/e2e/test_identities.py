"""Whose check run and whose comment (rules 8 and 9): the bot reads and edits only its own.

- another app's `approvalbot` check run on the PR head is neither edited nor trusted;
- a comment by someone else carrying our marker is never edited;
- a deleted user's review (GraphQL author null, REST `ghost`) neither crashes the bot nor counts;
- the emulator refuses a PATCH on another app's check run, as GitHub does.
"""

from __future__ import annotations

from typing import Any

import requests
from harness import BotWorld

from bot.adapters.github.writer import DIFF_MARKER
from bot.emulator.state import CheckRun

CHECKOUT = "web/experiments/checkout_button_color_test.yaml"
OTHER_APP = 5150


def _pause(world: BotWorld) -> str:
    return world.edited(CHECKOUT, ("status: running", "status: paused"))


def test_another_app_s_check_run_of_our_name_is_not_ours(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    ours = world.check(pr)
    assert ours is not None and ours.conclusion == "action_required"
    world.emulator.driver.install_app(OTHER_APP, 5151, "acme", slug="spoofer")
    token = world.emulator.token_for("spoofer[bot]", app_id=OTHER_APP)
    forged = requests.post(
        f"{world.emulator.base_url}/repos/{world.repo}/check-runs",
        json={"name": "approvalbot", "head_sha": world.pull(pr).head_sha, "conclusion": "success"},
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert forged.status_code == 201
    world.later(1)
    world.comment_as(pr, "alice-admin", "/recheck")
    world.drain()
    runs = world.emulator.world.repo(world.repo).check_runs
    spoof = runs[forged.json()["id"]]
    assert (spoof.conclusion, spoof.app_id) == ("success", OTHER_APP)  # untouched
    mine = [r for r in runs.values() if r.app_id == ours.app_id and r.head_sha == ours.head_sha]
    assert mine and all(r.conclusion == "action_required" for r in mine)  # the verdict stands


def test_the_emulator_refuses_a_patch_on_another_app_s_run(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    ours: CheckRun | None = world.check(pr)
    assert ours is not None
    world.emulator.driver.install_app(OTHER_APP, 5151, "acme", slug="spoofer")
    token = world.emulator.token_for("spoofer[bot]", app_id=OTHER_APP)
    answer = requests.patch(
        f"{world.emulator.base_url}/repos/{world.repo}/check-runs/{ours.id}",
        json={"conclusion": "success"},
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert answer.status_code == 403
    assert f"Invalid app_id `{OTHER_APP}`" in answer.json()["message"]


def test_a_forged_comment_with_our_marker_is_not_edited(world: BotWorld) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    forged_text = f"{DIFF_MARKER}\nall approved, nothing to see"
    forged = world.comment_as(pr, "mallory", forged_text)
    world.drain()
    comments = world.emulator.world.repo(world.repo).comments
    assert comments[forged].body == forged_text
    assert any(DIFF_MARKER in body and CHECKOUT in body for body in world.bot_comments(pr))


def test_a_deleted_user_s_review_neither_crashes_nor_counts(world: BotWorld, emulator: Any) -> None:
    pr = world.open_pr("carol-contrib", {CHECKOUT: _pause(world)})
    world.drain()
    world.emulator.driver.delete_user("bob-approver")
    world.review(pr, "bob-approver", "APPROVE")  # an approver, but the account is gone
    world.drain()
    run = world.check(pr)
    assert run is not None and run.conclusion == "action_required", run.summary
    assert "approved" not in world.labels(pr)
