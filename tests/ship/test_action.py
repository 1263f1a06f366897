"""`approvalbot action` through action.yml's step, for each event a workflow sends, against the emulator.

Each run is a real process (bash running the composite step, which runs `approvalbot action`), with
GITHUB_API_URL at the emulator, the workflow token registered there as the `github-actions` App, a
SQLite store in a temporary file, and a payload made from GitHub's official examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from action_support import (
    ACTIONS_APP_ID,
    ACTIONS_INSTALLATION,
    TOKEN,
    ActionRunner,
    aimed,
    example,
    pull_fields,
)
from ship_support import ORG, PAUSE_PATH, REPO, approvalbot_runs, create_labels, paused_text, sample_files
from workflow_support import config, readme_workflow_text

pytestmark = pytest.mark.slow

AUTHOR, APPROVER = "carol-contrib", "bob-approver"
JOB_PERMISSIONS = yaml.safe_load(readme_workflow_text())["jobs"]["evaluate"]["permissions"]
PAUSE_LABEL = "pending: PAUSE PENDING"


@pytest.fixture
def runner(emulator, tmp_path: Path) -> ActionRunner:  # type: ignore[no-untyped-def]
    # No team roles: a workflow's GITHUB_TOKEN cannot read teams (test_action_triggers shows what it says).
    emulator.driver.create_repo(REPO, {**sample_files(), ".approvalbot.yml": config()})
    emulator.driver.add_team(ORG, "growth-leads", ["team-lead-tina"])
    emulator.driver.install_app(ACTIONS_APP_ID, ACTIONS_INSTALLATION, ORG, slug="github-actions")
    # The token the README's evaluate job gets: its `permissions:` block, nothing more.
    emulator.register_workflow_token(
        TOKEN, JOB_PERMISSIONS, app_id=ACTIONS_APP_ID, installation_id=ACTIONS_INSTALLATION
    )
    create_labels(emulator)
    return ActionRunner(emulator.base_url, tmp_path, f"sqlite:///{tmp_path / 'approvalbot.db'}")


def pr_event(emulator: Any, action: str, number: int, sender: str) -> dict[str, Any]:
    payload = aimed(example(f"pull_request${action}"), sender)
    payload["number"] = number
    pull_fields(payload["pull_request"], emulator, number)
    return payload


def labels(emulator: Any, number: int) -> set[str]:
    return set(emulator.world.repo(REPO).pulls[number].labels)


def head(emulator: Any, number: int) -> str:
    return str(emulator.world.repo(REPO).pulls[number].head_sha)


def conclusion(emulator: Any, number: int) -> str | None:
    runs = approvalbot_runs(emulator, head(emulator, number))
    assert runs, f"no approvalbot check run on #{number}'s head"
    return runs[-1].conclusion  # type: ignore[attr-defined, no-any-return]


def test_a_pull_request_lifecycle_event_by_event(emulator, runner: ActionRunner) -> None:  # type: ignore[no-untyped-def]
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})

    opened = runner.run("pull_request", pr_event(emulator, "opened", number, AUTHOR))
    assert opened.returncode == 0, opened.stderr
    assert opened.outputs["state"] == "pending"
    assert opened.decision["state"] == "pending" and PAUSE_LABEL in opened.decision["labels"]
    assert PAUSE_LABEL in labels(emulator, number)
    assert conclusion(emulator, number) == "action_required"
    assert opened.result["plan"]["actions"], opened.result

    # A push to the PR's branch: the check is redone on the new head.
    emulator.driver.push(
        REPO, "pause-checkout", {PAUSE_PATH: paused_text() + "# paused for the sale\n"}, author=AUTHOR
    )
    synchronized = runner.run("pull_request", pr_event(emulator, "synchronize", number, AUTHOR))
    assert synchronized.returncode == 0, synchronized.stderr
    assert synchronized.outputs["state"] == "pending"
    assert conclusion(emulator, number) == "action_required"

    review_id = emulator.driver.review(REPO, number, APPROVER, "APPROVE", "ship it")
    review = aimed(example("pull_request_review$submitted"), APPROVER)
    pull_fields(review["pull_request"], emulator, number)
    review["review"].update(id=review_id, state="approved", commit_id=head(emulator, number), body="ship it")
    review["review"]["user"]["login"] = APPROVER
    approved = runner.run("pull_request_review", review)
    assert approved.returncode == 0, approved.stderr
    assert approved.outputs["state"] == "approved"
    assert approved.decision["accounts"]["web"]["approved_by"] == [APPROVER]
    assert conclusion(emulator, number) == "success"
    assert "approved" in labels(emulator, number)  # the pending label stays until the merge applies it

    comment_id = emulator.driver.comment(REPO, number, AUTHOR, "/recheck")
    comment = aimed(example("issue_comment$created"), AUTHOR)
    comment["issue"].update(number=number, state="open")
    comment["issue"].setdefault("pull_request", {"url": f"{runner.api_url}/repos/{REPO}/pulls/{number}"})
    comment["comment"].update(id=comment_id, body="/recheck")
    comment["comment"]["user"]["login"] = AUTHOR
    rechecked = runner.run("issue_comment", comment)
    assert rechecked.returncode == 0, rechecked.stderr
    assert rechecked.outputs["state"] == "approved"

    merge_sha = emulator.driver.merge(REPO, number, APPROVER)
    closed = runner.run("pull_request", pr_event(emulator, "closed", number, APPROVER))
    assert closed.returncode == 0, closed.stderr
    assert closed.result["handled"] is True
    assert closed.outputs["decision"] == "null" and closed.outputs["state"] == ""
    assert live_status(runner, "checkout_button_color_test") == "paused"
    assert merge_sha


def live_status(runner: ActionRunner, experiment: str) -> str | None:
    from bot.adapters.store import Store
    from bot.core.model import Kind, ResourceKey

    store = Store.from_url(runner.database_url)
    try:
        record = store.get_live(ResourceKey("web", Kind.EXPERIMENT, experiment))
        return None if record is None else str(record.status)  # type: ignore[attr-defined]
    finally:
        store.close()


def push_event(emulator: Any, before: str, after: str, sender: str) -> dict[str, Any]:
    payload = aimed(example("push$event"), sender)
    payload.update(ref="refs/heads/main", before=before, after=after, deleted=False, forced=False)
    return payload


def test_a_direct_push_to_the_default_branch_is_not_applied_and_fails_its_check(emulator, runner) -> None:  # type: ignore[no-untyped-def]
    repo = emulator.world.repo(REPO)
    before = repo.branches["main"]
    after = emulator.driver.push(REPO, "main", {PAUSE_PATH: paused_text()}, author="mallory")
    pushed = runner.run("push", push_event(emulator, before, after, "mallory"))
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.result["handled"] is True and pushed.outputs["decision"] == "null"
    assert live_status(runner, "checkout_button_color_test") != "paused"
    runs = approvalbot_runs(emulator, after)
    assert runs and runs[-1].conclusion == "failure", [(r.conclusion, r.title) for r in runs]  # type: ignore[attr-defined]


def test_schedule_runs_the_tick(runner: ActionRunner) -> None:
    ticked = runner.run("schedule", {"schedule": "*/15 * * * *"})
    assert ticked.returncode == 0, ticked.stderr
    assert ticked.result == {**ticked.result, "event": "schedule", "handled": True, "ticked": 0}
    assert ticked.outputs == {"decision": "null", "state": ""}


def test_mode_tick_ticks_whatever_the_event(emulator, runner: ActionRunner) -> None:  # type: ignore[no-untyped-def]
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    ticked = runner.run("pull_request", pr_event(emulator, "opened", number, AUTHOR), mode="tick")
    assert ticked.returncode == 0, ticked.stderr
    assert ticked.result["ticked"] == 0
    assert approvalbot_runs(emulator, head(emulator, number)) == []


def test_mode_evaluate_skips_pushes_and_apply_skips_pull_requests(emulator, runner: ActionRunner) -> None:  # type: ignore[no-untyped-def]
    main = emulator.world.repo(REPO).branches["main"]
    skipped = runner.run("push", push_event(emulator, main, main, AUTHOR), mode="evaluate")
    assert skipped.returncode == 0 and "does not handle 'push'" in skipped.stdout
    assert skipped.outputs == {"decision": "null", "state": ""}
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    skipped = runner.run("pull_request", pr_event(emulator, "opened", number, AUTHOR), mode="apply")
    assert skipped.returncode == 0 and "does not handle 'pull_request'" in skipped.stdout
    assert emulator.calls.calls == [], "a skipped event must not reach GitHub"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"mode": "publish"}, "mode 'publish' is not one of auto, evaluate, apply, tick"),
        ({"config-path": "ops/approvalbot.yml"}, "config-path 'ops/approvalbot.yml' is not supported"),
    ],
)
def test_bad_inputs_fail_the_step_with_an_annotation(
    runner: ActionRunner, inputs: dict[str, str], message: str
) -> None:
    failed = runner.run("schedule", {}, **inputs)
    assert failed.returncode == 2
    assert "::error title=approvalbot::" + message in failed.stdout


def test_without_a_token_the_entry_point_says_what_to_set(runner: ActionRunner) -> None:
    failed = runner.run("schedule", {}, token="")
    assert failed.returncode == 2
    assert "GITHUB_TOKEN is not set" in failed.stderr and "Traceback" not in failed.stderr


def test_the_job_summary_says_the_decision(emulator, runner: ActionRunner) -> None:  # type: ignore[no-untyped-def]
    number = emulator.driver.open_pr(REPO, AUTHOR, "pause-checkout", {PAUSE_PATH: paused_text()})
    opened = runner.run("pull_request_target", pr_event(emulator, "opened", number, AUTHOR))
    assert opened.returncode == 0, opened.stderr
    assert opened.summary.startswith("## approvalbot\n"), opened.summary
    assert "Decision: **pending**" in opened.summary
    assert "| web |" in opened.summary, opened.summary  # the account, with who approved (nobody yet)
    ticked = runner.run("schedule", {})
    assert "Scheduler tick (`schedule`): 0 scheduled transition(s) applied." in ticked.summary


def test_an_empty_database_url_warns_that_the_store_vanishes_with_the_job(runner: ActionRunner) -> None:
    kept = ActionRunner(runner.api_url, runner.workdir, f"sqlite:///{runner.workdir / 'kept.db'}")
    ticked = kept.run("schedule", {}, **{"database-url": ""})
    assert ticked.returncode == 0, ticked.stderr
    assert "::warning title=approvalbot::database-url is empty" in ticked.stdout
    assert (runner.workdir / "approvalbot.db").exists()  # the workspace's SQLite file, gone with the runner
    again = kept.run("schedule", {})
    assert again.returncode == 0 and "::warning" not in again.stdout
    assert (runner.workdir / "kept.db").exists()
