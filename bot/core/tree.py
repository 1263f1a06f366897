"""How the core reads a revision of the config repo without knowing where it lives.

The git adapter, the GitHub adapter and plain dicts (tests, demo) implement `Tree`. The core only asks
for what it needs: the list of paths (names only, cheap), the bytes of single files, and which of a
set of files mention a word (so finding the users of a remote config variable does not read every
experiment when the adapter can search, e.g. with `git grep`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Tree(Protocol):
    def paths(self) -> Sequence[str]:
        """Every file path in this revision, '/'-separated, relative to the repo root."""
        ...

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when the revision has no such file."""
        ...

    def mentioning(self, word: str, paths: Iterable[str]) -> list[str]:
        """Those of `paths` whose text contains `word` (a superset is fine, never a subset)."""
        ...


class DictTree:
    """A revision held in memory: for tests, the demo and the emulator."""

    def __init__(self, files: Mapping[str, bytes | str]) -> None:
        self._files = {p: (v.encode() if isinstance(v, str) else v) for p, v in files.items()}

    def paths(self) -> Sequence[str]:
        return sorted(self._files)

    def read(self, path: str) -> bytes | None:
        return self._files.get(path)

    def mentioning(self, word: str, paths: Iterable[str]) -> list[str]:
        needle = word.encode()
        return [p for p in paths if needle in self._files.get(p, b"")]


def prefetch(tree: Tree, paths: Sequence[str]) -> None:
    """Lets an adapter that can (git) fetch many files in one exchange before they are read one by one.

    Optional for adapters: a tree without a `prefetch` method is simply read file by file.
    """
    fetch = getattr(tree, "prefetch", None)
    if fetch is not None and len(paths) > 1:
        fetch(paths)


class ChangeType(StrEnum):
    ADDED = "A"
    MODIFIED = "M"
    DELETED = "D"
    RENAMED = "R"


@dataclass(frozen=True)
class FileChange:
    """One entry of `git diff --name-status base head` (renames kept as one entry)."""

    change: ChangeType
    path: str  # the new path (the old one for a deletion)
    old_path: str | None = None  # set for renames

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.old_path, self.path) if self.old_path else (self.path,)


def changed_files(base: Tree, head: Tree) -> list[FileChange]:
    """Diff two trees by content; adapters with a cheaper diff (git) should use their own."""
    before, after = set(base.paths()), set(head.paths())
    out = [FileChange(ChangeType.ADDED, p) for p in sorted(after - before)]
    out += [FileChange(ChangeType.DELETED, p) for p in sorted(before - after)]
    both = sorted(before & after)
    out += [FileChange(ChangeType.MODIFIED, p) for p in both if base.read(p) != head.read(p)]
    return sorted(out, key=lambda c: c.path)
