"""experiments.example/: the quickstart's sample repository validates cleanly and shows every case."""

from __future__ import annotations

import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest

from bot.core.loading import load_resource
from bot.core.model import Kind, Resource
from bot.core.repo_config import APPROVE_PERMISSION, CONFIG_PATH, RepoConfig, Role, parse_repo_config
from bot.core.rules import overrides_used, parse_time
from bot.core.tree import DictTree
from bot.core.validate import resource_paths, validate_tree

ROOT = Path(str(files("bot") / "data" / "experiments.example"))
REPO_ROOT = Path(__file__).resolve().parents[2]


def sample_files() -> dict[str, bytes]:
    return {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in sorted(ROOT.rglob("*")) if p.is_file()}


def sample_config() -> RepoConfig:
    config, problems = parse_repo_config(sample_files()[CONFIG_PATH])
    assert problems == [] and config is not None
    return config


def sample_resources() -> list[Resource]:
    config = sample_config()
    out = []
    for path, account in resource_paths(DictTree(sample_files()), config).items():
        result = load_resource(path, sample_files()[path], account)
        assert result.ok and result.resource is not None, result.problems
        out.append(result.resource)
    return out


def test_the_whole_sample_validates_with_no_problem() -> None:
    assert validate_tree(DictTree(sample_files()), sample_config()) == []


def test_the_sample_ships_in_the_package_and_is_the_top_level_directory() -> None:
    assert ROOT.resolve() == (REPO_ROOT / "experiments.example").resolve()


def test_every_file_points_editors_at_its_schema() -> None:
    for path, raw in sample_files().items():
        first = raw.decode().splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, f"{path}: first line is {first!r}"
        target = (ROOT / path).parent / match.group(1)
        assert target.resolve().is_file(), f"{path}: {match.group(1)} does not exist"
        kind = (
            "approvalbot-config"
            if path == CONFIG_PATH
            else "remote-config"
            if "remote_config/" in path
            else "experiment"
        )
        assert target.name == f"{kind}.schema.json"


def test_layout_is_account_kind_id() -> None:
    for resource in sample_resources():
        folder = "experiments" if resource.key.kind is Kind.EXPERIMENT else "remote_config"
        assert resource.path == f"{resource.key.account}/{folder}/{resource.key.id}.yaml"


def test_experiments_cover_every_status_in_both_accounts() -> None:
    experiments = [r for r in sample_resources() if r.key.kind is Kind.EXPERIMENT]
    assert len(experiments) >= 6
    assert {r.data["status"] for r in experiments} == {"draft", "scheduled", "running", "paused", "finished"}
    assert {r.key.account for r in experiments} == {"web", "mobile"}
    finished = [r for r in experiments if r.data["status"] == "finished"]
    assert finished and all(r.data.get("winner") for r in finished)
    for scheduled in (r for r in experiments if r.data["status"] == "scheduled"):
        start = parse_time(scheduled.data["schedule"]["start_at"])
        assert start is not None and start.year >= 2030  # stays in the future for years


def test_remote_configs_cover_every_type_and_a_draft() -> None:
    variables = [r for r in sample_resources() if r.key.kind is Kind.REMOTE_CONFIG]
    assert len(variables) >= 4
    assert {r.data["type"] for r in variables} == {"string", "number", "boolean", "json"}
    assert Counter(r.data["status"] for r in variables)["draft"] >= 1


def test_overrides_reference_variables_of_every_type() -> None:
    resources = sample_resources()
    types = {(r.key.account, r.key.id): r.data["type"] for r in resources if r.key.kind is Kind.REMOTE_CONFIG}
    used = {
        types[(r.key.account, key)]
        for r in resources
        if r.key.kind is Kind.EXPERIMENT
        for key in overrides_used(r)
    }
    assert used == {"string", "number", "boolean", "json"}


def test_config_shows_every_role_and_setting() -> None:
    config = sample_config()
    assert [a.name for a in config.accounts] == ["web", "mobile"]
    for account in config.accounts:
        assert all(account.members(role) for role in Role), account.name
        approving = [c for c in account.custom_roles if c.approves]
        assert approving and any(not c.approves for c in account.custom_roles)
        assert all(APPROVE_PERMISSION in c.permissions for c in approving)
    assert any("@acme/growth-leads" in a.members(Role.APPROVER) for a in config.accounts)
    members = {m for a in config.accounts for r in Role for m in a.members(r)}
    members |= {m for a in config.accounts for c in a.custom_roles for m in c.members}
    logins = {m for m in members if not m.startswith("@")}
    assert logins <= set(config.users)
    assert all((config.email_of(login) or "").endswith("@example.com") for login in logins)
    assert config.approvals.required_by_action


@pytest.mark.parametrize("path", sorted(p for p in sample_files() if p != CONFIG_PATH))
def test_each_sample_file_loads_cleanly(path: str) -> None:
    account = path.split("/")[0]
    assert load_resource(path, sample_files()[path], account).problems == ()
