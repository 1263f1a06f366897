"""`approvalbot` on the command line: wiring only, the work happens in the core and the adapters.

Each subcommand is one small function plus one row of `SUBCOMMANDS`; adding a subcommand is a
function that configures its parser, a function that runs it, and a row. Exit codes: 0 all valid,
1 a refused change or invalid files, 2 a usage or repository error (a message on stderr, never a
stack trace).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import __version__
from bot import cli_service as svc
from bot.adapters.git import GitError, GitTree, WorkTree, changed_files, is_bare
from bot.core.model import Plan, Problem
from bot.core.plan import make_plan
from bot.core.render import plan_to_json, render_markdown, render_text
from bot.core.repo_config import CONFIG_PATH, RepoConfig, parse_repo_config
from bot.core.tree import Tree

EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2
PROG = "approvalbot"
FORMATS = ("text", "markdown", "json")


class UsageError(Exception):
    """Bad command-line input: the message says what was wrong and what to give instead."""


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --- check --------------------------------------------------------------------------------------------


def configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", help="path of a local git checkout (default: .)")
    parser.add_argument("--base", required=True, help="the branch the change goes into, e.g. main")
    parser.add_argument("--head", required=True, help="the branch or commit of the change")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--now", help="evaluate at this RFC 3339 time instead of the clock")
    parser.add_argument("--facts", help="FACTS.json of the pull request: adds the approval decision")


def run_check(args: argparse.Namespace) -> int:
    now = parse_now(args.now)
    facts = read_facts(Path(args.facts)) if args.facts else None
    plan, config, config_problems = plan_change(Path(args.repo), args.base, args.head, now)
    decision = _decide(config, config_problems, plan, facts, now) if facts is not None else None
    _print_plan(plan, config, args.format, decision)
    return EXIT_OK if plan.valid else EXIT_REFUSED


def plan_change(
    repo: Path, base_rev: str, head_rev: str, now: datetime
) -> tuple[Plan, RepoConfig | None, list[Problem]]:
    """The plan of the change base → head, judged by the base branch's config (and its problems)."""
    changes = changed_files(repo, base_rev, head_rev)
    with GitTree(repo, base_rev) as base, GitTree(repo, head_rev) as head, _fewer_collections():
        config, problems = parse_repo_config(base.read(CONFIG_PATH))
        if config is None:
            return Plan(errors=tuple(problems)), None, problems
        return make_plan(base, head, changes, config, now), config, problems


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's collector runs less often while a change is read.

    Reading a big change or a whole repository makes hundreds of thousands of objects (the documents)
    that all live until the end and form no cycles; the collector would walk them again and again,
    about a tenth of the time, and free nothing.
    """
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], _FEWER_COLLECTIONS), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


_FEWER_COLLECTIONS = 100_000  # allocations between young collections (Python's default: 700)


def _decide(
    config: RepoConfig | None, problems: Sequence[Problem], plan: Plan, facts: Any, now: datetime
) -> Any:
    from bot.core.decision import decide

    return decide(config, problems, plan, facts, now)


def _print_plan(plan: Plan, config: RepoConfig | None, fmt: str, decision: Any) -> None:
    if fmt == "json":
        out = plan_to_json(plan, config)
        if decision is not None:
            from bot.core.decision import decision_to_json

            out["decision"] = decision_to_json(decision)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    text = render_markdown(plan, config) if fmt == "markdown" else render_text(plan, config)
    if decision is not None:
        from bot.core.decision import decision_markdown

        text += "\n" + decision_markdown(decision).rstrip("\n") + "\n"
    sys.stdout.write(text)


def parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now {text!r} is not an RFC 3339 time; write e.g. 2030-01-15T09:00:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"--now {text!r} has no time zone; add one, e.g. Z or +02:00")
    return moment


def read_facts(path: Path) -> Any:
    from bot.core.facts_json import facts_from_json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read --facts {path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"--facts {path} is not valid JSON: {error}") from None
    try:
        return facts_from_json(data)
    except ValueError as error:
        raise UsageError(f"--facts {path}: {error}") from None


# --- validate -----------------------------------------------------------------------------------------


def configure_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="the config repository (default: .), or resource files in one: only their problems are shown",
    )
    parser.add_argument("--rev", help="check this git revision instead of the files on disk")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


VALIDATE_JSON_VERSION = 1


def run_validate(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]} is not a directory or a file; give a config repository or its files")
    dirs = [p for p in paths if p.is_dir()]
    if dirs and len(paths) > 1:
        raise UsageError("give either one config repository or some of its files, not both")
    if dirs:
        problems, warnings = validate_repo(dirs[0], args.rev)
        _print_problems(problems, warnings, args.format)
        return EXIT_REFUSED if problems else EXIT_OK
    root, files = _files_in_repo(paths)
    problems, warnings = validate_repo(root, args.rev)
    mine = [p for p in problems if p.file in files or p.file == CONFIG_PATH]
    others = len(problems) - len(mine)
    _print_problems(mine, warnings, args.format, files=files, others=(others, root))
    return EXIT_REFUSED if mine else EXIT_OK


def _files_in_repo(paths: Sequence[Path]) -> tuple[Path, list[str]]:
    """The config repository holding `paths` (the nearest folder above them with .approvalbot.yml, or
    git's top level) and each file's path inside it."""
    first = paths[0].resolve()
    root = next((d for d in first.parents if (d / CONFIG_PATH).is_file()), None)
    if root is None:
        found = subprocess.run(
            ["git", "-C", str(first.parent), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
        root = Path(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None
    if root is None:
        raise UsageError(
            f"{paths[0]} is in no config repository: there is no {CONFIG_PATH} in any folder above it "
            "and it is not in a git repository; give the repository's root instead"
        )
    files = []
    for path in paths:
        try:
            files.append(path.resolve().relative_to(root).as_posix())
        except ValueError:
            raise UsageError(
                f"{path} is not in the config repository {root}; give files of one repository"
            ) from None
    return root, files


def validate_repo(path: Path, rev: str | None) -> tuple[list[Problem], list[Problem]]:
    """Every problem of the repository at `path` (a revision, or the files on disk), and its warnings."""
    from bot.core.validate import validate_tree

    tree = _validate_tree_source(path, rev)
    try:
        with _fewer_collections():
            config, problems = parse_repo_config(tree.read(CONFIG_PATH))
            warnings = list(config.warnings) if config is not None else []
            if config is not None:
                problems = validate_tree(tree, config)
    finally:
        close = getattr(tree, "close", None)
        if close is not None:
            close()
    return problems, warnings


def _validate_tree_source(path: Path, rev: str | None) -> Tree:
    """A revision of the repo when asked (or when it is bare: no files on disk), else the files on disk."""
    if rev is not None:
        return GitTree(path, rev)
    if is_bare(path):
        return GitTree(path, "HEAD")
    return WorkTree(path)


def _print_problems(
    problems: Sequence[Problem],
    warnings: Sequence[Problem],
    fmt: str,
    *,
    files: Sequence[str] | None = None,
    others: tuple[int, Path] | None = None,
) -> None:
    """`files`: the files asked about (their problems only); `others`: problems elsewhere, and where."""
    elsewhere = others[0] if others is not None else 0
    if fmt == "json":
        out: dict[str, object] = {
            "version": VALIDATE_JSON_VERSION,
            "valid": not problems,
            "errors": [_problem_dict(p) for p in problems],
            "warnings": [_problem_dict(p) for p in warnings],
        }
        if files is not None:
            out["files"] = list(files)
            out["other_problems"] = elsewhere
        print(json.dumps(out, indent=2))
        return
    for warning in warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(problem)
    count = len({p.file for p in problems})
    if problems:
        print(f"{_count(len(problems), 'problem')} in {_count(count, 'file')}")
    elif files is not None:
        print(f"ok: {', '.join(files)} {'is' if len(files) == 1 else 'are'} valid")
    else:
        print("ok: every resource file is valid")
    if others is not None and elsewhere:
        print(
            f"note: {_count(elsewhere, 'problem')} in other files of {others[1]} "
            f"(approvalbot validate {others[1]})"
        )


def _problem_dict(p: Problem) -> dict[str, object]:
    return {"file": p.file, "line": p.line, "column": p.column, "message": p.message}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def demo_commands() -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="print only the verdict of each step")

    def run(args: argparse.Namespace) -> int:
        from bot.demo import run_demo

        return EXIT_OK if run_demo(quiet=args.quiet) else EXIT_REFUSED

    return configure, run


# --- the table and the entry point ----------------------------------------------------------------------

SUBCOMMANDS: list[Subcommand] = [
    Subcommand(
        "check", "plan a change between two revisions of a local git repo", configure_check, run_check
    ),
    Subcommand(
        "validate", "check every resource file of a config repository", configure_validate, run_validate
    ),
    Subcommand("demo", "run the whole lifecycle on embedded defaults, no GitHub needed", *demo_commands()),
    Subcommand("serve", "run the GitHub App webhook server (gunicorn)", svc.configure_serve, svc.run_serve),
    Subcommand(
        "worker",
        "run jobs from the store's queue, woken through Redis (scale-out)",
        svc.configure_worker,
        svc.run_worker,
    ),
    Subcommand("action", "the GitHub Action entry point", svc.configure_action, svc.run_action),
    Subcommand("tick", "start and end scheduled experiments that are due", svc.configure_tick, svc.run_tick),
    Subcommand(
        "reconcile", "apply merges whose webhooks were lost", svc.configure_reconcile, svc.run_reconcile
    ),
    Subcommand("status", "print the live and pending state", svc.configure_status, svc.run_status),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="GitOps approvals for experiments and remote config."
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for sub in SUBCOMMANDS:
        child = commands.add_parser(sub.name, help=sub.help, description=sub.help)
        sub.configure(child)
        child.set_defaults(run=sub.run)
    return parser


def _configuration_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the user's settings are wrong (said plainly), not a bug of ours."""
    from bot.adapters.store import StoreError
    from bot.engine.wiring import ConfigurationError
    from bot.settings import SettingsError
    from bot.startup import StartupError

    return (SettingsError, StoreError, ConfigurationError, StartupError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # argparse already printed the usage message
        return exit.code if isinstance(exit.code, int) else EXIT_ERROR
    expected: tuple[type[Exception], ...] = (UsageError, GitError, *_configuration_errors())
    try:
        result: int = args.run(args)
        return result
    except expected as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
    except OSError as error:
        print(
            f"{PROG}: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr
        )
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
    except Exception as error:  # a bug of ours: say so in one line rather than with a stack trace
        print(f"{PROG}: internal error ({type(error).__name__}: {error}); please report it", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
