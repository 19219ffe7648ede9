"""The bot always says what is going on: state in /watchlists and /status, answers to plain text
and unknown commands, the paused chat, input as people type it, replies as sentences, and help
pages with examples (real PTB, fake Bot API)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import CommandHandler

from bot.app import NewswatchApp
from bot.handlers import COMMANDS, HELP, HELP_PAGES
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import FakeTelegram, SentMessage
from tests.integration.harness import bot_config, running_bot
from watchers.model import Article, HitDetail

CHAT = 778
GROUP = -9002
BOT = "newswatch_test_bot"
NOW = datetime(2025, 7, 1, 10, 0, tzinfo=UTC)  # a Tuesday; 12:00 in Berlin


@pytest.fixture
async def app(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> AsyncIterator[NewswatchApp]:
    feeds.publish("/default.xml", rss([{"title": "Old story", "guid": "old-1"}], title="Default"))
    config = bot_config(
        tmp_path,
        telegram,
        [feeds.url("/default.xml")],
        polling={"interval": 600},
        limits={"commands_burst": 1000},
    )
    async with running_bot(config, telegram, analyser) as application:
        application.bot_data.require().clock = lambda: NOW
        yield application


class Chat:
    def __init__(self, telegram: FakeTelegram, chat_id: int = CHAT, **kw: Any) -> None:
        self.telegram, self.chat_id, self.kw = telegram, chat_id, kw

    async def message(self, text: str) -> SentMessage:
        before = len(self.telegram.sent_to(self.chat_id))
        self.telegram.user_sends(text, chat_id=self.chat_id, **self.kw)
        messages = await self.telegram.wait_for_messages(self.chat_id, before + 1, timeout=10)
        return messages[before]

    async def say(self, text: str) -> str:
        return (await self.message(text)).plain_text

    async def say_nothing_to(self, text: str) -> None:
        """``text`` gets no answer: the next answer is the one to a later /help."""
        before = len(self.telegram.sent_to(self.chat_id))
        self.telegram.user_sends(text, chat_id=self.chat_id, **self.kw)
        self.telegram.user_sends("/help", chat_id=self.chat_id, **self.kw)
        messages = await self.telegram.wait_for_messages(self.chat_id, before + 1, timeout=10)
        await asyncio.sleep(0.3)
        assert len(self.telegram.sent_to(self.chat_id)) == before + 1, text
        assert messages[before].plain_text.startswith("newswatch sends you"), text


async def started(telegram: FakeTelegram) -> Chat:
    chat = Chat(telegram)
    await chat.say("/start")
    return chat


# -- hidden state -----------------------------------------------------------------------------


async def test_watchlists_show_paused_muted_until_when_and_schedule(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    await chat.say("/watch Embassies: Russia AND embassy")
    await chat.say("/watch Gas: gas OR LNG")
    await chat.say("/watch Talks: peace talks")
    await chat.say("/timezone Europe/Berlin")
    assert "muted until Tue 14:00" in await chat.say("/mute Embassies 2h")  # 12:00 in Berlin
    await chat.say("/pause Gas")
    await chat.say("/schedule Talks: daily 8am")
    listing = await chat.say("/watchlists")
    embassies, gas, talks = re.split(r"\n(?=\d\. )", listing.split("\n", 1)[1])
    assert "🔕 muted until Tue 14:00" in embassies and "(the chat's schedule)" in embassies
    assert "⏸ paused" in gas and "/resume Gas" in gas
    assert "daily 08:00 (Europe/Berlin)" in talks and "muted" not in talks


async def test_the_mute_button_says_until_when(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = await started(telegram)
    await chat.say("/timezone Europe/Berlin")
    await chat.say("/watch Embassies: Russia AND embassy")
    watchlist = app.bot_data.require().store.watchlists(CHAT)[0]
    under = await chat.message("/watchlists")
    telegram.user_presses(CHAT, under.message_id, f"mute:{watchlist.id}")
    await telegram.wait_for(lambda: telegram.callback_answers, what="the button's answer")
    toast = telegram.callback_answers[-1].text or ""
    assert toast.startswith("Embassies is muted until Wed 12:00.")  # a day, on Berlin's clock
    assert "/mute Embassies off" in toast
    assert "muted until Wed 12:00" in await chat.say("/watchlists")


# -- silence ----------------------------------------------------------------------------------


async def test_plain_text_and_unknown_commands_in_a_private_chat_get_pointed_at_help(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    answer = await chat.say("hello bot, what can you do?")
    assert "/help" in answer and "/watch Russia AND embassy" in answer
    answer = await chat.say("/foo")
    assert answer.startswith("I don't know /foo.") and "/help" in answer


async def test_in_groups_only_unknown_commands_addressed_to_the_bot_are_answered(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    telegram.add_chat(GROUP, chat_type="supergroup", title="Desk")
    group = Chat(telegram, GROUP, chat_type="supergroup", chat_title="Desk")
    await group.say_nothing_to("hello everyone, lunch?")
    await group.say_nothing_to("/foo")
    await group.say_nothing_to("/foo@some_other_bot")
    assert (await group.say(f"/foo@{BOT}")).startswith("I don't know /foo.")


# -- wrong words ------------------------------------------------------------------------------


async def test_a_paused_chat_is_told_so_and_welcomed_back(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    await chat.say("/watch Embassies: Russia AND embassy")
    await chat.say("/watch Gas: gas OR LNG")
    await chat.say("/stop")
    for command in ("/watchlists", "/watch oil", "/feeds", "/mute Gas"):
        answer = await chat.say(command)
        assert "Alerts are paused for this chat" in answer and "/start to resume" in answer
        assert "isn't subscribed" not in answer
    answer = await chat.say("/start")
    assert answer.startswith("👋 Welcome back: 2 watchlists, 1 feed.")
    assert "tell me what to watch for" not in answer and "(s)" not in answer


async def test_after_a_block_and_unblock_commands_say_paused(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    await chat.say("/watch gas")
    store = app.bot_data.require().store
    telegram.chat_member_update(CHAT, "member", "kicked")
    await telegram.wait_for(lambda: not store.get_chat(CHAT).active, what="paused")  # type: ignore[union-attr]
    telegram.chat_member_update(CHAT, "kicked", "member")
    assert "Alerts are paused" in await chat.say("/watchlists")
    status = await chat.say("/status")  # status still answers, and says so
    assert "Alerts are paused for this chat: send /start to resume." in status
    assert (await chat.say("/start")).startswith("👋 Welcome back: 1 watchlist, 1 feed.")


async def test_a_second_start_says_what_the_chat_has(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    await chat.say("/watch gas")
    assert (await chat.say("/start")).startswith("👋 newswatch is already on: 1 watchlist, 1 feed.")


async def test_re_adding_a_followed_feed_says_already(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    chat = await started(telegram)
    feeds.publish("/extra.xml", rss([{"title": "A", "guid": "a"}], title="Extra News"))
    assert "Following Extra News" in await chat.say(f"/addfeed {feeds.url('/extra.xml')}")
    answer = await chat.say(f"/addfeed {feeds.url('/extra.xml')}")
    assert answer.startswith("You already follow Extra News.")
    assert "already follow Feed 1" in await chat.say(f"/addfeed {feeds.url('/default.xml')}/")
    page = '<html><head><link rel="alternate" type="application/rss+xml" href="extra.xml">'
    feeds.publish("/site.html", page + "</head></html>", content_type="text/html")
    answer = await chat.say(f"/addfeed {feeds.url('/site.html')}")
    assert answer.startswith("You already follow Extra News.")  # the feed the page names
    assert len(app.bot_data.require().store.followed_feeds(CHAT)) == 2


# -- input a person types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "city"),
    [
        ("UTC+2", "UTC+02:00", "Europe/Berlin"),
        ("GMT+1", "UTC+01:00", "Europe/London"),
        ("+02:00", "UTC+02:00", "Europe/Berlin"),
        ("UTC-05:30", "UTC-05:30", None),
    ],
)
async def test_utc_offsets_are_accepted_as_fixed_zones(
    app: NewswatchApp, telegram: FakeTelegram, typed: str, stored: str, city: str | None
) -> None:
    chat = await started(telegram)
    answer = await chat.say(f"/timezone {typed}")
    assert f"Timezone set to {stored}" in answer
    assert "does not change for daylight saving time" in answer
    if city:
        assert f"/timezone {city}." in answer
    store = app.bot_data.require().store
    assert store.get_chat(CHAT).timezone == stored  # type: ignore[union-attr]
    await chat.say("/watch gas")
    assert "muted until" in await chat.say("/mute gas 1h")  # the stored name reads back


async def test_times_as_people_write_them(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = await started(telegram)
    assert "Quiet hours 22:00-07:00" in await chat.say("/quiet 10pm-7am")
    assert "Quiet hours 22:00-07:00" in await chat.say("/quiet 22-7")
    assert "Quiet hours 23:00-06:30" in await chat.say("/quiet 11 pm to 6:30 am")
    assert "daily 08:00" in await chat.say("/schedule daily 8am")
    assert "weekly fri 17:00" in await chat.say("/schedule weekly fri 5pm")


async def test_mute_without_a_duration_mutes_for_a_day(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    await chat.say("/watch Embassies: Russia AND embassy")
    await chat.say("/watch gas OR LNG")
    assert "Embassies is muted until Wed 10:00" in await chat.say("/mute Embassies")
    assert "gas OR LNG is muted until Wed 10:00" in await chat.say("/mute gas OR LNG")
    assert "gas OR LNG is muted until Tue 12:00" in await chat.say("/mute gas OR LNG 2h")
    muted = {w.name: w.muted_until for w in app.bot_data.require().store.watchlists(CHAT)}
    assert muted["Embassies"] == NOW + timedelta(days=1)
    assert "no watchlist called “nothing”" in await chat.say("/mute nothing")


async def test_watch_with_a_name_and_no_query_says_the_query_is_empty(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    answer = await chat.say("/watch Embassies:")
    assert answer.startswith("The query is empty") and "unknown field" not in answer
    assert "/watch Embassies: Russia AND embassy" in answer


async def test_a_two_line_watch_is_a_name_then_a_query(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    assert "Watching Embassies: Russia AND embassy" in await chat.say(
        "/watch Embassies\nRussia AND embassy"
    )
    assert "Watching Gas: gas OR LNG" in await chat.say("/watch Gas:\ngas OR LNG")
    assert "Watching Oil: oil AND price" in await chat.say("/watch\nOil: oil AND\nprice")
    names = [w.name for w in app.bot_data.require().store.watchlists(CHAT)]
    assert names == ["Embassies", "Gas", "Oil"]
    assert all("\n" not in name for name in names)


async def test_a_duplicate_query_under_another_name_is_pointed_out(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    answer = await chat.say("/watch Embassies: Russia AND embassy")
    assert "same query" not in answer
    answer = await chat.say("/watch Russia: russia  AND  Embassy")
    assert "your watchlist Embassies has the same query" in answer
    assert "same query" not in await chat.say("/watch Russia: russia AND embassy*")


async def test_digest_later_is_refused_with_the_valid_forms(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    answer = await chat.say("/digest later")
    assert answer.startswith("I can't send a digest “later”.")
    assert "/digest now" in answer and "/schedule" in answer
    assert "Nothing new is waiting" in await chat.say("/digest now")
    assert "Nothing new is waiting" in await chat.say("/digest")


# -- every reply a sentence -------------------------------------------------------------------

BAD_INPUT = (
    "/quiet 07:00-07:00",
    "/quiet nights",
    "/quiet 25:00-07:00",
    "/schedule sometimes",
    "/schedule daily",
    "/schedule weekly someday 8am",
    "/timezone Mars/Olympus",
    "/timezone europe/berln",
    "/timezone UTC+15",
    "/mute gas forever",
    "/mute gas 500d",
    "/unwatch 9",
    "/unwatch nope",
    "/removefeed 9",
    "/pause",
    "/addfeed ftp://example.org/feed",
    "/digest later",
    "/help nonsense",
    "/foo",
    "what?",
)


def is_sentence(text: str) -> bool:
    """Starts with a capital letter (after an emoji, if any) or with the user's words in
    quotes, and ends like a sentence."""
    first = next((c for c in text if c.isalnum() or c in "'“"), "")
    return (first.isupper() or first in "'“") and text.rstrip().endswith((".", "?", "!"))


async def test_every_answer_to_bad_input_is_a_sentence(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = await started(telegram)
    await chat.say("/watch gas")
    answers = {command: await chat.say(command) for command in BAD_INPUT}
    assert [(c, a) for c, a in answers.items() if not is_sentence(a)] == []
    assert answers["/quiet 07:00-07:00"].startswith(
        "Quiet hours must start and end at different times; use e.g."
    )


# -- /status ----------------------------------------------------------------------------------


async def test_status_shows_feeds_watchlists_settings_and_what_is_waiting(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    chat = await started(telegram)
    services = app.bot_data.require()
    store = services.store
    feeds.status("/broken.xml", 500)
    await chat.say("/timezone Europe/Berlin")
    await chat.say("/quiet 10pm-7am")
    await chat.say("/watch Embassies: Russia AND embassy")
    await chat.say("/watch Gas: gas")
    await chat.say("/pause Gas")
    await chat.say("/mute Embassies 3h")
    [default] = store.followed_feeds(CHAT)
    store.record_poll(default.id, NOW - timedelta(minutes=5))
    broken = store.add_feed(feeds.url("/broken.xml"), NOW, name="Broken Wire")
    store.follow(CHAT, broken.id, NOW)
    store.record_poll(broken.id, NOW - timedelta(hours=2))
    store.record_poll(broken.id, NOW - timedelta(minutes=3), error="HTTP 500")
    store.record_poll(broken.id, NOW - timedelta(minutes=2), error="HTTP 500")
    [(article_id, _)] = store.insert_articles(
        default.id, [Article(key="e1", title="Embassy talks")], NOW
    )
    embassies = store.watchlists(CHAT)[0]
    store.add_hits([(embassies.id, article_id, HitDetail(terms=("embassy",)), "s1")], NOW)

    status = await chat.say("/status")
    assert "Timezone: Europe/Berlin (it is Tue 12:00 there now)." in status
    assert "Digests: instant; quiet hours: 22:00-07:00." in status
    assert "1. Feed 1: ✅ read 5 min ago; next poll in 5 min" in status
    assert "2. Broken Wire: ⚠️ last poll failed 2 min ago (2 times in a row): HTTP 500" in status
    assert "last read 2 h ago; next poll in" in status
    assert (
        "• Embassies: 🔕 muted until Tue 15:00, instant (the chat's), "
        "1 story waiting, going in 3 h (Tue 15:00)"
    ) in status
    assert "• Gas: ⏸ paused" in status
    assert "Waiting: 1 story." in status


async def test_status_of_a_new_chat_says_how_to_begin(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    assert "/start" in await chat.say("/status")
    await chat.say("/start")
    status = await chat.say("/status")
    assert "None yet: /watch Russia AND embassy" in status
    assert "Nothing is waiting to be sent." in status


# -- /help ------------------------------------------------------------------------------------


async def test_help_is_short_and_its_pages_have_examples_to_copy(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    short = await chat.message("/help")
    assert len(short.plain_text.splitlines()) <= 15
    for page in ("query", "digest", "feeds"):
        assert f"/help {page}" in short.plain_text
        answer = await chat.message(f"/help {page}")
        assert "code" in answer.entity_types, page  # a tap copies the example
        assert answer.plain_text != short.plain_text
    assert "NEAR/" in await chat.say("/help query")
    assert "/schedule daily 8am" in await chat.say("/help digests")
    assert "/addfeed https://" in await chat.say("/help Feeds")


async def test_the_command_menu_matches_the_handlers_and_the_help(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    registered = {
        command
        for handler in app.handlers[0]
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }
    menu = [name for name, _ in COMMANDS]
    assert set(menu) <= registered
    assert [c["command"] for c in telegram.commands] == menu
    help_text = HELP + "".join(HELP_PAGES.values())
    assert [name for name in menu if f"/{name}" not in help_text] == []
