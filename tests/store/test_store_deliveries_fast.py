"""`record_delivery`'s driver-level insert: it must write exactly the row the Core insert wrote, commit
it at once, count correctly on both drivers, and leave no transaction or lock behind."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any  # the conftest `FakeClock`: not importable once tests/web is collected too

import pytest
from sqlalchemy import select

from bot.adapters.store import Store
from bot.adapters.store import sql as store_sql
from bot.adapters.store import tables as t
from bot.adapters.store.database import StoreError


def test_the_row_reads_back_as_the_core_layer_wrote_it(store: Store, clock: Any) -> None:
    clock.now = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert store.record_delivery("d-1", "pull_request")
    with store.engine.connect() as conn:
        row = conn.execute(select(t.deliveries)).one()
    assert (row.delivery_id, row.event, row.received_at) == ("d-1", "pull_request", clock.now)
    assert store.delivery_received_at("d-1") == clock.now


def test_a_non_utc_clock_is_stored_as_the_same_instant(store: Store, clock: Any) -> None:
    clock.now = datetime(2030, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert store.record_delivery("d-1", "push")
    received = store.delivery_received_at("d-1")
    assert received == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert received is not None and received.tzinfo == UTC


def test_a_replay_keeps_the_first_arrival(store: Store, clock: Any) -> None:
    first = clock.now
    assert store.record_delivery("d-1", "pull_request")
    clock.advance(minutes=5)
    assert not store.record_delivery("d-1", "issue_comment")
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.deliveries.c.event, t.deliveries.c.received_at)).all()
    assert [tuple(r) for r in rows] == [("pull_request", first)]


def test_the_delivery_is_committed_and_no_lock_is_held(store_url: str, store: Store) -> None:
    assert store.record_delivery("d-1", "push")
    assert not store.record_delivery("d-1", "push")
    other = Store.from_url(store_url)
    try:
        # Another engine sees the row and can write at once: a transaction left open by the replay
        # (SQLite's write lock, PostgreSQL's row lock) would make this wait or fail.
        assert not other.record_delivery("d-1", "push")
        assert other.forget_delivery("d-1")
        assert store.record_delivery("d-1", "push")
    finally:
        other.close()


def test_a_delivery_recorded_by_the_core_insert_is_a_replay(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            t.deliveries.insert().values(delivery_id="old", event="push", received_at=datetime.now(UTC))
        )
    assert not store.record_delivery("old", "push")
    assert store.record_delivery("new", "push")


def _record_in_a_process(url: str, delivery_id: str) -> bool:
    store = Store.from_url(url, upgrade=False)
    try:
        return store.record_delivery(delivery_id, "push")
    finally:
        store.close()


def test_processes_racing_on_one_delivery_record_it_once(store_url: str, store: Store) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(_record_in_a_process, [(store_url, f"d-{n % 3}") for n in range(12)])
    assert sorted(results).count(True) == 3
    assert not store.record_delivery("d-0", "push")


class _Cursor:
    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount

    def execute(self, statement: str, row: tuple[Any, ...]) -> None:
        pass

    def close(self) -> None:
        pass


class _Connection:
    def __init__(self, rowcount: int) -> None:
        self._rowcount = rowcount
        self.committed = self.closed = False

    def cursor(self) -> _Cursor:
        return _Cursor(self._rowcount)

    def commit(self) -> None:
        self.committed = True

    def close(self) -> None:
        self.closed = True


class _Engine:
    def __init__(self, rowcount: int) -> None:
        self.connection = _Connection(rowcount)

    def raw_connection(self) -> _Connection:
        return self.connection


@pytest.mark.parametrize(("rowcount", "expected"), [(1, True), (0, False)])
def test_the_driver_rowcount_decides(rowcount: int, expected: bool) -> None:
    engine = _Engine(rowcount)
    assert store_sql._insert_delivery(engine, "INSERT", ("d", "push", None)) is expected  # type: ignore[arg-type]
    assert engine.connection.committed and engine.connection.closed


def test_a_driver_that_does_not_count_is_refused_not_taken_for_a_replay() -> None:
    engine = _Engine(-1)
    with pytest.raises(StoreError, match="rowcount -1; expected 0 or 1"):
        store_sql._insert_delivery(engine, "INSERT", ("d", "push", None))  # type: ignore[arg-type]
    assert engine.connection.closed


@pytest.mark.parametrize(("paramstyle", "marker"), [("qmark", "?"), ("format", "%s"), ("pyformat", "%s")])
def test_the_statement_uses_the_driver_paramstyle(paramstyle: str, marker: str) -> None:
    statement = store_sql._delivery_insert(paramstyle)
    assert statement.count(marker) == 3
    assert statement.endswith("ON CONFLICT (delivery_id) DO NOTHING")
