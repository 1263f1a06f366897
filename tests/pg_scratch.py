"""Scratch schemas on the machine's PostgreSQL, for the store tests and the scale-out cluster alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
from psycopg import sql

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"
PG_USERS = ("postgres", "root")
UNREACHABLE = f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT}/{PG_DB} as any of {PG_USERS}"


@cache
def pg_user() -> str | None:
    """The first role the local server lets in, or None when PostgreSQL is unreachable."""
    for user in PG_USERS:
        try:
            with psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=PG_DB, connect_timeout=3):
                return user
        except psycopg.OperationalError:
            continue
    return None


@contextmanager
def scratch_schema(user: str, prefix: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema (`prefix` + random hex), dropped afterwards."""
    schema = f"{prefix}{uuid.uuid4().hex[:16]}"
    _execute(user, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}?options=-csearch_path%3D{schema}"
    finally:
        _execute(user, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _execute(user: str, statement: sql.Composed) -> None:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=PG_DB, autocommit=True) as admin:
        admin.execute(statement)
