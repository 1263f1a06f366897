"""Check a whole revision of the config repo: every resource file, alone and against the others.

This backs `approvalbot validate`. Only files that can be resources are read: YAML files that an
account's globs match. Other YAML files outside dot-directories are reported, because a resource
that belongs to no account would otherwise be silently ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

from bot.core import rules
from bot.core.loading import load_resource, with_yaml11_hint
from bot.core.model import Kind, Problem, Resource
from bot.core.repo_config import CONFIG_PATH, RepoConfig
from bot.core.tree import Tree, prefetch

YAML_SUFFIXES = (".yaml", ".yml")
_BATCH = 500  # files fetched per exchange with the tree's adapter


def is_yaml(path: str) -> bool:
    return path.endswith(YAML_SUFFIXES)


def is_tool_file(path: str) -> bool:
    """Files of other tools (.github/workflows, .pre-commit-config.yaml) and our own config."""
    return path == CONFIG_PATH or any(part.startswith(".") for part in path.split("/"))


def resource_paths(tree: Tree, config: RepoConfig) -> dict[str, str]:
    """path -> account for every file of `tree` that is a resource file of some account."""
    found: dict[str, str] = {}
    for path in tree.paths():
        if not is_yaml(path) or is_tool_file(path):
            continue
        account = config.account_for(path)
        if account is not None:
            found[path] = account.name
    return found


def read_resource_files(tree: Tree, owned: Mapping[str, str]) -> Iterator[tuple[str, str, bytes]]:
    """(path, account, bytes) of each of `owned` (path → account) that `tree` has, in path order.

    Files are fetched in batches, so an adapter that can (git) answers many in one exchange while a
    whole repository's bytes never sit in memory at once.
    """
    paths = sorted(owned)
    for start in range(0, len(paths), _BATCH):
        batch = paths[start : start + _BATCH]
        prefetch(tree, batch)
        for path in batch:
            raw = tree.read(path)
            if raw is not None:  # listed but gone: the tree changed under us; nothing to check
                yield path, owned[path], raw


def load_tree(
    tree: Tree, config: RepoConfig, unreadable: set[tuple[str, str]] | None = None
) -> tuple[list[Resource], list[Problem]]:
    """Every resource of `tree` loaded and checked on its own, plus the problems found doing so.

    `unreadable`, when given, collects (account, id from the file name) of every file that could not be
    read as a resource."""
    owned = resource_paths(tree, config)
    problems = [
        Problem(path, 1, 1, "not in any account's paths; add a glob under accounts.<name>.paths")
        for path in tree.paths()
        if is_yaml(path) and not is_tool_file(path) and path not in owned
    ]
    resources: list[Resource] = []
    for path, account, raw in read_resource_files(tree, owned):
        result = load_resource(path, raw, account)
        problems.extend(result.problems)
        if result.resource is not None:
            resources.append(result.resource)
        elif unreadable is not None:
            unreadable.add((account, file_id(path)))
    return resources, problems


def file_id(path: str) -> str:
    """The id a resource file's name gives it: `web/remote_config/color.yaml` → `color`."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0]


def validate_tree(tree: Tree, config: RepoConfig) -> list[Problem]:
    """Every problem of every resource file of `tree`, cross-checked; sorted and free of repeats."""
    unreadable: set[tuple[str, str]] = set()
    resources, problems = load_tree(tree, config, unreadable)
    problems.extend(rules.check_unique_ids(resources))
    references = check_all_references(resources, unreadable)
    texts = {p.file: (tree.read(p.file) or b"").decode("utf-8", "replace") for p in references}
    problems.extend(with_yaml11_hint(p, texts[p.file]) for p in references)
    return sorted(set(problems))


def check_all_references(
    resources: Iterable[Resource], unreadable: Iterable[tuple[str, str]] = ()
) -> list[Problem]:
    """Each experiment's overrides against the remote config variables of its own account.

    An override of a variable whose file cannot be read (`unreadable`: account, id) is not reported: the
    file's own problem is the one cause, said once where it is."""
    broken: dict[str, dict[str, str | None]] = defaultdict(dict)
    for account, ident in unreadable:
        broken[account][ident] = None
    listed = list(resources)
    variables: dict[str, dict[str, Resource]] = defaultdict(dict)
    for resource in sorted(listed, key=lambda r: r.path):
        if resource.key.kind is Kind.REMOTE_CONFIG:
            variables[resource.key.account].setdefault(resource.key.id, resource)
    problems: list[Problem] = []
    for resource in listed:
        if resource.key.kind is Kind.EXPERIMENT:
            account = resource.key.account
            problems.extend(rules.check_references(resource, variables[account], broken[account]))
    return problems
