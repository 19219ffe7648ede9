"""Matched articles get their quotes attributed by syntax in the live pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.feeds import FeedServer, rss
from watchers.fetch import Fetcher, FetchSettings
from watchers.model import Chat
from watchers.pipeline import Engine
from watchers.quotes import extract_quotes
from watchers.store import SqliteStorage

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CHAT = 5
# The rules alone find no speaker for "…, stating, “…”": only the parse links the quote to the
# subject of the clause it hangs on.
STATING = (
    "Port director Hana Leifsdottir issued a statement on Monday, stating, "
    "“The harbour will reopen on Friday.”"
)


@pytest.fixture
async def engine(tmp_path: Path, analyser: Any) -> AsyncIterator[Engine]:
    store = SqliteStorage(tmp_path / "nw.db")
    fetcher = Fetcher(FetchSettings(timeout=5, allow_private_networks=True))
    store.upsert_chat(Chat(CHAT, "private"), T0)
    yield Engine(store, fetcher, analyser, interval=60)
    await fetcher.aclose()
    store.close()


async def test_a_matched_articles_quote_gets_its_speaker_from_the_parse(
    engine: Engine, feeds: FeedServer, analyser: Any
) -> None:
    if analyser.parse(["A test."]) is None:
        pytest.skip("no spaCy model with a parser installed")
    assert extract_quotes(STATING)[0].speaker is None
    feeds.publish("/a.xml", rss([]))
    feed = engine.store.add_feed(feeds.url("/a.xml"), T0, name="Wire A")
    engine.store.follow(CHAT, feed.id, T0)
    engine.add_watchlist(CHAT, "Ports", "harbour", T0)
    await engine.run_cycle(T0)
    story = {"title": "Harbour closed after the storm", "guid": "h-1", "description": STATING}
    feeds.publish("/a.xml", rss([story]))
    report = await engine.run_cycle(T0 + timedelta(minutes=1))
    assert report.hits == 1
    [hit] = engine.store.pending_hits(CHAT)
    [quote] = hit.detail.quotes
    assert (quote.text, quote.speaker) == ("The harbour will reopen on Friday.", "Hana Leifsdottir")
