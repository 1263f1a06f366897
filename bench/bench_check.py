"""How fast is `approvalbot check` on a big config repo? A script that prints figures (not a test).

Builds a git repository of 10,000 resources in a temporary directory (with `git fast-import`, so the
setup takes seconds), then times `check` in-process (git adapter + plan + JSON rendering) on a change
touching 1,000 files and on one touching a single file. The floor it is compared with is what any
tool must at least do: parse the same touched files with libyaml (`yaml.CSafeLoader`).

    python bench/bench_check.py [--resources 10000] [--touched 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import yaml

# Run from a checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.git import GitTree, changed_files
from bot.cli import plan_change, validate_repo
from bot.core.render import plan_to_json
from bot.core.repo_config import CONFIG_PATH

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ACCOUNTS = ("web", "mobile")
VARIABLES_PER_ACCOUNT = 250
CONFIG = """\
accounts:
  web: {paths: ["web/**"], roles: {admin: [alice]}}
  mobile: {paths: ["mobile/**"], roles: {admin: [bob]}}
"""


def experiment(account: str, number: int, status: str) -> str:
    variable = f"var{number % VARIABLES_PER_ACCOUNT}"
    return f"""\
kind: experiment
id: exp{number}
name: Experiment {number} of {account}
description: Does a change of the checkout flow number {number} raise conversion?
owner: "@{account}/growth"
status: {status}
traffic_allocation: 50
targeting:
  segments: [returning_buyers, mobile_users]
metrics:
  primary: {{id: conversion, goal: increase}}
  secondary: [{{id: revenue}}, {{id: latency, goal: decrease}}]
variants:
  - {{id: control, name: Control, weight: 50, control: true}}
  - id: treatment
    name: Treatment
    weight: 50
    overrides: {{{variable}: "green"}}
"""


def variable(number: int) -> str:
    return f"""\
kind: remote_config
id: var{number}
key: var{number}
type: string
default: red
description: Colour number {number}
status: live
"""


def layout(resources: int) -> Iterator[tuple[str, str]]:
    """(path, content) of every file of the base revision."""
    yield CONFIG_PATH, CONFIG
    per_account = resources // len(ACCOUNTS)
    for account in ACCOUNTS:
        for number in range(VARIABLES_PER_ACCOUNT):
            yield f"{account}/remote_config/var{number}.yaml", variable(number)
        for number in range(per_account - VARIABLES_PER_ACCOUNT):
            yield f"{account}/experiments/exp{number}.yaml", experiment(account, number, "draft")


def fast_import_stream(resources: int, touched: int) -> bytes:
    chunks: list[bytes] = []

    def commit(ref: str, parent: str | None, files: list[tuple[str, str]]) -> None:
        chunks.append(f"commit {ref}\ncommitter Bench <bench@example.com> 0 +0000\ndata 5\nbench\n".encode())
        if parent:
            chunks.append(f"from {parent}\n".encode())
        for path, content in files:
            data = content.encode()
            chunks.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")

    commit("refs/heads/main", None, list(layout(resources)))
    starts = [
        (f"{account}/experiments/exp{n}.yaml", experiment(account, n, "running"))
        for n in range(touched // len(ACCOUNTS))
        for account in ACCOUNTS
    ]
    commit("refs/heads/many", "refs/heads/main", starts)
    commit("refs/heads/one", "refs/heads/main", starts[:1])
    return b"".join(chunks)


def build_repo(root: Path, resources: int, touched: int) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "--bare", str(root)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"],
        input=fast_import_stream(resources, touched),
        check=True,
        env=env,
    )


def _counting_reads() -> list[int]:
    """Files read by every GitTree closed from now on (the CLI opens its own, one per side)."""
    counts: list[int] = []
    close = GitTree.close

    def counting_close(self: GitTree) -> None:
        counts.append(self.reads)
        close(self)

    GitTree.close = counting_close  # type: ignore[method-assign]
    return counts


READS = _counting_reads()


def check(repo: Path, head: str) -> tuple[int, int, int]:
    """`approvalbot check --format json` in-process; returns (actions, files read, output bytes)."""
    READS.clear()
    plan, config, problems = plan_change(repo, "main", head, NOW)
    assert config is not None, problems
    out = json.dumps(plan_to_json(plan, config))
    assert plan.valid, plan.all_problems[:3]
    return len(plan.actions), sum(READS), len(out)


def floor(texts: list[str]) -> None:
    for text in texts:
        yaml.load(text, Loader=yaml.CSafeLoader)


def interleaved(repeat: int, *works: Callable[[], object]) -> list[list[float]]:
    """The times of each work, measured in turns (a, b, c, a, b, c, ...): one list per work.

    On a shared machine the speed of the CPU drifts by up to 2x within a minute; timing each work in
    a block of its own would compare a fast minute with a slow one. Within one turn the works run
    back to back, so the ratio of their times in that turn is the honest one (see `turn_ratio`).
    """
    times: list[list[float]] = [[] for _ in works]
    for _ in range(repeat):
        for index, work in enumerate(works):
            start = time.perf_counter()
            work()
            times[index].append(time.perf_counter() - start)
    return times


def turn_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median over turns of numerator / denominator, each pair timed in the same turn."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True) if d)


# touched, actions, files read, best check s, best floor s, best both-sides floor s, the two median
# per-turn ratios (check / floor, check / both-sides floor), JSON bytes
Row = tuple[int, int, int, float, float, float, float, float, int]
COLUMNS = (
    "touched",
    "actions",
    "files read",
    "check s",
    "yaml floor s",
    "ratio (median of turns)",
    "both-sides floor s",
    "ratio (median of turns)",
    "json KB",
)


def measure(repo: Path, head: str, repeat: int) -> Row:
    changes = changed_files(repo, "main", head)
    with GitTree(repo, head) as tree:
        texts = [(tree.read(c.path) or b"").decode() for c in changes]
    # A change can only be judged by reading each touched file on both sides: this second floor parses
    # the base version too (the target is stated against the head-only floor; both are printed).
    with GitTree(repo, "main") as tree:
        before = [(tree.read(c.old_path or c.path) or b"").decode() for c in changes]
    results: list[tuple[int, int, int]] = []
    floor_t, both_t, check_t = interleaved(
        repeat,
        lambda: floor(texts),
        lambda: floor(texts + before),
        lambda: results.append(check(repo, head)),
    )
    actions, reads, size = results[-1]
    ratios = (turn_ratio(check_t, floor_t), turn_ratio(check_t, both_t))
    return len(changes), actions, reads, min(check_t), min(floor_t), min(both_t), *ratios, size


def measure_validate(repo: Path) -> tuple[float, int]:
    """`approvalbot validate --rev many` in-process: every file of the revision, read and checked."""
    READS.clear()
    start = time.perf_counter()
    problems, _ = validate_repo(repo, "many")
    elapsed = time.perf_counter() - start
    assert problems == [], problems[:3]
    return elapsed, sum(READS)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--touched", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="approvalbot-bench-") as tmp:
        repo = Path(tmp) / "config.git"
        start = time.perf_counter()
        build_repo(repo, args.resources, args.touched)
        print(f"built a repo of {args.resources:,} resources in {time.perf_counter() - start:.1f} s\n")
        rows = [measure(repo, head, args.repeat) for head in ("many", "one")]
        validate_s, files = measure_validate(repo)
    print(" | ".join(COLUMNS))
    for touched, actions, reads, check_s, floor_s, both_s, ratio, both_ratio, size in rows:
        cells = (
            f"{touched:,}",
            f"{actions:,}",
            f"{reads:,}",
            f"{check_s:.3f}",
            f"{floor_s:.4f}",
            f"{ratio:.1f}x",
            f"{both_s:.4f}",
            f"{both_ratio:.1f}x",
        )
        print(" | ".join((*cells, f"{size / 1024:.0f}")))
    print(f"\nvalidate of the whole revision ({files:,} files): {validate_s:.2f} s")


if __name__ == "__main__":
    main()
