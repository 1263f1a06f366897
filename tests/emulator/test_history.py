"""The emulator's default-branch history: push webhooks, commit lists, the pull requests of a commit
and review-request withdrawal, each answer and webhook checked against GitHub's contract (fixture
teardown)."""

from __future__ import annotations

from typing import Any

import requests

from bot.emulator.merging import GITHUB

REPO = "acme/config"


def _get(emu, path: str, token: str, **params: Any) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(
        emu.base_url + path, params=params, headers={"Authorization": f"token {token}"}, timeout=5
    )


def _graphql(emu, token: str, query: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    url = emu.urls.web + emu.graphql_path
    answer = requests.post(url, json={"query": query}, headers={"Authorization": f"token {token}"}, timeout=5)
    return answer.json()  # type: ignore[no-any-return]


def test_direct_push_of_several_commits_sends_one_push(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    root = d.create_repo(REPO, {"a.yaml": "1\n"})
    d.install_app(1, 2, "acme")
    shas = d.push_series(
        REPO, "main", [({"a.yaml": "2\n"}, "two"), ({"b.yaml": "x\n"}, "three")], author="zoe"
    )

    [push] = emulator.webhooks.of("push")
    payload = push.payload
    assert (payload["ref"], payload["before"], payload["after"]) == ("refs/heads/main", root, shas[-1])
    assert [c["id"] for c in payload["commits"]] == shas
    assert [(c["modified"], c["added"]) for c in payload["commits"]] == [(["a.yaml"], []), ([], ["b.yaml"])]
    assert payload["pusher"]["name"] == "zoe"
    assert payload["repository"]["default_branch"] == "main"
    assert payload["head_commit"]["id"] == shas[-1]
    repo = emulator.world.repo(REPO)
    assert repo.commits[shas[1]].parents == (shas[0],) and repo.commits[shas[0]].parents == (root,)


def test_merge_sends_closed_then_push_both_naming_the_default_branch(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "1\n"}, default_branch="trunk")
    d.install_app(1, 2, "acme")
    number = d.open_pr(REPO, "alice", "change", {"a.yaml": "2\n"})
    before = emulator.world.repo(REPO).branches["trunk"]
    merge = d.merge(REPO, number, "carol")

    closed, push = emulator.webhooks.deliveries[-2:]
    assert (closed.event, closed.action, push.event) == ("pull_request", "closed", "push")
    assert closed.payload["pull_request"]["merged"] is True
    assert closed.payload["pull_request"]["merge_commit_sha"] == merge
    assert closed.payload["repository"]["default_branch"] == "trunk"
    assert (push.payload["before"], push.payload["after"], push.payload["ref"]) == (
        before,
        merge,
        "refs/heads/trunk",
    )
    assert push.payload["repository"]["default_branch"] == "trunk"
    assert push.payload["pusher"]["name"] == "carol"
    assert [c["id"] for c in push.payload["commits"]] == [merge]
    opened = emulator.webhooks.of("pull_request", "opened")[0].payload
    assert opened["repository"]["default_branch"] == "trunk"


def test_commit_list_is_newest_first_and_pages_with_links(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    root = d.create_repo(REPO, {"a.yaml": "0\n"})
    shas = d.push_series(
        REPO, "main", [({"a.yaml": f"{i}\n"}, f"edit {i}") for i in range(1, 5)], author="zoe"
    )
    d.push(REPO, "side", {"b.yaml": "x\n"}, author="zoe")  # another branch: not listed from main
    token = emulator.token_for("zoe")

    first = _get(emulator, f"/repos/{REPO}/commits", token, per_page=3)
    assert first.status_code == 200
    assert [c["sha"] for c in first.json()] == [shas[3], shas[2], shas[1]]
    assert first.json()[0]["parents"][0]["sha"] == shas[2]
    assert first.json()[0]["commit"]["message"] == "edit 4"
    assert first.json()[0]["author"]["login"] == "zoe"
    second = requests.get(first.links["next"]["url"], headers={"Authorization": f"token {token}"}, timeout=5)
    assert [c["sha"] for c in second.json()] == [shas[0], root]
    assert second.json()[-1]["parents"] == []

    from_sha = _get(emulator, f"/repos/{REPO}/commits", token, sha=shas[1])
    assert [c["sha"] for c in from_sha.json()] == [shas[1], shas[0], root]
    missing = _get(emulator, f"/repos/{REPO}/commits", token, sha="nope")
    assert missing.status_code == 404


def test_commit_list_puts_children_before_parents_across_a_merge(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "0\n"})
    number = d.open_pr(REPO, "alice", "change", {"b.yaml": "1\n"})
    d.push(REPO, "main", {"a.yaml": "1\n"}, author="zoe")
    merge = d.merge(REPO, number, "carol")
    listed = [c["sha"] for c in _get(emulator, f"/repos/{REPO}/commits", emulator.token_for("zoe")).json()]
    repo = emulator.world.repo(REPO)
    # Every commit but GitHub's test merges (made when the open PR was read), which no branch reaches.
    made = [sha for sha, c in repo.commits.items() if c.committer != GITHUB]
    assert listed[0] == merge and len(listed) == len(made)
    position = {sha: i for i, sha in enumerate(listed)}
    assert all(position[p] > position[sha] for sha in listed for p in repo.commits[sha].parents)


def test_pulls_of_a_commit(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "0\n"})
    merged = d.open_pr(REPO, "alice", "change", {"a.yaml": "1\n"})
    head = emulator.world.repo(REPO).pulls[merged].head_sha
    merge = d.merge(REPO, merged, "carol")
    direct = d.push(REPO, "main", {"a.yaml": "2\n"}, author="zoe")
    still_open = d.open_pr(REPO, "bob", "other", {"c.yaml": "1\n"})
    token = emulator.token_for("zoe")

    def numbers(sha: str) -> list[int]:
        answer = _get(emulator, f"/repos/{REPO}/commits/{sha}/pulls", token)
        assert answer.status_code == 200
        return [p["number"] for p in answer.json()]

    assert numbers(merge) == [merged]
    assert numbers(head) == [merged]  # a merged PR keeps its own commits
    assert numbers(direct) == []
    assert numbers(emulator.world.repo(REPO).pulls[still_open].head_sha) == [still_open]
    simple = _get(emulator, f"/repos/{REPO}/commits/{merge}/pulls", token).json()[0]
    assert simple["merge_commit_sha"] == merge and simple["merged_at"] is not None
    assert "merged" not in simple and "merged_by" not in simple  # pull-request-simple lacks them
    unknown = _get(emulator, f"/repos/{REPO}/commits/{'0' * 40}/pulls", token)
    assert unknown.status_code == 422


def test_merged_pr_keeps_listing_its_commits(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "0\n"})
    number = d.open_pr(REPO, "alice", "change", {"a.yaml": "1\n"})
    d.push(REPO, "change", {"a.yaml": "2\n"}, author="bob")
    d.merge(REPO, number, "carol")
    token = emulator.token_for("zoe")
    assert _get(emulator, f"/repos/{REPO}/pulls/{number}", token).json()["commits"] == 2
    query = (
        f'{{ repository(owner: "acme", name: "config") {{ pullRequest(number: {number}) {{'
        " commits(first: 10) { nodes { commit { author { user { login } } } } } } } }"
    )
    nodes = _graphql(emulator, token, query)["data"]["repository"]["pullRequest"]["commits"]["nodes"]
    assert [n["commit"]["author"]["user"]["login"] for n in nodes] == ["alice", "bob"]


def test_graphql_default_branch_ref_and_commit_parents(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    root = d.create_repo(REPO, {"a.yaml": "0\n"}, default_branch="trunk")
    number = d.open_pr(REPO, "alice", "change", {"a.yaml": "1\n"})
    head = emulator.world.repo(REPO).pulls[number].head_sha
    merge = d.merge(REPO, number, "carol")
    query = (
        '{ repository(owner: "acme", name: "config") { defaultBranchRef { name target { oid } }'
        f' object(oid: "{merge}") {{ ... on Commit {{ parents(first: 2) {{ nodes {{ oid }} }} }} }} }} }}'
    )
    data = _graphql(emulator, emulator.token_for("zoe"), query)["data"]["repository"]
    assert data["defaultBranchRef"] == {"name": "trunk", "target": {"oid": merge}}
    assert [p["oid"] for p in data["object"]["parents"]["nodes"]] == [root, head]


def test_withdrawing_review_requests_needs_reviewers(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "0\n"})
    number = d.open_pr(REPO, "alice", "change", {"a.yaml": "1\n"})
    emulator.world.repo(REPO).pulls[number].requested_reviewers.append("carol")
    url = f"{emulator.base_url}/repos/{REPO}/pulls/{number}/requested_reviewers"
    headers = {"Authorization": f"token {emulator.token_for('alice')}"}

    refused = requests.delete(url, json={"team_reviewers": []}, headers=headers, timeout=5)
    assert refused.status_code == 422
    done = requests.delete(url, json={"reviewers": ["carol"]}, headers=headers, timeout=5)
    assert done.status_code == 200 and done.json()["requested_reviewers"] == []
