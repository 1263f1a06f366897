"""Benchmark: merges applied per second by the live store, for merges of 1 and of 100 resources.

Runs on a SQLite file in a temp dir and on the machine's PostgreSQL (a throw-away schema in database
`test` at 127.0.0.1:5432; skipped with a note if unreachable). Each merge is one `Store.apply_merge`
transaction: the applied-commit row, one upsert per resource, one audit entry per resource.

    python bench/bench_apply.py [--merges-1 N] [--merges-100 N] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.store import AuditEntry, AuditKind, LiveChange, Store
from bot.core.model import Action, Kind, ResourceKey, Status

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def merge(n: int, size: int) -> tuple[list[LiveChange], list[AuditEntry]]:
    changes = []
    for i in range(size):
        key = ResourceKey("web", Kind.EXPERIMENT, f"exp-{i:04}")
        document = {
            "kind": "experiment",
            "id": key.id,
            "status": "running",
            "name": f"Experiment {i} revision {n}",
            "variants": [
                {"id": "control", "weight": 50, "control": True},
                {"id": "b", "weight": 50, "overrides": {"button_color": f"c{n}"}},
            ],
        }
        changes.append(LiveChange(key, Action.PUBLISH_EDITS, Status.RUNNING, document))
    audit = [AuditEntry(AuditKind.APPLY, resource=c.key, actor="bench", action=c.action) for c in changes]
    return changes, audit


def run(store: Store, size: int, merges: int) -> tuple[float, list[float]]:
    prepared = [merge(n, size) for n in range(merges)]
    latencies = []
    started = time.perf_counter()
    for n, (changes, audit) in enumerate(prepared):
        t0 = time.perf_counter()
        assert store.apply_merge(f"{uuid.uuid4().hex}{n}", n, changes, audit)
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - started, latencies


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def pg_url(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    conninfo = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--merges-1", type=int, default=500, help="merges of 1 resource (default 500)")
    parser.add_argument("--merges-100", type=int, default=50, help="merges of 100 resources (default 50)")
    parser.add_argument("--pg-url", default=PG_DEFAULT)
    args = parser.parse_args(argv)

    backends: list[tuple[str, object]] = [("sqlite (file, WAL)", sqlite_url())]
    try:
        psycopg.connect(args.pg_url, connect_timeout=3).close()
        backends.append(("postgresql", pg_url(args.pg_url)))
    except psycopg.OperationalError as exc:
        print(f"note: PostgreSQL skipped ({args.pg_url} unreachable: {exc})", file=sys.stderr)

    header = f"{'backend':<20} {'resources/merge':>15} {'merges':>7} {'merges/s':>9} {'resources/s':>11} "
    header += f"{'p50 ms':>8} {'p95 ms':>8}"
    print(header)
    print("-" * len(header))
    for name, context in backends:
        with context as url:  # type: ignore[attr-defined]
            store = Store.from_url(url)
            try:
                for size, merges in ((1, args.merges_1), (100, args.merges_100)):
                    run(store, size, min(merges, 10))  # warm-up: pool, prepared plans, table pages
                    elapsed, latencies = run(store, size, merges)
                    cuts = statistics.quantiles(latencies, n=20)
                    print(
                        f"{name:<20} {size:>15} {merges:>7} {merges / elapsed:>9.1f} "
                        f"{merges * size / elapsed:>11.0f} {statistics.median(latencies) * 1000:>8.2f} "
                        f"{cuts[18] * 1000:>8.2f}"
                    )
            finally:
                store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
