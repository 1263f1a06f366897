"""GitHub's test merge of an open pull request (`merge_commit_sha`), the three-dot comparison, and
labels made on the fly: as GitHub serves them (the emulator fixture checks the contract at teardown)."""

from __future__ import annotations

from typing import Any

import requests

REPO = "acme/config"


def _get(emu, path: str, **params: Any) -> requests.Response:  # type: ignore[no-untyped-def]
    token = emu.token_for("zoe")
    return requests.get(
        emu.base_url + path, params=params, headers={"Authorization": f"token {token}"}, timeout=5
    )


def _behind(emulator) -> int:  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a.yaml": "0\n", "b.yaml": "0\n"})
    number = d.open_pr(REPO, "alice", "change", {"a.yaml": "1\n"})
    d.push(REPO, "main", {"b.yaml": "2\n"}, author="zoe")
    return int(number)


def _settled(emu, number: int) -> Any:  # type: ignore[no-untyped-def]
    """The PR as GitHub shows it once its background job is done: the first read after a change
    starts the job and answers `mergeable: null`; the next finds it done."""
    first = _get(emu, f"/repos/{REPO}/pulls/{number}").json()
    assert (first["mergeable"], first["mergeable_state"], first["merge_commit_sha"]) == (
        None,
        "unknown",
        None,
    )
    return _get(emu, f"/repos/{REPO}/pulls/{number}").json()


def test_right_after_a_push_mergeable_is_null_until_githubs_job_is_done(emulator):  # type: ignore[no-untyped-def]
    number = _behind(emulator)
    assert _settled(emulator, number)["mergeable"] is True
    assert _get(emulator, f"/repos/{REPO}/pulls/{number}").json()["mergeable"] is True  # computed once
    branch = emulator.world.repo(REPO).pulls[number].head_ref
    emulator.driver.push(REPO, branch, {"c.yaml": "1\n"}, author="alice")
    assert _settled(emulator, number)["mergeable"] is True  # a push starts it again
    # The webhook of the push went out before the job was done.
    (sync,) = [d for d in emulator.webhooks.of("pull_request", "synchronize")]
    assert sync.payload["pull_request"]["mergeable"] is None


def test_an_open_mergeable_pr_has_a_test_merge_of_base_head_and_pr_head(emulator):  # type: ignore[no-untyped-def]
    number = _behind(emulator)
    repo = emulator.world.repo(REPO)
    pull = _settled(emulator, number)
    assert (pull["mergeable"], pull["mergeable_state"]) == (True, "clean")
    sha = pull["merge_commit_sha"]
    assert repo.commits[sha].parents == (repo.branches["main"], repo.pulls[number].head_sha)
    tree = _get(emulator, f"/repos/{REPO}/git/trees/{sha}", recursive="1").json()
    blobs = {e["path"]: emulator.world.blobs[e["sha"]] for e in tree["tree"]}
    assert blobs == {"a.yaml": b"1\n", "b.yaml": b"2\n"}
    # Made once per (base head, head): reading again gives the same commit.
    assert _get(emulator, f"/repos/{REPO}/pulls/{number}").json()["merge_commit_sha"] == sha
    # No branch reaches it.
    listed = {c["sha"] for c in _get(emulator, f"/repos/{REPO}/commits").json()}
    assert sha not in listed


def test_the_test_merge_follows_the_base_and_disappears_on_conflict(emulator):  # type: ignore[no-untyped-def]
    number = _behind(emulator)
    first = _settled(emulator, number)["merge_commit_sha"]
    emulator.driver.push(REPO, "main", {"a.yaml": "9\n"}, author="zoe")
    pull = _settled(emulator, number)
    assert (pull["mergeable"], pull["mergeable_state"], pull["merge_commit_sha"]) == (False, "dirty", None)
    assert first is not None


def test_while_github_computes_mergeability_is_unknown(emulator):  # type: ignore[no-untyped-def]
    number = _behind(emulator)
    emulator.driver.settle_merge(REPO, number)
    emulator.faults.still_merging()  # a job that takes longer than one read
    pull = _get(emulator, f"/repos/{REPO}/pulls/{number}").json()
    assert (pull["mergeable"], pull["mergeable_state"], pull["merge_commit_sha"]) == (None, "unknown", None)
    assert _get(emulator, f"/repos/{REPO}/pulls/{number}").json()["mergeable"] is True


def test_a_merged_pr_shows_its_real_merge_commit(emulator):  # type: ignore[no-untyped-def]
    number = _behind(emulator)
    merged = emulator.driver.merge(REPO, number, "carol")
    pull = _get(emulator, f"/repos/{REPO}/pulls/{number}").json()
    assert (pull["merged"], pull["merge_commit_sha"]) == (True, merged)


def test_compare_lists_the_files_changed_since_the_merge_base(emulator):  # type: ignore[no-untyped-def]
    number = _behind(emulator)
    repo = emulator.world.repo(REPO)
    head = repo.pulls[number].head_sha
    answer = _get(emulator, f"/repos/{REPO}/compare/{repo.branches['main']}...{head}")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["ahead_by"], body["behind_by"]) == ("diverged", 1, 1)
    assert [(f["filename"], f["status"]) for f in body["files"]] == [("a.yaml", "modified")]
    assert emulator.world.blobs[body["files"][0]["sha"]] == b"1\n"
    assert _get(emulator, f"/repos/{REPO}/compare/main...nope").status_code == 404


def test_a_label_made_on_the_fly_has_a_string_description(emulator):  # type: ignore[no-untyped-def]
    number = _behind(emulator)
    emulator.register_token("t", "alice")
    answer = requests.post(
        f"{emulator.base_url}/repos/{REPO}/issues/{number}/labels",
        json={"labels": ["fresh"]},
        headers={"Authorization": "token t"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()[0]["description"] == ""
    listed = _get(
        emulator, f"/repos/{REPO}/pulls"
    ).json()  # pull-request-simple: description must be a string
    assert listed[0]["labels"][0]["description"] == ""
