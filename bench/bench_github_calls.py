"""GitHub API calls per evaluation, for a PR touching 1, 10, 100 and 1,000 files. Prints a table (not a test).

Each size gets a fresh GitHub emulator holding the sample config repository plus that many draft remote
config variables, and two cases: `variables`, a PR editing the description of each variable, and
`experiments`, as many draft experiments each overriding one of the variables, and a PR editing the
description of each experiment (the planner then also reads the referenced variables on both sides).
`evaluate_pull` runs twice through the real PyGithub adapter (token auth, throttles at 0): the first
evaluation reads and writes (check run, comment, labels), the second, with nothing changed, must write
nothing. Targets: a constant number of reads, at most 5 (issue 4), and at most 2 GraphQL points as
GitHub prices them (issue 12; the emulator computes the cost with the docs' formula), whatever the
size and the case.

    python bench/bench_github_calls.py [--sizes 1,10,100,1000] [--cases variables,experiments] [--routes]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.github.client import ClientSettings, RetryPolicy
from bot.adapters.store import Store
from bot.emulator import GitHubEmulator
from bot.engine.evaluate import evaluate_pull
from bot.engine.services import PullRef, Services, TokenAccess

SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "data" / "experiments.example"
REPO, ORG = "acme/experiments", "acme"
APP_ID, INSTALLATION, BOT = 1, 1, "approvalbot[bot]"
READ_TARGET = 5
POINTS_TARGET = 2


def variable(number: int, description: str) -> str:
    return (
        "kind: remote_config\n"
        f"id: bench_{number:04}\n"
        f"key: bench_{number:04}\n"
        f"name: Bench variable {number}\n"
        f"description: {description}\n"
        "owner: carol-contrib\n"
        "type: number\n"
        f"default: {number}\n"
        "status: draft\n"
    )


def path(number: int) -> str:
    return f"web/remote_config/bench_{number:04}.yaml"


def experiment(number: int, description: str) -> str:
    """A draft experiment whose treatment overrides bench variable `number`."""
    return (
        "kind: experiment\n"
        f"id: bench_exp_{number:04}\n"
        f"name: Bench experiment {number}\n"
        f"description: {description}\n"
        "hypothesis: The treatment helps.\n"
        "owner: carol-contrib\n"
        "status: draft\n"
        "traffic_allocation: 10\n"
        "metrics:\n"
        "  primary: {id: conversion, name: Conversion, goal: increase}\n"
        "variants:\n"
        "  - {id: control, name: Control, weight: 50, control: true}\n"
        "  - id: treatment\n"
        "    name: Treatment\n"
        "    weight: 50\n"
        "    overrides:\n"
        f"      bench_{number:04}: {number + 1}\n"
    )


def experiment_path(number: int) -> str:
    return f"web/experiments/bench_exp_{number:04}.yaml"


CASES = ("variables", "experiments")


@dataclass(frozen=True)
class Evaluation:
    reads: Counter[str]
    writes: Counter[str]
    points: int  # GraphQL points charged
    seconds: float


@dataclass(frozen=True)
class Row:
    case: str
    files: int
    first: Evaluation
    second: Evaluation
    state: str


def measure(case: str, files: int) -> Row:
    sample = {p.relative_to(SAMPLE).as_posix(): p.read_bytes() for p in SAMPLE.rglob("*") if p.is_file()}
    base = {**sample, **{path(n): variable(n, "Before the change.") for n in range(files)}}
    if case == "experiments":
        base |= {experiment_path(n): experiment(n, "Before the change.") for n in range(files)}
        edits = {experiment_path(n): experiment(n, "After the change.") for n in range(files)}
    else:
        edits = {path(n): variable(n, "After the change.") for n in range(files)}
    with GitHubEmulator() as gh, tempfile.TemporaryDirectory() as tmp:
        gh.driver.create_repo(REPO, base)
        gh.driver.install_app(APP_ID, INSTALLATION, ORG)
        gh.register_token("bench-token", BOT, APP_ID, INSTALLATION)
        number = gh.driver.open_pr(REPO, "carol-contrib", "bench", edits)  # no webhook URL: nothing sent
        client = ClientSettings(
            base_url=gh.base_url,
            retry=RetryPolicy(total=0),
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        store = Store.from_url(f"sqlite:///{tmp}/bench.db")
        services = Services(
            github=TokenAccess("bench-token", client), store=store, app_id=APP_ID, bot_login=BOT
        )
        services.requeue = lambda ref: None  # re-evaluations of other PRs are not part of the count
        ref = PullRef(REPO, number, INSTALLATION)
        first, result = evaluate(gh, services, ref)
        second, _ = evaluate(gh, services, ref)
        store.close()
    state = result.decision.state.value if result is not None else "-"
    return Row(case, files, first, second, state)


def evaluate(gh: GitHubEmulator, services: Services, ref: PullRef) -> tuple[Evaluation, object]:
    gh.calls.reset()
    gh.graphql_budget.reset_log()
    started = time.perf_counter()
    result = evaluate_pull(services, ref)
    elapsed = time.perf_counter() - started
    calls = list(gh.calls.calls)
    reads = Counter(c.route for c in calls if not c.write)
    writes = Counter(c.route for c in calls if c.write)
    return Evaluation(reads, writes, gh.graphql_budget.points(), elapsed), result


def table(rows: list[Row], routes: bool) -> str:
    lines = [
        "| case | files | reads (1st) | GraphQL points (1st) | writes (1st) | reads (2nd) | writes (2nd) "
        "| 1st eval s | decision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.case} | {r.files:,} | {r.first.reads.total()} | {r.first.points} "
            f"| {r.first.writes.total()} "
            f"| {r.second.reads.total()} | {r.second.writes.total()} | {r.first.seconds:.2f} | {r.state} |"
        )
    if routes:
        for r in rows:
            lines.append(f"\n{r.case}, {r.files:,} files, first evaluation:")
            for name, count in sorted((r.first.reads + r.first.writes).items()):
                lines.append(f"  {count:5}  {name}")
            if r.second.writes:
                lines.append("  writes of the second evaluation (should be none):")
                lines.extend(f"  {count:5}  {name}" for name, count in sorted(r.second.writes.items()))
    return "\n".join(lines)


def verdict(rows: list[Row]) -> list[str]:
    problems = []
    for r in rows:
        where = f"{r.case}, {r.files} files"
        for n, evaluation in (("1st", r.first), ("2nd", r.second)):
            if evaluation.reads.total() > READ_TARGET:
                total = evaluation.reads.total()
                problems.append(f"{where}: {total} reads ({n}) > {READ_TARGET}: {dict(evaluation.reads)}")
            if evaluation.points > POINTS_TARGET:
                problems.append(f"{where}: {evaluation.points} GraphQL points ({n}) > {POINTS_TARGET}")
        if r.second.writes:
            problems.append(f"{where}: the unchanged re-evaluation wrote {dict(r.second.writes)}")
    for case in sorted({r.case for r in rows}):
        reads = {r.files: r.first.reads.total() for r in rows if r.case == case}
        if len(set(reads.values())) > 1:
            problems.append(f"{case}: reads grow with the number of files: {reads}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,10,100,1000", help="comma-separated numbers of touched files")
    parser.add_argument("--routes", action="store_true", help="also list the calls per route")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    args = parser.parse_args()
    cases = args.cases.split(",")
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}: choose among {', '.join(CASES)}")
    rows = [measure(case, int(size)) for case in cases for size in args.sizes.split(",")]
    print(table(rows, args.routes))
    problems = verdict(rows)
    print(
        "\n"
        + (
            "\n".join("MISSED: " + p for p in problems)
            if problems
            else f"ok: constant reads ≤ {READ_TARGET}, ≤ {POINTS_TARGET} GraphQL points, "
            "no write when nothing changed"
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
