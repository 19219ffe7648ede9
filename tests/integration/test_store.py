"""Storage tests, written against the ``Storage`` protocol: each runs on SQLite and on
PostgreSQL (``open_store`` in conftest.py)."""

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchers.errors import StorageError
from watchers.model import Article, Chat, HitDetail, Quote
from watchers.store import SCHEMA_VERSION, SqliteStorage, Storage

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(open_store: Callable[[], Storage]) -> Iterator[Storage]:
    s = open_store()
    yield s
    s.close()


def _articles(*keys: str) -> list[Article]:
    return [Article(key=k, title=f"Story {k}", link=f"https://n.example/{k}") for k in keys]


def test_new_database_has_current_schema_in_wal_mode(tmp_path: Path) -> None:
    s = SqliteStorage(tmp_path / "nw.db")
    s.close()
    db = sqlite3.connect(tmp_path / "nw.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "nw.db")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer newswatch"):
        SqliteStorage(tmp_path / "nw.db")


def test_articles_are_new_once_per_feed(store: Storage) -> None:
    feed = store.add_feed("https://n.example/rss", NOW)
    first = store.insert_articles(feed.id, _articles("a", "b"), NOW)
    assert [a.key for _, a in first] == ["a", "b"]
    again = store.insert_articles(feed.id, _articles("a", "b", "c"), NOW)
    assert [a.key for _, a in again] == ["c"]
    other = store.add_feed("https://other.example/rss", NOW)
    assert len(store.insert_articles(other.id, _articles("a"), NOW)) == 1


def test_data_survives_reopening(open_store: Callable[[], Storage]) -> None:
    s = open_store()
    s.upsert_chat(Chat(7, "private", "Ann"), NOW)
    feed = s.add_feed("https://n.example/rss", NOW)
    s.follow(7, feed.id, NOW)
    s.insert_articles(feed.id, _articles("a"), NOW)
    s.add_watchlist(7, "Embassies", "Russia AND embassy", NOW)
    s.close()
    s = open_store()
    assert [f.url for f in s.followed_feeds(7)] == ["https://n.example/rss"]
    assert s.insert_articles(feed.id, _articles("a"), NOW) == []
    assert [w.query for w in s.watchlists(7)] == ["Russia AND embassy"]
    s.close()


def test_feed_becomes_history_when_first_followed(store: Storage) -> None:
    store.upsert_chat(Chat(1, "private"), NOW)
    feed = store.add_feed("https://n.example/rss", NOW)
    assert store.needs_baseline(feed.id)
    store.follow(1, feed.id, NOW)
    store.record_poll(feed.id, NOW, etag='"v1"')
    assert not store.needs_baseline(feed.id)
    # A second chat following an already polled feed does not reset it.
    store.upsert_chat(Chat(2, "private"), NOW)
    store.follow(2, feed.id, NOW)
    assert not store.needs_baseline(feed.id)
    # Nobody follows it any more; when someone does again, its backlog is history again.
    store.unfollow(1, feed.id)
    store.unfollow(2, feed.id)
    store.follow(1, feed.id, NOW)
    assert store.needs_baseline(feed.id)


def test_poll_errors_are_counted_and_cleared(store: Storage) -> None:
    feed = store.add_feed("https://n.example/rss", NOW)
    store.record_poll(feed.id, NOW, error="the server answered 500")
    store.record_poll(feed.id, NOW, error="the server answered 500")
    f = store.get_feed(feed.id)
    assert f is not None and f.error_count == 2 and f.last_error == "the server answered 500"
    store.record_poll(feed.id, NOW, etag='"x"', last_modified="Tue, 24 Nov 2026 09:00:00 GMT")
    f = store.get_feed(feed.id)
    assert f is not None and f.error_count == 0 and f.last_error is None
    assert f.etag == '"x"' and f.last_modified == "Tue, 24 Nov 2026 09:00:00 GMT"


def test_only_active_chats_feeds_are_polled(store: Storage) -> None:
    store.upsert_chat(Chat(1, "private"), NOW)
    feed = store.add_feed("https://n.example/rss", NOW)
    store.follow(1, feed.id, NOW)
    assert [f.id for f in store.feeds_to_poll()] == [feed.id]
    store.set_chat_active(1, False)
    assert store.feeds_to_poll() == []
    assert store.followers(feed.id) == []


def _setup_hit(store: Storage) -> tuple[int, int]:
    store.upsert_chat(Chat(1, "private"), NOW)
    feed = store.add_feed("https://n.example/rss", NOW)
    store.follow(1, feed.id, NOW)
    w = store.add_watchlist(1, "Embassies", "Russia AND embassy", NOW)
    [(article_id, _)] = store.insert_articles(feed.id, _articles("a"), NOW)
    detail = HitDetail(
        terms=("Russia", "embassy"),
        quotes=(Quote("We agreed", "Zakharova", 3, 12),),
        snippet="…Russia and embassy…",
        snippet_spans=((1, 7),),
    )
    assert store.add_hits([(w.id, article_id, detail, "")], NOW) == 1
    assert store.add_hits([(w.id, article_id, detail, "")], NOW) == 0  # a hit is stored once
    return w.id, article_id


def test_hits_round_trip_and_leave_pending_when_queued(store: Storage) -> None:
    w, a = _setup_hit(store)
    [hit] = store.pending_hits(1)
    assert hit.detail.terms == ("Russia", "embassy")
    assert hit.detail.quotes[0].speaker == "Zakharova"
    assert hit.detail.snippet_spans == ((1, 7),)
    assert store.chats_with_pending_hits() == [1]
    ids = store.queue_messages(1, w, ["<b>digest</b>"], [(w, a)], NOW)
    assert len(ids) == 1
    assert store.pending_hits(1) == []
    assert [m.text for m in store.due_outbox(NOW)] == ["<b>digest</b>"]


def test_held_hits_are_read_only_when_asked_and_say_they_are_held(store: Storage) -> None:
    w, a = _setup_hit(store)
    assert [h.held for h in store.pending_hits(1)] == [False]
    store.hold_hits([(w, a)])
    assert store.pending_hits(1) == []
    assert [h.held for h in store.pending_hits(1, include_held=True)] == [True]
    assert store.chats_with_pending_hits() == []


def test_outbox_lifecycle(store: Storage) -> None:
    w, a = _setup_hit(store)
    [row] = store.queue_messages(1, w, ["one"], [(w, a)], NOW)
    store.mark_sending(row)
    assert store.due_outbox(NOW) == []  # in flight: not handed out twice
    store.mark_sent(row, NOW, 42)
    assert store.outbox_counts() == {"sent": 1}


def test_retry_later_respects_not_before(store: Storage) -> None:
    w, a = _setup_hit(store)
    [row] = store.queue_messages(1, w, ["one"], [(w, a)], NOW)
    store.mark_sending(row)
    store.retry_later(row, NOW + timedelta(seconds=30), "429")
    assert store.due_outbox(NOW) == []
    [again] = store.due_outbox(NOW + timedelta(seconds=31))
    assert again.attempts == 1


def test_interrupted_send_is_sent_again_once_and_never_merged(
    open_store: Callable[[], Storage],
) -> None:
    s = open_store()
    w, a = _setup_hit(s)
    [row] = s.queue_messages(1, w, ["one"], [(w, a)], NOW)
    assert s.mark_sending(row)
    assert not s.mark_sending(row)  # claimed: nobody else may send it meanwhile
    s.close()  # the process dies here, mid-send
    s = open_store()
    assert s.recover_outbox() == 1
    [again] = s.due_outbox(NOW)  # it may not have reached the chat: it goes out again
    assert again.id == row and again.attempts == 1
    assert s.mergeable_outbox(1) == []  # it may have, too: its text must not change
    assert s.pending_hits(1) == []  # and the hit is not composed again either
    s.close()


def test_parked_rows_wait_for_the_chat_to_come_back(store: Storage) -> None:
    w, a = _setup_hit(store)
    store.queue_messages(1, w, ["one", "two"], [(w, a)], NOW)
    assert store.park_chat(1, "Forbidden: bot was blocked by the user") == 2
    assert store.due_outbox(NOW) == [] and store.unpark_active_chats() == 0
    store.set_chat_active(1, True)
    assert store.unpark_active_chats() == 2
    assert [m.text for m in store.due_outbox(NOW)] == ["one", "two"]


def test_merged_rows_keep_their_stories(store: Storage) -> None:
    w, a = _setup_hit(store)
    first, second = store.queue_messages(1, w, ["one", "two"], [(w, a)], NOW)
    store.merge_outbox(first, "one\n\ntwo", [second], "")
    [merged] = store.due_outbox(NOW)
    assert merged.id == first and merged.text == "one\n\ntwo"
    assert store.pending_hits(1) == []


def test_watchlist_names_are_unique_per_chat_case_insensitively(store: Storage) -> None:
    store.upsert_chat(Chat(1, "private"), NOW)
    store.upsert_chat(Chat(2, "private"), NOW)
    a = store.add_watchlist(1, "Gas", "gas", NOW)
    b = store.add_watchlist(1, "gas", "gas OR LNG", NOW)
    c = store.add_watchlist(2, "Gas", "gas", NOW)
    assert a.id == b.id and b.query == "gas OR LNG"
    assert c.id != a.id
    assert store.remove_watchlist(2, a.id) is False  # another chat's watchlist
    assert store.remove_watchlist(1, a.id) is True
    assert store.watchlists(1) == []


def test_chat_migration_moves_everything(store: Storage) -> None:
    w, a = _setup_hit(store)
    store.queue_messages(1, w, ["one"], [(w, a)], NOW)
    store.migrate_chat(1, -100123)
    assert store.get_chat(1) is None
    assert [x.id for x in store.watchlists(-100123)] == [w]
    assert [m.chat_id for m in store.due_outbox(NOW)] == [-100123]
    assert len(store.followed_feeds(-100123)) == 1


def test_blocked_chat_pending_messages_fail(store: Storage) -> None:
    w, a = _setup_hit(store)
    store.queue_messages(1, w, ["one", "two"], [(w, a)], NOW)
    assert store.fail_pending_for_chat(1, "blocked") == 2
    assert store.due_outbox(NOW) == []


def test_version_1_database_is_migrated_keeping_its_data(tmp_path: Path) -> None:
    from watchers import store as store_module

    db = sqlite3.connect(tmp_path / "nw.db")
    db.executescript(store_module._MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO chats(id, kind, created_at) VALUES (5, 'private', '2026-01-01')")
    db.execute(
        "INSERT INTO watchlists(chat_id, name, query, created_at) "
        "VALUES (5, 'Gas', 'gas', '2026-01-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    s = SqliteStorage(tmp_path / "nw.db")
    assert s.schema_version() == SCHEMA_VERSION
    chat = s.get_chat(5)
    assert chat is not None and chat.schedule == "instant" and chat.quiet == ""
    [w] = s.watchlists(5)
    assert w.name == "Gas" and w.schedule is None and not w.paused
    s.close()


def test_watchlist_and_chat_settings(store: Storage) -> None:
    store.upsert_chat(Chat(1, "private"), NOW)
    w = store.add_watchlist(1, "Gas", "gas", NOW)
    store.set_watchlist_schedule(w.id, "daily 08:00")
    store.set_watchlist_mute(w.id, NOW + timedelta(hours=2))
    store.set_watchlist_paused(w.id, True)
    store.mark_digest_queued(w.id, NOW)
    got = store.get_watchlist(w.id)
    assert got is not None
    assert got.schedule == "daily 08:00" and got.paused
    assert got.muted_until == NOW + timedelta(hours=2) and got.last_digest_at == NOW
    store.set_watchlist_mute(w.id, None)
    store.set_chat_settings(1, timezone="Europe/Berlin", quiet="22:00-07:00")
    chat = store.get_chat(1)
    assert chat is not None and chat.timezone == "Europe/Berlin" and chat.quiet == "22:00-07:00"
    assert chat.schedule == "instant"
    got = store.get_watchlist(w.id)
    assert got is not None and got.muted_until is None


def test_recent_stories_and_full_text(store: Storage) -> None:
    store.upsert_chat(Chat(1, "private"), NOW)
    feed = store.add_feed("https://n.example/rss", NOW)
    w = store.add_watchlist(1, "Gas", "gas", NOW)
    [(a1, _), (a2, _)] = store.insert_articles(feed.id, _articles("a", "b"), NOW)
    store.add_hits(
        [(w.id, a1, HitDetail(("gas",)), "fp-1"), (w.id, a2, HitDetail(("gas",)), "")], NOW
    )
    store.queue_messages(1, w.id, ["x"], [(w.id, a1)], NOW)
    assert store.recent_stories(1, NOW - timedelta(days=1)) == [(a1, "fp-1", True)]
    assert store.recent_stories(1, NOW + timedelta(seconds=1)) == []
    assert store.full_text(a1) == (None, None)
    store.set_full_text(a1, "The whole article.", "ok")
    assert store.full_text(a1) == ("The whole article.", "ok")


def test_compact_slims_old_stories_but_never_lets_them_count_as_new(store: Storage) -> None:
    w, a = _setup_hit(store)  # a pending hit on story "a", first seen at NOW
    feed = store.add_feed("https://n.example/rss", NOW)
    [(old_id, _)] = store.insert_articles(
        feed.id, [Article(key="old", title="Old", summary="long text")], NOW
    )
    store.set_full_text(old_id, "the whole page", "ok")
    [(sent_id, _)] = store.insert_articles(
        feed.id, [Article(key="sent", title="S", summary="text")], NOW
    )
    store.add_hits([(w, sent_id, HitDetail(("x",)), "")], NOW)
    [row] = store.queue_messages(1, w, ["digest"], [(w, sent_id)], NOW)
    store.mark_sent(row, NOW, 1)

    assert store.compact(NOW + timedelta(days=31)) == 2  # "old" and, its hit gone, "sent"
    assert store.full_text(old_id) == (None, "ok")
    slim = store.get_article(old_id)
    assert slim is not None and slim.title == "Old" and slim.summary == ""
    assert store.insert_articles(feed.id, [Article(key="old", title="Old")], NOW) == []
    assert store.outbox_counts() == {}
    [pending] = store.pending_hits(1)  # the undelivered hit is untouched
    assert pending.article_id == a and pending.article.title == "Story a"


def test_chat_migration_keeps_the_stories_it_was_sent(store: Storage) -> None:
    store.upsert_chat(Chat(1, "group"), NOW)
    feed = store.add_feed("https://n.example/rss", NOW)
    w = store.add_watchlist(1, "Gas", "gas", NOW)
    [(a, _)] = store.insert_articles(feed.id, _articles("a"), NOW)
    store.add_hits([(w.id, a, HitDetail(("gas",)), "fp-1")], NOW)
    store.queue_messages(1, w.id, ["x"], [(w.id, a)], NOW)
    store.migrate_chat(1, -100123)
    # so the same story from another feed is still recognised as already delivered
    assert store.recent_stories(-100123, NOW - timedelta(days=1)) == [(a, "fp-1", True)]


def test_stories_since_and_the_prefilter_gate(store: Storage) -> None:
    from watchers.preview import AllOf, AnyOf, Contains

    store.upsert_chat(Chat(1, "private"), NOW)
    feed = store.add_feed("https://n.example/rss", NOW)
    store.follow(1, feed.id, NOW)
    [(old, _)] = store.insert_articles(
        feed.id, [Article(key="old", title="Gas then")], NOW - timedelta(days=2)
    )
    stories = [
        Article(key="gas", title="Gas prices RISE"),
        Article(key="un", title="The U.N. meets"),
        Article(key="pct", title="50% off", summary="a sale"),
        Article(key="de", title="Gaspreise steigen in Köln"),  # not plain: never filtered out
    ]
    ids = {a.key: i for i, a in store.insert_articles(feed.id, stories, NOW)}
    since = NOW - timedelta(hours=1)
    newest_first = [ids["de"], ids["pct"], ids["un"], ids["gas"]]
    assert store.article_ids_since(1, since) == newest_first
    assert store.article_ids_since(1, since, AllOf(())) == newest_first
    assert store.article_ids_since(1, since, AnyOf(())) == [ids["de"]]
    assert store.article_ids_since(1, since, Contains("gas")) == [ids["de"], ids["gas"]]
    assert store.article_ids_since(1, since, Contains("un")) == [ids["de"], ids["un"]]
    assert store.article_ids_since(1, since, Contains("%")) == [ids["de"], ids["pct"]]
    assert store.article_ids_since(1, since, Contains("s_r")) == [ids["de"]]  # _ is no wildcard
    both = AllOf((Contains("gas"), AnyOf((Contains("rise"), Contains("fall")))))
    assert store.article_ids_since(1, since, both) == [ids["de"], ids["gas"]]
    assert store.article_ids_since(2, since) == []  # another chat follows nothing
    got = store.get_articles([ids["un"], 999_999, old])
    assert [a.key for a in got] == ["un", "old"]  # in the order asked, missing ones left out


def test_polite_polling_state_survives_reopening(open_store: Callable[[], Storage]) -> None:
    s = open_store()
    s.upsert_chat(Chat(7, "private", "Ann"), NOW)
    feed = s.add_feed("https://n.example/rss", NOW)
    other = s.add_feed("https://other.example/rss", NOW)
    s.follow(7, feed.id, NOW)
    s.follow(7, other.id, NOW)
    held = NOW + timedelta(hours=2)
    s.record_poll(feed.id, NOW, error="503", not_before=held)
    s.record_poll(other.id, NOW, not_before=held, update_period=timedelta(hours=1))
    assert s.move_feed(other.id, "https://moved.example/rss")
    assert not s.move_feed(other.id, "https://n.example/rss")  # another feed's address: kept
    assert s.mark_feed_gone(other.id, NOW)
    assert not s.mark_feed_gone(other.id, NOW + timedelta(minutes=1))  # once
    s.close()
    s = open_store()
    stored = s.get_feed(feed.id)
    assert stored is not None and stored.not_before == held and stored.gone_at is None
    gone = s.get_feed(other.id)
    assert gone is not None and gone.url == "https://moved.example/rss"
    assert gone.gone_at == NOW and gone.update_period == timedelta(hours=1)
    assert [f.id for f in s.feeds_to_poll()] == [feed.id]  # a gone feed is not polled
    # a poll that parses nothing keeps the feed's own period; a pause asked for is replaced;
    # a feed read again is no longer gone
    s.record_poll(other.id, NOW + timedelta(hours=3))
    again = s.get_feed(other.id)
    assert again is not None and again.update_period == timedelta(hours=1)
    assert again.not_before is None
    assert again.gone_at is None  # read again: back
    s.close()
