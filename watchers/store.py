"""Storage: a Protocol, and its SQLite implementation (WAL, versioned schema, short transactions).

Delivery follows "record intent, send, then mark sent": hits become outbox rows in one
transaction; the sender claims a row (``pending`` -> ``sending``, checked) before it calls the
channel and marks it ``sent`` after. A row still ``sending`` at start-up may or may not have
reached the chat: it goes back to ``pending`` once more, flagged ``unsure`` (at most one
duplicate per crash, never a loss).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from watchers.errors import StorageError
from watchers.model import (
    Article,
    Chat,
    Feed,
    HitDetail,
    OutboxMessage,
    OutboxState,
    PendingHit,
    Quote,
    Watchlist,
)
from watchers.preview import AllOf, Contains, Gate, is_plain

logger = logging.getLogger(__name__)

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        created_at TEXT NOT NULL
    );
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL UNIQUE,
        name TEXT,
        full_text TEXT NOT NULL DEFAULT 'matched',
        etag TEXT,
        last_modified TEXT,
        last_polled_at TEXT,
        last_success_at TEXT,
        last_error TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE follows (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        since TEXT NOT NULL,
        PRIMARY KEY (chat_id, feed_id)
    );
    CREATE TABLE watchlists (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX watchlists_chat_name ON watchlists(chat_id, name COLLATE NOCASE);
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        guid TEXT,
        title TEXT NOT NULL,
        link TEXT,
        summary TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL DEFAULT '',
        published TEXT,
        source TEXT NOT NULL DEFAULT '',
        source_host TEXT NOT NULL DEFAULT '',
        first_seen_at TEXT NOT NULL,
        UNIQUE (feed_id, key)
    );
    CREATE TABLE hits (
        watchlist_id INTEGER NOT NULL REFERENCES watchlists(id) ON DELETE CASCADE,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        detail TEXT NOT NULL,
        created_at TEXT NOT NULL,
        outbox_id INTEGER REFERENCES outbox(id) ON DELETE SET NULL,
        PRIMARY KEY (watchlist_id, article_id)
    );
    CREATE INDEX hits_pending ON hits(watchlist_id) WHERE outbox_id IS NULL;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        watchlist_id INTEGER,
        text TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before TEXT,
        silent INTEGER NOT NULL DEFAULT 0,
        preview INTEGER NOT NULL DEFAULT 0,
        buttons TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        sent_at TEXT,
        message_id INTEGER,
        error TEXT
    );
    CREATE INDEX outbox_pending ON outbox(state, id);
    """,
    # 2: digest schedules, quiet hours, mutes; full text; stories across feeds
    """
    ALTER TABLE chats ADD COLUMN schedule TEXT NOT NULL DEFAULT 'instant';
    ALTER TABLE chats ADD COLUMN quiet TEXT NOT NULL DEFAULT '';
    ALTER TABLE watchlists ADD COLUMN schedule TEXT;
    ALTER TABLE watchlists ADD COLUMN muted_until TEXT;
    ALTER TABLE watchlists ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE watchlists ADD COLUMN last_digest_at TEXT;
    ALTER TABLE articles ADD COLUMN full_text TEXT;
    ALTER TABLE articles ADD COLUMN full_text_state TEXT;
    ALTER TABLE hits ADD COLUMN chat_id INTEGER;
    ALTER TABLE hits ADD COLUMN story TEXT;
    UPDATE hits SET chat_id = (SELECT chat_id FROM watchlists w WHERE w.id = hits.watchlist_id);
    CREATE INDEX hits_chat_time ON hits(chat_id, created_at);
    """,
    # 3: forum topics: digests go to the topic where /start was sent
    """
    ALTER TABLE chats ADD COLUMN thread_id INTEGER;
    """,
    # 4: stories past a digest's first ten wait for /digest more instead of going out at once
    """
    ALTER TABLE hits ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: a private chat can manage a channel (its commands act on the channel until unlinked)
    """
    CREATE TABLE channel_links (
        chat_id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        since TEXT NOT NULL
    );
    """,
    # 6: a send whose fate is unknown is retried, and the row remembers it (never merged again)
    """
    ALTER TABLE outbox ADD COLUMN unsure INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_chat_state ON outbox(chat_id, state, id);
    """,
    # 7: a feed's last body, hashed: the same bytes again are not parsed again
    """
    ALTER TABLE feeds ADD COLUMN body_hash TEXT;
    """,
    # 8: the stories already sent to a chat, found without reading every hit of a burst
    """
    CREATE INDEX hits_chat_queued ON hits(chat_id, created_at) WHERE outbox_id IS NOT NULL;
    """,
    # 9: a story with no letter outside ASCII: /test's prefilter runs on it in SQL alone
    """
    ALTER TABLE articles ADD COLUMN plain INTEGER;
    """,
    # 10: worker processes: a feed is leased to one worker at a time; a feed's stories up to
    # matched_through have been matched (those after it, by a worker that died, are matched
    # again); every watchlist change moves a counter that tells engines to reload
    """
    ALTER TABLE feeds ADD COLUMN lease_until TEXT;
    ALTER TABLE feeds ADD COLUMN leased_by TEXT;
    ALTER TABLE feeds ADD COLUMN matched_through INTEGER;
    UPDATE feeds SET matched_through=(SELECT max(id) FROM articles WHERE feed_id=feeds.id);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters(name, value) VALUES ('watchlists', 0);
    """,
    # 11: polite polling: a feed is not polled before not_before (Retry-After, max-age, <ttl>,
    # kept across restarts); a feed whose server said 410 Gone is not polled again; update_period
    # is the feed's own word on how often it changes, in seconds (0: it says nothing), kept for
    # the polls that get a 304
    """
    ALTER TABLE feeds ADD COLUMN not_before TEXT;
    ALTER TABLE feeds ADD COLUMN update_period INTEGER;
    ALTER TABLE feeds ADD COLUMN gone_at TEXT;
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)
BUSY_TIMEOUT = 5.0  # seconds a write waits for another writer's lock ...
BUSY_RETRY_WAITS = (0.5, 1.0, 2.0)  # ... then it tries again this long, before giving up
APPLICATION_ID = 0x6E777463  # "nwtc": marks a SQLite file as newswatch's (PRAGMA application_id)
_OWN_TABLES = frozenset({"chats", "feeds", "follows", "watchlists", "outbox"})


_LIKE_ESCAPE = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def gate_sql(
    gate: Gate, params: list[object], *, like: str = "LIKE ?", true: str = "1", false: str = "0"
) -> str:
    """``gate`` as an SQL condition on the articles row ``a``; its values go to ``params``.
    ``like`` is the engine's case-insensitive match with its placeholder (SQLite's LIKE ignores
    ASCII case; PostgreSQL passes ``ILIKE %s``), ``true``/``false`` its constants."""
    if isinstance(gate, Contains):
        columns = ("a.title", "a.summary", "a.content")
        pattern = f"%{gate.needle.translate(_LIKE_ESCAPE)}%"
        tests = [f"{c} {like} ESCAPE '\\'" for c in columns]
        if len(gate.needle) > 1:  # a full stop inside a needle of two letters or more
            tests += [f"replace({c}, '.', '') {like} ESCAPE '\\'" for c in columns]
        params.extend([pattern] * len(tests))
        return "(" + " OR ".join(tests) + ")"
    if not gate.parts:
        return true if isinstance(gate, AllOf) else false
    joiner = " AND " if isinstance(gate, AllOf) else " OR "
    parts = (gate_sql(part, params, like=like, true=true, false=false) for part in gate.parts)
    return "(" + joiner.join(parts) + ")"


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _bump_watchlists(db: sqlite3.Connection) -> None:
    """Tell every engine on this database that the watchlists changed (in the same
    transaction as the change)."""
    db.execute("UPDATE counters SET value=value+1 WHERE name='watchlists'")


def _quote_to_json(q: Quote) -> dict[str, Any]:
    return {"text": q.text, "speaker": q.speaker, "start": q.start, "end": q.end, "full": q.full}


def detail_to_json(detail: HitDetail) -> str:
    return json.dumps(
        {
            "terms": list(detail.terms),
            "quotes": [_quote_to_json(q) for q in detail.quotes],
            "snippet": detail.snippet,
            "snippet_spans": [list(s) for s in detail.snippet_spans],
        },
        ensure_ascii=False,
    )


def detail_from_json(text: str) -> HitDetail:
    data = json.loads(text)
    return HitDetail(
        terms=tuple(data.get("terms", ())),
        quotes=tuple(
            Quote(
                q["text"], q.get("speaker"), q.get("start", 0), q.get("end", 0), q.get("full", True)
            )
            for q in data.get("quotes", ())
        ),
        snippet=data.get("snippet", ""),
        snippet_spans=tuple((int(a), int(b)) for a, b in data.get("snippet_spans", ())),
    )


class Storage(Protocol):
    """What the engine and the bot need from storage. SQLite is the first implementation."""

    def close(self) -> None: ...

    # chats
    def upsert_chat(self, chat: Chat, now: datetime) -> bool: ...
    def get_chat(self, chat_id: int) -> Chat | None: ...
    def set_chat_active(self, chat_id: int, active: bool) -> None: ...
    def set_chat_thread(self, chat_id: int, thread_id: int | None) -> None: ...
    def migrate_chat(self, old_id: int, new_id: int) -> None: ...

    # feeds
    def add_feed(
        self, url: str, now: datetime, name: str | None = None, full_text: str = "matched"
    ) -> Feed: ...
    def get_feed(self, feed_id: int) -> Feed | None: ...
    def feed_by_url(self, url: str) -> Feed | None: ...
    def follow(self, chat_id: int, feed_id: int, now: datetime) -> bool: ...
    def unfollow(self, chat_id: int, feed_id: int) -> bool: ...
    def followed_feeds(self, chat_id: int) -> list[Feed]: ...
    def followers(self, feed_id: int) -> list[int]: ...
    def feeds_to_poll(self) -> list[Feed]: ...
    def record_poll(
        self,
        feed_id: int,
        now: datetime,
        *,
        error: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        name: str | None = None,
        body_hash: str | None = None,
        not_before: datetime | None = None,
        update_period: timedelta | None = None,
    ) -> None: ...
    def move_feed(self, feed_id: int, url: str) -> bool: ...
    def mark_feed_gone(self, feed_id: int, now: datetime) -> bool: ...
    def needs_baseline(self, feed_id: int) -> bool: ...
    def mark_needs_baseline(self, feed_id: int) -> None: ...

    # workers
    def claim_feeds(
        self, feed_ids: Sequence[int], worker: str, now: datetime, until: datetime
    ) -> list[Feed]: ...
    def release_feeds(self, feed_ids: Sequence[int], worker: str) -> None: ...
    def unmatched_article_ids(self, feed_id: int) -> list[int]: ...
    def mark_matched(self, feed_id: int, through: int | None = None) -> None: ...
    def watchlists_version(self) -> int: ...

    # articles and hits
    def insert_articles(
        self, feed_id: int, articles: Sequence[Article], now: datetime
    ) -> list[tuple[int, Article]]: ...
    def get_article(self, article_id: int) -> Article | None: ...
    def recent_articles(self, chat_id: int, limit: int) -> list[Article]: ...
    def article_ids_since(
        self, chat_id: int, since: datetime, gate: Gate | None = None
    ) -> list[int]: ...
    def get_articles(self, article_ids: Sequence[int]) -> list[Article]: ...
    def add_hits(self, hits: Iterable[tuple[int, int, HitDetail, str]], now: datetime) -> int: ...
    def recent_stories(self, chat_id: int, since: datetime) -> list[tuple[int, str, bool]]: ...
    def queued_stories(self, chat_id: int, since: datetime) -> list[tuple[int, str]]: ...
    def set_full_text(self, article_id: int, text: str | None, state: str) -> None: ...
    def full_text(self, article_id: int) -> tuple[str | None, str | None]: ...
    def pending_hits(self, chat_id: int, *, include_held: bool = False) -> list[PendingHit]: ...
    def chats_with_pending_hits(self) -> list[int]: ...
    def hold_hits(self, hits: Sequence[tuple[int, int]]) -> None: ...

    # watchlists
    def add_watchlist(self, chat_id: int, name: str, query: str, now: datetime) -> Watchlist: ...
    def watchlists(self, chat_id: int) -> list[Watchlist]: ...
    def all_watchlists(self) -> list[Watchlist]: ...
    def remove_watchlist(self, chat_id: int, watchlist_id: int) -> bool: ...
    def get_watchlist(self, watchlist_id: int) -> Watchlist | None: ...
    def scheduled_watchlists(self) -> list[tuple[Chat, Watchlist]]: ...
    def set_watchlist_schedule(self, watchlist_id: int, schedule: str | None) -> None: ...
    def set_watchlist_mute(self, watchlist_id: int, until: datetime | None) -> None: ...
    def set_watchlist_paused(self, watchlist_id: int, paused: bool) -> None: ...
    def mark_digest_queued(self, watchlist_id: int, now: datetime) -> None: ...
    def set_chat_settings(
        self,
        chat_id: int,
        *,
        timezone: str | None = None,
        schedule: str | None = None,
        quiet: str | None = None,
    ) -> None: ...

    # outbox
    def queue_messages(
        self,
        chat_id: int,
        watchlist_id: int | None,
        texts: Sequence[str],
        hits: Sequence[tuple[int, int]],
        now: datetime,
        *,
        preview: bool = False,
        silent: bool = False,
        buttons: str = "",
    ) -> list[int]: ...
    def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxMessage]: ...
    def due_heads(self, now: datetime, limit: int = 200) -> list[tuple[OutboxMessage, int]]: ...
    def mark_sending(self, outbox_id: int) -> bool: ...
    def mark_sent(self, outbox_id: int, now: datetime, message_id: int | None) -> None: ...
    def mark_failed(self, outbox_id: int, error: str, state: OutboxState) -> None: ...
    def retry_later(
        self, outbox_id: int, not_before: datetime, error: str, *, unsure: bool = False
    ) -> int: ...
    def fail_pending_for_chat(self, chat_id: int, error: str) -> int: ...
    def park_chat(self, chat_id: int, error: str) -> int: ...
    def unpark_active_chats(self) -> int: ...
    def mergeable_outbox(self, chat_id: int) -> list[OutboxMessage]: ...
    def merge_outbox(
        self, keep_id: int, text: str, merged: Sequence[int], buttons: str
    ) -> None: ...
    def recover_outbox(self) -> int: ...
    def outbox_counts(self) -> dict[str, int]: ...
    def compact(self, older_than: datetime) -> int: ...

    # channels managed from a private chat; the instance as a whole
    def set_channel_link(self, chat_id: int, channel_id: int | None, now: datetime) -> None: ...
    def channel_link(self, chat_id: int) -> int | None: ...
    def instance_stats(self, now: datetime) -> dict[str, int]: ...


class SqliteStorage:
    """SQLite in WAL mode. One connection, used from one thread at a time."""

    def __init__(self, path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self._busy_ms = int(busy_timeout * 1000)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            try:
                self._check_owner()  # before anything writes to the file
            except BaseException:
                self._db.close()
                raise
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            self._migrate()
        except sqlite3.Error as e:
            raise StorageError(f"cannot open the database {self.path}: {e}") from e

    def _check_owner(self) -> None:
        """Refuse a file that another program wrote, before anything is written to it."""
        owner = self._db.execute("PRAGMA application_id").fetchone()[0]
        if owner == APPLICATION_ID:
            return
        if owner != 0:
            raise StorageError(
                f"{self.path} belongs to another program (SQLite application_id {owner}); "
                "newswatch leaves it untouched. Set [storage] path to a file of its own."
            )
        tables = sorted(
            r[0]
            for r in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        )
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        ours = version > 0 and _OWN_TABLES.issubset(tables)  # written before the mark existed
        if tables and not ours:
            shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
            raise StorageError(
                f"{self.path} is not a newswatch database (it holds the tables {shown}); "
                "newswatch leaves it untouched. Set [storage] path to a file of its own."
            )
        self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._begin()
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StorageError(f"database error: {e}") from e

    def _begin(self) -> None:
        """Start a write transaction. When another writer holds the lock past the busy timeout,
        try again a few times for a short while: nothing is written before BEGIN succeeds, so a
        retry never doubles a write, and a write that still cannot start raises (the caller
        never hears it succeeded)."""
        waits = iter(BUSY_RETRY_WAITS)
        try:
            while True:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) and "busy" not in str(e):
                        raise
                    wait = next(waits, None)
                    if wait is None:
                        raise StorageError("the database is busy; nothing was changed") from e
                    logger.warning("database busy path=%s retry_within=%.1fs", self.path, wait)
                    self._db.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        finally:
            self._db.execute(f"PRAGMA busy_timeout={self._busy_ms}")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StorageError(f"database error: {e}") from e

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"the database {self.path} was written by a newer newswatch "
                f"(schema {version}, this one knows {SCHEMA_VERSION})"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            logger.info("migrating database path=%s to_version=%d", self.path, number)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- chats --------------------------------------------------------------------------------

    def upsert_chat(self, chat: Chat, now: datetime) -> bool:
        """Insert or refresh a chat and make it active; True when it was not known before."""
        with self._tx() as db:
            existed = db.execute("SELECT 1 FROM chats WHERE id=?", (chat.id,)).fetchone()
            db.execute(
                "INSERT INTO chats(id, kind, title, active, thread_id, created_at) "
                "VALUES (?,?,?,1,?,?) ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, "
                "title=excluded.title, active=1, thread_id=excluded.thread_id",
                (chat.id, chat.kind, chat.title, chat.thread_id, _ts(now)),
            )
        return existed is None

    def get_chat(self, chat_id: int) -> Chat | None:
        rows = self._query("SELECT * FROM chats WHERE id=?", (chat_id,))
        if not rows:
            return None
        return self._chat(rows[0])

    @staticmethod
    def _chat(r: sqlite3.Row, prefix: str = "") -> Chat:
        return Chat(
            id=r[prefix + "id"],
            kind=r[prefix + "kind"],
            title=r[prefix + "title"],
            active=bool(r[prefix + "active"]),
            timezone=r[prefix + "timezone"],
            schedule=r[prefix + "schedule"],
            quiet=r[prefix + "quiet"],
            thread_id=r[prefix + "thread_id"],
        )

    def set_chat_active(self, chat_id: int, active: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE chats SET active=? WHERE id=?", (int(active), chat_id))

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: everything of the old id moves to the new one."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM chats WHERE id=?", (new_id,)).fetchone():
                db.execute("DELETE FROM chats WHERE id=?", (new_id,))
            # follows, watchlists and outbox follow through ON UPDATE CASCADE; hits.chat_id
            # (added later, no foreign key) is moved by hand.
            db.execute("UPDATE chats SET id=? WHERE id=?", (new_id, old_id))
            db.execute("UPDATE hits SET chat_id=? WHERE chat_id=?", (new_id, old_id))
            _bump_watchlists(db)

    # -- feeds --------------------------------------------------------------------------------

    @staticmethod
    def _feed(r: sqlite3.Row) -> Feed:
        return Feed(
            id=r["id"],
            url=r["url"],
            name=r["name"],
            etag=r["etag"],
            last_modified=r["last_modified"],
            last_polled_at=_dt(r["last_polled_at"]),
            last_error=r["last_error"],
            error_count=r["error_count"],
            full_text=r["full_text"],
            body_hash=r["body_hash"],
            last_success_at=_dt(r["last_success_at"]),
            not_before=_dt(r["not_before"]),
            gone_at=_dt(r["gone_at"]),
            update_period=timedelta(seconds=r["update_period"]) if r["update_period"] else None,
        )

    def add_feed(
        self, url: str, now: datetime, name: str | None = None, full_text: str = "matched"
    ) -> Feed:
        """Get or create the feed at ``url``; a given name or full-text setting is updated."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO feeds(url, name, full_text, created_at) VALUES (?,?,?,?) "
                "ON CONFLICT(url) DO UPDATE SET name=COALESCE(excluded.name, feeds.name), "
                "full_text=excluded.full_text",
                (url, name, full_text, _ts(now)),
            )
        feed = self.feed_by_url(url)
        assert feed is not None
        return feed

    def get_feed(self, feed_id: int) -> Feed | None:
        rows = self._query("SELECT * FROM feeds WHERE id=?", (feed_id,))
        return self._feed(rows[0]) if rows else None

    def feed_by_url(self, url: str) -> Feed | None:
        rows = self._query("SELECT * FROM feeds WHERE url=?", (url,))
        return self._feed(rows[0]) if rows else None

    def follow(self, chat_id: int, feed_id: int, now: datetime) -> bool:
        """Follow a feed; True when newly followed. A feed nobody polled lately is re-baselined,
        so what it already holds counts as history."""
        with self._tx() as db:
            polled = db.execute(
                "SELECT 1 FROM follows f JOIN chats c ON c.id=f.chat_id "
                "WHERE f.feed_id=? AND c.active=1",
                (feed_id,),
            ).fetchone()
            cur = db.execute(
                "INSERT OR IGNORE INTO follows(chat_id, feed_id, since) VALUES (?,?,?)",
                (chat_id, feed_id, _ts(now)),
            )
            if polled is None and cur.rowcount:
                db.execute("UPDATE feeds SET last_success_at=NULL WHERE id=?", (feed_id,))
        return cur.rowcount > 0

    def unfollow(self, chat_id: int, feed_id: int) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM follows WHERE chat_id=? AND feed_id=?", (chat_id, feed_id)
            )
        return cur.rowcount > 0

    def followed_feeds(self, chat_id: int) -> list[Feed]:
        rows = self._query(
            "SELECT feeds.* FROM feeds JOIN follows ON follows.feed_id=feeds.id "
            "WHERE follows.chat_id=? ORDER BY follows.since, feeds.id",
            (chat_id,),
        )
        return [self._feed(r) for r in rows]

    def followers(self, feed_id: int) -> list[int]:
        rows = self._query(
            "SELECT f.chat_id FROM follows f JOIN chats c ON c.id=f.chat_id "
            "WHERE f.feed_id=? AND c.active=1 ORDER BY f.chat_id",
            (feed_id,),
        )
        return [r[0] for r in rows]

    def feeds_to_poll(self) -> list[Feed]:
        rows = self._query(
            "SELECT DISTINCT feeds.* FROM feeds JOIN follows ON follows.feed_id=feeds.id "
            "JOIN chats ON chats.id=follows.chat_id WHERE chats.active=1 AND feeds.gone_at IS NULL "
            "ORDER BY feeds.id"
        )
        return [self._feed(r) for r in rows]

    def record_poll(
        self,
        feed_id: int,
        now: datetime,
        *,
        error: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        name: str | None = None,
        body_hash: str | None = None,
        not_before: datetime | None = None,
        update_period: timedelta | None = None,
    ) -> None:
        """A poll's outcome; ``body_hash`` (of the body just parsed) is kept until the next, and
        ``not_before`` (when the server or the feed asked for a pause; None: no pause) replaces
        the last one. ``update_period`` (what a parsed feed says of how often it changes;
        ``timedelta(0)``: nothing) is kept until a poll that parses the feed again. A feed read
        again is no longer gone."""
        with self._tx() as db:
            if error is None:
                db.execute(
                    "UPDATE feeds SET last_polled_at=?, last_success_at=?, last_error=NULL, "
                    "error_count=0, etag=COALESCE(?, etag), "
                    "last_modified=COALESCE(?, last_modified), name=COALESCE(name, ?), "
                    "body_hash=COALESCE(?, body_hash), not_before=?, gone_at=NULL, "
                    "update_period=COALESCE(?, update_period) WHERE id=?",
                    (
                        _ts(now),
                        _ts(now),
                        etag,
                        last_modified,
                        name,
                        body_hash,
                        _ts(not_before) if not_before is not None else None,
                        None if update_period is None else round(update_period.total_seconds()),
                        feed_id,
                    ),
                )
            else:
                db.execute(
                    "UPDATE feeds SET last_polled_at=?, last_error=?, "
                    "error_count=error_count+1, not_before=? WHERE id=?",
                    (_ts(now), error, _ts(not_before) if not_before is not None else None, feed_id),
                )

    def move_feed(self, feed_id: int, url: str) -> bool:
        """The feed moved for good (301/308) to ``url``: store its new address. When another
        feed already has that address, both are kept as they are (False): merging two feeds'
        followers, stories and hits is a bigger change than a redirect should make unasked."""
        with self._tx() as db:
            taken = db.execute("SELECT 1 FROM feeds WHERE url=?", (url,)).fetchone()
            if taken is not None:
                return False
            db.execute("UPDATE feeds SET url=? WHERE id=?", (url, feed_id))
        return True

    def mark_feed_gone(self, feed_id: int, now: datetime) -> bool:
        """The server said 410 Gone: the feed is not polled again. True only the first time."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE feeds SET gone_at=? WHERE id=? AND gone_at IS NULL", (_ts(now), feed_id)
            )
        return cur.rowcount > 0

    def needs_baseline(self, feed_id: int) -> bool:
        rows = self._query("SELECT last_success_at FROM feeds WHERE id=?", (feed_id,))
        return bool(rows) and rows[0][0] is None

    def mark_needs_baseline(self, feed_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE feeds SET last_success_at=NULL WHERE id=?", (feed_id,))

    # -- workers ------------------------------------------------------------------------------

    def claim_feeds(
        self, feed_ids: Sequence[int], worker: str, now: datetime, until: datetime
    ) -> list[Feed]:
        """Lease to ``worker`` until ``until`` those of ``feed_ids`` whose lease (if any) has
        run out by ``now``; return them as stored, leased. One UPDATE: two workers never both
        get a feed."""
        if not feed_ids:
            return []
        marks = ",".join("?" * len(feed_ids))
        with self._tx() as db:
            rows = db.execute(
                f"UPDATE feeds SET lease_until=?, leased_by=? WHERE id IN ({marks}) "
                "AND (lease_until IS NULL OR lease_until<?) RETURNING *",
                (_ts(until), worker, *feed_ids, _ts(now)),
            ).fetchall()
        return sorted((self._feed(r) for r in rows), key=lambda f: f.id)

    def release_feeds(self, feed_ids: Sequence[int], worker: str) -> None:
        """End ``worker``'s leases on ``feed_ids`` (a lease another worker took since stays)."""
        if not feed_ids:
            return
        marks = ",".join("?" * len(feed_ids))
        with self._tx() as db:
            db.execute(
                f"UPDATE feeds SET lease_until=NULL, leased_by=NULL WHERE id IN ({marks}) "
                "AND leased_by=?",
                (*feed_ids, worker),
            )

    def unmatched_article_ids(self, feed_id: int) -> list[int]:
        """The feed's stored stories that were never matched (a poll stopped half-way)."""
        rows = self._query(
            "SELECT a.id FROM articles a JOIN feeds f ON f.id=a.feed_id "
            "WHERE a.feed_id=? AND a.id>COALESCE(f.matched_through, 0) ORDER BY a.id",
            (feed_id,),
        )
        return [int(r[0]) for r in rows]

    def mark_matched(self, feed_id: int, through: int | None = None) -> None:
        """The feed's stories up to article ``through`` (default: all stored) are matched."""
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET matched_through=max(COALESCE(matched_through, 0), "
                "COALESCE(?, (SELECT max(id) FROM articles WHERE feed_id=?), 0)) WHERE id=?",
                (through, feed_id, feed_id),
            )

    def watchlists_version(self) -> int:
        """A number that changes whenever a watchlist is added, removed, paused or moved."""
        rows = self._query("SELECT value FROM counters WHERE name='watchlists'")
        return int(rows[0][0]) if rows else 0

    # -- articles and hits --------------------------------------------------------------------

    def insert_articles(
        self, feed_id: int, articles: Sequence[Article], now: datetime
    ) -> list[tuple[int, Article]]:
        """Store the articles not seen before in this feed; return those, with their ids."""
        new: list[tuple[int, Article]] = []
        with self._tx() as db:
            for a in articles:
                cur = db.execute(
                    "INSERT OR IGNORE INTO articles(feed_id, key, guid, title, link, summary, "
                    "content, published, source, source_host, first_seen_at, plain) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        feed_id,
                        a.key,
                        a.guid,
                        a.title,
                        a.link,
                        a.summary,
                        a.content,
                        _ts(a.published),
                        a.source,
                        a.source_host,
                        _ts(now),
                        is_plain(a),
                    ),
                )
                if cur.rowcount and cur.lastrowid is not None:
                    new.append((cur.lastrowid, a))
        return new

    @staticmethod
    def _article(r: sqlite3.Row) -> Article:
        return Article(
            key=r["key"],
            title=r["title"],
            link=r["link"],
            guid=r["guid"],
            summary=r["summary"],
            published=_dt(r["published"]),
            source=r["source"],
            source_host=r["source_host"],
            content=r["content"],
        )

    def get_article(self, article_id: int) -> Article | None:
        rows = self._query("SELECT * FROM articles WHERE id=?", (article_id,))
        return self._article(rows[0]) if rows else None

    def recent_articles(self, chat_id: int, limit: int) -> list[Article]:
        """The latest stories of the feeds a chat follows, newest first."""
        rows = self._query(
            "SELECT a.* FROM articles a JOIN follows f ON f.feed_id=a.feed_id "
            "WHERE f.chat_id=? ORDER BY a.id DESC LIMIT ?",
            (chat_id, limit),
        )
        return [self._article(r) for r in rows]

    def article_ids_since(
        self, chat_id: int, since: datetime, gate: Gate | None = None
    ) -> list[int]:
        """The ids of the stories of the feeds a chat follows first seen since ``since``, newest
        first; with ``gate``, only those that may pass it: the stories ``is_plain`` marked
        whose text passes it, and all the others."""
        sql = (
            "SELECT a.id FROM articles a JOIN follows f ON f.feed_id=a.feed_id "
            "WHERE f.chat_id=? AND a.first_seen_at>=?"
        )
        params: list[object] = [chat_id, _ts(since)]
        if gate is not None:
            sql += f" AND (a.plain IS NOT 1 OR {gate_sql(gate, params)})"
        return [r[0] for r in self._query(sql + " ORDER BY a.id DESC", params)]

    def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        """The stories with these ids that still exist, in the order given."""
        found: dict[int, Article] = {}
        for start in range(0, len(article_ids), 500):
            chunk = article_ids[start : start + 500]
            rows = self._query(
                f"SELECT * FROM articles WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update((r["id"], self._article(r)) for r in rows)
        return [found[i] for i in article_ids if i in found]

    def add_hits(self, hits: Iterable[tuple[int, int, HitDetail, str]], now: datetime) -> int:
        """Store hits (watchlist, article, detail, story fingerprint); each pair once."""
        count = 0
        with self._tx() as db:
            for watchlist_id, article_id, detail, story in hits:
                cur = db.execute(
                    "INSERT OR IGNORE INTO hits(watchlist_id, article_id, detail, created_at, "
                    "chat_id, story) "
                    "VALUES (?,?,?,?,(SELECT chat_id FROM watchlists WHERE id=?),?)",
                    (
                        watchlist_id,
                        article_id,
                        detail_to_json(detail),
                        _ts(now),
                        watchlist_id,
                        story,
                    ),
                )
                count += cur.rowcount
        return count

    def recent_stories(self, chat_id: int, since: datetime) -> list[tuple[int, str, bool]]:
        """The chat's hits since ``since``: (article id, story fingerprint, already queued)."""
        rows = self._query(
            "SELECT article_id, story, outbox_id IS NOT NULL FROM hits "
            "WHERE chat_id=? AND created_at>=? AND story IS NOT NULL AND story<>'' "
            "ORDER BY created_at",
            (chat_id, _ts(since)),
        )
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def queued_stories(self, chat_id: int, since: datetime) -> list[tuple[int, str]]:
        """The chat's hits since ``since`` already queued for it: (article id, story)."""
        rows = self._query(
            "SELECT article_id, story FROM hits WHERE chat_id=? AND created_at>=? "
            "AND outbox_id IS NOT NULL AND story IS NOT NULL AND story<>'' ORDER BY created_at",
            (chat_id, _ts(since)),
        )
        return [(r[0], r[1]) for r in rows]

    def set_full_text(self, article_id: int, text: str | None, state: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE articles SET full_text=?, full_text_state=? WHERE id=?",
                (text, state, article_id),
            )

    def full_text(self, article_id: int) -> tuple[str | None, str | None]:
        rows = self._query(
            "SELECT full_text, full_text_state FROM articles WHERE id=?", (article_id,)
        )
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def pending_hits(self, chat_id: int, *, include_held: bool = False) -> list[PendingHit]:
        """Hits not yet in a digest; held ones (past a digest's first items) only if asked."""
        rows = self._query(
            "SELECT hits.watchlist_id, hits.article_id, hits.detail, hits.created_at, hits.story, "
            "hits.held, articles.* "
            "FROM hits JOIN watchlists w ON w.id=hits.watchlist_id "
            "JOIN articles ON articles.id=hits.article_id "
            "WHERE w.chat_id=? AND hits.outbox_id IS NULL AND (hits.held=0 OR ?) "
            "ORDER BY hits.watchlist_id, hits.created_at, hits.article_id",
            (chat_id, int(include_held)),
        )
        return [
            PendingHit(
                watchlist_id=r["watchlist_id"],
                article_id=r["article_id"],
                article=self._article(r),
                detail=detail_from_json(r["detail"]),
                created_at=datetime.fromisoformat(r["created_at"]),
                story=r["story"] or "",
                held=bool(r["held"]),
            )
            for r in rows
        ]

    def chats_with_pending_hits(self) -> list[int]:
        rows = self._query(
            "SELECT DISTINCT w.chat_id FROM hits JOIN watchlists w ON w.id=hits.watchlist_id "
            "JOIN chats c ON c.id=w.chat_id WHERE hits.outbox_id IS NULL AND hits.held=0 "
            "AND c.active=1 ORDER BY w.chat_id"
        )
        return [r[0] for r in rows]

    def hold_hits(self, hits: Sequence[tuple[int, int]]) -> None:
        """These (watchlist, article) hits wait until the chat asks for them."""
        with self._tx() as db:
            db.executemany(
                "UPDATE hits SET held=1 WHERE watchlist_id=? AND article_id=?", list(hits)
            )

    # -- watchlists ---------------------------------------------------------------------------

    @staticmethod
    def _watchlist(r: sqlite3.Row) -> Watchlist:
        return Watchlist(
            id=r["id"],
            chat_id=r["chat_id"],
            name=r["name"],
            query=r["query"],
            created_at=datetime.fromisoformat(r["created_at"]),
            schedule=r["schedule"],
            muted_until=_dt(r["muted_until"]),
            paused=bool(r["paused"]),
            last_digest_at=_dt(r["last_digest_at"]),
        )

    def add_watchlist(self, chat_id: int, name: str, query: str, now: datetime) -> Watchlist:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO watchlists(chat_id, name, query, created_at) VALUES (?,?,?,?) "
                "ON CONFLICT(chat_id, name COLLATE NOCASE) DO UPDATE SET query=excluded.query",
                (chat_id, name, query, _ts(now)),
            )
            _bump_watchlists(db)
            row = db.execute(
                "SELECT * FROM watchlists WHERE chat_id=? AND name=? COLLATE NOCASE",
                (chat_id, name),
            ).fetchone()
        del cur
        return self._watchlist(row)

    def watchlists(self, chat_id: int) -> list[Watchlist]:
        rows = self._query("SELECT * FROM watchlists WHERE chat_id=? ORDER BY id", (chat_id,))
        return [self._watchlist(r) for r in rows]

    def all_watchlists(self) -> list[Watchlist]:
        rows = self._query(
            "SELECT w.* FROM watchlists w JOIN chats c ON c.id=w.chat_id ORDER BY w.id"
        )
        return [self._watchlist(r) for r in rows]

    def remove_watchlist(self, chat_id: int, watchlist_id: int) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM watchlists WHERE chat_id=? AND id=?", (chat_id, watchlist_id)
            )
            if cur.rowcount > 0:
                _bump_watchlists(db)
        return cur.rowcount > 0

    def get_watchlist(self, watchlist_id: int) -> Watchlist | None:
        rows = self._query("SELECT * FROM watchlists WHERE id=?", (watchlist_id,))
        return self._watchlist(rows[0]) if rows else None

    def scheduled_watchlists(self) -> list[tuple[Chat, Watchlist]]:
        """Watchlists of active chats whose digests are not instant."""
        columns = ", ".join(
            f"c.{name} AS c_{name}"
            for name in ("id", "kind", "title", "active", "timezone", "schedule", "quiet")
        )
        rows = self._query(
            f"SELECT w.*, {columns}, c.thread_id AS c_thread_id FROM watchlists w "
            "JOIN chats c ON c.id=w.chat_id "
            "WHERE c.active=1 AND COALESCE(w.schedule, c.schedule)<>'instant' ORDER BY w.id"
        )
        return [(self._chat(r, "c_"), self._watchlist(r)) for r in rows]

    def _set_watchlist(self, watchlist_id: int, column: str, value: object) -> None:
        with self._tx() as db:
            db.execute(f"UPDATE watchlists SET {column}=? WHERE id=?", (value, watchlist_id))

    def set_watchlist_schedule(self, watchlist_id: int, schedule: str | None) -> None:
        self._set_watchlist(watchlist_id, "schedule", schedule)

    def set_watchlist_mute(self, watchlist_id: int, until: datetime | None) -> None:
        self._set_watchlist(watchlist_id, "muted_until", _ts(until))

    def set_watchlist_paused(self, watchlist_id: int, paused: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE watchlists SET paused=? WHERE id=?", (int(paused), watchlist_id))
            _bump_watchlists(db)

    def mark_digest_queued(self, watchlist_id: int, now: datetime) -> None:
        self._set_watchlist(watchlist_id, "last_digest_at", _ts(now))

    def set_chat_thread(self, chat_id: int, thread_id: int | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE chats SET thread_id=? WHERE id=?", (thread_id, chat_id))

    def set_chat_settings(
        self,
        chat_id: int,
        *,
        timezone: str | None = None,
        schedule: str | None = None,
        quiet: str | None = None,
    ) -> None:
        changes = {"timezone": timezone, "schedule": schedule, "quiet": quiet}
        with self._tx() as db:
            for column, value in changes.items():
                if value is not None:
                    db.execute(f"UPDATE chats SET {column}=? WHERE id=?", (value, chat_id))

    # -- outbox -------------------------------------------------------------------------------

    def queue_messages(
        self,
        chat_id: int,
        watchlist_id: int | None,
        texts: Sequence[str],
        hits: Sequence[tuple[int, int]],
        now: datetime,
        *,
        preview: bool = False,
        silent: bool = False,
        buttons: str = "",
    ) -> list[int]:
        """Record the intent to send ``texts`` and tie ``hits`` (watchlist, article) to them."""
        ids: list[int] = []
        with self._tx() as db:
            for i, text in enumerate(texts):
                cur = db.execute(
                    "INSERT INTO outbox(chat_id, watchlist_id, text, preview, silent, buttons, "
                    "created_at) VALUES (?,?,?,?,?,?,?)",
                    (
                        chat_id,
                        watchlist_id,
                        text,
                        int(preview),
                        int(silent),
                        buttons if i == len(texts) - 1 else "",
                        _ts(now),
                    ),
                )
                assert cur.lastrowid is not None
                ids.append(cur.lastrowid)
            if ids:
                db.executemany(
                    "UPDATE hits SET outbox_id=? WHERE watchlist_id=? AND article_id=?",
                    [(ids[0], w, a) for w, a in hits],
                )
        return ids

    @staticmethod
    def _outbox(r: sqlite3.Row) -> OutboxMessage:
        return OutboxMessage(
            id=r["id"],
            chat_id=r["chat_id"],
            text=r["text"],
            state=OutboxState(r["state"]),
            attempts=r["attempts"],
            not_before=_dt(r["not_before"]),
            silent=bool(r["silent"]),
            preview=bool(r["preview"]),
            watchlist_id=r["watchlist_id"],
            buttons=r["buttons"],
            thread_id=r["thread_id"],
        )

    def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        """Pending messages whose time has come, oldest first; a chat's later messages wait
        behind an earlier one that must wait (order within a chat is kept)."""
        rows = self._query(
            "SELECT o.*, c.thread_id FROM outbox o JOIN chats c ON c.id=o.chat_id "
            "WHERE o.state='pending' AND (o.not_before IS NULL OR o.not_before<=?) "
            "AND c.active=1 AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.chat_id=o.chat_id "
            "AND e.state IN ('pending', 'sending') AND e.id<o.id "
            "AND (e.state='sending' OR e.not_before>?)) "
            "ORDER BY o.id LIMIT ?",
            (_ts(now), _ts(now), limit),
        )
        return [self._outbox(r) for r in rows]

    def due_heads(self, now: datetime, limit: int = 200) -> list[tuple[OutboxMessage, int]]:
        """Each chat's next message, if it is due, oldest first, with how many messages wait
        for that chat in all (a chat whose oldest message must wait sends nothing)."""
        rows = self._query(
            "SELECT o.*, c.thread_id, (SELECT COUNT(*) FROM outbox b "
            "WHERE b.chat_id=o.chat_id AND b.state='pending') AS backlog "
            "FROM outbox o JOIN chats c ON c.id=o.chat_id "
            "WHERE o.state='pending' AND (o.not_before IS NULL OR o.not_before<=?) "
            "AND c.active=1 AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.chat_id=o.chat_id "
            "AND e.state IN ('pending', 'sending') AND e.id<o.id) "
            "ORDER BY o.id LIMIT ?",
            (_ts(now), limit),
        )
        return [(self._outbox(r), int(r["backlog"])) for r in rows]

    def mark_sending(self, outbox_id: int) -> bool:
        """Claim a row for one send: True only for the caller that moved it from ``pending``
        to ``sending`` while its chat is active; anyone else must not send it."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE outbox SET state='sending', attempts=attempts+1 "
                "WHERE id=? AND state='pending' "
                "AND chat_id IN (SELECT id FROM chats WHERE active=1)",
                (outbox_id,),
            )
        return cur.rowcount == 1

    def mark_sent(self, outbox_id: int, now: datetime, message_id: int | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET state='sent', sent_at=?, message_id=?, error=NULL WHERE id=?",
                (_ts(now), message_id, outbox_id),
            )

    def mark_failed(self, outbox_id: int, error: str, state: OutboxState) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET state=?, error=? WHERE id=?", (state.value, error, outbox_id)
            )

    def retry_later(
        self, outbox_id: int, not_before: datetime, error: str, *, unsure: bool = False
    ) -> int:
        """Back to ``pending`` until ``not_before``; ``unsure`` when the last send may have
        reached the chat. Returns how many sends of this row had an unknown fate."""
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET state='pending', not_before=?, error=?, unsure=unsure+? "
                "WHERE id=?",
                (_ts(not_before), error, int(unsure), outbox_id),
            )
            row = db.execute("SELECT unsure FROM outbox WHERE id=?", (outbox_id,)).fetchone()
        return int(row[0]) if row else 0

    def fail_pending_for_chat(self, chat_id: int, error: str) -> int:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE outbox SET state='failed', error=? WHERE chat_id=? AND state='pending'",
                (error, chat_id),
            )
        return cur.rowcount

    def park_chat(self, chat_id: int, error: str) -> int:
        """The chat cannot be written to: pause it and park what waits for it (kept, not
        sent, until the chat is active again). Returns how many rows were parked."""
        with self._tx() as db:
            db.execute("UPDATE chats SET active=0 WHERE id=?", (chat_id,))
            cur = db.execute(
                "UPDATE outbox SET state='parked', error=? WHERE chat_id=? AND state='pending'",
                (error, chat_id),
            )
        return cur.rowcount

    def unpark_active_chats(self) -> int:
        """Parked rows of chats that are active again (unblocked, re-added) wait to go out."""
        waiting = self._query(
            "SELECT 1 FROM outbox WHERE state='parked' "
            "AND chat_id IN (SELECT id FROM chats WHERE active=1) LIMIT 1"
        )
        if not waiting:
            return 0
        with self._tx() as db:
            cur = db.execute(
                "UPDATE outbox SET state='pending', not_before=NULL WHERE state='parked' "
                "AND chat_id IN (SELECT id FROM chats WHERE active=1)"
            )
        return cur.rowcount

    def mergeable_outbox(self, chat_id: int) -> list[OutboxMessage]:
        """The chat's waiting rows that certainly never reached it, oldest first."""
        rows = self._query(
            "SELECT o.*, c.thread_id FROM outbox o JOIN chats c ON c.id=o.chat_id "
            "WHERE o.chat_id=? AND o.state='pending' AND o.unsure=0 ORDER BY o.id",
            (chat_id,),
        )
        return [self._outbox(r) for r in rows]

    def merge_outbox(self, keep_id: int, text: str, merged: Sequence[int], buttons: str) -> None:
        """Several waiting rows become one: ``keep_id`` gets ``text`` and the hits of the
        ``merged`` rows, which go. Only rows still ``pending`` are touched."""
        with self._tx() as db:
            state = db.execute("SELECT state FROM outbox WHERE id=?", (keep_id,)).fetchone()
            ids = [i for i in merged if i != keep_id]
            marks = ",".join("?" * len(ids))
            pending = db.execute(
                f"SELECT COUNT(*) FROM outbox WHERE state='pending' AND id IN ({marks})", ids
            ).fetchone()[0]
            if state is None or state[0] != "pending" or pending != len(ids):
                return
            db.execute(
                "UPDATE outbox SET text=?, buttons=?, preview=0 WHERE id=?",
                (text, buttons, keep_id),
            )
            db.execute(f"UPDATE hits SET outbox_id=? WHERE outbox_id IN ({marks})", [keep_id, *ids])
            db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)

    def recover_outbox(self) -> int:
        """At start-up: a row left ``sending`` may or may not have reached the chat. It is
        sent again, once per interruption, flagged ``unsure``: a crash costs at most one
        duplicate (one send is in flight at a time), never a lost alert."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE outbox SET state='pending', unsure=unsure+1, not_before=NULL, "
                "error='interrupted while sending; sent again' WHERE state='sending'"
            )
        if cur.rowcount:
            logger.warning("outbox rows left mid-send count=%d retried=once", cur.rowcount)
        return cur.rowcount

    def outbox_counts(self) -> dict[str, int]:
        rows = self._query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        return {r[0]: r[1] for r in rows}

    def compact(self, older_than: datetime) -> int:
        """Drop what old stories no longer need, keeping what must stay.

        Stories first seen before ``older_than`` keep their row and dedup key (a feed may still
        list them, and they must never count as new again) but lose their text; their delivered
        hits and finished outbox rows go. Pending hits and their stories are kept whole.
        Returns how many stories were slimmed.
        """
        cutoff = _ts(older_than)
        with self._tx() as db:
            db.execute(
                "DELETE FROM hits WHERE created_at<? AND (outbox_id IS NOT NULL OR held=1)",
                (cutoff,),
            )
            db.execute(
                "DELETE FROM outbox WHERE created_at<? AND state IN "
                "('sent', 'failed', 'uncertain') AND id NOT IN "
                "(SELECT outbox_id FROM hits WHERE outbox_id IS NOT NULL)",
                (cutoff,),
            )
            cur = db.execute(
                "UPDATE articles SET summary='', content='', full_text=NULL "
                "WHERE first_seen_at<? AND (summary<>'' OR content<>'' OR full_text IS NOT NULL) "
                "AND id NOT IN (SELECT article_id FROM hits)",
                (cutoff,),
            )
        return cur.rowcount

    # -- channels managed from a private chat; the instance as a whole ------------------------

    def set_channel_link(self, chat_id: int, channel_id: int | None, now: datetime) -> None:
        """From now on the private chat ``chat_id`` manages ``channel_id`` (None: itself)."""
        with self._tx() as db:
            if channel_id is None:
                db.execute("DELETE FROM channel_links WHERE chat_id=?", (chat_id,))
            else:
                db.execute(
                    "INSERT INTO channel_links(chat_id, channel_id, since) VALUES (?,?,?) "
                    "ON CONFLICT(chat_id) DO UPDATE SET channel_id=excluded.channel_id, "
                    "since=excluded.since",
                    (chat_id, channel_id, _ts(now)),
                )

    def channel_link(self, chat_id: int) -> int | None:
        rows = self._query("SELECT channel_id FROM channel_links WHERE chat_id=?", (chat_id,))
        return int(rows[0][0]) if rows else None

    def instance_stats(self, now: datetime) -> dict[str, int]:
        """Counts for an admin's overview: feeds, chats, the outbox, stories and errors."""
        day, hour = _ts(now - timedelta(days=1)), _ts(now - timedelta(hours=1))
        row = self._query(
            "SELECT (SELECT COUNT(*) FROM feeds WHERE id IN (SELECT feed_id FROM follows)), "
            "(SELECT COUNT(*) FROM chats WHERE active=1), "
            "(SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')), "
            "(SELECT COUNT(*) FROM articles WHERE first_seen_at>=?), "
            "(SELECT COUNT(*) FROM hits WHERE created_at>=?), "
            "(SELECT COUNT(*) FROM feeds WHERE last_error IS NOT NULL AND last_polled_at>=?), "
            "(SELECT COUNT(*) FROM outbox WHERE state NOT IN ('pending', 'sending', 'sent') "
            "AND created_at>=?)",
            (day, day, hour, hour),
        )[0]
        keys = (
            "feeds",
            "chats",
            "outbox",
            "stories_24h",
            "alerts_24h",
            "feed_errors_1h",
            "send_failures_1h",
        )
        return dict(zip(keys, (int(v) for v in row), strict=True))


POSTGRES_URL_SCHEMES = ("postgresql://", "postgres://")


def storage_url_problem(url: str) -> str | None:
    """Why ``url`` cannot select PostgreSQL storage, or None when it can. A password never
    goes in it (it would sit in the config file and in logs): libpq reads it from PGPASSWORD
    or ~/.pgpass."""
    if not url.startswith(POSTGRES_URL_SCHEMES):
        return "must start with postgresql://"
    parts = urlsplit(url)
    if parts.password is not None or "password" in parse_qs(parts.query):
        return "must not hold a password; set PGPASSWORD or use ~/.pgpass"
    return None


def open_storage(target: Path | str) -> Storage:
    """SQLite in the file ``target`` (the default), or PostgreSQL when ``target`` is a
    ``postgresql://`` URL (psycopg is imported only then)."""
    if isinstance(target, str) and target.startswith(POSTGRES_URL_SCHEMES):
        from watchers.store_pg import PostgresStorage

        return PostgresStorage.connect(target)
    return SqliteStorage(target)
