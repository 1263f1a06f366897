"""A revision of a local git repository as a `Tree`, read from git objects (no checkout, no worktree).

File names come from `git ls-tree`, contents from one long-lived `git cat-file --batch` process per
tree (a round trip per file instead of a process per file), and searches from `git grep`, so only
the files the plan asks for are ever read.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from bot.core.tree import ChangeType, FileChange

_GREP_BATCH = 500  # paths per `git grep` call, well under any command-line limit


class GitError(Exception):
    """A git command failed; the message says which and what git said."""


def git(repo: Path, *args: str, input: bytes | None = None, ok_codes: tuple[int, ...] = (0,)) -> bytes:
    """Run git in `repo` and return its stdout; raise GitError with git's own message on failure."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, check=False)
    except FileNotFoundError as error:
        raise GitError("git is not installed or not on PATH; install git and try again") from error
    if done.returncode not in ok_codes:
        said = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed in {repo}: {said}")
    return done.stdout


def resolve(repo: Path, rev: str) -> str:
    """The commit id of `rev`; a clear GitError when `repo` is not a repository or `rev` is unknown."""
    if rev.startswith("-"):
        raise GitError(f"{rev!r} is not a revision; name a branch, tag or commit")
    if repo.is_dir():
        out = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", ok_codes=(0, 1, 128))
        if out.strip():
            return out.decode().strip()
    raise GitError(_why_unresolved(repo, rev))  # the diagnosis costs git calls: only on failure


def _why_unresolved(repo: Path, rev: str) -> str:
    if not repo.is_dir():
        return f"{repo} is not a directory; pass the path of a git repository with --repo"
    inside = git(repo, "rev-parse", "--is-inside-work-tree", ok_codes=(0, 128)).strip()
    bare = git(repo, "rev-parse", "--is-bare-repository", ok_codes=(0, 128)).strip()
    if inside != b"true" and bare != b"true":
        return f"{repo} is not a git repository; pass the path of a git checkout with --repo"
    return f"unknown revision {rev!r} in {repo}; name a branch, tag or commit that exists there"


class GitTree:
    """The files of one commit. Use as a context manager, or call `close()`, to end the cat-file process."""

    def __init__(self, repo: Path, rev: str) -> None:
        self.commit = resolve(Path(repo), rev)
        self.repo = Path(repo)
        self._top: Path | None = None  # the work tree's root, for `git grep` (see `mentioning`)
        self.rev = rev
        self._blob_ids: dict[str, bytes] | None = None
        self._cache: dict[str, bytes] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.reads = 0  # files read, for benchmarks and tests that prove we read little

    def paths(self) -> Sequence[str]:
        return list(self._blobs())

    def read(self, path: str) -> bytes | None:
        if path in self._cache:
            return self._cache.pop(path)  # prefetched; callers keep what they need
        blob = self._blobs().get(path)
        if blob is None:
            return None  # no such file (or a directory, a submodule) in this revision
        with self._lock:
            process = self._cat_file()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(blob + b"\n")
            process.stdin.flush()
            content = _read_object(process.stdout, path)
        self.reads += 1
        return content

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read many files in one pipelined exchange with cat-file, for the `read` calls that follow."""
        wanted = [
            (p, blob) for p in dict.fromkeys(paths) if p not in self._cache and (blob := self._blobs().get(p))
        ]
        if not wanted:
            return
        with self._lock:
            process = self._cat_file()
            assert process.stdin is not None and process.stdout is not None
            stdin = process.stdin
            # Write from a thread: git answers while we ask, and a full pipe must never block both sides.
            writer = threading.Thread(target=_write_lines, args=(stdin, [b for _, b in wanted]), daemon=True)
            writer.start()
            try:
                for path, _ in wanted:
                    self._cache[path] = _read_object(process.stdout, path)
            finally:
                writer.join()
        self.reads += len(wanted)

    def mentioning(self, word: str, paths: Iterable[str]) -> list[str]:
        wanted = list(paths)
        found: list[str] = []
        prefix = f"{self.commit}:".encode()
        if self._top is None:  # pathspecs of `git grep` are relative to the directory it runs in
            self._top = toplevel(self.repo)
        for start in range(0, len(wanted), _GREP_BATCH):
            batch = wanted[start : start + _GREP_BATCH]
            out = git(
                self._top, "grep", "-l", "-F", "-z", "-e", word, self.commit, "--", *batch, ok_codes=(0, 1)
            )
            for hit in out.split(b"\0"):
                if hit:
                    found.append(hit.removeprefix(prefix).decode("utf-8", "surrogateescape"))
        return found

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                assert self._process.stdin is not None
                self._process.stdin.close()
                self._process.wait(timeout=10)
                if self._process.stdout is not None:
                    self._process.stdout.close()
                self._process = None

    def __enter__(self) -> GitTree:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _blobs(self) -> dict[str, bytes]:
        """path → blob id of every file, from one `git ls-tree` (reading by id skips the tree walk)."""
        if self._blob_ids is None:
            out = git(self.repo, "ls-tree", "-r", "-z", "--full-tree", self.commit)
            blobs: dict[str, bytes] = {}
            for entry in out.split(b"\0"):
                meta, _, name = entry.partition(b"\t")
                fields = meta.split()
                if len(fields) == 3 and fields[1] == b"blob":
                    blobs[name.decode("utf-8", "surrogateescape")] = fields[2]
            self._blob_ids = blobs
        return self._blob_ids

    def _cat_file(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            self._process = subprocess.Popen(
                ["git", "-C", str(self.repo), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._process


def _read_object(stream: IO[bytes], path: str) -> bytes:
    header = stream.readline()
    fields = header.split()
    if len(fields) != 3 or not fields[2].isdigit():
        raise GitError(f"git cat-file gave no content for {path}: {header.decode(errors='replace').strip()}")
    data = stream.read(int(fields[2]))
    stream.read(1)  # the newline cat-file puts after every object
    if len(data) != int(fields[2]):
        raise GitError(f"git cat-file ended in the middle of {path}")
    return data


def _write_lines(stream: IO[bytes], lines: list[bytes]) -> None:
    try:
        stream.write(b"".join(line + b"\n" for line in lines))
        stream.flush()
    except (BrokenPipeError, ValueError):
        pass  # git died or was closed: the reader reports it


def toplevel(repo: Path) -> Path:
    """The root of the work tree that holds `repo` (a bare repository is its own root)."""
    out = git(repo, "rev-parse", "--show-toplevel", ok_codes=(0, 128)).strip()
    return Path(out.decode()) if out else repo


def merge_base(repo: Path, base: str, head: str) -> str:
    return _merge_base(repo, base, head, resolve(repo, base), resolve(repo, head))


def _merge_base(repo: Path, base: str, head: str, base_commit: str, head_commit: str) -> str:
    out = git(repo, "merge-base", base_commit, head_commit, ok_codes=(0, 1)).strip()
    if not out:
        raise GitError(f"{base!r} and {head!r} have no common history in {repo}; compare related branches")
    return out.decode()


def changed_files(repo: Path, base: str, head: str) -> list[FileChange]:
    """Files changed on `head` since it left `base` (like a pull request shows them), renames kept."""
    head_commit = resolve(repo, head)
    since = _merge_base(repo, base, head, resolve(repo, base), head_commit)
    # Only exact renames count as renames: git's similarity guess would pair the deletion of one
    # experiment with the creation of another from the same template and refuse both.
    out = git(repo, "diff", "--name-status", "-z", "-M100%", since, head_commit)
    return parse_name_status(out)


def parse_name_status(out: bytes) -> list[FileChange]:
    """`git diff --name-status -z` output → FileChanges (copies count as additions, type changes as edits)."""
    fields = [f.decode("utf-8", "surrogateescape") for f in out.split(b"\0")]
    changes: list[FileChange] = []
    at = 0
    while at < len(fields) and fields[at]:
        status = fields[at]
        letter = status[0]
        if letter in "RC":
            old, new = fields[at + 1], fields[at + 2]
            at += 3
            if letter == "R":
                changes.append(FileChange(ChangeType.RENAMED, new, old))
            else:
                changes.append(FileChange(ChangeType.ADDED, new))
            continue
        path = fields[at + 1]
        at += 2
        kind = {"A": ChangeType.ADDED, "D": ChangeType.DELETED}.get(letter, ChangeType.MODIFIED)
        changes.append(FileChange(kind, path))
    return sorted(changes, key=lambda c: c.path)


def is_bare(path: Path) -> bool:
    """True for a bare repository: it has no files on disk to read, only commits."""
    return git(path, "rev-parse", "--is-bare-repository", ok_codes=(0, 128)).strip() == b"true"


class WorkTree:
    """The files on disk under `root` (what a pre-commit hook sees), `.git` left out."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._paths: list[str] | None = None

    def paths(self) -> Sequence[str]:
        if self._paths is None:
            found = []
            for path in self.root.rglob("*"):
                relative = path.relative_to(self.root)
                if ".git" in relative.parts or not path.is_file():
                    continue
                found.append(relative.as_posix())
            self._paths = sorted(found)
        return self._paths

    def read(self, path: str) -> bytes | None:
        target = self.root / path
        if ".." in Path(path).parts or not target.is_file():
            return None
        return target.read_bytes()

    def mentioning(self, word: str, paths: Iterable[str]) -> list[str]:
        needle = word.encode()
        return [p for p in paths if needle in (self.read(p) or b"")]
