"""The first real alert, end to end: fake Telegram, a real feed server, real PTB, real spaCy."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import FakeTelegram
from tests.integration.harness import bot_config, running_bot

pytestmark = pytest.mark.slow

CHAT = 4242

UNRELATED = [
    {
        "title": "Storm closes mountain passes for a second day",
        "link": "https://wire.example/weather/passes",
        "guid": "wire-weather-1",
        "description": "Snowploughs could not keep up with the drifts, the road agency said.",
        "pub_date": datetime(2026, 11, 24, 6, 0, tzinfo=UTC),
    },
    {
        "title": "Russia beats Finland in ice hockey friendly",
        "link": "https://wire.example/sport/hockey",
        "guid": "wire-sport-2",
        "description": "A late goal settled the match in front of a full arena.",
        "pub_date": datetime(2026, 11, 24, 7, 0, tzinfo=UTC),
    },
]

EMBASSY = {
    "title": "US and Russian diplomats meet to restore embassy staffing",
    "link": "https://wire.example/world/embassy-staffing",
    "guid": "wire-world-3",
    "description": (
        "Senior diplomats from the United States and Russia met in Vienna on Tuesday to discuss "
        "bringing staff back to each other's embassies after years of expulsions. "
        "“We expect the first practical results within weeks, not months,” Zakharova said. "
        "Officials on both sides called the meeting businesslike."
    ),
    "pub_date": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
}

LATER_UNRELATED = {
    "title": "Tech firm reports record profit on cloud demand",
    "link": "https://wire.example/business/profit",
    "guid": "wire-business-4",
    "description": "Shares rose in early trading after the results.",
    "pub_date": datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
}


async def _polled(feeds: FeedServer, path: str, times: int) -> None:
    """Wait (at most 10 s) until the bot has fetched ``path`` ``times`` more times."""
    target = len(feeds.requests_for(path)) + times
    for _ in range(200):
        if len(feeds.requests_for(path)) >= target:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the feed was not polled {times} more time(s) within 10 s")


async def test_first_alert_end_to_end(
    tmp_path: Path,
    telegram: FakeTelegram,
    feeds: FeedServer,
    analyser: Any,
    storage_section: dict[str, str],
) -> None:
    feeds.publish("/world.xml", rss(UNRELATED, title="Wire World"))
    config = bot_config(tmp_path, telegram, [feeds.url("/world.xml")], storage=storage_section)

    async with running_bot(config, telegram, analyser):
        telegram.user_sends("/start", chat_id=CHAT)
        [welcome] = await telegram.wait_for_messages(CHAT, 1, timeout=10)
        assert "/watch" in welcome.plain_text
        telegram.user_sends("/watch Russia AND embassy", chat_id=CHAT)
        replies = await telegram.wait_for_messages(CHAT, 2, timeout=10)
        assert "Watching" in replies[1].plain_text
        assert {c["command"] for c in telegram.commands} >= {"start", "watch", "addfeed"}

        # What the feed held when the chat subscribed is history: let a poll see it first.
        await _polled(feeds, "/world.xml", 1)
        feeds.publish("/world.xml", rss([EMBASSY, *UNRELATED], title="Wire World"))
        await _polled(feeds, "/world.xml", 2)  # two poll intervals
        messages = await telegram.wait_for_messages(CHAT, 3, timeout=5)
        digest = messages[2]
        assert "US and Russian diplomats meet to restore embassy staffing" in digest.plain_text
        assert 'href="https://wire.example/world/embassy-staffing"' in digest.text
        assert "Russia" in digest.plain_text and "embassy" in digest.plain_text
        assert "“We expect the first practical results within weeks, not months" in (
            digest.plain_text
        )
        assert "— Zakharova" in digest.plain_text
        assert "Storm" not in digest.plain_text and "hockey" not in digest.plain_text
        assert not digest.link_preview_disabled  # one story: its preview is useful

        # The buttons under the digest answer at once.
        buttons = [b["callback_data"] for b in digest.reply_markup["inline_keyboard"][0]]
        assert buttons == ["mute:1", "pause:1", "query:1"]
        telegram.user_presses(CHAT, digest.message_id, "query:1")
        await telegram.wait_for(lambda: len(telegram.callback_answers) == 1)
        answer = telegram.callback_answers[0]
        assert answer.text == "Russia AND embassy: Russia AND embassy" and answer.show_alert
        telegram.user_presses(CHAT, digest.message_id, "mute:1")
        await telegram.wait_for(lambda: len(telegram.callback_answers) == 2)
        toast = telegram.callback_answers[1].text
        assert re.fullmatch(
            r"Russia AND embassy is muted until \w{3} \d\d:\d\d\. "
            r"/mute Russia AND embassy off ends it\.",
            toast,
        ), toast
        telegram.user_presses(CHAT, digest.message_id, "mute:99")
        await telegram.wait_for(lambda: len(telegram.callback_answers) == 3)
        assert telegram.callback_answers[2].text == "That watchlist no longer exists."

        feeds.publish("/world.xml", rss([LATER_UNRELATED, EMBASSY, *UNRELATED]))
        await _polled(feeds, "/world.xml", 2)
        assert len(telegram.sent_to(CHAT)) == 3  # exactly one digest

    # A restart sends nothing again.
    async with running_bot(config, telegram, analyser):
        await _polled(feeds, "/world.xml", 3)
        await asyncio.sleep(0.5)
    assert len(telegram.sent_to(CHAT)) == 3
