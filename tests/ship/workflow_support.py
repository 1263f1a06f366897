"""A repository whose GitHub Actions run the README's workflow against the emulator.

`ActionsWorld` puts the README's workflow file on the default branch, attaches a `WorkflowHost` to the
emulator's webhooks (so GitHub's trigger rules decide which job runs start, with which token), and runs
each job by running action.yml's step as a real process (`ActionRunner`) with the job's `with:` inputs,
its own GITHUB_TOKEN (the job's `permissions:`, read-only for a fork's `pull_request`) and the secrets
GitHub would pass it (none for a fork's `pull_request`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from action_support import ACTIONS_APP_ID, ACTIONS_INSTALLATION, ActionRunner, Outcome
from ship_support import ORG, REPO, ROOT, create_labels, sample_files

from bot.emulator.workflows import JobRun, WorkflowHost, interpolate

WORKFLOW_PATH = ".github/workflows/approvalbot.yml"
SECRET = "APPROVALBOT_DATABASE_URL"
README = ROOT / "README.md"


def readme_workflow_text() -> str:
    """The README's ```yaml block under "As a GitHub Action": the workflow users copy."""
    text = README.read_text()
    section = text[text.index("### As a GitHub Action") :]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match, "the README's 'As a GitHub Action' section has no ```yaml block"
    return match.group(1)


def config(*, merge_on_approval: bool = False, teams: bool = False) -> bytes:
    """The sample `.approvalbot.yml`; without its `@acme/growth-leads` approvers unless `teams` (a
    workflow's GITHUB_TOKEN cannot read organization teams)."""
    text = sample_files()[".approvalbot.yml"].decode()
    if not teams:
        assert ', "@acme/growth-leads"]' in text
        text = text.replace(', "@acme/growth-leads"]', "]")
    if merge_on_approval:
        assert "merge_on_approval: false" in text
        text = text.replace("merge_on_approval: false", "merge_on_approval: true")
    return text.encode()


def readme_workflow_file(*, contents: str = "read") -> str:
    """The README's workflow, with `contents: write` when the config merges (as its comment says)."""
    text = readme_workflow_text()
    if contents == "write":
        text = text.replace("contents: read", "contents: write")
    return text


@dataclass
class ActionsWorld:
    emulator: Any
    runner: ActionRunner
    host: WorkflowHost

    @classmethod
    def create(cls, emulator: Any, tmp_path: Path, *, files: dict[str, Any] | None = None) -> ActionsWorld:
        repo_files: dict[str, Any] = {
            **sample_files(),
            ".approvalbot.yml": config(),
            WORKFLOW_PATH: readme_workflow_file(),
        }
        repo_files.update(files or {})
        emulator.driver.create_repo(REPO, repo_files)
        emulator.driver.add_team(ORG, "growth-leads", ["team-lead-tina"])
        emulator.driver.install_app(ACTIONS_APP_ID, ACTIONS_INSTALLATION, ORG, slug="github-actions")
        create_labels(emulator)
        runner = ActionRunner(emulator.base_url, tmp_path, f"sqlite:///{tmp_path / 'approvalbot.db'}")
        host = WorkflowHost(emulator, REPO, ACTIONS_APP_ID, ACTIONS_INSTALLATION).attach()
        return cls(emulator, runner, host)

    def execute(self, run: JobRun) -> Outcome:
        """One job: its single `uses:` step of our action, with the inputs its `with:` gives."""
        (step,) = run.job.steps
        secrets = {SECRET: self.runner.database_url} if run.secrets else {}
        inputs = {name: interpolate(str(value), {"secrets": secrets}) for name, value in step["with"].items()}
        return self.runner.run(run.event, run.payload, token=run.token, **inputs)

    def drain(self) -> list[JobRun]:
        return self.host.drain(self.execute)
