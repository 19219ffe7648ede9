"""Polite polling against a real feed server and a real store: <ttl>, Retry-After across a
restart, permanent redirects and 410 Gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.status import feed_health
from tests.fakes.feeds import FeedServer, rss
from watchers.errors import FetchError
from watchers.fetch import Fetcher, FetchSettings
from watchers.model import Chat
from watchers.pipeline import Engine
from watchers.store import SqliteStorage

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CHAT = 5
STORY = {"title": "Diplomats agree to restore embassy staff", "guid": "a-1"}


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    fetcher = Fetcher(FetchSettings(timeout=5, allow_private_networks=True))
    yield fetcher
    await fetcher.aclose()


@pytest.fixture
def engine(tmp_path: Path, fetcher: Fetcher, analyser: Any) -> Engine:
    store = SqliteStorage(tmp_path / "nw.db")
    store.upsert_chat(Chat(CHAT, "private"), T0)
    return Engine(store, fetcher, analyser, interval=60)


def _follow(engine: Engine, url: str) -> int:
    feed = engine.store.add_feed(url, T0)
    engine.store.follow(CHAT, feed.id, T0)
    return feed.id


def _due(engine: Engine, at: datetime) -> list[str]:
    return [f.url for f in engine.due_feeds(at)]


async def test_a_feed_with_a_ttl_is_not_polled_again_before_it(
    engine: Engine, feeds: FeedServer
) -> None:
    feeds.publish("/ttl.xml", rss([STORY], ttl=60))
    url = feeds.url("/ttl.xml")
    _follow(engine, url)
    await engine.run_cycle(T0, engine.due_feeds(T0))
    assert _due(engine, T0 + timedelta(minutes=59)) == []  # the interval alone says 1 minute
    assert _due(engine, T0 + timedelta(minutes=60)) == [url]
    [feed] = engine.store.followed_feeds(CHAT)  # /status says so too
    assert "next poll in 50 min" in feed_health(feed, engine.interval, T0 + timedelta(minutes=10))
    # a 304 has no body to read the ttl from: the feed's word is kept
    later = T0 + timedelta(minutes=60)
    [outcome] = (await engine.run_cycle(later, engine.due_feeds(later))).feeds
    assert outcome.not_modified
    assert _due(engine, later + timedelta(minutes=59)) == []
    assert _due(engine, later + timedelta(minutes=60)) == [url]


async def test_cache_control_max_age_moves_the_next_poll(engine: Engine, feeds: FeedServer) -> None:
    feeds.publish("/cached.xml", rss([STORY]), headers={"Cache-Control": "max-age=1800"})
    url = feeds.url("/cached.xml")
    _follow(engine, url)
    await engine.run_cycle(T0, engine.due_feeds(T0))
    assert _due(engine, T0 + timedelta(minutes=29)) == []
    assert _due(engine, T0 + timedelta(minutes=30)) == [url]


async def test_retry_after_survives_a_restart(
    tmp_path: Path, fetcher: Fetcher, analyser: Any, feeds: FeedServer
) -> None:
    feeds.status("/busy.xml", 503, headers={"Retry-After": "3600"})
    url = feeds.url("/busy.xml")
    store = SqliteStorage(tmp_path / "nw.db")
    store.upsert_chat(Chat(CHAT, "private"), T0)
    engine = Engine(store, fetcher, analyser, interval=60)
    _follow(engine, url)
    [outcome] = (await engine.run_cycle(T0, engine.due_feeds(T0))).feeds
    assert outcome.error is not None and "503" in outcome.error
    store.close()
    # a new process: the store opened again, a fresh engine
    store = SqliteStorage(tmp_path / "nw.db")
    engine = Engine(store, fetcher, analyser, interval=60)
    assert _due(engine, T0 + timedelta(minutes=30)) == []  # backoff alone: 2 minutes
    assert _due(engine, T0 + timedelta(minutes=60)) == [url]
    store.close()


async def test_a_permanent_redirect_updates_the_stored_url(
    engine: Engine, feeds: FeedServer
) -> None:
    feeds.publish("/new.xml", rss([STORY]))
    feeds.redirect("/old.xml", "/new.xml", status=301)
    feeds.redirect("/temp.xml", "/new2.xml", status=302)
    feeds.publish("/new2.xml", rss([STORY]))
    moved = _follow(engine, feeds.url("/old.xml"))
    kept = _follow(engine, feeds.url("/temp.xml"))
    report = await engine.run_cycle(T0)
    assert [o.moved_to for o in report.feeds] == [feeds.url("/new.xml"), None]
    feed = engine.store.get_feed(moved)
    assert feed is not None and feed.url == feeds.url("/new.xml")
    temp = engine.store.get_feed(kept)
    assert temp is not None and temp.url == feeds.url("/temp.xml")  # 302: not moved
    # the next poll goes straight to the new address
    await engine.run_cycle(T0 + timedelta(minutes=2))
    assert len(feeds.requests_for("/old.xml")) == 1


async def test_a_redirect_to_a_feed_already_stored_keeps_both(
    engine: Engine, feeds: FeedServer
) -> None:
    feeds.publish("/new.xml", rss([STORY]))
    feeds.redirect("/old.xml", "/new.xml", status=308)
    old = _follow(engine, feeds.url("/old.xml"))
    new = _follow(engine, feeds.url("/new.xml"))
    report = await engine.run_cycle(T0)
    assert all(o.error is None and o.moved_to is None for o in report.feeds)
    stored = engine.store.get_feed(old)
    assert stored is not None and stored.url == feeds.url("/old.xml")
    assert engine.store.get_feed(new) is not None


async def test_a_gone_feed_stops_and_its_chat_hears_once(
    engine: Engine, feeds: FeedServer, tmp_path: Path
) -> None:
    from bot.app import run_cycle
    from bot.config import config_from_dict
    from bot.handlers import _feed_line
    from bot.services import Services

    services = Services(
        config=config_from_dict({}, tmp_path),
        store=engine.store,
        fetcher=engine.fetcher,
        engine=engine,
    )
    feeds.status("/gone.xml", 410)
    url = feeds.url("/gone.xml")
    feed_id = _follow(engine, url)
    [outcome] = (await run_cycle(services, T0)).feeds
    assert outcome.gone
    for day in range(1, 4):  # not polled again, so nobody is told again
        assert (await run_cycle(services, T0 + timedelta(days=day))).feeds == ()
    assert len(feeds.requests_for("/gone.xml")) == 1
    [message] = engine.store.due_outbox(T0 + timedelta(days=30))
    assert "is gone" in message.text and f"/removefeed {url}" in message.text
    feed = engine.store.get_feed(feed_id)
    assert feed is not None and "gone" in _feed_line(1, feed)
    assert "gone" in feed_health(feed, engine.interval, T0 + timedelta(days=5))


async def test_a_gone_feed_that_comes_back_is_polled_again_when_followed(
    engine: Engine, feeds: FeedServer
) -> None:
    feeds.status("/back.xml", 410)
    url = feeds.url("/back.xml")
    feed_id = _follow(engine, url)
    [outcome] = (await engine.run_cycle(T0)).feeds
    assert outcome.gone
    engine.store.upsert_chat(Chat(CHAT + 1, "private"), T0)
    with pytest.raises(FetchError, match="410"):  # another chat adds it: told it is gone
        await engine.follow_new_feed(CHAT + 1, url, T0 + timedelta(hours=1))
    feeds.publish("/back.xml", rss([STORY]))
    feed, _ = await engine.follow_new_feed(CHAT + 1, url, T0 + timedelta(hours=2))
    assert feed.id == feed_id and feed.gone_at is None
    assert _due(engine, T0 + timedelta(hours=3)) == [url]
