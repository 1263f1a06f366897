"""Every GraphQL document the adapter sends is valid against GitHub's schema (@octokit/graphql-schema,
tests/contract/schema.graphql), with the variables it sends.

The documents are not copied here: the real adapter code runs against the emulator, and what it sends is
recorded and validated (so a change to a query is checked as it is, tomorrow's text included). Every
emulator of the suite validates too (tests/conftest.py); this test makes sure each kind of document is
actually sent, with its generated parts (blob aliases, team fields) and realistic variables.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.adapters.github.client import token_client
from bot.adapters.github.source import GitHubReadError, PullRequestSource
from bot.adapters.github.writer import PullRequestWriter

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("github_contract", HERE / "github_contract.py")
contract = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(contract)  # type: ignore[union-attr]

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77
CONFIG = (
    b"approvals:\n  required: 1\naccounts:\n  - name: web\n    paths: ['experiments/**']\n"
    b"    roles:\n      approver: ['@acme/approvers', '@nosuchorg/approvers', '@acme/nosuchteam']\n"
)


def _exp(i: int, status: str) -> str:
    return f"id: exp{i}\nname: Experiment {i}\nstatus: {status}\n"


class _Recorder:
    """The emulator's validator, remembering what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.invalid: list[tuple[str, list[dict[str, Any]]]] = []

    def __call__(self, query: str, variables: Any) -> list[dict[str, Any]]:
        self.sent.append((query, dict(variables or {})))
        errors: list[dict[str, Any]] = contract.graphql_errors(query, variables)
        if errors:
            self.invalid.append((query, errors))
        return errors


@pytest.fixture
def recorded(emulator):  # type: ignore[no-untyped-def]
    recorder = _Recorder()
    emulator.graphql_validator = recorder
    return recorder


def test_every_document_the_adapter_sends_is_valid_on_github(emulator, github_settings, recorded):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(
        REPO, {".approvalbot.yml": CONFIG, **{f"experiments/exp{i}.yaml": _exp(i, "draft") for i in range(3)}}
    )
    d.add_team("acme", "approvers", ["carol", "dave"])
    d.grant_team(REPO, "acme", "approvers")
    d.install_app(APP_ID, INSTALLATION, "acme")
    number = d.open_pr(
        REPO, "alice", "start", {f"experiments/exp{i}.yaml": _exp(i, "running") for i in range(3)}
    )
    # More than a page (100) of reviews, comments and commits: the lists are paged with cursors.
    d.push_series(REPO, "start", [({"notes.txt": f"{i}\n"}, f"note {i}") for i in range(101)], author="alice")
    for i in range(101):
        d.comment(REPO, number, "erin", f"comment {i}")
        d.review(REPO, number, "dave", "COMMENT", body=f"review {i}")
    d.review(REPO, number, "carol", "APPROVE")
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    client = token_client("bot-token", github_settings(emulator.base_url))
    source, writer = PullRequestSource(client, REPO), PullRequestWriter(client, REPO)

    snapshot = source.read(number, merged=True)  # facts (with blob aliases), then teams and variables
    assert snapshot.facts.teams == {"acme/approvers": ("carol", "dave")}
    assert any("nosuchorg" in w for w in snapshot.warnings)  # a NOT_FOUND, not an invalid document
    source.read(number)
    assert writer.convert_to_draft(snapshot.pull) is True
    d.ready_for_review(REPO, number, "alice")
    merged = d.merge(REPO, number, "carol")
    source.read_commit(merged)
    source.parents(merged)
    assert source.default_branch_head() == merged
    source.tree(merged).read("experiments/exp1.yaml")  # a file read on demand: one blob batch

    assert recorded.invalid == []
    sent = " ".join(query for query, _ in recorded.sent)
    for part in (
        "pullRequest(number:",  # the facts query
        ': object(oid: "',  # blob aliases, generated per sha
        "organization(login:",  # team fields, generated per team
        "defaultBranchRef",
        "parents(",
        "convertPullRequestToDraft",
        "before: $cursor",  # the next page of reviews or comments (newest first)
        "after: $cursor",  # the next page of commits
    ):
        assert part in sent, f"no document holding {part!r} was sent; the test no longer covers it"
    facts = next(v for q, v in recorded.sent if "pullRequest(number:" in q)
    assert facts["number"] == number and len(facts["head"]) == 40  # real variables, not placeholders
    page = next(v for q, v in recorded.sent if "$cursor" in q)
    assert page["cursor"]  # the cursor GitHub (the emulator) gave, sent back


def test_an_invalid_document_is_refused_as_github_refuses_it(emulator):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})
    answer = requests.post(
        emulator.base_url + "/graphql",
        json={
            "query": 'query($sha: GitObjectID!) { repository(owner: "acme", name: "config") '
            '{ object(oid: $sha, path: "a") { id } } }',
            "variables": {"sha": "a" * 40},
        },
        headers={"Authorization": f"bearer {emulator.token_for('x')}"},
        timeout=5,
    )
    assert answer.status_code == 200  # GitHub answers a document it will not run with 200 and errors
    body = answer.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == "Field 'object' doesn't accept argument 'path'"
    assert body["errors"][0]["extensions"] == {"code": "argumentNotAccepted"}


def test_variables_the_operation_cannot_take_are_refused(emulator):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})
    answer = requests.post(
        emulator.base_url + "/graphql",
        json={
            "query": 'query($n: Int!) { repository(owner: "acme", name: "config") '
            "{ pullRequest(number: $n) { id } } }",
            "variables": {"n": "seven"},
        },
        headers={"Authorization": f"bearer {emulator.token_for('x')}"},
        timeout=5,
    )
    message = answer.json()["errors"][0]["message"]
    assert message.startswith("Variable $n of type Int! was provided invalid value"), message


def test_the_adapter_says_what_github_refused(emulator, github_settings):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})
    emulator.driver.install_app(APP_ID, INSTALLATION, "acme")
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    emulator.graphql_validator = lambda query, variables: contract.graphql_errors(
        query.replace("defaultBranchRef", "defaultBranch"), variables
    )
    source = PullRequestSource(token_client("bot-token", github_settings(emulator.base_url)), REPO)
    with pytest.raises(GitHubReadError, match="Field 'defaultBranch' doesn't exist on type 'Repository'"):
        source.default_branch_head()


def test_the_schema_is_githubs_and_says_which_release() -> None:
    first = contract.GRAPHQL_SCHEMA.read_text().splitlines()[0]
    assert first.startswith("# @octokit/graphql-schema "), first
    schema = contract.graphql_schema()
    assert "convertPullRequestToDraft" in schema.mutation_type.fields  # type: ignore[union-attr]
    assert "rateLimit" in schema.query_type.fields  # type: ignore[union-attr]
