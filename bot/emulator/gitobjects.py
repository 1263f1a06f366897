"""Git objects as git itself hashes them, so shas in the emulator look and behave like GitHub's.

Blobs are stored once by content; a commit records a flat snapshot (path → blob sha) plus its parents.
Tree shas are computed from the nested directory structure exactly like `git mktree` would, so the
REST trees endpoint can list sub-trees with real shas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

FILE_MODE = "100644"
TREE_MODE = "040000"


def object_sha(kind: str, payload: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(payload)}\0".encode() + payload).hexdigest()


def blob_sha(content: bytes) -> str:
    return object_sha("blob", content)


@dataclass(frozen=True)
class TreeEntry:
    path: str  # full '/'-separated path from the repository root
    mode: str
    type: str  # "blob" or "tree"
    sha: str
    size: int | None = None  # blobs only


def _nest(files: Mapping[str, str]) -> dict[str, object]:
    root: dict[str, object] = {}
    for path, sha in files.items():
        node = root
        *dirs, name = path.split("/")
        for part in dirs:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[name] = sha
    return root


def _tree_sha(node: Mapping[str, object], prefix: str, out: list[TreeEntry], sizes: Mapping[str, int]) -> str:
    # git sorts tree entries as if directory names ended in "/".
    def order(name: str) -> str:
        return name + "/" if isinstance(node[name], dict) else name

    payload = b""
    for name in sorted(node, key=order):
        child = node[name]
        path = f"{prefix}{name}"
        if isinstance(child, dict):
            sha = _tree_sha(child, path + "/", out, sizes)
            out.append(TreeEntry(path, TREE_MODE, "tree", sha))
            mode = TREE_MODE.lstrip("0")
        else:
            sha = str(child)
            out.append(TreeEntry(path, FILE_MODE, "blob", sha, sizes.get(sha)))
            mode = FILE_MODE
        payload += f"{mode} {name}\0".encode() + bytes.fromhex(sha)
    return object_sha("tree", payload)


def build_tree(files: Mapping[str, str], sizes: Mapping[str, int]) -> tuple[str, tuple[TreeEntry, ...]]:
    """Root tree sha and every entry (blobs and sub-trees), sorted by path, for a path → blob sha map."""
    entries: list[TreeEntry] = []
    sha = _tree_sha(_nest(files), "", entries, sizes)
    return sha, tuple(sorted(entries, key=lambda e: e.path))


@dataclass(frozen=True)
class Identity:
    """Who wrote or committed a commit: a name and email, and the GitHub login they map to, if any."""

    name: str
    email: str
    login: str | None = None


@dataclass(frozen=True)
class Commit:
    sha: str
    tree_sha: str
    files: Mapping[str, str]  # path → blob sha (the flat snapshot)
    entries: tuple[TreeEntry, ...]
    parents: tuple[str, ...]
    author: Identity
    committer: Identity
    message: str
    time: datetime
    pusher: str | None = None  # login that pushed it (GitHub keeps this only in push events)


def make_commit(
    files: Mapping[str, str],
    sizes: Mapping[str, int],
    parents: tuple[str, ...],
    author: Identity,
    committer: Identity,
    message: str,
    time: datetime,
    pusher: str | None = None,
) -> Commit:
    tree_sha, entries = build_tree(files, sizes)
    stamp = f"{int(time.timestamp())} +0000"
    text = f"tree {tree_sha}\n"
    text += "".join(f"parent {p}\n" for p in parents)
    text += f"author {author.name} <{author.email}> {stamp}\n"
    text += f"committer {committer.name} <{committer.email}> {stamp}\n\n{message}\n"
    return Commit(
        sha=object_sha("commit", text.encode()),
        tree_sha=tree_sha,
        files=dict(files),
        entries=entries,
        parents=parents,
        author=author,
        committer=committer,
        message=message,
        time=time,
        pusher=pusher,
    )
