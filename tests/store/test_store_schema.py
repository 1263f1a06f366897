"""Schema migrations and database URLs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bot.adapters.store import Lock, Store, StoreError, normalise_url
from bot.adapters.store import tables as t
from bot.adapters.store.database import make_engine
from bot.adapters.store.migrations import LATEST, MIGRATIONS, current_version, migrate
from bot.core.model import Kind, PendingState, ResourceKey


def version_of(url: str) -> int:
    engine = make_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return current_version(conn)
    finally:
        engine.dispose()


def test_a_fresh_database_gets_every_table(store_url: str) -> None:
    store = Store.from_url(store_url)
    try:
        with store.engine.connect() as conn:
            assert current_version(conn) == LATEST == len(MIGRATIONS)
            names = set(inspect(conn).get_table_names())
        assert names == {table.name for table in t.metadata.sorted_tables}
    finally:
        store.close()


def test_migrating_twice_is_a_no_op(store_url: str) -> None:
    Store.from_url(store_url).close()
    engine = make_engine(normalise_url(store_url))
    try:
        assert migrate(engine) == []
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version FROM schema_version ORDER BY version")).scalars().all()
        assert rows == list(range(1, LATEST + 1))
    finally:
        engine.dispose()


def test_a_version_1_database_is_upgraded_and_keeps_its_data(store_url: str) -> None:
    engine = make_engine(normalise_url(store_url))
    try:
        assert migrate(engine, MIGRATIONS[:1]) == [1]
        with engine.begin() as conn:
            conn.execute(
                t.deliveries.insert().values(delivery_id="old", event="push", received_at=datetime.now(UTC))
            )
            assert not inspect(conn).has_table("locks")
    finally:
        engine.dispose()
    assert version_of(store_url) == 1
    store = Store.from_url(store_url)
    try:
        assert version_of(store_url) == LATEST
        assert not store.record_delivery("old", "push")
        key = ResourceKey("web", Kind.EXPERIMENT, "a")
        assert store.set_locks("acme/x", 1, {key: PendingState.PAUSE_PENDING}) == []
    finally:
        store.close()


def test_a_version_2_database_gains_the_pull_heads_table_and_keeps_its_data(store_url: str) -> None:
    engine = make_engine(normalise_url(store_url))
    key = ResourceKey("web", Kind.EXPERIMENT, "a")
    try:
        assert migrate(engine, MIGRATIONS[:2]) == [1, 2]
        with engine.begin() as conn:
            assert not inspect(conn).has_table("pull_heads")
            conn.execute(
                text("INSERT INTO locks (account, kind, id, pr_number, since) VALUES (:a, :k, :i, :n, :s)"),
                {"a": "web", "k": "experiment", "i": "a", "n": 3, "s": datetime.now(UTC)},
            )
    finally:
        engine.dispose()
    assert version_of(store_url) == 2
    store = Store.from_url(store_url)
    try:
        assert version_of(store_url) == LATEST
        assert store.lock_holder("acme/x", key) is not None  # the old rows are still there
        seen = datetime(2030, 1, 1, tzinfo=UTC)
        head = store.record_head("acme/x", 3, "a" * 40, pusher="bob", seen_at=seen)
        assert (head.pusher, head.seen_at) == ("bob", seen)
    finally:
        store.close()
    engine = make_engine(normalise_url(store_url))
    try:
        assert migrate(engine) == []  # idempotent once at the latest version
    finally:
        engine.dispose()


def _v4_locks(url: str, rows: list[tuple[str, str, int, str | None]]) -> None:
    """A database at v4, its locks table holding `rows` (account, id, pr_number, pending_state)."""
    engine = make_engine(normalise_url(url))
    try:
        assert migrate(engine, MIGRATIONS[:4]) == [1, 2, 3, 4]
        with engine.begin() as conn:
            assert "repository" not in {c["name"] for c in inspect(conn).get_columns("locks")}
            for account, resource_id, number, pending in rows:
                conn.execute(
                    text(
                        "INSERT INTO locks (account, kind, id, pr_number, pending_state, since) "
                        "VALUES (:a, 'experiment', :i, :n, :p, :s)"
                    ),
                    {
                        "a": account,
                        "i": resource_id,
                        "n": number,
                        "p": pending,
                        "s": datetime(2029, 5, 1, tzinfo=UTC),
                    },
                )
    finally:
        engine.dispose()


def test_a_fresh_database_keys_locks_by_repository(store_url: str) -> None:
    store = Store.from_url(store_url)
    try:
        with store.engine.connect() as conn:
            assert inspect(conn).get_pk_constraint("locks")["constrained_columns"] == [
                "repository",
                "account",
                "kind",
                "id",
            ]
    finally:
        store.close()


def test_a_version_4_database_keeps_its_locks_with_no_repository(store_url: str) -> None:
    _v4_locks(store_url, [("web", "a", 3, "PAUSE PENDING"), ("web", "b", 4, None)])
    a, b = ResourceKey("web", Kind.EXPERIMENT, "a"), ResourceKey("web", Kind.EXPERIMENT, "b")
    store = Store.from_url(store_url)
    try:
        assert version_of(store_url) == LATEST
        since = datetime(2029, 5, 1, tzinfo=UTC)
        assert store.locks() == [
            Lock(a, 3, PendingState.PAUSE_PENDING, since, ""),
            Lock(b, 4, None, since, ""),
        ]
        # A lock of unknown repository counts as every repository's: it blocks its resource in each...
        legacy = store.lock_holder("acme/one", a)
        assert legacy is not None and legacy.repository == "" and store.lock_holder("acme/two", a) == legacy
        assert store.set_locks("acme/two", 9, {a: None}) == [
            Lock(a, 3, PendingState.PAUSE_PENDING, since, "")
        ]
        assert [lock.repository for lock in store.locks("acme/one")] == ["", ""]
        # ...until its PR number, evaluated in some repository, claims it (keeping its place in the queue)...
        assert store.set_locks("acme/one", 3, {a: PendingState.FINISH_PENDING}) == []
        assert store.lock_holder("acme/two", a) is None
        assert store.locks("acme/one")[0] == Lock(a, 3, PendingState.FINISH_PENDING, since, "acme/one")
        # ...or releases it.
        assert store.release_locks("acme/two", 4) == 1
        assert store.locks() == [Lock(a, 3, PendingState.FINISH_PENDING, since, "acme/one")]
    finally:
        store.close()
    engine = make_engine(normalise_url(store_url))
    try:
        assert migrate(engine) == []  # idempotent once at the latest version
    finally:
        engine.dispose()


def test_an_empty_version_4_database_upgrades(store_url: str) -> None:
    _v4_locks(store_url, [])
    store = Store.from_url(store_url)
    try:
        assert version_of(store_url) == LATEST
        key = ResourceKey("web", Kind.EXPERIMENT, "a")
        assert store.set_locks("acme/x", 1, {key: None}) == []
        assert store.set_locks("acme/y", 1, {key: None}) == []
        assert len(store.locks()) == 2
    finally:
        store.close()


def test_a_database_newer_than_the_code_is_refused(store_url: str) -> None:
    Store.from_url(store_url).close()
    engine = make_engine(normalise_url(store_url))
    try:
        with pytest.raises(StoreError, match=f"schema version {LATEST}, newer than this approvalbot"):
            migrate(engine, MIGRATIONS[:-1])
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("postgres://u:p@db:5432/bot", "postgresql+psycopg", "bot"),
        ("postgresql://u@db/bot", "postgresql+psycopg", "bot"),
        ("postgresql+psycopg://u@db/bot", "postgresql+psycopg", "bot"),
        ("sqlite:///approvalbot.db", "sqlite", "approvalbot.db"),
        ("sqlite://", "sqlite", None),
    ],
)
def test_urls_are_normalised(given: str, driver: str, database: str | None) -> None:
    url = normalise_url(given)
    assert (url.drivername, url.database) == (driver, database)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://u@db/bot", "supports sqlite:///FILE and postgresql://"),
        ("postgresql+psycopg2://u@db/bot", "use postgresql:// \\(psycopg 3\\)"),
        ("not a url", "is not a database URL"),
    ],
)
def test_unsupported_urls_are_refused_clearly(given: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        normalise_url(given)


def test_a_sqlite_file_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist; create it"):
        Store.from_url(f"sqlite:///{tmp_path / 'nope' / 'bot.db'}")


def test_an_unreachable_postgres_is_reported_without_the_password() -> None:
    with pytest.raises(
        StoreError, match=re.escape("cannot open the store at postgresql+psycopg://u:***@127.0.0.1:1/x")
    ):
        Store.from_url("postgres://u:secret@127.0.0.1:1/x?connect_timeout=2")


def test_an_in_memory_sqlite_store_works_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = Store.from_url("sqlite://")
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda n: store.record_delivery(f"d{n % 5}", "push"), range(20)))
        assert results.count(True) == 5
    finally:
        store.close()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_a_version_6_database_keeps_its_drift_open(store_url: str) -> None:
    engine = make_engine(normalise_url(store_url))
    try:
        migrate(engine, MIGRATIONS[:6])
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO drift (commit_sha, at, detail) VALUES ('c0ffee', :at, :detail)"),
                {"at": datetime(2029, 5, 1), "detail": '{"resources": ["web/experiment/a"]}'},
            )
    finally:
        engine.dispose()
    store = Store.from_url(store_url)
    try:
        assert version_of(store_url) == LATEST
        [record] = store.drift(open_only=True)
        assert record.commit_sha == "c0ffee" and record.resources == ("web/experiment/a",)
        assert store.resolve_drift("c0ffee", "f00d") and store.drift(open_only=True) == []
    finally:
        store.close()


@pytest.mark.parametrize("url", ["postgresql://bob:s3cret@db:port/x", "bob:s3cret@db/x"])
def test_a_url_that_does_not_parse_is_explained_without_its_password(url: str) -> None:
    with pytest.raises(StoreError) as refused:
        normalise_url(url)
    message = str(refused.value)
    assert "is not a database URL" in message and "bob:***@" in message
    assert "s3cret" not in message
