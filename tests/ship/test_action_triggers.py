"""Rule 12, GitHub Actions' trigger rules, end to end: the README's workflow in the emulator, each job a
real `approvalbot action` process talking HTTP to it.

- a merge the Action makes with its GITHUB_TOKEN (`merge_on_approval`) starts no `push` nor
  `pull_request: closed` run, so it is applied in the run that merged, and the job summary says so;
- the concurrency groups: a newer evaluation of a PR replaces a pending one; pushes never wait to be
  cancelled;
- the job's own check run is named after the job, never `approvalbot`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ship_support import PAUSE_PATH, REPO, approvalbot_runs, paused_text
from workflow_support import WORKFLOW_PATH, ActionsWorld, config, readme_workflow_file

from bot.emulator.workflows import JobRun

pytestmark = pytest.mark.slow

AUTHOR, APPROVER = "carol-contrib", "bob-approver"


def live_status(world: ActionsWorld, experiment: str) -> str | None:
    from bot.adapters.store import Store
    from bot.core.model import Kind, ResourceKey

    store = Store.from_url(world.runner.database_url)
    try:
        record = store.get_live(ResourceKey("web", Kind.EXPERIMENT, experiment))
        return None if record is None else str(record.status)  # type: ignore[attr-defined]
    finally:
        store.close()


def jobs(runs: list[JobRun]) -> list[tuple[str, str, str]]:
    return [(r.event, str(r.payload.get("action") or ""), r.job.id) for r in runs]


def test_a_merge_by_the_actions_token_is_applied_in_the_run_that_merged(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(
        emulator,
        tmp_path,
        files={
            ".approvalbot.yml": config(merge_on_approval=True),
            WORKFLOW_PATH: readme_workflow_file(contents="write"),
        },
    )
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    opened = world.drain()
    # `pull_request` is not in the README's `on:`; its `pull_request_target` twin runs the evaluation.
    assert jobs(opened) == [("pull_request_target", "opened", "evaluate")]
    assert opened[0].result.returncode == 0, opened[0].result.stderr
    assert opened[0].result.outputs["state"] == "pending", opened[0].result.stderr[-3000:]

    emulator.driver.review(REPO, number, APPROVER, "APPROVE", "ship it")
    (approved,) = world.drain()
    outcome = approved.result
    assert (approved.event, approved.job.id) == ("pull_request_review", "evaluate")
    assert outcome.returncode == 0, outcome.stderr
    pr = emulator.world.repo(REPO).pulls[number]
    assert pr.merged and pr.merged_by == "github-actions[bot]"
    # GitHub's rule: the merge's own events were caused by GITHUB_TOKEN and started nothing...
    assert ("push", "caused by GITHUB_TOKEN: starts no workflow run") in world.host.skipped
    assert ("pull_request", "caused by GITHUB_TOKEN: starts no workflow run") in world.host.skipped
    assert world.host.queued() == []
    # ...so the run that merged applied it, and said so.
    assert outcome.result["merged"] == [
        {"pull_request": number, "sha": pr.merge_commit_sha, "outcome": "applied"}
    ]
    assert live_status(world, "checkout_button_color_test") == "paused"
    assert f"Merged #{number} as `{str(pr.merge_commit_sha)[:12]}` in this run" in outcome.summary
    # A push by a person afterwards does start the apply job; the merge is not applied twice.
    emulator.driver.push(REPO, "main", {"web/README.md": "notes\n"}, author="alice-admin")
    (pushed,) = world.drain()
    assert (pushed.event, pushed.job.id) == ("push", "apply") and pushed.result.returncode == 0
    assert live_status(world, "checkout_button_color_test") == "paused"


def test_each_job_posts_its_own_check_run_named_after_the_job(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(emulator, tmp_path)
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    (run,) = world.drain()
    repo = emulator.world.repo(REPO)
    job_check = repo.check_runs[run.check_run_id]
    assert (job_check.name, job_check.conclusion) == ("approvalbot-evaluate", "success")
    # pull_request_target: GITHUB_SHA is the base branch's head, so the job's check run is there...
    assert job_check.head_sha == run.sha == repo.branches["main"]
    # ...and the bot's own check, the only one named `approvalbot`, is on the PR's head: its verdict.
    (bot_check,) = approvalbot_runs(emulator, repo.pulls[number].head_sha)
    assert bot_check.conclusion == "action_required"  # type: ignore[attr-defined]


def test_concurrency_replaces_a_pending_evaluation_but_never_a_push(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(emulator, tmp_path)
    host = world.host
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    going = host.start_next()  # the `opened` evaluation is running
    assert going is not None and going.group == f"approvalbot-pr-{number}"
    first = emulator.driver.comment(REPO, number, AUTHOR, "/recheck")
    emulator.driver.comment(REPO, number, APPROVER, "/recheck")
    states = [(r.event, r.state) for r in host.runs]
    # The first comment's run was pending behind the running one; the second took its place.
    assert states == [
        ("pull_request_target", "in_progress"),
        ("issue_comment", "cancelled"),
        ("issue_comment", "queued"),
    ], states
    assert first
    # Three pushes in a row while the evaluation runs: each its own group, none cancelled.
    for line in ("a", "b", "c"):
        emulator.driver.push(REPO, "main", {"web/README.md": f"{line}\n"}, author="alice-admin")
    pushes = [r for r in host.runs if r.event == "push"]
    assert [r.state for r in pushes] == ["queued"] * 3
    assert len({r.group for r in pushes}) == 3
    host.finish(going, world.execute)
    done = world.drain()
    assert [r.event for r in done] == ["issue_comment", "push", "push", "push"]
    assert all(r.result.returncode == 0 for r in done), [r.result.stderr for r in done]


def test_events_caused_by_the_workflow_token_start_no_run(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(emulator, tmp_path)
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    world.drain()
    # The bot's own comment (it writes one per evaluation) came from GITHUB_TOKEN: no issue_comment run.
    comments = [
        d
        for d in emulator.webhooks.of("issue_comment")
        if d.payload["sender"]["login"].startswith("github-actions")
    ]
    skipped: list[Any] = [event for event, _ in world.host.skipped]
    assert len(comments) == skipped.count("issue_comment")
    assert not [r for r in world.host.runs if r.event == "issue_comment"]
    assert number


def test_team_roles_with_the_workflow_token_say_so_in_the_check(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(emulator, tmp_path, files={".approvalbot.yml": config(teams=True)})
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    (run,) = world.drain()
    assert run.result.returncode == 0, run.result.stderr
    assert "Traceback" not in run.result.stderr
    (check,) = approvalbot_runs(emulator, emulator.world.repo(REPO).pulls[number].head_sha)
    said = f"{check.title} {check.summary}"  # type: ignore[attr-defined]
    assert check.conclusion == "failure", said  # type: ignore[attr-defined]
    assert "Members: read" in said and "@acme/growth-leads" in said, said


def test_merge_on_approval_without_contents_write_fails_the_job_saying_what_to_grant(
    emulator,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    # The README's workflow as is (contents: read) with a config that merges: never a silent "approved".
    world = ActionsWorld.create(
        emulator, tmp_path, files={".approvalbot.yml": config(merge_on_approval=True)}
    )
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    world.drain()
    emulator.driver.review(REPO, number, APPROVER, "APPROVE", "ship it")
    (approved,) = world.drain()
    outcome = approved.result
    assert outcome.returncode != 0 and "Traceback" not in outcome.stderr, outcome.stderr
    assert "Contents: write" in outcome.stderr, outcome.stderr
    assert "Failed: GitHub refused or failed a call" in outcome.summary, outcome.summary
    assert not emulator.world.repo(REPO).pulls[number].merged
    repo = emulator.world.repo(REPO)
    assert repo.check_runs[approved.check_run_id].conclusion == "failure"  # the job's own run shows it


def test_pull_request_target_runs_the_base_branchs_workflow_not_the_prs(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = ActionsWorld.create(emulator, tmp_path)
    # The PR rewrites the workflow so that its evaluation would be skipped; the base's still runs.
    tampered = readme_workflow_file().replace("name: approvalbot-evaluate", "name: skipped\n    if: false")
    emulator.driver.open_pr(REPO, AUTHOR, "tamper", {PAUSE_PATH: paused_text(), WORKFLOW_PATH: tampered})
    (run,) = world.host.queued()
    assert (run.event, run.job.name) == ("pull_request_target", "approvalbot-evaluate")
    assert run.sha == emulator.world.repo(REPO).branches["main"]
