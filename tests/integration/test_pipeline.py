"""The engine against a real store and a real feed server (no Telegram)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import queue_digests
from tests.fakes.feeds import FeedServer, rss
from watchers import pipeline
from watchers.fetch import Fetcher, FetchSettings
from watchers.model import Chat
from watchers.pipeline import Engine
from watchers.store import SqliteStorage

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CHAT = 5

STORY = {
    "title": "Diplomats agree to restore embassy staff in both capitals",
    "guid": "a-1",
    "description": "Russia and the United States will send diplomats back, officials said on "
    "Monday after talks in Vienna that lasted two days.",
}
REWRITE = {
    "title": "UPDATE 1-Diplomats agree to restore embassy staff in both capitals - Other Wire",
    "guid": "b-1",
    "description": "Russia and the United States will send diplomats back to their embassies, "
    "officials said after two days of talks in Vienna.",
}
ARTICLE_PAGE = """<html><head><title>Embassy staff</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Diplomats agree to restore embassy staff</h1>
<p>Russia and the United States will send diplomats back to their embassies, officials said on
Monday after two days of talks in Vienna that both sides described as businesslike.</p>
<p>“We have agreed on the first practical steps, and both embassies will be able to work
normally again before the summer,” Russian Foreign Ministry spokeswoman Maria Zakharova said.</p>
<p>The talks covered visas for staff, the return of seized property and the number of
diplomats each side may keep. A second round is planned for the spring.</p>
</article>
<section class="comments"><h2>Leave a Reply</h2><p>First! Great article.</p></section>
<footer>Copyright Example Wire</footer>
</body></html>"""


@pytest.fixture
async def engine(tmp_path: Path, analyser: Any) -> AsyncIterator[Engine]:
    store = SqliteStorage(tmp_path / "nw.db")
    fetcher = Fetcher(FetchSettings(timeout=5, allow_private_networks=True))
    store.upsert_chat(Chat(CHAT, "private"), T0)
    yield Engine(store, fetcher, analyser, interval=60)
    await fetcher.aclose()
    store.close()


def _follow(engine: Engine, url: str, name: str) -> int:
    feed = engine.store.add_feed(url, T0, name=name)
    engine.store.follow(CHAT, feed.id, T0)
    return feed.id


async def test_first_poll_is_history_and_later_stories_match(
    engine: Engine, feeds: FeedServer
) -> None:
    feeds.publish("/a.xml", rss([STORY]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    engine.add_watchlist(CHAT, "Embassies", "Russia AND embassy", T0)
    report = await engine.run_cycle(T0)
    assert report.feeds[0].baseline and report.hits == 0
    feeds.publish("/a.xml", rss([{**STORY, "guid": "a-2", "title": "Embassy row: Russia"}, STORY]))
    report = await engine.run_cycle(T0 + timedelta(minutes=1))
    assert report.new_articles == 1 and report.hits == 1


async def test_a_dead_feed_does_not_stop_the_others(engine: Engine, feeds: FeedServer) -> None:
    feeds.publish("/a.xml", rss([STORY]))
    feeds.status("/dead.xml", 500)
    feeds.publish("/junk.xml", "<html><body>not a feed</body></html>", content_type="text/html")
    for path in ("/a.xml", "/dead.xml", "/junk.xml"):
        _follow(engine, feeds.url(path), path)
    report = await engine.run_cycle(T0)
    by_url = {o.url: o for o in report.feeds}
    assert by_url[feeds.url("/a.xml")].error is None
    assert "500" in (by_url[feeds.url("/dead.xml")].error or "")
    assert "HTML page" in (by_url[feeds.url("/junk.xml")].error or "")
    dead = engine.store.feed_by_url(feeds.url("/dead.xml"))
    assert dead is not None and dead.error_count == 1
    # A failing feed waits longer before the next try; a healthy one is due after its interval.
    later = T0 + timedelta(seconds=61)
    due = {f.url for f in engine.due_feeds(later)}
    assert feeds.url("/a.xml") in due and feeds.url("/dead.xml") not in due


async def test_conditional_get_and_unchanged_feed(engine: Engine, feeds: FeedServer) -> None:
    feeds.publish("/a.xml", rss([STORY]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    await engine.run_cycle(T0)
    report = await engine.run_cycle(T0 + timedelta(minutes=1))
    assert report.feeds[0].not_modified
    assert feeds.requests_for("/a.xml")[-1].headers.get("if-none-match")


async def test_full_text_gives_the_quote_and_a_dead_page_never_blocks(
    engine: Engine, feeds: FeedServer
) -> None:
    feeds.publish("/a.xml", rss([]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    engine.add_watchlist(CHAT, "Embassies", "Russia AND embassy", T0)
    await engine.run_cycle(T0)
    feeds.publish("/story.html", ARTICLE_PAGE, content_type="text/html")
    feeds.status("/gone.html", 404)
    items = [
        {**STORY, "link": feeds.url("/story.html")},
        {
            **STORY,
            "guid": "a-9",
            "title": "Second embassy story, Russia",
            "link": feeds.url("/gone.html"),
        },
    ]
    feeds.publish("/a.xml", rss(items))
    report = await engine.run_cycle(T0 + timedelta(minutes=1))
    assert report.hits == 2
    hits = {h.article.title: h for h in engine.store.pending_hits(CHAT)}
    quotes = hits[STORY["title"]].detail.quotes
    assert quotes and quotes[0].speaker == "Maria Zakharova"
    assert quotes[0].text.startswith("We have agreed on the first practical steps")
    assert hits["Second embassy story, Russia"].detail.quotes == ()  # alert kept, feed text only
    assert len(feeds.requests_for("/story.html")) == 1
    article_id = hits[STORY["title"]].article_id
    text, state = engine.store.full_text(article_id)
    assert state == "ok" and text is not None and "Leave a Reply" not in text


async def test_one_story_from_two_feeds_is_one_item_and_never_comes_again(
    engine: Engine, feeds: FeedServer
) -> None:
    for path in ("/a.xml", "/b.xml", "/c.xml"):
        feeds.publish(path, rss([]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    _follow(engine, feeds.url("/b.xml"), "Wire B")
    _follow(engine, feeds.url("/c.xml"), "Wire C")
    engine.add_watchlist(CHAT, "Embassies", "Russia AND embassy", T0)
    await engine.run_cycle(T0)
    feeds.publish("/a.xml", rss([STORY]))
    feeds.publish("/b.xml", rss([REWRITE]))
    await engine.run_cycle(T0 + timedelta(minutes=1))
    assert queue_digests(engine.store, T0 + timedelta(minutes=1)) == 1
    [message] = engine.store.due_outbox(T0 + timedelta(minutes=1))
    assert message.text.count("Diplomats agree to restore embassy staff") == 1
    # Both wires carried it at the same moment, and the two feeds are processed side by side:
    # either copy may lead, and the other is listed under "also".
    assert ("also: Wire B" in message.text) != ("also: Wire A" in message.text)
    assert "1 new story" in message.text
    # A third feed publishes the story later: the chat already has it.
    feeds.publish("/c.xml", rss([{**REWRITE, "guid": "c-1"}]))
    report = await engine.run_cycle(T0 + timedelta(minutes=2))
    assert report.new_articles == 1 and report.hits == 0


async def test_paused_watchlist_looks_for_nothing(engine: Engine, feeds: FeedServer) -> None:
    feeds.publish("/a.xml", rss([]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    watchlist, _ = engine.add_watchlist(CHAT, "Embassies", "Russia AND embassy", T0)
    await engine.run_cycle(T0)
    engine.set_paused(watchlist.id, True)
    feeds.publish("/a.xml", rss([STORY]))
    assert (await engine.run_cycle(T0 + timedelta(minutes=1))).hits == 0


async def test_scheduled_digest_waits_for_its_time(engine: Engine, feeds: FeedServer) -> None:
    feeds.publish("/a.xml", rss([]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    watchlist, _ = engine.add_watchlist(CHAT, "Embassies", "Russia AND embassy", T0)
    engine.store.set_chat_settings(CHAT, timezone="Europe/Berlin", schedule="daily 18:00")
    await engine.run_cycle(T0)
    feeds.publish("/a.xml", rss([STORY]))
    await engine.run_cycle(T0 + timedelta(minutes=1))
    assert queue_digests(engine.store, T0 + timedelta(minutes=2)) == 0  # 10:02 in Berlin
    assert queue_digests(engine.store, datetime(2026, 11, 24, 17, 0, tzinfo=UTC)) == 1  # 18:00
    assert queue_digests(engine.store, datetime(2026, 11, 24, 17, 30, tzinfo=UTC)) == 0
    got = engine.store.get_watchlist(watchlist.id)
    assert got is not None and got.last_digest_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


async def test_an_unexpected_failure_on_one_feed_skips_only_that_feed(
    engine: Engine, feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchers import pipeline

    feeds.publish("/a.xml", rss([STORY]))
    feeds.publish("/b.xml", rss([REWRITE]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    _follow(engine, feeds.url("/b.xml"), "Wire B")
    real = pipeline.parse_feed

    def flaky(content: bytes, url: str, **kw: Any) -> Any:
        if url.endswith("/a.xml"):
            raise RuntimeError("a parser bug")
        return real(content, url, **kw)

    monkeypatch.setattr(pipeline, "parse_feed", flaky)
    report = await engine.run_cycle(T0)
    by_url = {o.url: o for o in report.feeds}
    assert "could not process this feed (RuntimeError)" in (by_url[feeds.url("/a.xml")].error or "")
    assert by_url[feeds.url("/b.xml")].error is None
    assert by_url[feeds.url("/b.xml")].new_articles == 1


async def test_a_quiet_day_does_not_make_the_next_story_overdue(
    engine: Engine, feeds: FeedServer
) -> None:
    from bot.delivery import advance_idle_schedules

    feeds.publish("/a.xml", rss([]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    engine.add_watchlist(CHAT, "Embassies", "Russia AND embassy", T0)
    engine.store.set_chat_settings(CHAT, schedule="daily 18:00")  # UTC
    await engine.run_cycle(T0)
    day1 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert queue_digests(engine.store, day1) == 0  # nothing to send on day 1
    assert advance_idle_schedules(engine.store, day1) == 1
    feeds.publish("/a.xml", rss([STORY]))
    noon = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    await engine.run_cycle(noon)
    assert queue_digests(engine.store, noon) == 0  # waits for 18:00, not "overdue since day 1"
    assert queue_digests(engine.store, datetime(2026, 11, 25, 18, 0, tzinfo=UTC)) == 1


async def test_chats_hear_once_when_a_feed_keeps_failing(
    engine: Engine, feeds: FeedServer, tmp_path: Path
) -> None:
    from bot.app import run_cycle
    from bot.config import config_from_dict
    from bot.delivery import WARN_AFTER_FAILURES
    from bot.services import Services

    services = Services(
        config=config_from_dict({}, tmp_path),
        store=engine.store,
        fetcher=engine.fetcher,
        engine=engine,
    )
    feeds.status("/dead.xml", 503)
    _follow(engine, feeds.url("/dead.xml"), "Wire Dead")
    for day in range(WARN_AFTER_FAILURES + 2):  # a day apart: past any backoff
        [outcome] = (await run_cycle(services, T0 + timedelta(days=day))).feeds
        assert outcome.failures == day + 1
    [message] = engine.store.due_outbox(T0 + timedelta(days=30))
    assert f"Wire Dead</b> has failed {WARN_AFTER_FAILURES} times in a row" in message.text
    assert "503" in message.text


async def test_stories_past_the_first_ten_wait_for_digest_more(
    engine: Engine, feeds: FeedServer
) -> None:
    feeds.publish("/a.xml", rss([]))
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    engine.add_watchlist(CHAT, "Embassies", "embassy", T0)
    await engine.run_cycle(T0)
    titles = [
        "Oslo embassy reopens after long renovation",
        "Lima protesters gather outside embassy gates",
        "Quito court rules on embassy asylum case",
        "Hanoi trade fair draws embassy delegations",
        "Dakar embassy hires local language teachers",
        "Riga drone sighting closes embassy district",
        "Sofia embassy cyberattack blamed on criminals",
        "Accra embassy hosts jazz festival evening",
        "Tunis flooding damages embassy archive",
        "Minsk embassy staff expelled in spy row",
        "Doha embassy opens visa centre for students",
        "Baku embassy marks national day with parade",
    ]
    items = [
        {"title": t, "guid": f"e-{i}", "link": f"https://wire.example/{i}"}
        for i, t in enumerate(titles)
    ]
    feeds.publish("/a.xml", rss(items))
    assert (await engine.run_cycle(T0 + timedelta(minutes=1))).hits == 12
    now = T0 + timedelta(minutes=2)
    assert queue_digests(engine.store, now) == 1
    [first] = engine.store.due_outbox(now)
    assert "12 new stories" in first.text and first.text.endswith("+2 more: /digest_more")
    assert first.text.count("</a></b>") == 10
    assert queue_digests(engine.store, now + timedelta(minutes=1)) == 0  # the rest wait
    later = now + timedelta(minutes=1)
    assert queue_digests(engine.store, later, chat_ids=[CHAT], forced=True) == 1  # /digest more
    second = engine.store.due_outbox(now + timedelta(minutes=1))[-1]
    assert "2 new stories" in second.text and second.text.count("</a></b>") == 2


async def test_a_slow_feed_does_not_hold_back_the_hits_of_fast_ones(
    engine: Engine, feeds: FeedServer
) -> None:
    engine.baseline_new_feeds = False
    feeds.publish("/slow.xml", rss([{**REWRITE, "guid": "slow-1"}]))
    feeds.slow("/slow.xml", 2.0)
    feeds.publish("/fast.xml", rss([STORY]))
    _follow(engine, feeds.url("/slow.xml"), "Slow Wire")
    _follow(engine, feeds.url("/fast.xml"), "Fast Wire")
    engine.add_watchlist(CHAT, "Embassies", "embassy AND Vienna", T0)
    stored_early: list[object] = []

    def on_hits() -> None:
        # The fast feed's hit is in the store while the slow feed is still being fetched.
        if not stored_early:
            slow = engine.store.feed_by_url(feeds.url("/slow.xml"))
            stored_early.append(len(engine.store.pending_hits(CHAT)))
            stored_early.append(slow is not None and slow.last_polled_at is None)

    engine.on_hits = on_hits
    started = time.monotonic()
    report = await engine.run_cycle(T0)
    elapsed = time.monotonic() - started
    assert report.new_articles == 2 and report.hits >= 1
    assert stored_early == [1, True]  # one hit stored, the slow feed not polled yet
    assert elapsed >= 2.0  # the cycle itself waited for the slow feed


async def test_an_unchanged_body_without_validators_is_not_parsed_again(
    engine: Engine, feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real_parse = pipeline.parse_feed

    def counting_parse(content: bytes, url: str, **kw: Any) -> Any:
        parsed.append(url)
        return real_parse(content, url, **kw)

    monkeypatch.setattr(pipeline, "parse_feed", counting_parse)
    feeds.publish("/a.xml", rss([STORY]), etag=False, last_modified=False)
    _follow(engine, feeds.url("/a.xml"), "Wire A")
    engine.add_watchlist(CHAT, "Embassies", "Russia AND embassy", T0)
    await engine.run_cycle(T0)
    assert len(parsed) == 1

    report = await engine.run_cycle(T0 + timedelta(minutes=1))
    assert report.feeds[0].not_modified and report.feeds[0].error is None
    assert len(parsed) == 1  # the same bytes: not parsed again
    assert "if-none-match" not in feeds.requests_for("/a.xml")[-1].headers

    feeds.publish(
        "/a.xml",
        rss([{**STORY, "guid": "a-2", "title": "Embassy row: Russia"}, STORY]),
        etag=False,
        last_modified=False,
    )
    report = await engine.run_cycle(T0 + timedelta(minutes=2))
    assert len(parsed) == 2 and report.new_articles == 1 and report.hits == 1
