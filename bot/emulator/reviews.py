"""GitHub's rules for review requests (POST /repos/{owner}/{repo}/pulls/{n}/requested_reviewers).

- The PR's author cannot be requested: 422 "Review cannot be requested from pull request author."
  (the REST page "Request reviewers for a pull request", docs.github.com/en/rest/pulls/review-requests).
- Reviewers must be able to read the repository ("You can request a review from a person or team with
  read access to the repository", docs.github.com/en/pull-requests/.../requesting-a-pull-request-review);
  otherwise the whole request is refused with 422 "Reviews may only be requested from collaborators. One
  or more of the users or teams you specified is not a collaborator of the OWNER/REPO repository." and
  nobody of it is requested (that wording is GitHub's, as reported verbatim in
  github.com/peter-evans/create-pull-request/issues/4138 and Dependabot's logs).
- At most 15 people and teams are requested on a pull request (the limit GitHub's UI and API apply on
  github.com, reported in github.com/NixOS/foundation/issues/25 and zephyrproject-rtos/zephyr#118349);
  a request past it is a 422. GitHub does not publish that answer's wording; ours says the limit.
- Teams are named by slug and must belong to the repository's organization and have access to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.emulator import access
from bot.emulator.state import PullRequest, Repo, World

MAX_REQUESTED = 15
AUTHOR = "Review cannot be requested from pull request author."


def not_collaborator(repo: Repo) -> str:
    return (
        "Reviews may only be requested from collaborators. One or more of the users or teams you "
        f"specified is not a collaborator of the {repo.full_name} repository."
    )


def over_limit() -> str:
    return f"A pull request can have at most {MAX_REQUESTED} requested reviewers and teams."


def refusal(
    world: World, repo: Repo, pr: PullRequest, users: Sequence[str], teams: Sequence[str]
) -> str | None:
    """Why GitHub answers 422 to requesting `users` and `teams` (slugs) on `pr`, or None when it accepts."""
    if pr.author in users:
        return AUTHOR
    for login in users:
        if login not in world.users or not access.can_read(world, repo, login):
            return not_collaborator(repo)
    for slug in teams:
        org, _, name = slug.rpartition("/")
        org = org or repo.owner
        if org != repo.owner or (org, name) not in world.teams or not access.team_can_read(repo, org, name):
            return not_collaborator(repo)
    after = set(pr.requested_reviewers) | set(users)
    after_teams = set(pr.requested_teams) | {s if "/" in s else f"{repo.owner}/{s}" for s in teams}
    if len(after) + len(after_teams) > MAX_REQUESTED:
        return over_limit()
    return None
