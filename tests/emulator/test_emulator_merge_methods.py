"""Merge commit, squash and rebase through PUT /pulls/{n}/merge, and the repository's allowed methods,
as GitHub serves them (the emulator fixture checks every answer and webhook against the contract)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bot.emulator.merges import MergeRefused
from bot.emulator.merging import GITHUB

REPO = "acme/config"


def _call(emu, method: str, path: str, **body: Any) -> requests.Response:  # type: ignore[no-untyped-def]
    token = emu.token_for("carol")
    return requests.request(
        method, emu.base_url + path, json=body or None, headers={"Authorization": f"token {token}"}, timeout=5
    )


def _three_commit_pr(emulator) -> int:  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "0\n", "b.yaml": "0\n", "c.yaml": "0\n"})
    number = d.open_pr(REPO, "alice", "change", {"a.yaml": "1\n"})
    d.push(REPO, "change", {"b.yaml": "1\n"}, author="alice")
    d.push(REPO, "change", {"c.yaml": "1\n"}, author="alice")
    d.push(REPO, "main", {"z.yaml": "base moved\n"}, author="zoe")  # so the rebase has to replay
    return int(number)


def _blobs(emulator, sha: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    return emulator.world.snapshot(emulator.world.repo(REPO), sha)


def test_the_repository_object_shows_the_allowed_merge_methods(emulator):  # type: ignore[no-untyped-def]
    number = _three_commit_pr(emulator)
    emulator.driver.set_merge_methods(REPO, merge_commit=False, rebase=False)
    repo = _call(emulator, "GET", f"/repos/{REPO}/pulls/{number}").json()["base"]["repo"]
    flags = {k: repo[k] for k in ("allow_merge_commit", "allow_squash_merge", "allow_rebase_merge")}
    assert flags == {"allow_merge_commit": False, "allow_squash_merge": True, "allow_rebase_merge": False}


@pytest.mark.parametrize(
    ("method", "setting", "message"),
    [
        ("merge", "merge_commit", "Merge commits are not allowed on this repository."),
        ("squash", "squash", "Squash merges are not allowed on this repository."),
        ("rebase", "rebase", "Rebase merges are not allowed on this repository."),
    ],
)
def test_a_forbidden_method_answers_405_with_githubs_message(emulator, method, setting, message):  # type: ignore[no-untyped-def]
    number = _three_commit_pr(emulator)
    emulator.driver.set_merge_methods(REPO, **{setting: False})
    head = emulator.world.repo(REPO).branches["main"]
    answer = _call(emulator, "PUT", f"/repos/{REPO}/pulls/{number}/merge", merge_method=method)
    assert answer.status_code == 405
    assert answer.json()["message"] == message
    assert emulator.world.repo(REPO).branches["main"] == head  # nothing written
    assert emulator.world.repo(REPO).pulls[number].state == "open"
    # The default method is a merge commit: refused too when merge commits are forbidden.
    if method == "merge":
        assert _call(emulator, "PUT", f"/repos/{REPO}/pulls/{number}/merge").status_code == 405


def test_an_unknown_method_fails_validation(emulator):  # type: ignore[no-untyped-def]
    number = _three_commit_pr(emulator)
    answer = _call(emulator, "PUT", f"/repos/{REPO}/pulls/{number}/merge", merge_method="octopus")
    assert (answer.status_code, answer.json()["message"]) == (422, "Validation Failed")


def test_a_squash_writes_one_commit_on_the_base_head_with_the_merged_tree(emulator):  # type: ignore[no-untyped-def]
    number = _three_commit_pr(emulator)
    repo = emulator.world.repo(REPO)
    before = repo.branches["main"]
    answer = _call(emulator, "PUT", f"/repos/{REPO}/pulls/{number}/merge", merge_method="squash")
    assert answer.status_code == 200
    sha = answer.json()["sha"]
    assert repo.branches["main"] == sha and repo.commits[sha].parents == (before,)
    assert _blobs(emulator, sha) == {
        "a.yaml": b"1\n",
        "b.yaml": b"1\n",
        "c.yaml": b"1\n",
        "z.yaml": b"base moved\n",
    }
    pull = _call(emulator, "GET", f"/repos/{REPO}/pulls/{number}").json()
    assert (pull["merged"], pull["merge_commit_sha"], pull["commits"]) == (True, sha, 3)
    push = [d for d in emulator.webhooks.deliveries if d.event == "push"][-1].payload
    assert (push["before"], push["after"], [c["id"] for c in push["commits"]]) == (before, sha, [sha])
    listed = _call(emulator, "GET", f"/repos/{REPO}/commits/{sha}/pulls").json()
    assert [p["number"] for p in listed] == [number]


def test_a_rebase_writes_one_new_commit_per_pr_commit_and_lists_the_pr_for_each(emulator):  # type: ignore[no-untyped-def]
    number = _three_commit_pr(emulator)
    repo = emulator.world.repo(REPO)
    before = repo.branches["main"]
    originals = [c.sha for c in emulator.world.repo(REPO).commits.values()][1:4]
    answer = _call(emulator, "PUT", f"/repos/{REPO}/pulls/{number}/merge", merge_method="rebase")
    assert answer.status_code == 200
    last = answer.json()["sha"]
    # Three new commits, each on the one before, the first on the base head; new shas, GitHub as the
    # committer, the author kept; the last holds the merged tree and is the PR's merge_commit_sha.
    chain, sha = [], last
    while sha != before:
        chain.append(sha)
        sha = repo.commits[sha].parents[0]
    chain.reverse()
    assert len(chain) == 3 and not set(chain) & set(originals)
    assert all(len(repo.commits[s].parents) == 1 for s in chain)
    assert {repo.commits[s].committer for s in chain} == {GITHUB}
    assert {repo.commits[s].author.login for s in chain} == {"alice"}
    assert _blobs(emulator, chain[0]) == {
        "a.yaml": b"1\n",
        "b.yaml": b"0\n",
        "c.yaml": b"0\n",
        "z.yaml": b"base moved\n",
    }
    assert _blobs(emulator, last)["c.yaml"] == b"1\n"
    pull = _call(emulator, "GET", f"/repos/{REPO}/pulls/{number}").json()
    assert (pull["merged"], pull["merge_commit_sha"], pull["commits"]) == (True, last, 3)
    # One push for the whole rebase: before..after spans the three new commits, all listed.
    push = [d for d in emulator.webhooks.deliveries if d.event == "push"][-1].payload
    assert (push["before"], push["after"], [c["id"] for c in push["commits"]]) == (before, last, chain)
    for sha in chain:
        listed = _call(emulator, "GET", f"/repos/{REPO}/commits/{sha}/pulls").json()
        assert [(p["number"], p["merge_commit_sha"]) for p in listed] == [(number, last)]


def test_a_rebase_that_meets_a_different_change_is_refused(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "0\n"})
    number = d.open_pr(REPO, "alice", "change", {"a.yaml": "1\n"})
    d.push(REPO, "change", {"a.yaml": "0\n"}, author="alice")  # back: the PR's tree equals the base's
    d.push(REPO, "main", {"a.yaml": "2\n"}, author="zoe")
    with pytest.raises(MergeRefused, match="can't be rebased"):
        d.merge(REPO, number, "carol", method="rebase")
