from pathlib import Path

import pytest
from gitrepo import GitRepo, experiment

from bot.adapters.git import GitError, GitTree, changed_files, parse_name_status
from bot.core.tree import ChangeType, FileChange


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit(
        {
            "web/experiments/a.yaml": experiment("a", "draft"),
            "web/experiments/b.yaml": experiment("b", "running"),
            "web/notes with space.txt": "uses color here\n",
        },
        "base",
    )
    return repo


def test_tree_lists_paths_and_reads_files_without_a_checkout(repo: GitRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.commit({"web/experiments/a.yaml": experiment("a", "running")})
    with GitTree(repo.path, base) as tree:
        assert list(tree.paths()) == [
            "web/experiments/a.yaml",
            "web/experiments/b.yaml",
            "web/notes with space.txt",
        ]
        assert tree.read("web/experiments/a.yaml") == experiment("a", "draft").encode()
        assert tree.read("web/experiments/missing.yaml") is None
        assert tree.read("web") is None  # a directory is not a file
        assert tree.read("web/notes with space.txt") == b"uses color here\n"
        assert tree.reads == 2


def test_mentioning_searches_only_the_given_paths(repo: GitRepo) -> None:
    with GitTree(repo.path, "main") as tree:
        everything = list(tree.paths())
        assert tree.mentioning("running", everything) == ["web/experiments/b.yaml"]
        assert tree.mentioning("uses color", everything) == ["web/notes with space.txt"]
        assert tree.mentioning("running", ["web/experiments/a.yaml"]) == []
        assert tree.mentioning("nothing-like-this", everything) == []
        assert tree.reads == 0


def test_changed_files_start_at_the_merge_base(repo: GitRepo) -> None:
    repo.branch("feature")
    repo.write({"web/experiments/a.yaml": experiment("a", "running"), "web/experiments/b.yaml": None})
    repo.write({"web/experiments/c.yaml": experiment("c", "draft")})
    repo.commit(message="feature")
    repo.checkout("main")
    repo.commit({"web/experiments/z.yaml": experiment("z", "draft")}, "main moves on")
    assert changed_files(repo.path, "main", "feature") == [
        FileChange(ChangeType.MODIFIED, "web/experiments/a.yaml"),
        FileChange(ChangeType.DELETED, "web/experiments/b.yaml"),
        FileChange(ChangeType.ADDED, "web/experiments/c.yaml"),
    ]


def test_exact_renames_are_kept_as_one_change(repo: GitRepo) -> None:
    repo.mv("web/experiments/a.yaml", "web/experiments/renamed.yaml")
    repo.commit(message="rename")
    assert changed_files(repo.path, "HEAD~1", "HEAD") == [
        FileChange(ChangeType.RENAMED, "web/experiments/renamed.yaml", "web/experiments/a.yaml")
    ]


def test_a_similar_file_replacing_a_deleted_one_is_no_rename(repo: GitRepo) -> None:
    repo.commit({"web/experiments/b.yaml": None, "web/experiments/c.yaml": experiment("c", "running")})
    assert changed_files(repo.path, "HEAD~1", "HEAD") == [
        FileChange(ChangeType.DELETED, "web/experiments/b.yaml"),
        FileChange(ChangeType.ADDED, "web/experiments/c.yaml"),
    ]


def test_name_status_parsing_handles_copies_and_type_changes() -> None:
    out = b"C75\0a.yaml\0b.yaml\0T\0link.yaml\0M\0x y.yaml\0"
    assert parse_name_status(out) == [
        FileChange(ChangeType.ADDED, "b.yaml"),
        FileChange(ChangeType.MODIFIED, "link.yaml"),
        FileChange(ChangeType.MODIFIED, "x y.yaml"),
    ]


def test_bad_revisions_and_non_repositories_raise_clear_errors(repo: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        GitTree(repo.path, "nope")
    with pytest.raises(GitError, match="not a revision"):
        GitTree(repo.path, "--output=x")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="is not a git repository"):
        GitTree(plain, "HEAD")
    with pytest.raises(GitError, match="is not a directory"):
        changed_files(tmp_path / "missing", "main", "HEAD")
    other = GitRepo(tmp_path / "other")
    other.commit({"x": "1"})
    repo.git("fetch", "-q", str(other.path), "main:unrelated")
    with pytest.raises(GitError, match="no common history"):
        changed_files(repo.path, "main", "unrelated")


def test_a_subdirectory_of_the_repo_works_as_the_repo(repo: GitRepo) -> None:
    with GitTree(repo.path / "web", "HEAD") as tree:
        assert "web/experiments/a.yaml" in tree.paths()
        assert tree.mentioning("running", tree.paths()) == ["web/experiments/b.yaml"]


def test_prefetch_reads_many_files_in_one_exchange(repo: GitRepo) -> None:
    files = {f"web/experiments/e{i}.yaml": experiment(f"e{i}", "draft") for i in range(300)}
    repo.commit(files)
    with GitTree(repo.path, "HEAD") as tree:
        tree.prefetch([*files, "web/experiments/missing.yaml", "web"])
        assert tree.reads == 300
        assert all(tree.read(path) == text.encode() for path, text in files.items())
        assert tree.reads == 300  # served from what was prefetched
        assert tree.read("web/experiments/a.yaml") == experiment("a", "draft").encode()
        assert tree.reads == 301
