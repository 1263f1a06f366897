"""The emulator refuses review requests as GitHub does (bot/emulator/reviews.py cites the sources)."""

from __future__ import annotations

import pytest
import requests

from bot.emulator import GitHubEmulator

REPO = "acme/config"
COLLABORATORS = "Reviews may only be requested from collaborators."


def _request(emu: GitHubEmulator, number: int, users: list[str], teams: list[str] = ()) -> requests.Response:  # type: ignore[assignment]
    token = emu.token_for("maintainer")
    return requests.post(
        f"{emu.base_url}/repos/{REPO}/pulls/{number}/requested_reviewers",
        json={"reviewers": users, "team_reviewers": list(teams)},
        headers={"Authorization": f"token {token}"},
        timeout=5,
    )


@pytest.fixture
def pr(emulator: GitHubEmulator) -> int:
    d = emulator.driver
    d.create_repo(REPO, {"a": "1"})
    d.add_members("acme", "alice", "bob", "carol")
    return d.open_pr(REPO, "alice", "b", {"a": "2"})


def test_the_author_cannot_be_asked(emulator: GitHubEmulator, pr: int) -> None:
    answer = _request(emulator, pr, ["bob", "alice"])
    assert answer.status_code == 422
    assert answer.json()["message"] == "Review cannot be requested from pull request author."
    assert emulator.world.repo(REPO).pulls[pr].requested_reviewers == []


def test_someone_who_cannot_read_the_repository_fails_the_whole_request(
    emulator: GitHubEmulator, pr: int
) -> None:
    emulator.driver.add_user("mallory")  # a GitHub user, but neither a member nor a collaborator
    answer = _request(emulator, pr, ["bob", "mallory"])
    assert answer.status_code == 422
    assert answer.json()["message"].startswith(COLLABORATORS)
    assert f"not a collaborator of the {REPO} repository" in answer.json()["message"]
    assert emulator.world.repo(REPO).pulls[pr].requested_reviewers == []  # bob is not asked either


def test_an_unknown_login_is_refused_like_an_outsider(emulator: GitHubEmulator, pr: int) -> None:
    answer = _request(emulator, pr, ["no-such-user"])
    assert answer.status_code == 422 and answer.json()["message"].startswith(COLLABORATORS)


def test_an_outside_collaborator_can_be_asked(emulator: GitHubEmulator, pr: int) -> None:
    emulator.driver.add_collaborator(REPO, "olga", "read")
    answer = _request(emulator, pr, ["olga", "bob"])
    assert answer.status_code == 201
    assert sorted(u["login"] for u in answer.json()["requested_reviewers"]) == ["bob", "olga"]


def test_a_team_needs_access_to_the_repository(emulator: GitHubEmulator, pr: int) -> None:
    emulator.driver.add_team("acme", "leads", ["carol"])
    assert _request(emulator, pr, [], ["leads"]).status_code == 422
    emulator.driver.grant_team(REPO, "acme", "leads")
    answer = _request(emulator, pr, [], ["leads"])
    assert answer.status_code == 201
    assert [t["slug"] for t in answer.json()["requested_teams"]] == ["leads"]


def test_no_more_than_fifteen_reviewers(emulator: GitHubEmulator, pr: int) -> None:
    people = [f"reviewer-{i:02}" for i in range(16)]
    emulator.driver.add_members("acme", *people)
    assert _request(emulator, pr, people[:15]).status_code == 201
    answer = _request(emulator, pr, people[15:])
    assert answer.status_code == 422 and "at most 15" in answer.json()["message"]
    assert len(emulator.world.repo(REPO).pulls[pr].requested_reviewers) == 15
