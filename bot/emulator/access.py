"""Who can read a repository, as GitHub decides it for people (not tokens: see the permissions module).

GitHub's rules modelled here:

- an organization's members get the organization's base permission on every repository it owns, and
  GitHub's default base permission is "Read"
  (docs.github.com/en/organizations/managing-user-access-to-your-organizations-repositories/
  managing-repository-roles/setting-base-permissions-for-an-organization);
- a team's members are members of its organization (a team cannot hold outsiders:
  docs.github.com/en/organizations/organizing-members-into-teams/about-teams);
- anyone else reads a repository only as a collaborator added to it (an outside collaborator of an
  organization's repository, or a collaborator of a personal one), and a personal repository's owner
  reads it (docs.github.com/en/account-and-profile/.../permission-levels-for-a-personal-account-repository);
- a team reads a repository only where it was given access to it (docs.github.com/en/organizations/
  managing-user-access-to-your-organizations-repositories/managing-repository-roles/
  managing-team-access-to-an-organization-repository).

The emulator does not model private repositories' invisibility; it uses these rules where GitHub refuses
something to a person without access, such as a review request.
"""

from __future__ import annotations

from bot.emulator.state import Repo, World


def can_read(world: World, repo: Repo, login: str) -> bool:
    """True when `login` has at least read access to `repo`."""
    if login in repo.collaborators or login == repo.owner:
        return True
    owner = world.users.get(repo.owner)
    if owner is not None and owner.type == "Organization":
        return login in world.members.get(repo.owner, set())
    return False


def team_can_read(repo: Repo, org: str, slug: str) -> bool:
    """True when the team `org/slug` was given access to `repo` (members' base permission does not count)."""
    return (org, slug) in repo.team_access
