"""Every method the bot sends is retried on 5xx and on rate limits answered 403 or 429 (issue 12, rule 6).

PyGithub's own defaults skip PATCH and 429: the client's RetryPolicy widens them (bot/adapters/github/
client.py). Each case arms one failing answer on the emulator, makes the write through the real
adapter, and checks GitHub saw the failure, then the success, and the write happened once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from github import Github

from bot.adapters.github.client import token_client
from bot.adapters.github.source import PullRequestSource
from bot.adapters.github.writer import CheckOutput, Conclusion, PullRequestWriter
from bot.emulator import GitHubEmulator

REPO = "acme/config"
APP_ID, INSTALLATION = 4242, 77


@pytest.fixture
def setup(emulator: GitHubEmulator, github_settings: Any) -> tuple[Github, int]:
    d = emulator.driver
    d.create_repo(REPO, {"README.md": "config repo\n"})
    d.add_members("acme", "alice", "carol")
    d.install_app(APP_ID, INSTALLATION, "acme")
    number = d.open_pr(REPO, "alice", "b", {"README.md": "changed\n"})
    emulator.register_token("bot-token", "approvalbot[bot]", APP_ID, INSTALLATION)
    return token_client("bot-token", github_settings(emulator.base_url)), number


def _edit_comment(gh: Github, emu: GitHubEmulator, number: int) -> None:
    writer = PullRequestWriter(gh, REPO, login="approvalbot[bot]")
    writer.upsert_comment(number, "first")
    writer.upsert_comment(number, "second")  # PATCH


def _edit_check(gh: Github, emu: GitHubEmulator, number: int) -> None:
    writer = PullRequestWriter(gh, REPO, app_id=APP_ID)
    head = emu.world.repo(REPO).pulls[number].head_sha
    writer.publish_check(head, CheckOutput(Conclusion.NEUTRAL, "one", "first"))
    writer.publish_check(head, CheckOutput(Conclusion.SUCCESS, "two", "second"))  # PATCH


def _merge(gh: Github, emu: GitHubEmulator, number: int) -> None:
    pull = PullRequestSource(gh, REPO).read(number).pull
    PullRequestWriter(gh, REPO).merge(pull, pull.head_sha)  # PUT


def _withdraw(gh: Github, emu: GitHubEmulator, number: int) -> None:
    writer, source = PullRequestWriter(gh, REPO), PullRequestSource(gh, REPO)
    writer.request_reviewers(source.read(number).pull, ["carol"])  # POST
    writer.withdraw_review_requests(source.read(number).pull)  # DELETE


CASES: dict[str, tuple[str, Callable[[Github, GitHubEmulator, int], None]]] = {
    "PATCH comment": ("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", _edit_comment),
    "PATCH check run": ("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", _edit_check),
    "PUT merge": ("PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge", _merge),
    "POST review request": ("POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", _withdraw),
    "DELETE review request": (
        "DELETE /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        _withdraw,
    ),
}


def _arm(emu: GitHubEmulator, route: str, answer: str) -> int:
    if answer == "429":
        emu.faults.rate_limit(route, retry_after=0, status=429)
    elif answer == "403 secondary":
        emu.faults.rate_limit(route, retry_after=0)
    else:
        emu.faults.fail(route, status=502, message="Bad Gateway")
    return int(answer[:3])


@pytest.mark.parametrize("answer", ["429", "403 secondary", "502"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_write_is_retried_and_done_once(
    emulator: GitHubEmulator, setup: tuple[Github, int], case: str, answer: str
) -> None:
    gh, number = setup
    route, write = CASES[case]
    status = _arm(emulator, route, answer)
    write(gh, emulator, number)
    statuses = [c.status for c in emulator.calls.of(route)]
    assert statuses[0] == status and len(statuses) == 2 and statuses[1] < 300, statuses
    pr = emulator.world.repo(REPO).pulls[number]
    if case == "PATCH comment":
        assert [c.body for c in emulator.world.repo(REPO).comments.values()][-1].endswith("second")
    elif case == "PATCH check run":
        runs = list(emulator.world.repo(REPO).check_runs.values())
        assert len(runs) == 1 and runs[0].conclusion == "success"
    elif case == "PUT merge":
        assert pr.merged
    else:
        assert pr.requested_reviewers == []


def test_a_read_answered_429_is_retried(emulator: GitHubEmulator, setup: tuple[Github, int]) -> None:
    gh, number = setup
    route = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
    emulator.faults.rate_limit(route, retry_after=0, status=429)
    assert PullRequestSource(gh, REPO).read(number).pull.number == number
    assert [c.status for c in emulator.calls.of(route)][:2] == [429, 200]
