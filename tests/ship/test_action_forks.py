"""Rule 7, forks, in Action mode, end to end: the README's workflow in the emulator's Actions, each job
a real `approvalbot action` process.

- `pull_request_target` runs the base branch's workflow with its write token and secrets for a fork's
  PR, so the fork's PR gets its check like any other;
- a review on a fork's PR runs as `pull_request_review` with a read-only token and no secrets: the bot
  says so (a warning and the job summary), writes nothing and does not fail the job;
- an approver's `/recheck` (`issue_comment`, which runs the base's workflow with its write token) then
  brings the approval in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ship_support import PAUSE_PATH, REPO, approvalbot_runs, paused_text
from workflow_support import ActionsWorld

pytestmark = pytest.mark.slow

FORKER, APPROVER = "carol-contrib", "bob-approver"


def test_a_fork_pr_in_action_mode(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(emulator, tmp_path)
    fork = emulator.driver.fork_repo(REPO, FORKER)
    number = emulator.driver.open_pr(REPO, FORKER, "pause", {PAUSE_PATH: paused_text()}, fork=fork)
    head = emulator.world.repo(REPO).pulls[number].head_sha

    (opened,) = world.drain()
    assert (opened.event, opened.job.id, opened.secrets) == ("pull_request_target", "evaluate", True)
    assert opened.permissions["checks"] == "write"
    assert opened.result.returncode == 0, opened.result.stderr
    assert opened.result.outputs["state"] == "pending"
    (check,) = approvalbot_runs(emulator, head)
    assert check.conclusion == "action_required"  # type: ignore[attr-defined]

    calls_before = len(emulator.calls.calls)
    emulator.driver.review(REPO, number, APPROVER, "APPROVE", "ship it")
    (reviewed,) = world.drain()
    assert reviewed.event == "pull_request_review" and not reviewed.secrets
    assert set(reviewed.permissions.values()) == {"read"}, reviewed.permissions
    outcome = reviewed.result
    assert outcome.returncode == 0, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert f"::warning title=approvalbot::this `pull_request_review` event comes from the fork {fork}" in (
        outcome.stdout
    )
    assert "read-only GITHUB_TOKEN and no secrets" in outcome.summary
    assert outcome.result["handled"] is False
    assert not [c for c in emulator.calls.calls[calls_before:] if c.write], "a read-only run wrote nothing"
    (check,) = approvalbot_runs(emulator, head)
    assert check.conclusion == "action_required"  # type: ignore[attr-defined]

    emulator.driver.comment(REPO, number, APPROVER, "/recheck")
    (rechecked,) = world.drain()
    assert rechecked.event == "issue_comment" and rechecked.secrets
    assert rechecked.result.returncode == 0, rechecked.result.stderr
    assert rechecked.result.outputs["state"] == "approved"
    assert approvalbot_runs(emulator, head)[-1].conclusion == "success"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("event", "head", "fork"),
    [
        ("pull_request", {"repo": {"full_name": "carol/experiments"}}, "carol/experiments"),
        ("pull_request_review", {"repo": None}, "a deleted fork"),  # GitHub shows a deleted fork as null
        ("pull_request", {"repo": {"full_name": REPO}}, None),
        # The base's workflow, with the base's token: nothing to degrade.
        ("pull_request_target", {"repo": {"full_name": "carol/experiments"}}, None),
    ],
)
def test_which_events_run_read_only_for_a_fork(event: str, head: dict[str, object], fork: str | None) -> None:
    from bot.action import fork_of

    payload = {
        "repository": {"full_name": REPO},
        "pull_request": {"head": head, "base": {"repo": {"full_name": REPO}}},
    }
    assert fork_of(event, payload) == fork
