"""Private instances, admins' /stats, per-chat quotas and per-user throttling (real PTB, fake
Bot API)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.access import PRIVATE_NOTICE, SLOW_DOWN_NOTICE
from bot.app import NewswatchApp
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import DEFAULT_USER_ID, FakeTelegram
from tests.integration.harness import bot_config, running_bot
from watchers.store import BUSY_RETRY_WAITS, BUSY_TIMEOUT

ALLOWED, ADMIN, STRANGER = 500, 900, 777
GROUP = -9001


async def _answers(
    telegram: FakeTelegram, chat_id: int, text: str, count: int = 1, wait: float = 10
) -> list[str]:
    before = len(telegram.sent_to(chat_id))
    telegram.user_sends(text, chat_id=chat_id)
    messages = await telegram.wait_for_messages(chat_id, before + count, timeout=wait)
    return [m.plain_text for m in messages[before:]]


@pytest.fixture
async def private_app(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> AsyncIterator[NewswatchApp]:
    feeds.publish("/default.xml", rss([{"title": "Old story", "guid": "old-1"}]))
    config = bot_config(
        tmp_path,
        telegram,
        [feeds.url("/default.xml")],
        polling={"interval": 60},
        limits={"feeds_per_chat": 1},
    )
    private = replace(
        config.telegram,
        allowed_users=frozenset({ALLOWED}),
        allowed_chats=frozenset({GROUP}),
        admins=frozenset({ADMIN}),
    )
    config = replace(config, telegram=private)
    async with running_bot(config, telegram, analyser) as application:
        yield application


async def test_a_private_instance_tells_strangers_once_and_does_nothing_for_them(
    private_app: NewswatchApp, telegram: FakeTelegram
) -> None:
    assert await _answers(telegram, STRANGER, "/start") == [PRIVATE_NOTICE]
    for text in ("/help", "/watch gas", "hello"):
        telegram.user_sends(text, chat_id=STRANGER)
    assert "newswatch" in (await _answers(telegram, ALLOWED, "/start"))[0]  # handled after them
    await asyncio.sleep(0.3)
    assert [m.plain_text for m in telegram.sent_to(STRANGER)] == [PRIVATE_NOTICE]
    assert private_app.bot_data.require().store.get_chat(STRANGER) is None


async def test_allowed_chats_let_their_members_in(
    private_app: NewswatchApp, telegram: FakeTelegram
) -> None:
    telegram.add_chat(GROUP, chat_type="supergroup", title="Desk")
    telegram.set_member_status(GROUP, DEFAULT_USER_ID, "administrator")
    before = len(telegram.sent_to(GROUP))
    telegram.user_sends("/start", chat_id=GROUP, chat_type="supergroup", chat_title="Desk")
    messages = await telegram.wait_for_messages(GROUP, before + 1, timeout=10)
    assert "newswatch is on" in messages[-1].plain_text


async def test_a_stranger_adding_the_bot_to_a_group_hears_it_is_private(
    private_app: NewswatchApp, telegram: FakeTelegram
) -> None:
    telegram.chat_member_update(-4321, "left", "member", chat_type="group", user_id=STRANGER)
    [notice] = await telegram.wait_for_messages(-4321, 1, timeout=10)
    assert notice.plain_text == PRIVATE_NOTICE


async def test_stats_are_for_admins_only(private_app: NewswatchApp, telegram: FakeTelegram) -> None:
    await _answers(telegram, ALLOWED, "/start")
    [refused] = await _answers(telegram, ALLOWED, "/stats")
    assert "for this instance's admins" in refused
    [stats] = await _answers(telegram, ADMIN, "/stats")
    assert "Feeds followed: 1" in stats and "Active chats: 1" in stats
    assert "Outbox waiting:" in stats and "Errors in the last hour:" in stats


async def test_the_feed_quota_is_explained(
    private_app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    await _answers(telegram, ALLOWED, "/start")
    feeds.publish("/more.xml", rss([{"title": "A", "guid": "a"}]))
    [answer] = await _answers(telegram, ALLOWED, f"/addfeed {feeds.url('/more.xml')}")
    assert "This chat follows 1 feed, the most it can. Remove one with /removefeed." in answer


async def test_a_flood_from_one_user_is_throttled_without_slowing_another(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> None:
    feeds.publish("/default.xml", rss([{"title": "Old story", "guid": "old-1"}]))
    config = bot_config(
        tmp_path,
        telegram,
        [feeds.url("/default.xml")],
        polling={"interval": 60},
        limits={"commands_burst": 3, "commands_per_minute": 1},
    )
    async with running_bot(config, telegram, analyser):
        for _ in range(12):
            telegram.user_sends("/help", chat_id=ALLOWED)
        [other] = await _answers(telegram, ADMIN, "/help")  # queued after the flood
        assert "/watch" in other
        await asyncio.sleep(0.5)
        flood = [m.plain_text for m in telegram.sent_to(ALLOWED)]
        assert len(flood) == 4 and flood[3] == SLOW_DOWN_NOTICE
        assert all("/watch" in text for text in flood[:3])


@pytest.mark.slow
async def test_a_locked_database_delays_a_command_and_never_fakes_success(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> None:
    feeds.publish("/default.xml", rss([{"title": "Old story", "guid": "old-1"}]))
    config = bot_config(tmp_path, telegram, [feeds.url("/default.xml")], polling={"interval": 60})
    async with running_bot(config, telegram, analyser) as app:
        await _answers(telegram, ALLOWED, "/start")
        store = app.bot_data.require().store
        path = config.storage.path
        # Another process holds the write lock a little longer than the 5 s busy timeout.
        holder = _hold_write_lock(path, BUSY_TIMEOUT + 1.0)
        [answer] = await _answers(telegram, ALLOWED, "/watch Gas: gas", wait=30)
        assert "Watching Gas" in answer
        assert [w.name for w in store.watchlists(ALLOWED)] == ["Gas"]
        holder.join()
        # ... and then longer than the timeout and every retry: the user hears it failed.
        holder = _hold_write_lock(path, BUSY_TIMEOUT + sum(BUSY_RETRY_WAITS) + 2.0)
        # (the poll job, on the same event loop, may wait out the lock first)
        [answer] = await _answers(telegram, ALLOWED, "/watch Oil: oil", wait=30)
        assert "busy; nothing was changed" in answer and "Watching" not in answer
        holder.join()
        assert "Oil" not in (await _answers(telegram, ALLOWED, "/watchlists"))[0]


def _hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    locked = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    locked.wait(5)
    return thread
