"""What the command-line tests share: a user's home and a config repository in temporary folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

# Variables that would change where the default store is, or which store is used, if the test
# process inherited them (a CI job on GitHub Actions has GITHUB_ACTIONS and GITHUB_WORKSPACE set).
STORE_VARIABLES = ("DATABASE_URL", "GITHUB_ACTIONS", "GITHUB_WORKSPACE", "XDG_DATA_HOME")
CREDENTIAL_VARIABLES = ("APPROVALBOT_APP_ID", "APPROVALBOT_PRIVATE_KEY", "GITHUB_TOKEN")


@dataclass(frozen=True)
class User:
    """A user's folders: HOME, the XDG data home, and a config repository to run commands in."""

    home: Path
    data: Path
    repo: Path

    @property
    def default_store(self) -> Path:
        return self.data / "approvalbot" / "approvalbot.db"


def make_user(tmp_path: Path) -> User:
    user = User(home=tmp_path / "home", data=tmp_path / "data", repo=tmp_path / "config-repo")
    user.home.mkdir()
    user.repo.mkdir()
    (user.repo / ".approvalbot.yml").write_text("approvals:\n  required: 1\n")
    return user


def enter(user: User, monkeypatch: pytest.MonkeyPatch, *, xdg: bool = True) -> None:
    """This process runs as `user` would: in the config repository, with only their home to write to."""
    for name in (*STORE_VARIABLES, *CREDENTIAL_VARIABLES, "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(user.home))
    if xdg:
        monkeypatch.setenv("XDG_DATA_HOME", str(user.data))
    monkeypatch.chdir(user.repo)


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))
