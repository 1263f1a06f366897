"""The GitHub App permissions approvalbot needs: the README's list ("As a GitHub App"), kept here so a
test holds the README, the emulator's default App registration and this list equal, and another test
proves each one is needed (without it the emulator refuses a call the bot makes).

Why each (GitHub's "Permissions required for GitHub Apps" names the endpoints of each permission):
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    REPOSITORY = "Repository"
    ORGANIZATION = "Organization"


@dataclass(frozen=True)
class Needed:
    title: str  # as GitHub's App settings page and the README name it
    key: str  # as manifests and token bodies spell it
    level: str  # "read" or "write"
    scope: Scope
    why: str

    @property
    def readme(self) -> str:
        """How the README writes it: `Checks — read & write`."""
        return f"{self.title} — {'read & write' if self.level == 'write' else 'read'}"


APP_PERMISSIONS: tuple[Needed, ...] = (
    Needed("Checks", "checks", "write", Scope.REPOSITORY, "the `approvalbot` check run"),
    Needed(
        "Contents",
        "contents",
        "write",
        Scope.REPOSITORY,
        "files and commits; merging a pull request (`merge_on_approval`) needs write",
    ),
    Needed(
        "Pull requests",
        "pull_requests",
        "write",
        Scope.REPOSITORY,
        "pull requests, reviews, review requests, drafts, closing; comments and labels on pull requests",
    ),
    Needed("Metadata", "metadata", "read", Scope.REPOSITORY, "every App with repository access has it"),
    Needed("Members", "members", "read", Scope.ORGANIZATION, "to resolve `@org/team` roles"),
)
