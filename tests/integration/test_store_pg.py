"""What only PostgreSQL storage does: its migrations, its schema's owner, claims between
sessions, and being chosen by a URL. (What both engines do is in test_store.py.)"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg import sql

from bot.config import config_from_dict
from tests.integration.postgres import schema_url
from watchers.errors import ConfigError, StorageError
from watchers.model import Chat
from watchers.store import open_storage
from watchers.store_pg import _MIGRATIONS, SCHEMA_VERSION, PostgresStorage

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _run(pool: Any, schema: str, *statements: str) -> None:
    with pool.connection() as conn, conn.transaction():
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        for statement in statements:
            conn.execute(statement.encode())


@pytest.mark.parametrize("version", range(SCHEMA_VERSION + 1))
def test_every_earlier_schema_is_migrated_keeping_its_data(
    pg_pool: Any, pg_schema: str, version: int
) -> None:
    if version:
        _run(
            pg_pool,
            pg_schema,
            *_MIGRATIONS[:version],
            "CREATE TABLE schema_version (version INTEGER NOT NULL)",
            f"INSERT INTO schema_version VALUES ({version})",
            "INSERT INTO chats(id, kind, title, created_at) "
            "VALUES (5, 'private', 'Ann', '2026-01-01T00:00:00Z')",
        )
    s = PostgresStorage(pg_pool, schema=pg_schema)
    assert s.schema_version() == SCHEMA_VERSION
    if version:
        chat = s.get_chat(5)
        assert chat is not None and chat.title == "Ann" and chat.schedule == "instant"
    s.upsert_chat(Chat(6, "group"), NOW)  # and the current schema takes writes
    assert s.get_chat(6) is not None
    s.close()


def test_a_schema_from_a_newer_version_is_refused(pg_pool: Any, pg_schema: str) -> None:
    PostgresStorage(pg_pool, schema=pg_schema).close()
    _run(pg_pool, pg_schema, f"UPDATE schema_version SET version={SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer newswatch"):
        PostgresStorage(pg_pool, schema=pg_schema)


def test_another_programs_schema_is_refused_and_left_untouched(
    pg_pool: Any, pg_schema: str
) -> None:
    _run(pg_pool, pg_schema, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
    _run(pg_pool, pg_schema, "INSERT INTO notes VALUES (1, 'buy milk')")
    with pytest.raises(StorageError, match="not newswatch's") as e:
        PostgresStorage(pg_pool, schema=pg_schema)
    assert "notes" in str(e.value)
    with pg_pool.connection() as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema=%s",
            (pg_schema,),
        ).fetchall()
    assert tables == [("notes",)]


def test_processes_starting_together_migrate_once(pg_schema: str) -> None:
    url = schema_url(pg_schema)
    opened: list[PostgresStorage] = []
    failed: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PostgresStorage.connect(url, pool_size=1))
        except BaseException as e:
            failed.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == []
    assert [s.schema_version() for s in opened] == [SCHEMA_VERSION] * 4
    for s in opened:
        s.close()


def _queued_row(store: PostgresStorage) -> int:
    store.upsert_chat(Chat(1, "private"), NOW)
    [row] = store.queue_messages(1, None, ["hello"], [], NOW)
    return row


def test_a_row_is_claimed_by_one_sender_only(pg_pool: Any, pg_schema: str) -> None:
    first = PostgresStorage(pg_pool, schema=pg_schema)
    second = PostgresStorage(pg_pool, schema=pg_schema)
    row = _queued_row(first)
    assert first.mark_sending(row)
    assert not second.mark_sending(row)
    [(state, attempts)] = _states(pg_pool, pg_schema)
    assert (state, attempts) == ("sending", 1)


def test_a_claim_skips_a_row_another_session_holds_instead_of_waiting(
    pg_pool: Any, pg_schema: str
) -> None:
    store = PostgresStorage(pg_pool, schema=pg_schema)
    row = _queued_row(store)
    with pg_pool.connection() as other, other.transaction():
        other.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(pg_schema)))
        other.execute("SET LOCAL lock_timeout = '5s'")
        other.execute("SELECT id FROM outbox WHERE id=%s FOR UPDATE", (row,))
        assert not store.mark_sending(row)  # returns at once: the lock is not waited for
    assert store.mark_sending(row)  # free again: claimed
    assert not store.mark_sending(row)


def _states(pool: Any, schema: str) -> list[tuple[str, int]]:
    with pool.connection() as conn:
        return conn.execute(
            sql.SQL("SELECT state, attempts FROM {}.outbox").format(sql.Identifier(schema))
        ).fetchall()


def test_a_storage_url_opens_postgresql(pg_schema: str) -> None:
    store = open_storage(schema_url(pg_schema))
    assert isinstance(store, PostgresStorage)
    store.upsert_chat(Chat(1, "private", "Ann"), NOW)
    store.close()
    again = open_storage(schema_url(pg_schema))
    chat = again.get_chat(1)
    assert chat is not None and chat.title == "Ann"
    again.close()


def test_an_unreachable_server_says_where_and_why() -> None:
    with pytest.raises(StorageError, match=r"cannot reach postgresql 127\.0\.0\.1:1/test"):
        PostgresStorage.connect("postgresql://postgres@127.0.0.1:1/test", timeout=1)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://nw:secret@db.example/nw", "must not hold a password"),
        ("postgresql://db.example/nw?password=secret", "must not hold a password"),
        ("mysql://db.example/nw", "must start with postgresql://"),
    ],
)
def test_config_refuses_a_url_it_cannot_use(tmp_path: Any, url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as e:
        config_from_dict({"storage": {"url": url}}, tmp_path)
    assert "secret" not in str(e.value)


def test_config_takes_a_postgresql_url(tmp_path: Any) -> None:
    config = config_from_dict({"storage": {"url": "postgresql://nw@db.example/nw"}}, tmp_path)
    assert config.storage.url == "postgresql://nw@db.example/nw"
    assert config_from_dict({}, tmp_path).storage.url is None  # SQLite stays the default
