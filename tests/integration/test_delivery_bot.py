"""Delivery in the running bot: a group that becomes a supergroup keeps getting its stories."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import DEFAULT_USER_ID, FakeTelegram
from tests.integration.harness import bot_config, running_bot

pytestmark = pytest.mark.slow

GROUP = -500
SUPERGROUP = -1000000000500


def _story(n: int) -> dict[str, Any]:
    return {
        "title": f"Embassy staff return to Moscow, round {n}",
        "link": f"https://wire.example/world/embassy-{n}",
        "guid": f"wire-embassy-{n}",
        "description": f"Russia and the United States agreed on embassy staffing, round {n}.",
        "pub_date": datetime(2026, 11, 24, 9, n, tzinfo=UTC),
    }


async def _polled(feeds: FeedServer, path: str, times: int) -> None:
    target = len(feeds.requests_for(path)) + times
    for _ in range(200):
        if len(feeds.requests_for(path)) >= target:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the feed was not polled {times} more time(s) within 10 s")


async def test_a_group_upgraded_to_a_supergroup_keeps_receiving_without_a_restart(
    tmp_path: Path,
    telegram: FakeTelegram,
    feeds: FeedServer,
    analyser: Any,
    storage_section: dict[str, str],
) -> None:
    feeds.publish("/world.xml", rss([], title="Wire World"))
    config = bot_config(tmp_path, telegram, [feeds.url("/world.xml")], storage=storage_section)
    telegram.add_chat(GROUP, chat_type="group")
    telegram.set_member_status(GROUP, DEFAULT_USER_ID, "administrator")
    async with running_bot(config, telegram, analyser):
        telegram.user_sends("/start", chat_id=GROUP, chat_type="group")
        await telegram.wait_for_messages(GROUP, 1, timeout=10)
        telegram.user_sends("/watch Russia AND embassy", chat_id=GROUP, chat_type="group")
        await telegram.wait_for_messages(GROUP, 2, timeout=10)
        await _polled(feeds, "/world.xml", 1)

        telegram.migrate(GROUP, SUPERGROUP)  # the digest on its way is cut off
        feeds.publish("/world.xml", rss([_story(1)], title="Wire World"))
        [first] = await telegram.wait_for_messages(SUPERGROUP, 1, timeout=10)
        assert "round 1" in first.plain_text

        feeds.publish("/world.xml", rss([_story(2), _story(1)], title="Wire World"))
        messages = await telegram.wait_for_messages(SUPERGROUP, 2, timeout=10)
        assert "round 2" in messages[1].plain_text
        await _polled(feeds, "/world.xml", 2)
    assert len(telegram.sent_to(SUPERGROUP)) == 2  # each story once


async def test_digest_now_wakes_the_delivery_loop(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> None:
    chat = 4343
    feeds.publish("/world.xml", rss([], title="Wire World"))
    config = bot_config(tmp_path, telegram, [feeds.url("/world.xml")])
    async with running_bot(config, telegram, analyser):
        for n, command in enumerate(
            ["/start", "/watch Russia AND embassy", "/schedule weekly mon 08:00"], 1
        ):
            telegram.user_sends(command, chat_id=chat)
            await telegram.wait_for_messages(chat, n, timeout=10)
        await _polled(feeds, "/world.xml", 1)
        feeds.publish("/world.xml", rss([_story(3)], title="Wire World"))
        await _polled(feeds, "/world.xml", 2)
        assert len(telegram.sent_to(chat)) == 3  # the story waits for Monday
        telegram.user_sends("/digest now", chat_id=chat)
        messages = await telegram.wait_for_messages(chat, 4, timeout=5)
        assert "round 3" in messages[3].plain_text
