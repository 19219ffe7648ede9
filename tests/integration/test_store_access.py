"""Storage for issue 8's access features: writes that wait out a lock, channel links, stats."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchers import store as store_module
from watchers.errors import StorageError
from watchers.model import Article, Chat
from watchers.store import SqliteStorage, Storage

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStorage]:
    s = SqliteStorage(tmp_path / "nw.db", busy_timeout=0.2)
    s.upsert_chat(Chat(1, "private", "Ann"), NOW)
    yield s
    s.close()


@pytest.fixture
def any_store(open_store: Callable[[], Storage]) -> Iterator[Storage]:
    """The same start on either engine (SQLite, PostgreSQL), for what the Protocol promises."""
    s = open_store()
    s.upsert_chat(Chat(1, "private", "Ann"), NOW)
    yield s
    s.close()


def _hold_lock(path: Path, seconds: float) -> threading.Thread:
    """Another process's writer: holds the write lock for ``seconds`` from now."""
    locked = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        locked.set()
        threading.Event().wait(seconds)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    locked.wait(5)
    return thread


def test_a_write_waits_out_a_lock_longer_than_the_busy_timeout(
    store: SqliteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "BUSY_RETRY_WAITS", (0.2, 0.4))
    _hold_lock(store.path, 0.5)  # longer than the busy timeout, within the retries
    store.add_watchlist(1, "Gas", "gas", NOW)
    assert [w.name for w in store.watchlists(1)] == ["Gas"]


def test_a_write_that_cannot_start_says_so_and_leaves_nothing(
    store: SqliteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "BUSY_RETRY_WAITS", (0.1, 0.1))
    holder = _hold_lock(store.path, 1.0)
    with pytest.raises(StorageError, match="busy; nothing was changed"):
        store.add_watchlist(1, "Gas", "gas", NOW)
    assert store.watchlists(1) == []
    holder.join()
    store.add_watchlist(1, "Gas", "gas", NOW)  # the connection is usable again
    assert [w.name for w in store.watchlists(1)] == ["Gas"]


def test_channel_link_is_kept_moved_and_cleared(any_store: Storage) -> None:
    store = any_store
    store.upsert_chat(Chat(-1001, "channel", "Desk"), NOW)
    assert store.channel_link(1) is None
    store.set_channel_link(1, -1001, NOW)
    assert store.channel_link(1) == -1001
    store.set_channel_link(1, None, NOW)
    assert store.channel_link(1) is None


def test_instance_stats_count_what_an_admin_asks_about(any_store: Storage) -> None:
    store = any_store
    feed = store.add_feed("https://n.example/rss", NOW)
    store.follow(1, feed.id, NOW)
    store.insert_articles(feed.id, [Article(key="a", title="A")], NOW - timedelta(hours=2))
    store.insert_articles(feed.id, [Article(key="b", title="B")], NOW - timedelta(days=2))
    store.queue_messages(1, None, ["hello"], [], NOW)
    stats = store.instance_stats(NOW)
    assert stats["feeds"] == 1 and stats["chats"] == 1 and stats["outbox"] == 1
    assert stats["stories_24h"] == 1
