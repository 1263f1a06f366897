"""The Action's spoofed check, end to end: what a PR that adds its own workflow can and cannot do.

A collaborator opens a PR that pauses an experiment and adds `.github/workflows/sneaky.yml`, whose job
is named `approvalbot` and which also posts a check run `approvalbot` (success) with its own token.
GitHub runs a PR's own workflows on `pull_request` (the workflow file of the PR's merge ref), with a write
token for a branch of the same repository. Both check runs come from the `github-actions` app, as the
bot's own does in Action mode, so a required check named `approvalbot` is satisfied by the spoof.

What the test then shows is what the README says: the check is not the boundary in Action mode, the
live store is. The merge's `push` run (the default branch's workflow) finds no recorded approval for
the change and applies nothing (drift): a failing `approvalbot` check on the merge commit, and the
experiment is not paused. The README names what makes the check itself trustworthy (the App's own app
id as the expected source, or a ruleset's required workflow).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from ship_support import PAUSE_PATH, REPO, ROOT, approvalbot_runs, paused_text
from workflow_support import ActionsWorld

from bot.emulator.workflows import JobRun

pytestmark = pytest.mark.slow

MALLORY = "mallory-collab"
SNEAKY = """\
name: sneaky
on: pull_request
permissions:
  checks: write
jobs:
  approvalbot:
    runs-on: ubuntu-latest
    steps:
      - run: echo "looks approved to me"
"""


@dataclass(frozen=True)
class Done:
    returncode: int = 0


def live_status(world: ActionsWorld, experiment: str) -> str | None:
    from bot.adapters.store import Store
    from bot.core.model import Kind, ResourceKey

    store = Store.from_url(world.runner.database_url)
    try:
        record = store.get_live(ResourceKey("web", Kind.EXPERIMENT, experiment))
        return None if record is None else str(record.status)  # type: ignore[attr-defined]
    finally:
        store.close()


def test_a_pr_can_spoof_the_check_but_not_the_live_store(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(emulator, tmp_path)
    emulator.driver.add_collaborator(REPO, MALLORY, "write")

    number = emulator.driver.open_pr(
        REPO, MALLORY, "pause-it", {PAUSE_PATH: paused_text(), ".github/workflows/sneaky.yml": SNEAKY}
    )
    head = emulator.world.repo(REPO).pulls[number].head_sha

    def execute(run: JobRun) -> object:
        if run.workflow.path != ".github/workflows/sneaky.yml":
            return world.execute(run)
        # The PR's own job: it posts a second `approvalbot` check run with its token (checks: write).
        body = {"name": "approvalbot", "head_sha": head, "status": "completed", "conclusion": "success"}
        request = urllib.request.Request(
            f"{emulator.base_url}/repos/{REPO}/check-runs",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"token {run.token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
        return Done()

    # The sneaky job only has to finish after the bot's (a `sleep` does it): run the bot's job first.
    (evaluate,) = [r for r in world.host.queued() if r.job.id == "evaluate"]
    world.host.finish(evaluate, execute)
    ran = [evaluate, *world.host.drain(execute)]
    assert sorted((r.event, r.workflow.path.rsplit("/", 1)[1], r.job.name) for r in ran) == [
        ("pull_request", "sneaky.yml", "approvalbot"),
        ("pull_request_target", "approvalbot.yml", "approvalbot-evaluate"),
    ]
    runs = approvalbot_runs(emulator, head)
    apps = {r.app_id for r in runs}  # type: ignore[attr-defined]
    assert len(apps) == 1, "the bot's check and both spoofs come from the same app, github-actions"
    assert [r.conclusion for r in runs].count("action_required") == 1  # type: ignore[attr-defined]
    assert runs[-1].conclusion == "success"  # type: ignore[attr-defined]  # what a required check sees

    # Trusting that check, someone merges. The merge's push runs the default branch's workflow.
    merge_sha = emulator.driver.merge(REPO, number, MALLORY)
    applied = world.drain()
    assert [(r.event, r.job.id) for r in applied] == [("pull_request_target", "apply"), ("push", "apply")]
    assert all(r.result.returncode == 0 for r in applied), [r.result.stderr for r in applied]
    assert live_status(world, "checkout_button_color_test") != "paused", "an unapproved merge was applied"
    (drift,) = approvalbot_runs(emulator, merge_sha)
    assert drift.conclusion == "failure"  # type: ignore[attr-defined]


def test_the_readme_says_what_to_configure_against_it() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    for promise in (
        "in Action mode the required check is a convenience, not a security boundary",
        'ruleset\'s "Require workflows to pass before merging"',
        '("expected source")',
        "protect `.github/workflows/`",
        "What holds even then is the **live store**",
    ):
        assert promise in text, promise
