"""One story, once per chat: a story that matches several watchlists of a chat reaches the chat
once, naming every watchlist it matched, whatever their schedules.

Real store, real delivery loop, the fake Bot API; what counts is what the chat RECEIVED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.delivery import TelegramSender, queue_digests
from bot.outbox import deliver_once
from bot.pacing import PacedRateLimiter, Pacer
from tests.fakes.telegram import FakeTelegram
from watchers.dedup import story_fingerprint
from watchers.model import Article, Chat, HitDetail, Watchlist
from watchers.store import SqliteStorage

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CHAT = 21

AIRBUS = Article(
    key="airbus-1",
    title="Nordair orders 40 Airbus A321neo jets in $5 bln deal",
    link="https://wire.example/nordair-airbus",
    summary="Nordair said on Tuesday it would buy 40 Airbus A321neo jets for $5 billion.",
    published=T0 - timedelta(minutes=5),
)
AIRBUS_COPY = Article(
    key="airbus-2",
    title="Nordair orders 40 Airbus A321neo jets in $5 bln deal - Daily Post",
    link="https://post.example/business/nordair-airbus",
    source="Daily Post",
    summary="Nordair said on Tuesday it would buy 40 Airbus A321neo jets for $5 billion.",
    published=T0 - timedelta(minutes=4),
)
STRIKE = Article(
    key="strike-1",
    title="French air traffic controllers call three-day strike",
    link="https://wire.example/atc-strike",
    summary="Controllers' unions in France called a strike from Friday over staffing.",
    published=T0 - timedelta(minutes=3),
)


class Clock:
    """Simulated time for the store (UTC) and for the pacer (monotonic seconds)."""

    def __init__(self) -> None:
        self.now = T0
        self.seconds = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.seconds += seconds


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStorage]:
    s = SqliteStorage(tmp_path / "nw.db")
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sender(telegram: FakeTelegram, clock: Clock) -> AsyncIterator[TelegramSender]:
    pacer = Pacer(clock=clock.monotonic)
    request = HTTPXRequest(read_timeout=2, write_timeout=2, connect_timeout=2)
    bot: ExtBot[int] = ExtBot(
        telegram.token,
        base_url=telegram.ptb_base_url,
        request=request,
        rate_limiter=PacedRateLimiter(pacer),
    )
    async with bot:
        yield TelegramSender(bot, pacer)


def _setup(store: SqliteStorage, telegram: FakeTelegram) -> tuple[Watchlist, Watchlist]:
    """A chat with two watchlists: both match the Airbus order (one of its copies matches only
    the second), and only the second matches the strike."""
    telegram.add_chat(CHAT)
    store.upsert_chat(Chat(CHAT, "private"), T0)
    wire = store.add_feed("https://wire.example/rss", T0)
    post = store.add_feed("https://post.example/rss", T0)
    airlines = store.add_watchlist(CHAT, "Airlines", "Airbus OR Boeing OR strike", T0)
    europe = store.add_watchlist(CHAT, "Europe", "Airbus OR France OR Nordair", T0)
    stored = store.insert_articles(wire.id, [AIRBUS, STRIKE], T0)
    stored += store.insert_articles(post.id, [AIRBUS_COPY], T0)
    ids = {a.key: article_id for article_id, a in stored}
    story = {a.key: story_fingerprint(a.title, a.summary, a.link).to_str() for _, a in stored}
    store.add_hits(
        [
            (airlines.id, ids["airbus-1"], HitDetail(("Airbus",)), story["airbus-1"]),
            (europe.id, ids["airbus-1"], HitDetail(("Airbus", "Nordair")), story["airbus-1"]),
            (europe.id, ids["airbus-2"], HitDetail(("Nordair",)), story["airbus-2"]),
            (europe.id, ids["strike-1"], HitDetail(("France",)), story["strike-1"]),
        ],
        T0,
    )
    return airlines, europe


async def _deliver(store: SqliteStorage, sender: TelegramSender, clock: Clock) -> None:
    for _ in range(50):
        report = await deliver_once(store, sender, clock)
        if report.next_in is not None:
            clock.advance(report.next_in)
        elif not report.acted:
            return
    raise AssertionError("delivery did not settle")


def _received(telegram: FakeTelegram) -> str:
    return "\n---\n".join(m.plain_text for m in telegram.sent_to(CHAT))


async def test_a_story_two_watchlists_match_reaches_the_chat_once_naming_both(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    _setup(store, telegram)
    queue_digests(store, clock())
    await _deliver(store, sender, clock)
    received = _received(telegram)
    assert received.count("Nordair orders 40 Airbus") == 1, received
    assert "Watchlists: Airlines, Europe" in received
    assert "Daily Post" in received  # the copy only Europe matched is listed under "also"
    assert received.count("air traffic controllers") == 1  # Europe's other story still comes
    # Later rounds send nothing more: no watchlist repeats the story.
    sent = len(telegram.sent_to(CHAT))
    clock.advance(3600)
    queue_digests(store, clock())
    await _deliver(store, sender, clock)
    assert len(telegram.sent_to(CHAT)) == sent


async def test_the_earliest_due_digest_takes_the_story_and_the_later_one_does_not_repeat_it(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    _, europe = _setup(store, telegram)
    store.set_watchlist_schedule(europe.id, "daily 08:00")
    store.mark_digest_queued(europe.id, T0)  # today's 08:00 digest has gone
    queue_digests(store, clock())  # Airlines is instant: due now; Europe tomorrow at 08:00
    await _deliver(store, sender, clock)
    first = _received(telegram)
    assert first.count("Nordair orders 40 Airbus") == 1, first
    assert "Watchlists: Airlines, Europe" in first
    assert "air traffic controllers" not in first  # Europe's own story waits for its slot

    clock.advance(23 * 3600)  # 08:00 the next day
    queue_digests(store, clock())
    await _deliver(store, sender, clock)
    received = _received(telegram)
    assert received.count("Nordair orders 40 Airbus") == 1, received
    assert received.count("air traffic controllers") == 1, received
    assert store.pending_hits(CHAT, include_held=True) == []
