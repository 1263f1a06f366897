"""Apply latency from the merge webhook to the live state, and applies per second (SPEC §6).

Runs through the real webhook server, engine and GitHub emulator, in one process (bot/sandbox.py),
on SQLite and on the machine's PostgreSQL (a schema of its own, dropped afterwards):

- latency: one PR at a time is opened, approved and evaluated (not timed); then the clock starts just
  before the merge (the emulator sends `pull_request.closed` and `push` over HTTP) and stops when the
  store says the merge commit is applied. Median and p95 over the merges.
- throughput: a batch of approved PRs is merged back to back; applies per second = merges (and
  resources) applied divided by the time from the first merge until the last is applied. Open PRs are
  re-evaluated after each push to the default branch, as in production, so this includes that work.

Merges of 1 resource and of 100 resources (each resource: one running experiment paused).

    python bench/bench_apply_latency.py [--merges 20] [--big-merges 3] [--no-postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox import Sandbox, sample_files

TEMPLATE = "web/experiments/checkout_button_color_test.yaml"
CREATOR, APPROVER, MERGER = "carol-contrib", "bob-approver", "alice-admin"
POLL_SECONDS = 0.002
PG = "postgresql://{user}@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Figures:
    backend: str
    size: int
    latencies: list[float]
    burst_merges: int
    burst_seconds: float

    def line(self) -> str:
        lat = sorted(self.latencies)
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        rate = self.burst_merges / self.burst_seconds if self.burst_seconds else float("nan")
        return (
            f"{self.backend:<10} {self.size:>4} res/merge  "
            f"latency median {statistics.median(lat) * 1000:7.1f} ms"
            f"  p95 {p95 * 1000:7.1f} ms  (n={len(lat)})   burst: {rate:6.2f} merges/s"
            f" = {rate * self.size:7.1f} resources/s (n={self.burst_merges})"
        )


def resource_files(prefix: str, count: int) -> dict[str, bytes]:
    template = sample_files()[TEMPLATE].decode()
    files = {}
    for index in range(count):
        rid = f"{prefix}_{index:04d}"
        text = template.replace("id: checkout_button_color_test", f"id: {rid}", 1)
        files[f"web/experiments/{rid}.yaml"] = text.encode()
    return files


def groups(prefix: str, size: int, count: int) -> list[list[str]]:
    """`count` merges' worth of paths, `size` resources each."""
    paths = [f"web/experiments/{prefix}_{i:04d}.yaml" for i in range(size * count)]
    return [paths[g * size : (g + 1) * size] for g in range(count)]


class Bench:
    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.branch = 0

    def approved_pr(self, paths: list[str]) -> int:
        edits = {p: self.box.file(p).replace("status: running", "status: paused", 1) for p in paths}
        self.branch += 1
        number = self.box.driver.open_pr(self.box.repo, CREATOR, f"bench-{self.branch}", edits)
        self.box.driver.review(self.box.repo, number, APPROVER, "APPROVE", "ok")
        self.box.drain(300)
        return number

    def wait_applied(self, shas: list[str], timeout: float = 300) -> float:
        deadline = time.perf_counter() + timeout
        while not all(self.box.store.is_applied(s) for s in shas):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"merges not applied within {timeout} s: {shas}")
            time.sleep(POLL_SECONDS)
        return time.perf_counter()

    def latency(self, groups: list[list[str]]) -> list[float]:
        results = []
        for paths in groups:
            number = self.approved_pr(paths)
            start = time.perf_counter()
            sha = self.box.driver.merge(self.box.repo, number, MERGER)
            results.append(self.wait_applied([sha]) - start)
            self.box.drain(300)
        return results

    def burst(self, groups: list[list[str]]) -> float:
        numbers = [self.approved_pr(paths) for paths in groups]
        start = time.perf_counter()
        shas = [self.box.driver.merge(self.box.repo, n, MERGER) for n in numbers]
        seconds = self.wait_applied(shas) - start
        self.box.drain(600)
        return seconds


def run(backend: str, database_url: str | None, merges: int, big_merges: int) -> list[Figures]:
    figures = []
    for size, count in ((1, merges), (100, big_merges)):
        files = dict(sample_files())
        files.update(resource_files("lat", size * count))
        files.update(resource_files("burst", size * count))
        with Sandbox(files, database_url=database_url, workers=4) as box:
            bench = Bench(box)
            latencies = bench.latency(groups("lat", size, count))
            seconds = bench.burst(groups("burst", size, count))
            figures.append(Figures(backend, size, latencies, count, seconds))
            print(figures[-1].line(), flush=True)
    return figures


@contextmanager
def pg_schema() -> Iterator[str | None]:
    import psycopg
    from psycopg import sql

    for user in ("postgres", "root"):
        try:
            admin = psycopg.connect(host="127.0.0.1", port=5432, user=user, dbname="test", autocommit=True)
            break
        except psycopg.OperationalError:
            continue
    else:
        print("PostgreSQL unreachable at 127.0.0.1:5432/test: skipping it", file=sys.stderr)
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield PG.format(user=user) + f"?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merges", type=int, default=20, help="merges of 1 resource (default 20)")
    parser.add_argument("--big-merges", type=int, default=3, help="merges of 100 resources (default 3)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"approvalbot apply latency (python {sys.version.split()[0]})")
    run("sqlite", None, args.merges, args.big_merges)
    if not args.no_postgres:
        with pg_schema() as url:
            if url is not None:
                run("postgresql", url, args.merges, args.big_merges)
    return 0


if __name__ == "__main__":
    sys.exit(main())
