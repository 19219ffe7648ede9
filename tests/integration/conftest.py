"""Storage on both engines: the contract tests take ``open_store`` (or ``store``) and run once
on SQLite and once on PostgreSQL, each test in a fresh database or schema."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.postgres import open_test_pool, schema_url
from watchers.store import SqliteStorage, Storage

ENGINES = ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def pg_pool() -> Iterator[Any]:
    """One pool on the test server for the whole test module."""
    pool = open_test_pool()
    yield pool
    pool.close()


@pytest.fixture
def pg_schema(pg_pool: Any) -> Iterator[str]:
    """A fresh empty schema for one test, dropped with all it holds afterwards."""
    from psycopg import sql

    name = f"nwtest_{uuid.uuid4().hex[:12]}"
    with pg_pool.connection() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with pg_pool.connection() as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(params=ENGINES)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Storage]:
    """Opens the test's database (a new SQLite file or PostgreSQL schema); each call opens it
    again, as a restarted process would."""
    if request.param == "sqlite":
        return lambda: SqliteStorage(tmp_path / "nw.db")
    from watchers.store_pg import PostgresStorage

    pool = request.getfixturevalue("pg_pool")
    schema = request.getfixturevalue("pg_schema")
    return lambda: PostgresStorage(pool, schema=schema)


@pytest.fixture(params=ENGINES)
def storage_section(request: pytest.FixtureRequest) -> dict[str, str]:
    """A bot config's ``[storage]`` values: SQLite's file (the default), or a URL whose
    connections work in a PostgreSQL schema of the test's own."""
    if request.param == "sqlite":
        return {}
    return {"url": schema_url(request.getfixturevalue("pg_schema"))}
