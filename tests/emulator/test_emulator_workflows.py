"""The emulator's GitHub Actions rules (bot/emulator/workflows.py), one by one, without running the bot."""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator import GitHubEmulator
from bot.emulator.workflows import JobRun, Workflow, WorkflowHost, condition, evaluate, interpolate

REPO = "acme/site"
APP_ID = 15368
WORKFLOW = """\
name: ci
on:
  pull_request:
  pull_request_review:
  push:
    branches: [main, "release/**"]
permissions:
  contents: write
jobs:
  build:
    runs-on: ubuntu-latest
    concurrency:
      group: ci-${{ github.event.pull_request.number || github.ref }}
    steps:
      - run: echo built
  deploy:
    name: Deploy it
    if: github.event_name == 'push'
    permissions:
      checks: write
    concurrency:
      group: deploy
      cancel-in-progress: true
    steps:
      - run: echo deployed
"""


@pytest.fixture
def host() -> Any:
    with GitHubEmulator() as emu:
        emu.driver.create_repo(REPO, {"README.md": "hi\n", ".github/workflows/ci.yml": WORKFLOW})
        emu.driver.install_app(APP_ID, 7, "acme", slug="github-actions")
        yield WorkflowHost(emu, REPO, APP_ID, 7).attach()


def ok(run: JobRun) -> object:
    return None


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("github.event_name == 'PUSH'", True),  # strings compare ignoring case
        ("github.event.number || github.ref", "refs/heads/main"),  # `||` gives the first truthy operand
        ("github.event.nothing.deeper", None),  # a missing property is null
        ("!(github.event_name != 'push') && 'yes'", "yes"),
        ("'it''s'", "it's"),
    ],
)
def test_expressions(expression: str, value: object) -> None:
    contexts = {"github": {"event_name": "push", "ref": "refs/heads/main", "event": {}}}
    assert evaluate(expression, contexts) == value


def test_interpolation_and_conditions() -> None:
    contexts = {"github": {"event": {"pull_request": {"number": 7}}}, "secrets": {}}
    assert interpolate("pr-${{ github.event.pull_request.number }}", contexts) == "pr-7"
    assert interpolate("${{ secrets.MISSING }}", contexts) == ""  # an absent secret is empty
    assert condition("${{ github.event.pull_request.number == 7 }}", contexts) is True
    assert condition(None, contexts) is True
    with pytest.raises(ValueError, match="not in the emulator's subset"):
        evaluate("contains(github.ref, 'x')", contexts)


def test_a_job_is_named_by_its_name_or_else_its_id() -> None:
    workflow = Workflow.parse(".github/workflows/ci.yml", WORKFLOW)
    assert [(j.id, j.name) for j in workflow.jobs] == [("build", "build"), ("deploy", "Deploy it")]


def test_pull_request_runs_on_its_default_activity_types_only(host: Any) -> None:
    emu = host.emulator
    number = emu.driver.open_pr(REPO, "carol", "feature", {"README.md": "new\n"})
    emu.driver.edit_pr(REPO, number, "carol", title="renamed")  # `edited` is not a default type
    # The branch's own push is not on `main` or `release/**`: no run for it either.
    assert [(r.event, r.payload["action"], r.job.id) for r in host.runs] == [
        ("pull_request", "opened", "build")
    ]


def test_push_branch_filters(host: Any) -> None:
    emu = host.emulator
    emu.driver.push(REPO, "release/1.2", {"a": "1\n"}, author="alice")
    emu.driver.push(REPO, "topic", {"a": "2\n"}, author="alice")
    assert [(r.ref, r.job.id) for r in host.runs] == [
        ("refs/heads/release/1.2", "build"),
        ("refs/heads/release/1.2", "deploy"),  # its `if:` holds on a push
    ]


def test_an_event_caused_by_the_workflow_token_starts_no_run(host: Any) -> None:
    emu = host.emulator
    emu.driver.push(REPO, "main", {"a": "1\n"}, author="alice", pusher="github-actions[bot]")
    assert host.runs == []
    assert host.skipped == [("push", "caused by GITHUB_TOKEN: starts no workflow run")]


def test_the_job_token_has_the_jobs_permissions_and_a_fork_gets_them_read_only(host: Any) -> None:
    emu = host.emulator
    emu.driver.push(REPO, "main", {"a": "1\n"}, author="alice")
    build, deploy = host.runs
    assert build.permissions == {"contents": "write"}  # the workflow's
    assert deploy.permissions == {"checks": "write"}  # the job's own block replaces it
    fork = emu.driver.fork_repo(REPO, "carol")
    emu.driver.open_pr(REPO, "carol", "feature", {"README.md": "new\n"}, fork=fork)
    (from_fork,) = [r for r in host.runs if r.event == "pull_request"]
    assert from_fork.permissions == {"contents": "read"} and from_fork.secrets is False


def test_concurrency_keeps_one_running_and_one_pending_and_cancel_in_progress_cancels_both(host: Any) -> None:
    emu = host.emulator
    for line in ("1", "2", "3"):
        emu.driver.push(REPO, "main", {"a": f"{line}\n"}, author="alice")
    states = [(r.job.id, r.state) for r in host.runs]
    # `build` (group ci-refs/heads/main): the first is going, the second was pending and was replaced.
    assert [s for j, s in states if j == "build"] == ["queued", "cancelled", "queued"]
    # `deploy` cancels in progress: only the newest is left.
    assert [s for j, s in states if j == "deploy"] == ["cancelled", "cancelled", "queued"]
    done = host.drain(ok)
    assert [r.job.id for r in done] == ["build", "build", "deploy"]
    checks = [c for c in emu.world.repo(REPO).check_runs.values()]
    assert sorted(c.name for c in checks) == ["Deploy it", "build", "build"]
    assert {c.app_id for c in checks} == {APP_ID} and {c.conclusion for c in checks} == {"success"}
