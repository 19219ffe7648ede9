"""Delivery against the fake Bot API: nothing lost, nothing sent twice, no crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.delivery import deliver_outbox
from tests.fakes.telegram import FakeTelegram
from watchers.model import Article, Chat, HitDetail, OutboxState
from watchers.store import SqliteStorage

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> SqliteStorage:
    s = SqliteStorage(tmp_path / "nw.db")
    yield s  # type: ignore[misc]
    s.close()


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    request = HTTPXRequest(read_timeout=0.5, write_timeout=0.5, connect_timeout=0.5)
    async with Bot(telegram.token, base_url=telegram.ptb_base_url, request=request) as b:
        yield b


def _queue(store: SqliteStorage, chat_id: int, *texts: str) -> list[int]:
    store.upsert_chat(Chat(chat_id, "private" if chat_id > 0 else "group"), T0)
    feed = store.add_feed("https://n.example/rss", T0)
    w = store.add_watchlist(chat_id, f"W{chat_id}", "x", T0)
    [(article_id, _)] = store.insert_articles(
        feed.id, [Article(key=f"{chat_id}-{len(texts)}-{texts[0]}", title="t")], T0
    )
    store.add_hits([(w.id, article_id, HitDetail(("x",)), "")], T0)
    return store.queue_messages(chat_id, w.id, list(texts), [(w.id, article_id)], T0)


async def test_sends_in_order_and_marks_sent(
    store: SqliteStorage, bot: Bot, telegram: FakeTelegram
) -> None:
    telegram.add_chat(11)
    _queue(store, 11, "<b>one</b>", "two")
    report = await deliver_outbox(store, bot, Clock())
    assert report.sent == 2
    assert [m.plain_text for m in telegram.sent_to(11)] == ["one", "two"]
    assert all(m.link_preview_disabled for m in telegram.sent_to(11))
    assert (await deliver_outbox(store, bot, Clock())).sent == 0  # nothing twice
    assert store.outbox_counts() == {"sent": 2}


async def test_flood_limit_waits_and_loses_nothing(
    store: SqliteStorage, bot: Bot, telegram: FakeTelegram
) -> None:
    telegram.add_chat(12)
    _queue(store, 12, "first", "second")
    telegram.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    clock = Clock()
    report = await deliver_outbox(store, bot, clock)
    assert report.retried == 1 and report.sent == 0  # the second waits behind the first
    assert telegram.sent_to(12) == []
    clock.now = T0 + timedelta(seconds=5)
    assert (await deliver_outbox(store, bot, clock)).sent == 0  # still inside retry_after
    clock.now = T0 + timedelta(seconds=8)
    assert (await deliver_outbox(store, bot, clock)).sent == 2
    assert [m.plain_text for m in telegram.sent_to(12)] == ["first", "second"]


async def test_blocked_chat_is_paused_and_others_still_get_theirs(
    store: SqliteStorage, bot: Bot, telegram: FakeTelegram
) -> None:
    telegram.add_chat(13)
    telegram.add_chat(14)
    telegram.block(13)
    _queue(store, 13, "to the blocker", "more")
    _queue(store, 14, "to the reader")
    report = await deliver_outbox(store, bot, Clock())
    assert report.failed == 1 and report.sent == 1
    chat = store.get_chat(13)
    assert chat is not None and not chat.active
    assert [m.plain_text for m in telegram.sent_to(14)] == ["to the reader"]
    assert store.outbox_counts()["failed"] == 2
    assert store.watchlists(13)  # the chat's data is kept


async def test_group_upgraded_to_supergroup_gets_the_message_at_its_new_id(
    store: SqliteStorage, bot: Bot, telegram: FakeTelegram
) -> None:
    telegram.add_chat(-500, chat_type="group")
    telegram.migrate(-500, -1000000000500)
    _queue(store, -500, "hello group")
    await deliver_outbox(store, bot, Clock())
    await deliver_outbox(store, bot, Clock())
    assert [m.plain_text for m in telegram.sent_to(-1000000000500)] == ["hello group"]
    assert store.get_chat(-500) is None and store.get_chat(-1000000000500) is not None


async def test_timeout_after_sending_is_never_repeated(
    store: SqliteStorage, bot: Bot, telegram: FakeTelegram
) -> None:
    telegram.add_chat(15)
    _queue(store, 15, "slow one")
    telegram.delay("sendMessage", 1.0, times=1)
    report = await deliver_outbox(store, bot, Clock())
    assert report.uncertain == 1
    await telegram.wait_for(lambda: len(telegram.sent_to(15)) == 1, what="the slow send")
    assert (await deliver_outbox(store, bot, Clock())).sent == 0
    assert len(telegram.sent_to(15)) == 1  # the user got it once
    assert store.outbox_counts() == {OutboxState.UNCERTAIN.value: 1}


async def test_refused_html_fails_that_message_only(
    store: SqliteStorage, bot: Bot, telegram: FakeTelegram
) -> None:
    telegram.add_chat(16)
    _queue(store, 16, "<foo>broken</foo>")
    _queue(store, 16, "fine")
    report = await deliver_outbox(store, bot, Clock())
    assert report.failed == 1
    # The chat is still active; its next message goes out on the next run.
    await deliver_outbox(store, bot, Clock())
    assert [m.plain_text for m in telegram.sent_to(16)] == ["fine"]


async def test_connection_refused_is_retried_later(store: SqliteStorage) -> None:
    fake = FakeTelegram().start()
    request = HTTPXRequest(connect_timeout=0.5)
    async with Bot(fake.token, base_url=fake.ptb_base_url, request=request) as bot:
        fake.stop()  # Telegram is unreachable from now on: nothing can have been sent
        _queue(store, 17, "eventually")
        report = await deliver_outbox(store, bot, Clock())
    assert report.retried == 1
    assert [m.text for m in store.due_outbox(T0 + timedelta(minutes=1))] == ["eventually"]


async def test_digests_go_to_the_forum_topic_and_fall_back_when_it_is_gone(
    store: SqliteStorage, bot: Bot, telegram: FakeTelegram
) -> None:
    group = -1000000000777
    telegram.add_chat(group, chat_type="supergroup", is_forum=True)
    _queue(store, group, "to the topic")
    store.set_chat_thread(group, 42)
    await deliver_outbox(store, bot, Clock())
    assert [m.message_thread_id for m in telegram.sent_to(group)] == [42]
    _queue(store, group, "topic deleted meanwhile")
    store.set_chat_thread(group, 42)
    telegram.fail_next(
        "sendMessage", status=400, description="Bad Request: message thread not found"
    )
    assert (await deliver_outbox(store, bot, Clock())).retried == 1
    await deliver_outbox(store, bot, Clock())
    assert [m.message_thread_id for m in telegram.sent_to(group)] == [42, None]
    chat = store.get_chat(group)
    assert chat is not None and chat.thread_id is None
