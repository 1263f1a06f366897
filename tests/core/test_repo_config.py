""".approvalbot.yml: schema, semantic checks, and the typed result the decision engine reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from bot.core.model import Action
from bot.core.repo_config import (
    CONFIG_PATH,
    MergeMethod,
    OnReject,
    RepoConfig,
    Role,
    Subject,
    broken_config_message,
    missing_config_problem,
    parse_repo_config,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "approvalbot-config.schema.json"

MINIMAL = b"""\
accounts:
  acme:
    paths: ["acme/**"]
    roles:
      admin: [alice]
"""

FULL = b"""\
approvals:
  enabled: false
  subject: draft_contributors
  required: 2
  required_by_action: {delete: 3}
  on_reject: keep_open
  merge_on_approval: true
  merge_method: squash
accounts:
  acme:
    paths: ["acme/**", "shared/*.yaml"]
    roles:
      admin: [alice, "@acme/leads"]
      approver: [bob]
      draft_contributor: [dana]
      viewer: [vic]
    custom_roles:
      reviewers:
        permissions: ["approve:product_experiences"]
        members: [rita]
    required: 1
    required_by_action: {finish: 4}
users:
  alice: {email: alice@example.com, name: Alice}
"""


def parsed(raw: bytes) -> RepoConfig:
    config, problems = parse_repo_config(raw)
    assert problems == []
    assert config is not None
    return config


def messages(raw: bytes | None) -> list[str]:
    config, problems = parse_repo_config(raw)
    assert config is None, "a config with problems must not be returned"
    assert problems
    return [str(p) for p in problems]


def test_schema_is_valid_2020_12_with_an_id_and_descriptions_everywhere() -> None:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("approvalbot-config.schema.json")

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key in ("properties", "$defs"):
                for name, child in node.get(key, {}).items():
                    assert "description" in child or "$ref" in child, f"{where}.{name} has no description"
                    walk(child, f"{where}.{name}")
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    walk(node[key], f"{where}.{key}")

    walk(schema, "$")


def test_minimal_config_takes_the_defaults() -> None:
    config = parsed(MINIMAL)
    assert config.approvals.enabled is True
    assert config.approvals.subject is Subject.EVERYONE
    assert config.approvals.required == 1
    assert config.approvals.on_reject is OnReject.CLOSE
    assert config.approvals.merge_on_approval is False
    assert config.approvals.merge_method is None  # the first the repository allows
    assert config.account("acme") is not None
    assert config.required_for("acme", Action.PAUSE) == 1
    assert config.warnings == ()


def test_every_key_is_read() -> None:
    config = parsed(FULL)
    approvals = config.approvals
    assert (approvals.enabled, approvals.subject, approvals.required) == (
        False,
        Subject.DRAFT_CONTRIBUTORS,
        2,
    )
    assert approvals.required_by_action == {Action.DELETE: 3}
    assert (approvals.on_reject, approvals.merge_on_approval) == (OnReject.KEEP_OPEN, True)
    assert approvals.merge_method is MergeMethod.SQUASH
    acme = config.account("acme")
    assert acme is not None
    assert acme.paths == ("acme/**", "shared/*.yaml")
    assert acme.members(Role.ADMIN) == ("alice", "@acme/leads")
    assert acme.members(Role.VIEWER) == ("vic",)
    (reviewers,) = acme.custom_roles
    assert reviewers.name == "reviewers" and reviewers.approves and reviewers.members == ("rita",)
    assert config.email_of("alice") == "alice@example.com"
    assert config.users["alice"].name == "Alice"
    # Per-account-per-action, then per-action, then per-account, then global.
    assert config.required_for("acme", Action.FINISH) == 4
    assert config.required_for("acme", Action.DELETE) == 3
    assert config.required_for("acme", Action.PAUSE) == 1
    assert config.required_for("other", Action.PAUSE) == 2


@pytest.mark.parametrize(
    "sample",
    [ROOT / "experiments.example" / CONFIG_PATH, ROOT / "bot" / "data" / "experiments.example" / CONFIG_PATH],
)
def test_the_sample_repo_config_parses_cleanly(sample: Path) -> None:
    if not sample.exists():
        pytest.fail(f"{sample} is missing")
    config, problems = parse_repo_config(sample.read_bytes(), str(sample))
    assert problems == []
    assert config is not None and config.accounts
    assert config.warnings == ()
    for account in config.accounts:
        assert account.members(Role.ADMIN), f"{account.name} has no admin"


REFUSED = [
    (
        "unknown top-level key",
        MINIMAL + b"approval: {}\n",
        ".approvalbot.yml:6:1: unknown field 'approval' (allowed: accounts, approvals, users); "
        "did you mean 'approvals'?",
    ),
    (
        "unknown key in an account",
        MINIMAL + b"    reviewers: [x]\n",
        ".approvalbot.yml:6:5: accounts.acme: unknown field 'reviewers'",
    ),
    (
        "unknown role",
        MINIMAL + b"      owner: [x]\n",
        ".approvalbot.yml:6:7: accounts.acme.roles: unknown field 'owner'",
    ),
    (
        "subject not in the list",
        b"approvals: {subject: all}\n" + MINIMAL,
        "approvals.subject: must be one of 'everyone', 'draft_contributors', got 'all'",
    ),
    (
        "on_reject not in the list",
        b"approvals: {on_reject: delete}\n" + MINIMAL,
        "approvals.on_reject: must be one of 'close', 'keep_open'",
    ),
    (
        "merge_method not in the list",
        b"approvals: {merge_on_approval: true, merge_method: fast-forward}\n" + MINIMAL,
        ".approvalbot.yml:1:38: approvals.merge_method: must be one of 'merge', 'squash', 'rebase', "
        "got 'fast-forward'",
    ),
    (
        "required below 1",
        b"approvals: {required: 0}\n" + MINIMAL,
        "approvals.required: must be a whole number",
    ),
    (
        "enabled not a boolean",
        b"approvals: {enabled: maybe}\n" + MINIMAL,
        "approvals.enabled: must be true or false",
    ),
    (
        "team written without @",
        MINIMAL.replace(b"[alice]", b"[acme/leads]"),
        "accounts.acme.roles.admin[0]: must be a GitHub login, or an organisation team written '@org/team'",
    ),
    (
        "account without paths",
        b"accounts:\n  acme:\n    roles: {admin: [a]}\n",
        "missing required field 'paths'",
    ),
    ("no accounts at all", b"accounts: {}\n", ".approvalbot.yml:1:1: accounts: none defined"),
    (
        "account with no admin",
        b"accounts:\n  acme:\n    paths: [a/**]\n    roles:\n      approver: [bob]\n",
        ".approvalbot.yml:4:5: account 'acme' has no admin; add at least one login or @org/team under "
        "accounts.acme.roles.admin",
    ),
    (
        "unknown action in approvals.required_by_action",
        b"approvals:\n  required_by_action:\n    stop: 2\n" + MINIMAL,
        ".approvalbot.yml:3:5: approvals.required_by_action: unknown action 'stop'; the actions are: "
        "create_draft, edit_draft",
    ),
    (
        "unknown action in an account's required_by_action",
        MINIMAL + b"    required_by_action: {halt: 2}\n",
        ".approvalbot.yml:6:26: accounts.acme.required_by_action: unknown action 'halt'",
    ),
    (
        "bad email",
        MINIMAL + b"users: {alice: {email: nope}}\n",
        "users.alice.email: must be an email address",
    ),
    ("not YAML", b"accounts: [\n", ".approvalbot.yml:2:1: invalid YAML"),
    ("duplicate key", MINIMAL + b"accounts: {}\n", "duplicate key 'accounts' (first at line 1)"),
    ("a list at the top", b"- a\n", "top level must be a mapping"),
]


@pytest.mark.parametrize(("raw", "expected"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_with_a_located_message(raw: bytes, expected: str) -> None:
    found = messages(raw)
    assert any(expected in m for m in found), found


def test_missing_file_gives_the_one_shared_message() -> None:
    assert messages(None) == [str(missing_config_problem())]
    assert "no .approvalbot.yml on the base branch" in missing_config_problem().message
    assert broken_config_message([missing_config_problem()]).startswith(
        "Blocked: there is no .approvalbot.yml"
    )


def test_broken_message_lists_each_problem_with_its_place() -> None:
    _, problems = parse_repo_config(MINIMAL + b"bogus: 1\n")
    message = broken_config_message(problems)
    assert message.startswith("Blocked: .approvalbot.yml on the base branch is broken")
    assert ".approvalbot.yml:6:1: unknown field 'bogus'" in message


def test_a_glob_shared_by_two_accounts_is_fine_and_says_which_wins() -> None:
    raw = MINIMAL + b'  beta:\n    paths: ["acme/**"]\n    roles: {admin: [zed]}\n'
    config = parsed(raw)
    (warning,) = config.warnings
    assert str(warning) == (
        ".approvalbot.yml:7:13: path glob 'acme/**' is listed by accounts 'acme' and 'beta'; files it "
        "matches belong to 'acme', the first in file order"
    )
    owner = config.account_for("acme/experiments/x.yaml")
    assert owner is not None and owner.name == "acme"


def test_globs_match_directories_as_users_expect() -> None:
    config = parsed(FULL)
    assert config.account_for("acme/experiments/deep/x.yaml") is not None
    assert config.account_for("shared/x.yaml") is not None
    assert config.account_for("shared/sub/x.yaml") is None
    assert config.account_for("acmeish/x.yaml") is None
