"""validate_tree: a whole revision, file by file and across files, in a stable order."""

from __future__ import annotations

from collections.abc import Sequence
from textwrap import dedent

from bot.core.repo_config import Account, Approvals, RepoConfig
from bot.core.tree import DictTree
from bot.core.validate import validate_tree

CONFIG = RepoConfig(
    Approvals(),
    (
        Account("web", ("web/**",)),
        Account("mobile", ("mobile/**",)),
    ),
)


def experiment(ident: str, overrides: str = "button_color: green") -> str:
    return dedent(
        f"""\
        kind: experiment
        id: {ident}
        name: Test
        status: draft
        variants:
          - {{id: control, weight: 50, control: true}}
          - id: green
            weight: 50
            overrides:
              {overrides}
        """
    )


def variable(ident: str, default: str = "blue") -> str:
    return f"kind: remote_config\nid: {ident}\nkey: {ident}\ntype: string\ndefault: {default}\nstatus: live\n"


class CountingTree(DictTree):
    """Records which files were read: validation must not read files that cannot be resources."""

    def __init__(self, files: dict[str, bytes | str]) -> None:
        super().__init__(files)
        self.read_paths: list[str] = []

    def read(self, path: str) -> bytes | None:
        self.read_paths.append(path)
        return super().read(path)


def messages(found: Sequence[object]) -> list[str]:
    return [str(p) for p in found]


def test_a_clean_tree_has_no_problems() -> None:
    tree = DictTree(
        {
            "web/experiments/a.yaml": experiment("a"),
            "web/remote_config/button_color.yaml": variable("button_color"),
            "mobile/remote_config/button_color.yml": variable("button_color"),
            "mobile/experiments/b.yml": experiment("b"),
        }
    )
    assert validate_tree(tree, CONFIG) == []


def test_only_possible_resource_files_are_read() -> None:
    tree = CountingTree(
        {
            "web/experiments/a.yaml": experiment("a", "{}"),
            "web/README.md": "# docs",
            "web/notes.txt": "x",
            ".approvalbot.yml": "accounts: {}",
            ".github/workflows/ci.yml": "on: push",
            ".pre-commit-config.yaml": "repos: []",
            "web/.hidden/thing.yaml": "x: 1",
            "schemas/experiment.schema.json": "{}",
        }
    )
    assert validate_tree(tree, CONFIG) == []
    assert tree.read_paths == ["web/experiments/a.yaml"]


class PrefetchingTree(CountingTree):
    """An adapter that can fetch many files in one exchange (as git can): records what it was asked."""

    def __init__(self, files: dict[str, bytes | str]) -> None:
        super().__init__(files)
        self.batches: list[list[str]] = []

    def prefetch(self, paths: Sequence[str]) -> None:
        self.batches.append(list(paths))


def test_a_big_tree_is_fetched_in_batches_of_resource_files() -> None:
    files: dict[str, bytes | str] = {
        f"web/experiments/e{n:04}.yaml": experiment(f"e{n:04}", "{}") for n in range(1_200)
    }
    files["stray.yml"] = "x: 1"
    tree = PrefetchingTree(files)
    assert messages(validate_tree(tree, CONFIG)) == [
        "stray.yml:1:1: not in any account's paths; add a glob under accounts.<name>.paths"
    ]
    assert [len(batch) for batch in tree.batches] == [500, 500, 200]  # never the whole repo at once
    assert sorted(p for batch in tree.batches for p in batch) == sorted(tree.read_paths)
    assert "stray.yml" not in tree.read_paths


def test_yaml_outside_every_account_is_reported_unread() -> None:
    tree = CountingTree({"ios/experiments/a.yaml": experiment("a"), "stray.yml": "x: 1"})
    assert messages(validate_tree(tree, CONFIG)) == [
        "ios/experiments/a.yaml:1:1: not in any account's paths; add a glob under accounts.<name>.paths",
        "stray.yml:1:1: not in any account's paths; add a glob under accounts.<name>.paths",
    ]
    assert tree.read_paths == []


def test_references_are_checked_within_the_account() -> None:
    tree = DictTree(
        {
            "web/experiments/a.yaml": experiment("a"),
            "mobile/remote_config/button_color.yaml": variable("button_color"),
        }
    )
    assert messages(validate_tree(tree, CONFIG)) == [
        "web/experiments/a.yaml:10:7: variants[1].overrides: 'button_color' is not a remote config "
        "variable of account 'web'"
    ]


def test_problems_of_all_files_come_sorted_and_once() -> None:
    files: dict[str, bytes | str] = {
        "web/remote_config/button_color.yaml": variable("button_color", "5"),
        "web/experiments/z.yaml": experiment("wrong"),
        "web/experiments/a.yaml": "kind: experiment\nkind: remote_config\n",
        "web/experiments/old/z.yaml": experiment("z"),
        "web/experiments/z.yml": experiment("z"),
    }
    found = messages(validate_tree(DictTree(files), CONFIG))
    assert found == [
        "web/experiments/a.yaml:2:1: duplicate key 'kind' (first at line 1); keep only one of them",
        "web/experiments/z.yaml:2:1: id 'wrong' does not match the file name 'z.yaml'; rename the file to "
        "wrong.yaml, or set id: z (ids never change)",
        "web/experiments/z.yml:2:1: experiment 'z' of account 'web' is already defined in "
        "web/experiments/old/z.yaml; ids must be unique per account and kind",
        "web/remote_config/button_color.yaml:5:1: default: must be text (a string) "
        '(the variable\'s type is string), got 5; YAML reads the unquoted 5 as the number 5: write "5" in '
        "quotes if you mean the text",
    ]
    assert found == messages(validate_tree(DictTree(dict(reversed(list(files.items())))), CONFIG))
