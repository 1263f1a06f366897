"""`approvalbot validate FILE…` checks those files in their repository; JSON says its version (issue 14).

Before: a file path was refused ("is not a directory"), and `--format json` had no `version`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepo import CONFIG_YAML, GitRepo, experiment, variable

from bot.cli import main

EXP = "web/experiments/checkout.yaml"
RC = "web/remote_config/color.yaml"
OTHER = "mobile/experiments/onboarding.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "config")
    repo.commit(
        {
            ".approvalbot.yml": CONFIG_YAML,
            EXP: experiment("checkout", "draft"),
            RC: variable("color", "live"),
            OTHER: experiment("onboarding", "running", winner="nobody"),  # invalid: not this test's file
        },
        "base",
    )
    return repo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_valid_file_passes_though_another_file_is_broken(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "validate", str(repo.path / EXP))
    assert (code, err) == (0, ""), out
    assert f"ok: {EXP} is valid" in out
    assert f"problems in other files of {repo.path}" in out  # said, not hidden


def test_a_broken_file_is_reported_with_its_line(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    (repo.path / EXP).write_text(experiment("checkout", "draft", winner="nobody"))
    code, out, _ = run(capsys, "validate", str(repo.path / EXP), str(repo.path / RC))
    assert code == 1 and out.startswith(f"{EXP}:")
    assert OTHER not in out.split("\n\n")[0].splitlines()[0]
    assert "2 problems in 1 file" in out


def test_a_file_given_relative_to_the_current_folder(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.path / "web")
    code, out, _ = run(capsys, "validate", "experiments/checkout.yaml", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["valid"] is True and data["files"] == [EXP]


def test_cross_file_problems_of_the_file_are_found(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    uses = [
        {"id": "control", "weight": 50, "control": True},
        {"id": "treatment", "weight": 50, "overrides": {"colour": "green"}},
    ]
    (repo.path / EXP).write_text(experiment("checkout", "draft", variants=uses))
    code, out, _ = run(capsys, "validate", str(repo.path / EXP))
    assert code == 1 and "'colour' is not a remote config variable" in out


def test_json_has_its_version(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(repo.path), "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["version"] == 1 and data["valid"] is False
    assert set(data) >= {"version", "valid", "errors", "warnings"}


def test_a_file_outside_any_config_repository_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lone = tmp_path / "lone.yaml"
    lone.write_text(experiment("lone", "draft"))
    code, _, err = run(capsys, "validate", str(lone))
    assert code == 2 and "no .approvalbot.yml" in err and str(lone) in err
