"""Reading the default branch's commits (apply-on-merge, drift, reconcile) and withdrawing review
requests, through PyGithub against the emulator (whose every answer is checked against GitHub's
contract at fixture teardown)."""

from __future__ import annotations

import pytest

from bot.adapters.github.client import token_client
from bot.adapters.github.source import EMPTY_TREE, GitHubReadError, PullRequestSource
from bot.adapters.github.writer import PullRequestWriter
from bot.core.tree import ChangeType, FileChange

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77
CONFIG = b"approvals:\n  required: 1\naccounts:\n  - name: web\n    paths: ['experiments/**']\n"
NEW_CONFIG = CONFIG.replace(b"required: 1", b"required: 2")
TREES = "GET /repos/{owner}/{repo}/git/trees/{tree_sha}"
LIST_COMMITS = "GET /repos/{owner}/{repo}/commits"


def _yaml(i: int, status: str = "draft") -> str:
    return f"id: exp{i}\nname: Experiment {i}\nstatus: {status}\n"


def _create(emulator, files: int = 2) -> str:  # type: ignore[no-untyped-def]
    base = {f"experiments/exp{i}.yaml": _yaml(i) for i in range(files)}
    base[".approvalbot.yml"] = CONFIG
    base["README.md"] = "config repo\n"
    root = emulator.driver.create_repo(REPO, base)
    emulator.driver.install_app(APP_ID, INSTALLATION, "acme")
    return root


def _merged_pr(emulator, files: int = 2, *, config: bytes | None = None) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """A PR starting every experiment (and optionally changing the config), merged by carol.
    Returns (number, the main head before the merge, the merge commit)."""
    _create(emulator, files)
    d = emulator.driver
    edits: dict[str, bytes | str | None] = {
        f"experiments/exp{i}.yaml": _yaml(i, "running") for i in range(files)
    }
    if config is not None:
        edits[".approvalbot.yml"] = config
    number = d.open_pr(REPO, "alice", "start-all", edits, title="Start experiments")
    before = emulator.world.repo(REPO).branches["main"]
    d.review(REPO, number, "carol", "APPROVE")
    return number, before, d.merge(REPO, number, "carol")


@pytest.fixture
def source(emulator, github_settings):  # type: ignore[no-untyped-def]
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    return PullRequestSource(token_client("bot-token", github_settings(emulator.base_url)), REPO)


@pytest.fixture
def writer(emulator, github_settings):  # type: ignore[no-untyped-def]
    emulator.register_token("bot-token-w", "approvalbot[bot]", APP_ID, INSTALLATION)
    return PullRequestWriter(token_client("bot-token-w", github_settings(emulator.base_url)), REPO)


# --- read_commit ------------------------------------------------------------------------------------


def test_merge_commit_read_against_its_first_parent(emulator, source):  # type: ignore[no-untyped-def]
    _, before, merge = _merged_pr(emulator, 2, config=NEW_CONFIG)
    emulator.driver.push(REPO, "main", {"README.md": "later\n"}, author="zoe")  # later commits do not matter

    commit = source.read_commit(merge)

    assert (commit.sha, commit.parent, commit.author) == (merge, before, "carol")
    assert commit.changes == (
        FileChange(ChangeType.MODIFIED, ".approvalbot.yml"),
        FileChange(ChangeType.MODIFIED, "experiments/exp0.yaml"),
        FileChange(ChangeType.MODIFIED, "experiments/exp1.yaml"),
    )
    assert (commit.config_before, commit.config_after) == (CONFIG, NEW_CONFIG)
    assert commit.base.sha == before and commit.head.sha == merge
    assert commit.base.read("experiments/exp0.yaml") == _yaml(0).encode()
    assert commit.head.read("experiments/exp0.yaml") == _yaml(0, "running").encode()
    assert commit.head.read("README.md") == b"config repo\n"  # fetched on demand, not the later push
    assert commit.head.read("missing.yaml") is None


def test_root_commit_has_an_empty_base(emulator, source):  # type: ignore[no-untyped-def]
    root = _create(emulator, 1)
    emulator.calls.reset()

    commit = source.read_commit(root)

    assert (commit.parent, commit.base.sha, list(commit.base.paths())) == (None, EMPTY_TREE, [])
    assert {c.path: c.change for c in commit.changes} == {
        ".approvalbot.yml": ChangeType.ADDED,
        "README.md": ChangeType.ADDED,
        "experiments/exp0.yaml": ChangeType.ADDED,
    }
    assert (commit.config_before, commit.config_after) == (None, CONFIG)
    assert commit.author == "acme"
    assert emulator.calls.reads == 3, emulator.calls.counts()  # no parent tree to read


def test_author_not_linked_to_an_account_is_none(emulator, source):  # type: ignore[no-untyped-def]
    from bot.emulator import Identity

    _create(emulator, 1)
    sha = emulator.driver.push(REPO, "main", {"README.md": "x\n"}, author=Identity("Ann", "ann@example.com"))
    assert source.read_commit(sha).author is None


def test_bot_author_keeps_its_bot_login(emulator, source):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    emulator.driver.add_user("helper[bot]", kind="Bot")
    sha = emulator.driver.push(REPO, "main", {"README.md": "x\n"}, author="helper[bot]")
    assert source.read_commit(sha).author == "helper[bot]"


@pytest.mark.parametrize("files", [1, 10, 100])
def test_reading_a_commit_costs_the_same_few_calls_however_many_files(emulator, source, files):  # type: ignore[no-untyped-def]
    _, _, merge = _merged_pr(emulator, files)
    emulator.calls.reset()

    commit = source.read_commit(merge)
    for change in commit.changes:  # every changed file on both sides was read up front
        assert commit.base.read(change.path) is not None and commit.head.read(change.path) is not None

    assert len(commit.changes) == files
    assert emulator.calls.writes == 0
    assert emulator.calls.counts() == {"POST /graphql": 2, TREES: 2}


def test_truncated_tree_fails_the_commit_read(emulator, source):  # type: ignore[no-untyped-def]
    _, _, merge = _merged_pr(emulator, 3)
    emulator.faults.truncate(TREES, keep=1)
    with pytest.raises(GitHubReadError, match="truncated the file list"):
        source.read_commit(merge)


def test_file_github_will_not_serve_fails_the_commit_read(emulator, source):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    sha = emulator.driver.push(REPO, "main", {"experiments/blob.yaml": b"\0binary"}, author="zoe")
    with pytest.raises(GitHubReadError, match="did not serve blob"):
        source.read_commit(sha)


def test_unknown_commit_fails_the_read(emulator, source):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    with pytest.raises(GitHubReadError, match="no commit 0123456789ab"):
        source.read_commit("0123456789abcdef0123456789abcdef01234567")


def test_server_errors_past_the_retries_fail_the_commit_read(emulator, source):  # type: ignore[no-untyped-def]
    _, _, merge = _merged_pr(emulator, 1)
    emulator.faults.fail(TREES, times=10)
    with pytest.raises(GitHubReadError, match=r"git/trees/.* failed: gave up after retries"):
        source.read_commit(merge)


# --- merged_pulls_for_commit ------------------------------------------------------------------------


def test_merged_pull_of_a_merge_commit(emulator, source):  # type: ignore[no-untyped-def]
    number, _, merge = _merged_pr(emulator, 1)
    pr = emulator.world.repo(REPO).pulls[number]
    emulator.calls.reset()

    pulls = source.merged_pulls_for_commit(merge)

    assert len(pulls) == 1
    found = pulls[0]
    assert (found.number, found.merged, found.merge_commit_sha, found.merged_by) == (
        number,
        True,
        merge,
        "carol",
    )
    assert found.merged_at == pr.merged_at
    assert (found.head_sha, found.title, found.base_ref) == (pr.head_sha, "Start experiments", "main")
    assert emulator.calls.counts() == {
        "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls": 1,
        "GET /repos/{owner}/{repo}/pulls/{pull_number}": 1,  # only to learn who merged it
    }


def test_a_prs_own_commit_names_the_pr_but_not_who_merged_it(emulator, source):  # type: ignore[no-untyped-def]
    number, _, merge = _merged_pr(emulator, 1)
    head = emulator.world.repo(REPO).pulls[number].head_sha
    emulator.calls.reset()

    pulls = source.merged_pulls_for_commit(head)

    assert [(p.number, p.merged, p.merge_commit_sha, p.merged_by) for p in pulls] == [
        (number, True, merge, None)
    ]
    assert emulator.calls.reads == 1


def test_open_pr_is_associated_but_not_merged(emulator, source):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    number = emulator.driver.open_pr(REPO, "alice", "b", {"README.md": "y\n"})
    head = emulator.world.repo(REPO).pulls[number].head_sha
    assert [(p.number, p.merged, p.merged_at) for p in source.merged_pulls_for_commit(head)] == [
        (number, False, None)
    ]


def test_direct_push_has_no_pull(emulator, source):  # type: ignore[no-untyped-def]
    _merged_pr(emulator, 1)
    sha = emulator.driver.push(REPO, "main", {"README.md": "direct\n"}, author="zoe")
    assert source.merged_pulls_for_commit(sha) == []


# --- first_parent_chain, default_branch_head, tree ----------------------------------------------------


def test_direct_push_of_several_commits_walked_back_to_before(emulator, source):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    before = emulator.world.repo(REPO).branches["main"]
    shas = emulator.driver.push_series(
        REPO, "main", [({"README.md": f"v{i}\n"}, f"edit {i}") for i in range(4)], author="zoe"
    )
    push = emulator.webhooks.of("push")[-1].payload
    assert (push["before"], push["after"]) == (before, shas[-1])
    assert [c["id"] for c in push["commits"]] == shas
    emulator.calls.reset()

    chain = source.first_parent_chain(shas[-1], stop=before, limit=100)

    assert chain == list(reversed(shas))
    assert emulator.calls.counts() == {LIST_COMMITS: 1}
    assert source.first_parent_chain(shas[-1], stop=before, limit=2) == [shas[3], shas[2]]
    assert source.first_parent_chain(shas[-1], stop="0" * 40, limit=100) == [*reversed(shas), before]
    assert source.first_parent_chain(shas[-1], stop=None, limit=100)[-1] == before
    assert all(source.merged_pulls_for_commit(sha) == [] for sha in shas)


def test_chain_follows_first_parents_past_a_merge(emulator, source):  # type: ignore[no-untyped-def]
    _, before, merge = _merged_pr(emulator, 1)
    emulator.driver.push(REPO, "start-all", {"x.txt": "unmerged"}, author="alice")  # not on main
    after = emulator.driver.push(REPO, "main", {"README.md": "later\n"}, author="zoe")
    pr_commits = {c.sha for c in emulator.world.repo(REPO).commits.values()} - {before, merge, after}

    chain = source.first_parent_chain(after, stop=None, limit=100)

    assert chain == [after, merge, before]
    assert not pr_commits & set(chain)


def test_long_history_costs_one_call_per_hundred_commits(emulator, source):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    shas = emulator.driver.push_series(
        REPO, "main", [({"README.md": f"v{i}\n"}, f"edit {i}") for i in range(150)], author="zoe"
    )
    emulator.calls.reset()

    chain = source.first_parent_chain(shas[-1], stop=None, limit=1000)

    assert len(chain) == 151 and chain[:150] == list(reversed(shas))
    assert emulator.calls.counts() == {LIST_COMMITS: 2}
    assert len(source.first_parent_chain(shas[-1], stop=None, limit=120)) == 120


def test_default_branch_head_and_tree(emulator, source):  # type: ignore[no-untyped-def]
    _, _, merge = _merged_pr(emulator, 2)
    emulator.calls.reset()

    assert source.default_branch_head() == merge
    tree = source.tree(merge)
    assert emulator.calls.reads == 2  # one each; the tree's contents come later, in batches
    assert "experiments/exp1.yaml" in tree.paths()
    tree.prefetch(tree.paths())
    assert tree.read("experiments/exp1.yaml") == _yaml(1, "running").encode()
    assert tree.read(".approvalbot.yml") == CONFIG
    assert emulator.calls.reads == 3


def test_truncated_tree_listing_fails_the_tree_read(emulator, source):  # type: ignore[no-untyped-def]
    root = _create(emulator, 3)
    emulator.faults.truncate(TREES, keep=1)
    with pytest.raises(GitHubReadError, match="truncated"):
        source.tree(root)


# --- withdraw_review_requests ------------------------------------------------------------------------


def test_withdraw_review_requests_removes_users_and_teams(emulator, source, writer):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    emulator.driver.add_team("acme", "approvers", ["carol", "dave"])
    emulator.driver.grant_team(REPO, "acme", "approvers")
    number = emulator.driver.open_pr(REPO, "alice", "b", {"README.md": "y\n"})
    pull = source.read(number).pull
    writer.request_reviewers(pull, ["carol", "dave"], ["approvers"])
    pull = source.read(number).pull
    assert (pull.requested_reviewers, pull.requested_teams) == (("carol", "dave"), ("approvers",))

    assert writer.withdraw_review_requests(pull) is True

    pr = emulator.world.repo(REPO).pulls[number]
    assert (pr.requested_reviewers, pr.requested_teams) == ([], [])
    calls = emulator.calls.of("DELETE /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers")
    assert [c.status for c in calls] == [200]
    emulator.calls.reset()
    assert writer.withdraw_review_requests(source.read(number).pull) is False
    assert emulator.calls.writes == 0


def test_withdrawing_only_teams_still_sends_reviewers(emulator, source, writer):  # type: ignore[no-untyped-def]
    _create(emulator, 1)
    emulator.driver.add_team("acme", "approvers", ["carol"])
    emulator.driver.grant_team(REPO, "acme", "approvers")
    number = emulator.driver.open_pr(REPO, "alice", "b", {"README.md": "y\n"})
    writer.request_reviewers(source.read(number).pull, [], ["approvers"])
    assert writer.withdraw_review_requests(source.read(number).pull) is True
    assert emulator.world.repo(REPO).pulls[number].requested_teams == []


def test_merged_pr_facts_still_hold_its_commits_and_reviews(emulator, source):  # type: ignore[no-untyped-def]
    # apply-on-merge reads the merged PR's facts: its commits' authors still count as its creators.
    number, _, _ = _merged_pr(emulator, 1)
    facts = source.read(number).facts
    assert [c.author for c in facts.commits] == ["alice"]
    assert [r.user for r in facts.reviews] == ["carol"]
