"""Every store test runs twice: on a SQLite file and on the machine's PostgreSQL (own schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_scratch import UNREACHABLE, pg_user, scratch_schema
from store_clock import FakeClock

from bot.adapters.store import Store


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    user = pg_user()
    if user is None:
        pytest.skip(UNREACHABLE)
    with scratch_schema(user, "t_") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'approvalbot.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    opened = Store.from_url(store_url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()
