"""Real, throwaway git repositories for tests: `git init`, files, commits and branches.

Git runs with no global or system config so a developer's settings (signing, hooks, default branch)
cannot change what a test sees.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}

CONFIG_YAML = """\
approvals:
  required: 1
accounts:
  web:
    paths: ["web/**"]
    roles: {admin: [alice], approver: [carol]}
  mobile:
    paths: ["mobile/**"]
    roles: {admin: [bob]}
"""


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def write(self, files: Mapping[str, str | bytes | None]) -> None:
        """Write files (None deletes one) into the work tree and stage them."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
            self.git("add", "--", name)

    def commit(self, files: Mapping[str, str | bytes | None] | None = None, message: str = "change") -> str:
        self.write(files or {})
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def mv(self, old: str, new: str) -> None:
        self.git("mv", old, new)


def experiment(ident: str, status: str, **extra: Any) -> str:
    data: dict[str, Any] = {
        "kind": "experiment",
        "id": ident,
        "name": ident.replace("-", " ").title(),
        "status": status,
        "metrics": {"primary": {"id": "conversion"}},
        "variants": [
            {"id": "control", "weight": 50, "control": True},
            {"id": "treatment", "weight": 50},
        ],
    }
    data.update(extra)
    return yaml.safe_dump(data, sort_keys=False)


def variable(ident: str, status: str, default: str = "red") -> str:
    data = {"kind": "remote_config", "id": ident, "key": ident, "type": "string", "default": default}
    return yaml.safe_dump({**data, "status": status}, sort_keys=False)
