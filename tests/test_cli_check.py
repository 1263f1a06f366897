import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitrepo import CONFIG_YAML, GitRepo, experiment, variable

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXP = "web/experiments/checkout.yaml"
RC = "web/remote_config/color.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "config")
    repo.commit(
        {
            ".approvalbot.yml": CONFIG_YAML,
            EXP: experiment("checkout", "draft"),
            RC: variable("color", "live"),
            "mobile/experiments/onboarding.yaml": experiment("onboarding", "running"),
        },
        "base",
    )
    repo.branch("change")
    return repo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def check(capsys: pytest.CaptureFixture[str], repo: GitRepo, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "check", "--repo", str(repo.path), "--base", "main", "--head", "change", *extra)


def test_a_valid_change_exits_0_and_says_what_it_submits(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit({EXP: experiment("checkout", "running")})
    code, out, err = check(capsys, repo)
    assert (code, err) == (0, "")
    assert "start: experiment checkout (web/experiments/checkout.yaml)" in out
    assert "draft → running  [APPROVAL PENDING], needs 1 approval" in out
    assert "~ status: draft → running" in out


def test_a_refused_change_exits_1_with_file_and_line(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit({"mobile/experiments/onboarding.yaml": None})
    code, out, err = check(capsys, repo)
    assert (code, err) == (1, "")
    assert (
        "mobile/experiments/onboarding.yaml:4:1: experiment 'onboarding' (account mobile): running → absent"
        in out
    )
    assert "finish it first" in out


def test_invalid_files_exit_1(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit({EXP: "kind: experiment\nid: checkout\nstatus: [\n"})
    code, out, _ = check(capsys, repo)
    assert code == 1 and "web/experiments/checkout.yaml:" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--base", "nope", "--head", "change"], "unknown revision 'nope'"),
        (["--base", "main", "--head", "change", "--now", "yesterday"], "is not an RFC 3339 time"),
        (["--base", "main", "--head", "change", "--now", "2030-01-01T00:00:00"], "has no time zone"),
        (["--base", "main", "--head", "change", "--facts", "/nonexistent/facts.json"], "cannot read --facts"),
        (["--base", "main"], "the following arguments are required: --head"),
        (["--base", "main", "--head", "change", "--format", "yaml"], "invalid choice: 'yaml'"),
    ],
)
def test_usage_and_repository_errors_exit_2_without_a_stack_trace(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, out, err = run(capsys, "check", "--repo", str(repo.path), *argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_a_directory_that_is_not_a_repository_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "check", "--repo", str(tmp_path), "--base", "main", "--head", "x")
    assert code == 2 and "is not a git repository" in err


def test_a_missing_config_on_the_base_refuses_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo(tmp_path / "bare")
    repo.commit({EXP: experiment("checkout", "draft")})
    repo.branch("change")
    repo.commit({EXP: experiment("checkout", "running")})
    code, out, _ = check(capsys, repo)
    assert code == 1 and "there is no .approvalbot.yml on the base branch" in out


ACTION_KEYS = {
    "account", "kind", "id", "file", "action", "from_status", "to_status", "pending_state",
    "requires_approval", "valid", "errors", "diff", "variants", "uses", "unmet_dependencies", "winner",
    "unreadable", "approvals_required",
}  # fmt: skip


def test_json_output_keeps_its_contract(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    variants = [
        {"id": "control", "weight": 40, "control": True},
        {"id": "treatment", "weight": 60, "overrides": {"color": "green"}},
    ]
    repo.commit(
        {
            EXP: experiment("checkout", "running", variants=variants),
            "mobile/experiments/onboarding.yaml": experiment("onboarding", "paused", owner="x"),
        }
    )
    code, out, _ = check(capsys, repo, "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert set(data) == {
        "version",
        "valid",
        "accounts",
        "config_changed",
        "config_accounts",
        "actions",
        "errors",
        "diff",
    }
    assert data["version"] == 1 and data["valid"] is False and data["accounts"] == ["mobile", "web"]
    refused, start = data["actions"]
    for action in data["actions"]:
        assert set(action) == ACTION_KEYS
    assert start | {"diff": None} == {
        "account": "web", "kind": "experiment", "id": "checkout", "file": EXP, "action": "start",
        "from_status": "draft", "to_status": "running", "pending_state": "APPROVAL PENDING",
        "requires_approval": True, "valid": True, "errors": [], "diff": None,
        "variants": ["control", "treatment"], "uses": ["color"], "unmet_dependencies": [], "winner": None,
        "unreadable": False, "approvals_required": 1,
    }  # fmt: skip
    assert {
        "path": "variants[treatment].overrides",
        "change": "added",
        "old": None,
        "new": {"color": "green"},
    } in start["diff"]
    assert {"path": "variants[control].weight", "change": "changed", "old": 50, "new": 40} in start["diff"]
    assert refused["action"] is None and refused["valid"] is False and refused["pending_state"] is None
    [error] = refused["errors"]
    assert set(error) == {"file", "line", "column", "message"} and "two submissions" in error["message"]
    assert [(d["account"], d["id"], len(d["changes"])) for d in data["diff"]] == [
        ("mobile", "onboarding", 2),
        ("web", "checkout", 4),
    ]


def test_markdown_output_groups_by_account(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit({EXP: experiment("checkout", "running")})
    code, out, _ = check(capsys, repo, "--format", "markdown")
    assert code == 0 and "### Account `web`" in out and "#### Start" in out


def test_now_decides_the_effective_status(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    scheduled = experiment("checkout", "scheduled", schedule={"start_at": "2030-01-01T00:00:00Z"})
    repo.checkout("main")
    repo.commit({EXP: scheduled})
    repo.checkout("change")
    repo.git("merge", "-q", "main")
    repo.commit({EXP: scheduled.replace("name: Checkout", "name: New name")})
    code, out, _ = check(capsys, repo, "--format", "json", "--now", "2029-12-31T23:00:00Z")
    assert code == 0 and json.loads(out)["actions"][0]["from_status"] == "scheduled"
    code, out, _ = check(capsys, repo, "--format", "json", "--now", "2030-01-01T00:00:01+00:00")
    action = json.loads(out)["actions"][0]
    assert (action["from_status"], action["action"]) == ("running", "publish_edits")


def test_facts_add_the_approval_decision(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit({EXP: experiment("checkout", "running")})
    facts = {"number": 7, "author": "dave", "head_sha": "abc", "reviews": [], "draft": False}
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    code, out, _ = check(capsys, repo, "--format", "json", "--facts", str(path))
    data: dict[str, Any] = json.loads(out)
    assert code == 0 and isinstance(data["decision"], dict) and "state" in data["decision"]
    path.write_text("{not json")
    code, _, err = check(capsys, repo, "--facts", str(path))
    assert code == 2 and "is not valid JSON" in err


def test_the_module_entry_point_exits_with_the_code(repo: GitRepo) -> None:
    repo.commit({"mobile/experiments/onboarding.yaml": None})
    argv = ["check", "--repo", str(repo.path), "--base", "main", "--head", "change"]
    done = subprocess.run([sys.executable, "-m", "bot", *argv], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "finish it first" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "bot", *argv[:3], "--base", "x", "--head", "y"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# --- validate -------------------------------------------------------------------------------------------


def test_validate_a_directory_on_disk(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(repo.path))
    assert code == 0 and "ok" in out
    (repo.path / EXP).write_text(experiment("checkout", "draft", winner="nobody"))
    code, out, _ = run(capsys, "validate", str(repo.path))
    assert code == 1 and out.startswith(f"{EXP}:") and "2 problems in 1 file" in out
    code, out, _ = run(capsys, "validate", str(repo.path), "--rev", "HEAD", "--format", "json")
    assert code == 0 and json.loads(out) == {"version": 1, "valid": True, "errors": [], "warnings": []}


def test_validate_a_bare_repository_reads_head(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit({"web/experiments/bad.yaml": experiment("other", "draft")})
    bare = tmp_path / "bare.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", "--branch", "change", str(repo.path), str(bare)], check=True
    )
    code, out, _ = run(capsys, "validate", str(bare), "--format", "json")
    data = json.loads(out)
    assert code == 1 and [e["file"] for e in data["errors"]] == ["web/experiments/bad.yaml"]


def test_validate_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path / "missing"))
    assert code == 2 and "is not a directory" in err
    code, out, _ = run(capsys, "validate", str(tmp_path))
    assert code == 1 and "there is no .approvalbot.yml" in out


def test_the_pre_commit_hook_runs_validate() -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "approvalbot-validate" and hook["entry"] == "approvalbot validate"
    assert hook["pass_filenames"] is False and hook["language"] == "python"


SAMPLE = ROOT / "experiments.example"


def test_the_sample_repository_validates_and_refuses_deleting_a_running_experiment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "validate", str(SAMPLE))
    assert code == 0, out
    repo = GitRepo(tmp_path / "sample")
    files = {p.relative_to(SAMPLE).as_posix(): p.read_bytes() for p in SAMPLE.rglob("*") if p.is_file()}
    repo.commit(files, "sample")
    running = sorted(p for p, text in files.items() if b"\nstatus: running" in text and "/experiments/" in p)[
        0
    ]
    repo.branch("change")
    repo.commit({running: None})
    code, out, _ = check(capsys, repo)
    assert code == 1 and f"{running}:" in out and "finish it first" in out
