"""The PyGithub adapter against the emulator over real HTTP (the emulator fixture also checks every
answer and webhook against GitHub's contract at teardown)."""

from __future__ import annotations

import time

import pytest

from bot.adapters.github.client import app_client, token_client
from bot.adapters.github.source import GitHubReadError, PullRequestSource
from bot.adapters.github.writer import (
    DIFF_MARKER,
    Annotation,
    CheckOutput,
    Conclusion,
    PullRequestWriter,
)
from bot.core.facts import ReviewState
from bot.core.tree import ChangeType
from bot.emulator import Identity
from bot.emulator.keys import new_app_key_pair
from bot.emulator.state import Label

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77
CONFIG = (
    b"approvals:\n  required: 1\naccounts:\n  - name: web\n    paths: ['experiments/**']\n"
    b"    roles:\n      approver: ['@acme/approvers']\n"
)


def _yaml(i: int, status: str = "draft") -> str:
    return f"id: exp{i}\nname: Experiment {i}\nstatus: {status}\n"


def _setup(emulator, files: int = 3) -> int:  # type: ignore[no-untyped-def]
    d = emulator.driver
    base = {f"experiments/exp{i}.yaml": _yaml(i) for i in range(files)}
    base[".approvalbot.yml"] = CONFIG
    base["README.md"] = "config repo\n"
    d.create_repo(REPO, base)
    d.add_team("acme", "approvers", ["carol", "dave"])
    d.grant_team(REPO, "acme", "approvers")
    d.install_app(APP_ID, INSTALLATION, "acme")
    edits = {f"experiments/exp{i}.yaml": _yaml(i, "running") for i in range(files)}
    return d.open_pr(REPO, "alice", "start-all", edits, title="Start experiments")


@pytest.fixture
def bot_client(emulator, github_settings):  # type: ignore[no-untyped-def]
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    return token_client("bot-token", github_settings(emulator.base_url))


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("files", [1, 10, 100])
def test_reading_a_pr_costs_the_same_few_calls_however_many_files(emulator, bot_client, files, merged):  # type: ignore[no-untyped-def]
    number = _setup(emulator, files)
    emulator.driver.review(REPO, number, "carol", "APPROVE")
    emulator.calls.reset()

    snapshot = PullRequestSource(bot_client, REPO).read(number, merged=merged)

    assert len(snapshot.changes) == files
    assert emulator.calls.writes == 0
    assert emulator.calls.reads == 5, emulator.calls.counts()
    assert snapshot.incomplete is None


def test_snapshot_holds_trees_changes_and_facts(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 2)
    d = emulator.driver
    d.push(
        REPO,
        "start-all",
        {"experiments/exp0.yaml": None, "experiments/new.yaml": _yaml(9)},
        author="bob",
        committer=Identity("Web Flow", "noreply@github.com"),
        co_authors=("erin",),
        pusher="bob",
    )
    d.review(REPO, number, "carol", "APPROVE", "looks good")
    d.review(REPO, number, "dave", "REQUEST_CHANGES", "no")
    first = d.comment(REPO, number, "dave", "/approve")
    d.edit_comment(REPO, first, "/approve please", "dave")
    d.comment(REPO, number, "carol", "/recheck")

    snap = PullRequestSource(bot_client, REPO).read(number, pusher="bob")

    kinds = {c.path: c.change for c in snap.changes}
    assert kinds == {
        "experiments/exp0.yaml": ChangeType.DELETED,
        "experiments/exp1.yaml": ChangeType.MODIFIED,
        "experiments/new.yaml": ChangeType.ADDED,
    }
    assert snap.base.read("experiments/exp1.yaml") == _yaml(1).encode()
    assert snap.head.read("experiments/exp1.yaml") == _yaml(1, "running").encode()
    assert snap.head.read("experiments/exp0.yaml") is None
    assert snap.head.read("README.md") == b"config repo\n"  # not prefetched: fetched on demand
    assert snap.base.mentioning("Experiment 1", snap.base.paths()) == ["experiments/exp1.yaml"]
    assert snap.config == CONFIG
    facts = snap.facts
    assert (facts.author, facts.pusher, facts.draft) == ("alice", "bob", False)
    assert facts.head_sha == snap.pull.head_sha == emulator.world.repo(REPO).branches["start-all"]
    assert [(r.user, r.state, r.body) for r in facts.reviews] == [
        ("carol", ReviewState.APPROVED, "looks good"),
        ("dave", ReviewState.CHANGES_REQUESTED, "no"),
    ]
    assert all(r.commit_id == facts.head_sha for r in facts.reviews)
    assert [(c.author, c.committer, c.co_authors) for c in facts.commits] == [
        ("alice", "alice", ()),
        ("bob", None, ("erin",)),
    ]
    assert [(c.user, c.body, c.edited) for c in facts.comments] == [
        ("dave", "/approve please", True),
        ("carol", "/recheck", False),
    ]
    assert facts.teams == {"acme/approvers": ("carol", "dave")}
    assert snap.pull.base_sha == emulator.world.repo(REPO).branches["main"]


def test_plan_base_is_the_base_branch_current_head(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    emulator.driver.push(REPO, "main", {"experiments/other.yaml": _yaml(5)}, author="zoe")

    snap = PullRequestSource(bot_client, REPO).read(number, merged=True)

    assert snap.base.read("experiments/other.yaml") == _yaml(5).encode()
    own = PullRequestSource(bot_client, REPO).read(number)  # the PR head itself, as before
    assert [c.path for c in own.changes] == ["experiments/exp0.yaml", "experiments/other.yaml"]
    assert own.view == "head" and own.head.sha == own.pull.head_sha
    # Judged on what it would merge: the file main gained since is on both sides, not "deleted".
    assert [c.path for c in snap.changes] == ["experiments/exp0.yaml"]
    assert snap.head.read("experiments/other.yaml") == _yaml(5).encode()
    assert (snap.view, snap.note) == ("merge", None)
    pull = emulator.world.repo(REPO).pulls[number]
    assert snap.head.sha == pull.test_merge[2] != pull.head_sha
    assert snap.facts.head_sha == pull.head_sha  # reviews are still matched against the PR head


def _behind_and_conflicting(emulator) -> int:  # type: ignore[no-untyped-def]
    """A PR starting exp0 and exp1 while main has since edited exp1 (a conflict) and added other.yaml."""
    number = _setup(emulator, 2)
    d = emulator.driver
    edits = {"experiments/exp1.yaml": _yaml(1, "paused"), "experiments/other.yaml": _yaml(5)}
    d.push(REPO, "main", edits, author="zoe")
    return number


def test_a_conflicted_pr_is_judged_on_its_own_files_against_the_base_head(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _behind_and_conflicting(emulator)
    emulator.driver.settle_merge(REPO, number)  # GitHub has found the conflict
    emulator.calls.reset()

    snap = PullRequestSource(bot_client, REPO).read(number, merged=True)

    assert emulator.calls.reads == 5, emulator.calls.counts()  # the comparison replaces the second tree
    assert len(emulator.calls.of("GET /repos/{owner}/{repo}/compare/{basehead}")) == 1
    assert snap.incomplete is None
    assert [c.path for c in snap.changes] == ["experiments/exp0.yaml", "experiments/exp1.yaml"]
    assert snap.base.read("experiments/exp1.yaml") == _yaml(1, "paused").encode()  # the base as it is now
    assert snap.head.read("experiments/exp1.yaml") == _yaml(1, "running").encode()  # the PR's version
    assert snap.head.read("experiments/other.yaml") == _yaml(5).encode()  # main's later file is kept
    assert snap.view == "three-way" and "no test merge" in (snap.note or "")
    assert snap.head.sha == snap.pull.head_sha == snap.facts.head_sha


def test_while_github_computes_the_test_merge_the_three_way_view_is_used(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    emulator.driver.push(REPO, "main", {"experiments/other.yaml": _yaml(5)}, author="zoe")
    emulator.faults.still_merging(times=4)  # longer than the bot asks again

    snap = PullRequestSource(bot_client, REPO).read(number, merged=True)

    assert snap.view == "three-way"
    assert [c.path for c in snap.changes] == ["experiments/exp0.yaml"]
    assert snap.head.read("experiments/other.yaml") == _yaml(5).encode()


def test_the_three_way_view_follows_deletions_and_renames(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 3)
    d = emulator.driver
    branch = emulator.world.repo(REPO).pulls[number].head_ref
    gone = {"experiments/exp2.yaml": None, "experiments/exp1.yaml": None}
    d.push(REPO, branch, {**gone, "experiments/moved.yaml": _yaml(1, "running")}, author="alice")
    d.push(REPO, "main", {"experiments/exp0.yaml": _yaml(0, "paused")}, author="zoe")  # a conflict
    emulator.calls.reset()

    snap = PullRequestSource(bot_client, REPO).read(number, merged=True)

    assert snap.view == "three-way"
    paths = {c.path: c.change for c in snap.changes}
    assert paths["experiments/exp2.yaml"] is ChangeType.DELETED
    assert paths["experiments/moved.yaml"] in (ChangeType.ADDED, ChangeType.RENAMED)
    assert "experiments/exp1.yaml" not in snap.head.paths()
    assert snap.head.read("experiments/moved.yaml") == _yaml(1, "running").encode()


def test_a_comparison_as_long_as_github_lists_marks_the_read_incomplete(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _behind_and_conflicting(emulator)
    emulator.faults.still_merging()
    from bot.adapters.github import source

    original = source.COMPARE_FILES
    source.COMPARE_FILES = 2  # the PR changes two files: as many as "GitHub lists"
    try:
        snap = PullRequestSource(bot_client, REPO).read(number, merged=True)
    finally:
        source.COMPARE_FILES = original
    assert "cannot be checked in full" in (snap.incomplete or "")


def test_bot_reviews_keep_their_bot_login(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    emulator.driver.add_user("helper[bot]", kind="Bot")
    emulator.driver.review(REPO, number, "helper[bot]", "APPROVE")
    snap = PullRequestSource(bot_client, REPO).read(number)
    assert [r.user for r in snap.facts.reviews] == ["helper[bot]"]


def test_truncated_tree_makes_the_read_incomplete(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 3)
    emulator.faults.truncate("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", keep=1)
    snap = PullRequestSource(bot_client, REPO).read(number)
    assert snap.incomplete is not None and "truncated" in snap.incomplete


def _busy_pr(emulator) -> int:  # type: ignore[no-untyped-def]
    """A PR with two reviews, two commits and two comments: every list holds more than one node."""
    number = _setup(emulator, 1)
    d = emulator.driver
    d.review(REPO, number, "carol", "APPROVE")
    d.review(REPO, number, "dave", "APPROVE")
    d.push(REPO, "start-all", {"x.txt": "x"}, author="alice")
    d.comment(REPO, number, "carol", "a")
    d.comment(REPO, number, "dave", "b")
    return number


@pytest.mark.parametrize("connection", ["reviews", "commits", "comments"])
def test_a_short_page_of_a_pr_list_is_followed_by_the_next(emulator, bot_client, connection):  # type: ignore[no-untyped-def]
    number = _busy_pr(emulator)
    complete = PullRequestSource(bot_client, REPO).read(number)
    emulator.faults.truncate(f"graphql {connection}", keep=1)
    snap = PullRequestSource(bot_client, REPO).read(number)
    assert snap.incomplete is None
    assert snap.facts == complete.facts and snap.comments == complete.comments


def test_a_truncated_team_makes_the_read_incomplete(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _busy_pr(emulator)
    emulator.faults.truncate("graphql members", keep=1)
    snap = PullRequestSource(bot_client, REPO).read(number)
    assert snap.incomplete is not None


def test_failing_read_raises_a_clear_error(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    emulator.faults.fail("GET /repos/{owner}/{repo}/pulls/{pull_number}", times=10)
    with pytest.raises(GitHubReadError, match=r"pulls/1 failed: gave up after retries .*500"):
        PullRequestSource(bot_client, REPO).read(number)


def test_server_error_then_success_is_retried(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    emulator.faults.fail("POST /graphql", times=2, status=502)
    emulator.calls.reset()
    snap = PullRequestSource(bot_client, REPO).read(number)
    assert snap.incomplete is None
    assert [c.status for c in emulator.calls.of("POST /graphql")] == [502, 502, 200, 200]


def test_secondary_rate_limit_waits_retry_after_and_loses_nothing(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    route = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
    emulator.faults.rate_limit(route, retry_after=1)
    started = time.monotonic()
    PullRequestWriter(bot_client, REPO).comment(number, "hello")
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in emulator.calls.of(route)] == [403, 201]
    bodies = [c.body for c in emulator.world.repo(REPO).comments.values()]
    assert bodies == ["hello"]


def test_primary_rate_limit_waits_for_reset(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    route = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
    emulator.faults.rate_limit(route, reset_at=int(time.time()))
    snap = PullRequestSource(bot_client, REPO).read(number)
    assert snap.pull.number == number
    assert [c.status for c in emulator.calls.of(route)] == [403, 200]


def test_check_run_written_once_and_skipped_when_unchanged(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    head = emulator.world.repo(REPO).pulls[number].head_sha
    writer = PullRequestWriter(bot_client, REPO, app_id=APP_ID)
    failing = CheckOutput(
        Conclusion.FAILURE,
        "1 change refused",
        "exp0: running → absent",
        annotations=(Annotation("experiments/exp0.yaml", 3, "finish it first"),),
    )
    assert writer.publish_check(head, failing) is True
    emulator.calls.reset()
    assert writer.publish_check(head, failing) is False
    assert emulator.calls.writes == 0 and emulator.calls.reads == 1

    passing = CheckOutput(Conclusion.SUCCESS, "Approved", "all good")
    assert writer.publish_check(head, passing) is True
    runs = [r for r in emulator.world.repo(REPO).check_runs.values() if r.head_sha == head]
    latest = max(runs, key=lambda r: r.id)
    assert (latest.name, latest.conclusion, latest.title, latest.app_id) == (
        "approvalbot",
        "success",
        "Approved",
        APP_ID,
    )
    assert latest.annotations == []
    first = min(runs, key=lambda r: r.id)
    assert [(a.path, a.start_line, a.message) for a in first.annotations] == [
        ("experiments/exp0.yaml", 3, "finish it first")
    ]


def test_comment_upserted_by_marker_and_skipped_when_unchanged(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    writer = PullRequestWriter(bot_client, REPO, login="approvalbot[bot]")
    source = PullRequestSource(bot_client, REPO)
    emulator.driver.comment(REPO, number, "mallory", f"{DIFF_MARKER} fake")
    assert writer.upsert_comment(number, "diff v1") is True
    assert writer.upsert_comment(number, "diff v2", source.read(number).comments) is True
    emulator.calls.reset()
    assert writer.upsert_comment(number, "diff v2", source.read(number).comments) is False
    assert emulator.calls.writes == 0
    ours = [c for c in emulator.world.repo(REPO).comments.values() if c.user == "approvalbot[bot]"]
    assert [c.body for c in ours] == [f"{DIFF_MARKER}\ndiff v2"]


def test_labels_touch_only_managed_ones_and_skip_when_unchanged(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    writer = PullRequestWriter(bot_client, REPO)
    source = PullRequestSource(bot_client, REPO)
    emulator.world.repo(REPO).pulls[number].labels.append("team-web")
    emulator.world.repo(REPO).labels["team-web"] = Label(1, "team-web")
    assert writer.set_labels(
        number, ["pending: APPROVAL PENDING", "blocked"], source.read(number).pull.labels
    )
    assert writer.set_labels(number, ["approved"], source.read(number).pull.labels)
    labels = source.read(number).pull.labels
    assert sorted(labels) == ["approved", "team-web"]
    emulator.calls.reset()
    assert writer.set_labels(number, ["approved"], labels) is False
    assert emulator.calls.reads == emulator.calls.writes == 0
    with pytest.raises(ValueError, match="only manages its own labels"):
        writer.set_labels(number, ["team-web"], labels)


def test_removing_a_label_someone_already_removed_is_not_an_error(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    writer = PullRequestWriter(bot_client, REPO)
    source = PullRequestSource(bot_client, REPO)
    writer.set_labels(number, ["blocked"], source.read(number).pull.labels)
    stale = source.read(number).pull.labels
    emulator.world.repo(REPO).pulls[number].labels.remove("blocked")  # a person removes it meanwhile
    assert writer.set_labels(number, ["approved"], stale)
    assert source.read(number).pull.labels == ("approved",)


def test_review_requests_close_merge_and_draft(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    writer = PullRequestWriter(bot_client, REPO)
    source = PullRequestSource(bot_client, REPO)
    pull = source.read(number).pull
    asked = writer.request_reviewers(pull, ["carol", "alice"], ["approvers"])
    assert (asked.asked, asked.refused) == (("carol", "approvers"), ())  # alice wrote the PR: skipped
    pull = source.read(number).pull
    assert (pull.requested_reviewers, pull.requested_teams) == (("carol",), ("approvers",))
    assert writer.request_reviewers(pull, ["carol"], ["approvers"]).changed is False

    assert writer.convert_to_draft(pull) is True
    assert emulator.world.repo(REPO).pulls[number].draft is True
    assert emulator.webhooks.of("pull_request", "converted_to_draft")
    emulator.driver.ready_for_review(REPO, number, "alice")

    stale = pull.head_sha
    emulator.driver.push(REPO, "start-all", {"x.txt": "late"}, author="alice")
    with pytest.raises(Exception, match="409"):
        writer.merge(pull, stale)
    fresh = source.read(number).pull
    merge_sha = writer.merge(fresh, fresh.head_sha)
    repo = emulator.world.repo(REPO)
    assert repo.branches["main"] == merge_sha
    assert repo.commits[merge_sha].parents == (pull.base_sha, fresh.head_sha)
    closed = emulator.webhooks.of("pull_request", "closed")
    assert closed and closed[-1].payload["pull_request"]["merged"] is True
    assert writer.close(source.read(number).pull) is False


def test_close_unmerged(emulator, bot_client):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    writer = PullRequestWriter(bot_client, REPO)
    assert writer.close(PullRequestSource(bot_client, REPO).read(number).pull) is True
    closed = emulator.webhooks.of("pull_request", "closed")
    assert closed[-1].payload["pull_request"]["merged"] is False


def test_app_auth_obtains_and_renews_installation_tokens(emulator, github_settings, tmp_path):  # type: ignore[no-untyped-def]
    private, public = new_app_key_pair()
    number = _setup(emulator, 1)
    emulator.driver.install_app(APP_ID, INSTALLATION, "acme", public_key_pem=public)
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    tokens = "POST /app/installations/{installation_id}/access_tokens"

    gh = app_client(APP_ID, str(key_file), INSTALLATION, github_settings(emulator.base_url))
    source = PullRequestSource(gh, REPO)
    source.read(number)
    source.read(number)
    assert [c.status for c in emulator.calls.of(tokens)] == [201]  # one token, reused

    emulator.token_lifetime = 10  # under PyGithub's 20 s margin: every use renews it
    emulator.calls.reset()
    gh = app_client(APP_ID, private, INSTALLATION, github_settings(emulator.base_url))
    PullRequestWriter(gh, REPO).comment(number, "one")
    PullRequestWriter(gh, REPO).comment(number, "two")
    assert len(emulator.calls.of(tokens)) == 2
    authors = {c.user for c in emulator.world.repo(REPO).comments.values()}
    assert authors == {"approvalbot[bot]"}


def test_app_auth_with_a_wrong_key_is_refused(emulator, github_settings):  # type: ignore[no-untyped-def]
    number = _setup(emulator, 1)
    _, public = new_app_key_pair()
    emulator.driver.install_app(APP_ID, INSTALLATION, "acme", public_key_pem=public)
    other_private, _ = new_app_key_pair()
    gh = app_client(APP_ID, other_private, INSTALLATION, github_settings(emulator.base_url))
    with pytest.raises(GitHubReadError, match="401"):
        PullRequestSource(gh, REPO).read(number)


def test_private_key_that_is_neither_pem_nor_file_is_explained():  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="neither PEM text nor a readable file"):
        app_client(1, "/no/such/key.pem", 1)


def test_enterprise_style_base_url(github_contract, github_settings):  # type: ignore[no-untyped-def]
    from bot.emulator import GitHubEmulator

    with GitHubEmulator(prefix="/api/v3") as emu:
        number = _setup(emu, 2)
        token = emu.token_for("approvalbot[bot]", app_id=APP_ID)
        gh = token_client(token, github_settings(emu.base_url))
        snap = PullRequestSource(gh, REPO).read(number)
        assert len(snap.changes) == 2
        assert emu.base_url.endswith("/api/v3")
        assert {c.path for c in emu.calls.calls if c.route == "POST /graphql"} == {"/api/graphql"}
