"""Delivery against the fake Bot API: nothing lost, nothing sent twice, no crash.

What counts is what the fake server RECEIVED per chat, not what the bot believes it sent. Each
queued message carries a unique token, so that merged messages are counted too.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.delivery import TelegramSender
from bot.outbox import MERGE_AFTER, DeliveryLoop, DeliveryReport, deliver_once
from bot.pacing import PacedRateLimiter, Pacer
from tests.fakes.telegram import FakeTelegram
from watchers.model import Article, Chat, HitDetail, OutboxState
from watchers.store import SqliteStorage

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TOKEN = re.compile(r"#m(\d+)-(\d+)#")


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


def _bot(telegram: FakeTelegram, pacer: Pacer, timeout: float = 0.5) -> ExtBot[int]:
    request = HTTPXRequest(read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout)
    return ExtBot(
        telegram.token,
        base_url=telegram.ptb_base_url,
        request=request,
        rate_limiter=PacedRateLimiter(pacer),
    )


@pytest.fixture
async def sender(telegram: FakeTelegram, clock: Clock) -> AsyncIterator[TelegramSender]:
    pacer = Pacer(clock=clock.monotonic)
    async with _bot(telegram, pacer) as bot:
        yield TelegramSender(bot, pacer)


_counter = iter(range(1, 1_000_000))


def _queue(store: SqliteStorage, chat_id: int, count: int = 1, *, text: str = "story") -> None:
    """Queue ``count`` one-message digests for ``chat_id``, each with a unique token."""
    store.upsert_chat(Chat(chat_id, "private" if chat_id > 0 else "group"), T0)
    feed = store.add_feed("https://n.example/rss", T0)
    w = store.add_watchlist(chat_id, f"W{chat_id}", "x", T0)
    for _ in range(count):
        n = next(_counter)
        [(article_id, _)] = store.insert_articles(feed.id, [Article(key=f"a{n}", title="t")], T0)
        store.add_hits([(w.id, article_id, HitDetail(("x",)), "")], T0)
        store.queue_messages(
            chat_id, w.id, [f"<b>{text}</b> #m{chat_id}-{n}#"], [(w.id, article_id)], T0
        )


def _due_tokens(store: SqliteStorage) -> Counter[str]:
    rows = store._query("SELECT text FROM outbox")
    return Counter(m.group(0) for r in rows for m in TOKEN.finditer(r[0]))


def _received_tokens(telegram: FakeTelegram) -> Counter[str]:
    return Counter(m.group(0) for s in telegram.sent for m in TOKEN.finditer(s.plain_text))


async def _drain(
    store: SqliteStorage, sender: TelegramSender, clock: Clock, *, rounds: int = 200
) -> DeliveryReport:
    """Run delivery passes, moving simulated time on while chats must wait, until done."""
    total = DeliveryReport()
    for _ in range(rounds):
        report = await deliver_once(store, sender, clock)
        for name in ("sent", "retried", "failed", "unknown", "parked", "merged"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.next_in is not None:
            clock.advance(report.next_in)
        elif not report.acted:
            upcoming = store._query(
                "SELECT MIN(not_before) FROM outbox WHERE state='pending' AND not_before>?",
                (clock().isoformat(),),
            )[0][0]
            if upcoming is None:
                return total
            clock.now = datetime.fromisoformat(upcoming)
    raise AssertionError("delivery did not settle")


async def test_sends_in_order_and_marks_sent(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(11)
    _queue(store, 11, 2)
    report = await _drain(store, sender, clock)
    assert report.sent == 2
    texts = [m.plain_text for m in telegram.sent_to(11)]
    assert [t.split("#")[1] for t in texts] == sorted(t.split("#")[1] for t in texts)
    assert all(m.link_preview_disabled for m in telegram.sent_to(11))
    assert (await deliver_once(store, sender, clock)).sent == 0  # nothing twice
    assert store.outbox_counts() == {"sent": 2}


async def test_one_chats_429_delays_only_that_chat_and_duplicates_nothing(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    chats = list(range(101, 121))
    for chat in chats:
        telegram.add_chat(chat)
        _queue(store, chat, 2)
    telegram.fail_next(
        "sendMessage",
        status=429,
        description="Too Many Requests: retry after 8",
        retry_after=8,
        chat_id=105,
    )
    first = await deliver_once(store, sender, clock)
    assert first.retried == 1 and first.sent == 19  # the other chats did not wait
    await _drain(store, sender, clock)
    assert _received_tokens(telegram) == _due_tokens(store)  # none lost, none twice
    [late, _] = [c for c in telegram.calls_to("sendMessage") if c.params["chat_id"] == 105][1:]
    assert late.status == 200
    assert clock.now >= T0 + timedelta(seconds=8)


@pytest.mark.parametrize(
    ("status", "description"),
    [(500, "Internal Server Error"), (502, "Bad Gateway")],
)
async def test_a_server_error_is_retried_and_delivered_later(
    store: SqliteStorage,
    sender: TelegramSender,
    telegram: FakeTelegram,
    clock: Clock,
    status: int,
    description: str,
) -> None:
    telegram.add_chat(21)
    _queue(store, 21, 2)
    telegram.fail_next("sendMessage", status=status, description=description)
    report = await deliver_once(store, sender, clock)
    assert report.retried == 1 and telegram.sent_to(21) == []
    await _drain(store, sender, clock)
    assert _received_tokens(telegram) == _due_tokens(store)
    assert store.outbox_counts() == {"sent": 2}


async def test_blocked_chat_is_paused_its_rows_parked_and_others_still_get_theirs(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(13)
    telegram.add_chat(14)
    telegram.block(13)
    _queue(store, 13, 2)
    _queue(store, 14, 1)
    report = await _drain(store, sender, clock)
    assert report.parked == 2 and report.sent == 1
    chat = store.get_chat(13)
    assert chat is not None and not chat.active
    assert len(telegram.sent_to(14)) == 1
    assert store.outbox_counts() == {"parked": 2, "sent": 1}
    assert len([c for c in telegram.calls_to("sendMessage") if c.params["chat_id"] == 13]) == 1
    # The user unblocks the bot and says /start again: what waited arrives.
    telegram.unblock(13)
    store.upsert_chat(Chat(13, "private"), T0)
    await _drain(store, sender, clock)
    assert _received_tokens(telegram) == _due_tokens(store)


async def test_chat_not_found_pauses_the_chat(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    _queue(store, 31, 2)  # the fake server never heard of chat 31
    report = await _drain(store, sender, clock)
    assert report.parked == 2
    chat = store.get_chat(31)
    assert chat is not None and not chat.active
    assert len(telegram.calls_to("sendMessage")) == 1


async def test_migrated_group_gets_the_cut_off_message_and_later_ones_at_its_new_id(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(-500, chat_type="group")
    _queue(store, -500, 1)
    telegram.migrate(-500, -1000000000500)
    await _drain(store, sender, clock)
    _queue(store, -1000000000500, 1)
    await _drain(store, sender, clock)
    assert len(telegram.sent_to(-1000000000500)) == 2
    assert _received_tokens(telegram) == _due_tokens(store)
    assert store.get_chat(-500) is None and store.get_chat(-1000000000500) is not None


async def test_unparsable_markup_is_sent_once_as_plain_text(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(16)
    _queue(store, 16, 1, text="a <foo>broken</foo> tag")
    await _drain(store, sender, clock)
    [message] = telegram.sent_to(16)
    assert message.parse_mode is None and "a broken tag" in message.plain_text
    assert store.outbox_counts() == {"sent": 1}


async def test_a_message_refused_for_good_fails_alone_and_the_chat_goes_on(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(17)
    _queue(store, 17, 2)
    telegram.fail_next(
        "sendMessage",
        status=400,
        description="Bad Request: not enough rights to send text messages to the chat",
    )
    report = await _drain(store, sender, clock)
    assert report.failed == 1 and report.sent == 1
    assert store.outbox_counts() == {"failed": 1, "sent": 1}
    assert len(telegram.calls_to("sendMessage")) == 2  # the refused one was not tried again


async def test_a_stale_pass_cannot_resend_to_a_blocked_chat_or_resend_a_refused_message(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(18)
    telegram.add_chat(19)
    telegram.block(18)
    _queue(store, 18, 2)
    _queue(store, 19, 1)
    telegram.fail_next(
        "sendMessage", status=400, description="Bad Request: message is too long", chat_id=19
    )
    stale = store.due_outbox(clock())  # a pass that read the outbox before the answers came
    telegram.delay("sendMessage", 0.2)  # so that two passes overlap
    await asyncio.gather(*(deliver_once(store, sender, clock) for _ in range(3)))
    telegram.delay("sendMessage", 0)
    for message in stale:
        assert not store.mark_sending(message.id)  # neither can be claimed again
    calls = Counter(c.params["chat_id"] for c in telegram.calls_to("sendMessage"))
    assert calls == {18: 1, 19: 1}
    assert telegram.sent == []


async def test_a_timeout_after_the_request_went_out_is_retried_once(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(15)
    _queue(store, 15, 1)
    telegram.stall_next("sendMessage", 1.0)  # delivered, but the answer comes too late
    report = await deliver_once(store, sender, clock)
    assert report.unknown == 1
    await _drain(store, sender, clock)
    assert [n for n in _received_tokens(telegram).values()] == [2]  # one extra, never more
    assert store.outbox_counts() == {"sent": 1}


async def test_repeated_timeouts_give_up_after_one_extra_send(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(25)
    _queue(store, 25, 1)
    telegram.stall_next("sendMessage", 1.0, times=2)
    await _drain(store, sender, clock)
    assert len(telegram.sent_to(25)) == 2
    assert store.outbox_counts() == {OutboxState.UNCERTAIN.value: 1}


@pytest.mark.parametrize("after_delivery", [False, True])
async def test_a_dropped_connection_never_loses_and_repeats_at_most_once(
    store: SqliteStorage,
    sender: TelegramSender,
    telegram: FakeTelegram,
    clock: Clock,
    after_delivery: bool,
) -> None:
    telegram.add_chat(26)
    _queue(store, 26, 2)
    telegram.drop_next("sendMessage", after_delivery=after_delivery)
    await _drain(store, sender, clock)
    received = _received_tokens(telegram)
    assert set(received) == set(_due_tokens(store))
    assert sum(received.values()) == 2 + int(after_delivery)


async def test_connection_refused_is_retried_later(store: SqliteStorage, clock: Clock) -> None:
    fake = FakeTelegram().start()
    pacer = Pacer(clock=clock.monotonic)
    async with _bot(fake, pacer) as bot:
        fake.stop()  # Telegram is unreachable from now on: nothing can have been sent
        _queue(store, 27, 1)
        report = await deliver_once(store, TelegramSender(bot, pacer), clock)
    assert report.retried == 1 and report.unknown == 0
    assert len(store.due_outbox(T0 + timedelta(minutes=1))) == 1


async def test_digests_go_to_the_forum_topic_and_fall_back_when_it_is_gone(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    group = -1000000000777
    telegram.add_chat(group, chat_type="supergroup", is_forum=True)
    _queue(store, group, 1)
    store.set_chat_thread(group, 42)
    await _drain(store, sender, clock)
    assert [m.message_thread_id for m in telegram.sent_to(group)] == [42]
    _queue(store, group, 1)
    store.set_chat_thread(group, 42)
    telegram.fail_next(
        "sendMessage", status=400, description="Bad Request: message thread not found"
    )
    await _drain(store, sender, clock)
    assert [m.message_thread_id for m in telegram.sent_to(group)] == [42, None]
    chat = store.get_chat(group)
    assert chat is not None and chat.thread_id is None


async def test_a_backlog_past_a_digests_worth_is_merged(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(28)
    _queue(store, 28, MERGE_AFTER + 3)
    await _drain(store, sender, clock)
    assert len(telegram.sent_to(28)) == 1
    assert _received_tokens(telegram) == _due_tokens(store)
    assert store.pending_hits(28) == []  # every story is tied to the message that carried it


async def test_a_group_gets_at_most_twenty_a_minute(
    store: SqliteStorage, sender: TelegramSender, telegram: FakeTelegram, clock: Clock
) -> None:
    telegram.add_chat(-600, chat_type="group")  # (simulated time: the fake's limits are off)
    for _ in range(25):
        _queue(store, -600, 1, text="x" * 3000)  # too long to merge
    start = clock.seconds
    await _drain(store, sender, clock)
    assert len(telegram.sent_to(-600)) == 25
    assert clock.seconds - start >= 60.0


# -- the real loop, in real time --------------------------------------------------------------


@pytest.mark.slow
async def test_sixty_chats_three_stories_with_limits_on_get_no_429(
    store: SqliteStorage, telegram: FakeTelegram
) -> None:
    telegram.telegram_limits()
    chats = list(range(1001, 1061))
    for chat in chats:
        telegram.add_chat(chat)
        _queue(store, chat, 3)
    pacer = Pacer()
    wake = asyncio.Event()
    async with _bot(telegram, pacer, timeout=5.0) as bot:
        loop = DeliveryLoop(store, TelegramSender(bot, pacer), lambda: datetime.now(UTC), wake)
        loop.start()
        await telegram.wait_for(lambda: len(telegram.sent) == 180, timeout=30, what="180 sends")
        await loop.stop()
    assert telegram.flood_refusals == 0
    assert _received_tokens(telegram) == _due_tokens(store)


async def test_a_reply_to_a_command_does_not_queue_behind_digests(
    store: SqliteStorage, telegram: FakeTelegram
) -> None:
    telegram.telegram_limits()
    for chat in range(2001, 2091):
        telegram.add_chat(chat)
        _queue(store, chat, 1)
    telegram.add_chat(3000)
    pacer = Pacer()
    async with _bot(telegram, pacer, timeout=5.0) as bot:
        loop = DeliveryLoop(
            store, TelegramSender(bot, pacer), lambda: datetime.now(UTC), asyncio.Event()
        )
        loop.start()
        await telegram.wait_for(lambda: len(telegram.sent) >= 5, what="digests flowing")
        await bot.send_message(3000, "pong")  # a handler's reply, through the rate limiter
        order = [m.chat_id for m in telegram.sent]
        await loop.stop()
    assert order.index(3000) < 40  # not behind the ninety digests queued before it
    assert telegram.flood_refusals == 0


async def test_stopping_mid_send_releases_the_row_and_loses_nothing(
    store: SqliteStorage, telegram: FakeTelegram
) -> None:
    telegram.add_chat(40)
    _queue(store, 40, 1)
    telegram.stall_next("sendMessage", 3.0)
    pacer = Pacer()
    async with _bot(telegram, pacer, timeout=5.0) as bot:
        loop = DeliveryLoop(
            store, TelegramSender(bot, pacer), lambda: datetime.now(UTC), asyncio.Event()
        )
        loop.start()
        await telegram.wait_for(lambda: len(telegram.sent) == 1, what="the stalled send")
        await loop.stop(timeout=0.2)
    assert store.outbox_counts() == {"pending": 1}  # sent again once at the next start
