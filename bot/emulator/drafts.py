"""Draft pull requests, and the plans that have them.

GitHub docs, "About pull requests" / "Changing the stage of a pull request": "Draft pull requests are
available in public repositories with GitHub Free for organizations and legacy per-repository billing
plans. Draft pull requests are also available in public and private repositories with GitHub Team, GitHub
Enterprise Cloud, and GitHub Enterprise Server." The REST reference says the same with GitHub Free and
GitHub Pro named for public repositories. So a private repository of an account on Free or Pro has no
drafts, and GitHub refuses to make one:

- creating a draft (REST `POST /repos/{owner}/{repo}/pulls` with `draft: true`, or GraphQL
  `createPullRequest`): 422 "Draft pull requests are not supported in this repository." (quoted with its
  `documentation_url` in SWE-agent/SWE-agent#179 and cynkra/fledge#260; the GraphQL wording in cli/cli#520
  and MetaMask/action-create-release-pr#67);
- GraphQL `convertPullRequestToDraft`: "<login> does not have permission to convert the pull request
  <node id> to draft." with the error's locations and the field null (cli/cli#5995, kyanny/gh-pr-draft#5:
  a private repository of a personal account). Those quotes show no `type`; we send FORBIDDEN, the type
  GitHub gives its permission refusals.

GitHub's API does not say whether drafts are available (cli/cli#520: "I don't think we can access the
information about the user's plan via the API"): a client learns it from the refusal.
"""

from __future__ import annotations

from bot.emulator.state import Repo, World

# Plans (the account's `plan.name` in GitHub's REST answers) whose private repositories have drafts.
PLANS_WITH_PRIVATE_DRAFTS = frozenset({"team", "enterprise"})
NOT_SUPPORTED = "Draft pull requests are not supported in this repository."


def available(world: World, repo: Repo) -> bool:
    """Whether pull requests of `repo` may be drafts: any public repository, or a private one whose owner
    is on GitHub Team or Enterprise."""
    return not repo.private or world.user(repo.owner).plan in PLANS_WITH_PRIVATE_DRAFTS


def convert_refused(login: str | None, pull_node_id: str) -> str:
    """GraphQL's message for `convertPullRequestToDraft` where drafts are not available."""
    return (
        f"{login or 'viewer'} does not have permission to convert the pull request {pull_node_id} to draft."
    )


class DraftRefused(ValueError):
    """A scenario asked for a draft where GitHub has none: `status` and `message` are GitHub's answer."""

    def __init__(self, repo: Repo) -> None:
        super().__init__(f"{repo.full_name}: {NOT_SUPPORTED} (a private repository on its owner's plan)")
        self.status = 422
        self.message = NOT_SUPPORTED
