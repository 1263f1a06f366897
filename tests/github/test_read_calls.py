"""An evaluation's read costs five calls, also for experiments: the variables they override are read,
on both sides, with the team members; and a base that moves while the PR is read is read again."""

from __future__ import annotations

import pytest

from bot.adapters.github.client import token_client
from bot.adapters.github.source import MERGE_VIEW, PullRequestSource

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77
GRAPHQL = "POST /graphql"
TREES = "GET /repos/{owner}/{repo}/git/trees/{tree_sha}"
CONFIG = (
    "accounts:\n"
    "  web:\n"
    "    paths: ['web/**']\n"
    "    roles:\n"
    "      admin: [bob, '@acme/leads']\n"
    "  mobile:\n"
    "    paths: ['mobile/**']\n"
    "    roles:\n"
    "      admin: [bob]\n"
)


def experiment(description: str) -> str:
    return (
        "kind: experiment\nid: e1\nstatus: draft\n"
        f"description: {description}\n"
        "variants:\n"
        "  - {id: control, weight: 50}\n"
        "  - {id: treatment, weight: 50, overrides: {flag: 2}}\n"
    )


@pytest.fixture
def setup(emulator, github_settings):  # type: ignore[no-untyped-def]
    d = emulator.driver
    files = {
        ".approvalbot.yml": CONFIG,
        "web/experiments/e1.yaml": experiment("before"),
        "web/remote_config/flag.yaml": "kind: remote_config\nid: flag\n",
        "mobile/remote_config/flag.yaml": "kind: remote_config\nid: flag\nother: account\n",
    }
    d.create_repo(REPO, files)
    d.install_app(APP_ID, INSTALLATION, "acme")
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    client = token_client("bot-token", github_settings(emulator.base_url))
    number = d.open_pr(REPO, "alice", "edit", {"web/experiments/e1.yaml": experiment("after")})
    return client, number


def test_the_variables_an_experiment_overrides_come_with_the_read(emulator, setup):  # type: ignore[no-untyped-def]
    client, number = setup
    emulator.driver.settle_merge(REPO, number)
    emulator.calls.reset()
    snapshot = PullRequestSource(client, REPO).read(number, merged=True)
    assert snapshot.view == MERGE_VIEW and snapshot.incomplete is None
    assert emulator.calls.reads == 5, emulator.calls.counts()
    emulator.calls.reset()
    assert snapshot.head.read("web/remote_config/flag.yaml") == b"kind: remote_config\nid: flag\n"
    assert snapshot.base.read("web/remote_config/flag.yaml") == b"kind: remote_config\nid: flag\n"
    assert emulator.calls.calls == []
    # Another account's variable of the same name is not the experiment's: it is left to a later read.
    assert snapshot.head.read("mobile/remote_config/flag.yaml") is not None
    assert len(emulator.calls.of(GRAPHQL)) == 1


def test_a_base_that_moves_during_the_read_is_listed_again(emulator, setup):  # type: ignore[no-untyped-def]
    client, number = setup
    source = PullRequestSource(client, REPO)
    graphql = source._graphql
    moved: list[str] = []

    def push_first(query, variables, problems=None, **options):  # type: ignore[no-untyped-def]
        if not moved:
            moved.append(
                emulator.driver.push(REPO, "main", {"web/late.yaml": "kind: remote_config\n"}, author="bob")
            )
        return graphql(query, variables, problems, **options)

    source._graphql = push_first  # type: ignore[method-assign]
    emulator.calls.reset()
    snapshot = source.read(number, merged=False)
    assert snapshot.pull.base_sha == moved[0]
    assert "web/late.yaml" in snapshot.base.paths()
    # The head does not have the base's new file: judged against the PR head, it looks deleted.
    assert "web/late.yaml" in {c.path for c in snapshot.changes}
    assert len(emulator.calls.of(TREES)) == 3
    assert snapshot.incomplete is None
