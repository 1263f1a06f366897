"""The emulator on its own: git objects, pagination, webhooks (signed, dropped, redelivered), faults,
and a whole PR lifecycle whose every webhook must validate against GitHub's schemas (fixture teardown)."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess

import pytest
import requests

from bot.emulator import GitHubEmulator
from bot.emulator.webhooks import WebhookSender

REPO = "acme/config"


def _get(emu, path, token, **params):  # type: ignore[no-untyped-def]
    return requests.get(
        emu.base_url + path, params=params, headers={"Authorization": f"token {token}"}, timeout=5
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_tree_shas_are_the_ones_git_computes(emulator, tmp_path):  # type: ignore[no-untyped-def]
    files = {"a.yaml": "x: 1\n", "dir/b.yaml": "y\n", "dir/sub/c.txt": "z", "dir-x": "w"}
    sha = emulator.driver.create_repo(REPO, files)
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    run = {"cwd": tmp_path, "check": True, "capture_output": True, "text": True}
    subprocess.run(["git", "init", "-q"], **run)
    subprocess.run(["git", "add", "-A"], **run)
    tree = subprocess.run(["git", "write-tree"], **run).stdout.strip()
    assert emulator.world.repo(REPO).commits[sha].tree_sha == tree


def test_list_endpoints_paginate_with_link_headers(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a": "1"})
    number = d.open_pr(REPO, "alice", "b", {"a": "2"})
    for i in range(5):
        d.comment(REPO, number, "bob", f"c{i}")
    token = emulator.token_for("carol")
    first = _get(emulator, f"/repos/{REPO}/issues/{number}/comments", token, per_page=2)
    assert [c["body"] for c in first.json()] == ["c0", "c1"]
    assert 'rel="next"' in first.headers["Link"] and 'rel="last"' in first.headers["Link"]
    next_url = first.headers["Link"].split(";")[0].strip("<>")
    assert next_url.startswith(emulator.base_url)
    second = requests.get(next_url, headers={"Authorization": f"token {token}"}, timeout=5)
    assert [c["body"] for c in second.json()] == ["c2", "c3"]
    assert 'rel="prev"' in second.headers["Link"]


def test_url_fields_point_at_the_emulator_and_match_the_route(emulator):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})
    number = emulator.driver.open_pr(REPO, "alice", "b", {"a": "2"})
    body = _get(emulator, f"/repos/{REPO}/pulls/{number}", emulator.token_for("x")).json()
    assert body["url"] == f"{emulator.base_url}/repos/{REPO}/pulls/{number}"
    assert body["base"]["repo"]["url"] == f"{emulator.base_url}/repos/{REPO}"
    assert "api.github.com" not in json.dumps(body)


def test_unknown_token_is_refused(emulator):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})
    answer = _get(emulator, f"/repos/{REPO}/pulls", "made-up")
    assert answer.status_code == 401 and answer.json()["message"] == "Bad credentials"


def test_faults_answer_the_next_calls_then_recover(emulator):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})
    token = emulator.token_for("x")
    emulator.faults.fail("GET /repos/{owner}/{repo}/pulls", times=2)
    emulator.faults.rate_limit("GET /repos/{owner}/{repo}/pulls", retry_after=3)
    codes = [_get(emulator, f"/repos/{REPO}/pulls", token) for _ in range(4)]
    assert [c.status_code for c in codes] == [500, 500, 403, 200]
    assert codes[2].headers["Retry-After"] == "3"
    assert emulator.calls.counts()["GET /repos/{owner}/{repo}/pulls"] == 4
    assert emulator.calls.reads == 4 and emulator.calls.writes == 0


def test_webhooks_are_signed_and_can_be_dropped_and_redelivered():  # type: ignore[no-untyped-def]
    received = []
    sender = WebhookSender(
        secret="s3cret", sink=lambda headers, body: received.append((headers, body)) or 202
    )
    first = sender.send("push", {"ref": "refs/heads/main"})
    headers, body = received[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected and headers["X-GitHub-Event"] == "push"
    assert first.status == 202
    sender.drop_next()
    lost = sender.send("push", {"ref": "refs/heads/x"})
    assert lost.dropped and len(received) == 1
    again = sender.redeliver(lost.id)
    assert len(received) == 2 and received[1][1] == lost.body
    assert received[1][0]["X-GitHub-Delivery"] == lost.id == again.id
    with pytest.raises(KeyError, match="no delivery"):
        sender.redeliver("nope")


def test_webhooks_reach_a_url_over_http(emulator):  # type: ignore[no-untyped-def]
    # The emulator itself is a handy HTTP target: an unknown path answers 404, which is recorded.
    emulator.webhooks.url = emulator.base_url + "/webhook"
    delivery = emulator.webhooks.send("ping", {"zen": "hi"})
    assert delivery.status == 404
    emulator.webhooks.deliveries.clear()  # "ping" is outside the contract slice


def test_whole_lifecycle_sends_githubs_webhooks(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"experiments/a.yaml": "status: draft\n"})
    d.install_app(1, 2, "acme")
    number = d.open_pr(REPO, "alice", "start", {"experiments/a.yaml": "status: running\n"}, draft=True)
    d.ready_for_review(REPO, number, "alice")
    d.push(REPO, "start", {"experiments/a.yaml": "status: running # v2\n"}, author="alice", pusher="alice")
    first = d.review(REPO, number, "carol", "REQUEST_CHANGES", "no")
    d.dismiss_review(REPO, number, first, "carol")
    approval = d.review(REPO, number, "carol", "APPROVE", "/winner B")
    d.edit_review(REPO, number, approval, "ok", "carol")
    comment = d.comment(REPO, number, "carol", "/approve")
    d.edit_comment(REPO, comment, "/approve!", "carol")
    d.edit_pr(REPO, number, "alice", title="Start a")
    d.convert_to_draft(REPO, number, "alice")
    d.ready_for_review(REPO, number, "alice")
    d.close(REPO, number, "alice")
    d.reopen(REPO, number, "alice")
    merge = d.merge(REPO, number, "carol")
    kinds = [(x.event, x.action) for x in emulator.webhooks.deliveries]
    assert kinds == [
        ("push", None),
        ("pull_request", "opened"),
        ("pull_request", "ready_for_review"),
        ("push", None),
        ("pull_request", "synchronize"),
        ("pull_request_review", "submitted"),
        ("pull_request_review", "dismissed"),
        ("pull_request_review", "submitted"),
        ("pull_request_review", "edited"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("pull_request", "edited"),
        ("pull_request", "converted_to_draft"),
        ("pull_request", "ready_for_review"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("pull_request", "closed"),
        ("push", None),
    ]
    assert all(x.payload["installation"]["id"] == 2 for x in emulator.webhooks.deliveries)
    closed = emulator.webhooks.deliveries[-2].payload["pull_request"]
    assert (closed["merged"], closed["merge_commit_sha"]) == (True, merge)
    assert emulator.webhooks.deliveries[-1].payload["after"] == merge
    assert (
        emulator.webhooks.of("issue_comment")[0]
        .payload["issue"]["pull_request"]["url"]
        .endswith(f"/pulls/{number}")
    )
    sync = emulator.webhooks.of("pull_request", "synchronize")[0].payload
    assert sync["sender"]["login"] == "alice" and sync["after"] == sync["pull_request"]["head"]["sha"]


def test_authors_cannot_approve_their_own_pr(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a": "1"})
    number = d.open_pr(REPO, "alice", "b", {"a": "2"})
    with pytest.raises(ValueError, match="author"):
        d.review(REPO, number, "alice", "APPROVE")


def test_conflicting_pr_is_not_mergeable(emulator):  # type: ignore[no-untyped-def]
    d = emulator.driver
    d.create_repo(REPO, {"a": "1"})
    number = d.open_pr(REPO, "alice", "b", {"a": "2"})
    d.push(REPO, "main", {"a": "3"}, author="bob")
    d.settle_merge(REPO, number)
    body = _get(emulator, f"/repos/{REPO}/pulls/{number}", emulator.token_for("x")).json()
    assert (body["mergeable"], body["mergeable_state"]) == (False, "dirty")
    with pytest.raises(ValueError, match="conflicts"):
        d.merge(REPO, number, "carol")


def test_graphql_reports_unknown_fields_like_github(emulator):  # type: ignore[no-untyped-def]
    emulator.driver.create_repo(REPO, {"a": "1"})
    token = emulator.token_for("x")
    answer = requests.post(
        emulator.base_url + "/graphql",
        json={"query": '{ repository(owner: "acme", name: "config") { nope } }'},
        headers={"Authorization": f"bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["message"] == "Field 'nope' doesn't exist on type 'Repository'"


def test_enterprise_prefix_serves_rest_under_api_v3():  # type: ignore[no-untyped-def]
    with GitHubEmulator(prefix="/api/v3") as emu:
        emu.driver.create_repo(REPO, {"a": "1"})
        token = emu.token_for("x")
        assert _get(emu, f"/repos/{REPO}/pulls", token).status_code == 200
        plain = requests.get(
            emu.urls.web + f"/repos/{REPO}/pulls", headers={"Authorization": f"token {token}"}, timeout=5
        )
        assert plain.status_code == 404
