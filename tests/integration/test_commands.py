"""Every command answers in plain words, also on bad input (real PTB, fake Bot API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import NewswatchApp
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import DEFAULT_USER_ID, FakeTelegram
from tests.integration.harness import bot_config, running_bot

CHAT = 777


@pytest.fixture
async def app(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> AsyncIterator[NewswatchApp]:
    feeds.publish("/default.xml", rss([{"title": "Old story", "guid": "old-1"}], title="Default"))
    config = bot_config(
        tmp_path,
        telegram,
        [feeds.url("/default.xml")],
        polling={"interval": 60},
        limits={"commands_burst": 1000, "watchlists_per_chat": 60},
    )
    async with running_bot(config, telegram, analyser) as application:
        yield application


class Chat:
    """Send a command and wait for the bot's answer."""

    def __init__(self, telegram: FakeTelegram, chat_id: int = CHAT, **kw: Any) -> None:
        self.telegram, self.chat_id, self.kw = telegram, chat_id, kw

    async def say(self, text: str) -> str:
        before = len(self.telegram.sent_to(self.chat_id))
        self.telegram.user_sends(text, chat_id=self.chat_id, **self.kw)
        messages = await self.telegram.wait_for_messages(self.chat_id, before + 1, timeout=10)
        return messages[before].plain_text


async def test_commands_before_start_say_to_start(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    answer = await Chat(telegram).say("/watch gas")
    assert "/start" in answer


async def test_start_follows_default_feeds_and_explains(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    answer = await chat.say("/start")
    assert "You follow 1 feed" in answer and "/watch" in answer
    feeds = await chat.say("/feeds")
    assert "1. Feed 1" in feeds


async def test_watch_list_and_unwatch(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    assert "Watching Embassies" in await chat.say("/watch Embassies: Russia AND embassy")
    assert "Watching gas OR LNG" in await chat.say("/watch gas OR LNG")
    answer = await chat.say("/watch embassies: Russia AND embass*")
    assert "Watching Embassies" in answer and "replaces its earlier query" in answer
    listing = await chat.say("/watchlists")
    assert "1. Embassies: Russia AND embass*" in listing
    assert "2. gas OR LNG: gas OR LNG" in listing
    assert "Stopped watching Embassies" in await chat.say("/unwatch 1")
    assert "no watchlist number 5" in await chat.say("/unwatch 5")
    assert "no watchlist called “nope”" in await chat.say("/unwatch nope")
    assert "Embassies" not in await chat.say("/watchlists")


async def test_bad_query_shows_where(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    answer = await chat.say("/watch Russia AND (embassy")
    assert "missing ) for the ( at position 12" in answer
    assert "Russia AND (embassy\n           ^" in answer
    assert "/watchlists" not in answer
    assert "No watchlists yet" in await chat.say("/watchlists")


async def test_empty_arguments_get_usage(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    assert "/watch Russia AND embassy" in await chat.say("/watch")
    assert "/addfeed https://" in await chat.say("/addfeed")
    assert "/removefeed" in await chat.say("/removefeed")


async def test_addfeed_checks_the_feed_and_removefeed(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    feeds.publish(
        "/extra.xml",
        rss([{"title": "A", "guid": "a"}, {"title": "B", "guid": "b"}], title="Extra News"),
    )
    answer = await chat.say(f"/addfeed {feeds.url('/extra.xml')}")
    assert "Following Extra News (2 stories in it now)" in answer
    feeds.status("/gone.xml", 404)
    answer = await chat.say(f"/addfeed {feeds.url('/gone.xml')}")
    assert "couldn't add that feed" in answer and "404" in answer
    feeds.publish("/page.html", "<html><body><p>Hello</p></body></html>", content_type="text/html")
    assert "couldn't add that feed" in await chat.say(f"/addfeed {feeds.url('/page.html')}")
    answer = await chat.say("/addfeed ftp://example.org/feed")
    assert "couldn't add that feed: only http and https addresses are supported" in answer
    listing = await chat.say("/feeds")
    assert "1. Feed 1" in listing and "2. Extra News" in listing
    assert "Stopped following Extra News" in await chat.say("/removefeed 2")
    assert "no feed number 9" in await chat.say("/removefeed 9")


async def test_stop_pauses_and_start_resumes(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    await chat.say("/watch gas")
    assert "paused" in await chat.say("/stop")
    answer = await chat.say("/watchlists")
    assert "paused" in answer and "/start to resume" in answer
    assert "isn't subscribed" not in answer
    answer = await chat.say("/start")
    assert answer.startswith("👋 Welcome back: 1 watchlist, 1 feed.")
    assert "tell me what to watch for" not in answer


async def test_help_and_query_help(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = Chat(telegram)
    assert "/watch" in await chat.say("/help")
    answer = await chat.say("/help query")
    assert "NEAR/" in answer and "PERSON:" in answer


async def test_settings_commands(app: NewswatchApp, telegram: FakeTelegram) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    await chat.say("/watch Embassies: Russia AND embassy")
    assert "Timezone set to Europe/Berlin" in await chat.say("/timezone europe/berlin")
    answer = await chat.say("/timezone Europe/Berln")
    assert "Europe/Berlin" in answer  # a suggestion
    assert "daily 08:00" in await chat.say("/schedule daily 08:00")
    assert "Embassies" in await chat.say("/schedule Embassies: hourly")
    assert "use one of" in await chat.say("/schedule sometimes")
    assert "Quiet hours 22:00-07:00" in await chat.say("/quiet 22:00-07:00")
    assert "Quiet hours are off" in await chat.say("/quiet off")
    assert "muted until" in await chat.say("/mute Embassies 2h")
    assert "unmuted" in await chat.say("/mute 1 off")
    assert "is paused" in await chat.say("/pause 1")
    assert "watching again" in await chat.say("/resume Embassies")
    assert "Nothing new is waiting" in await chat.say("/digest now")


async def test_in_groups_only_admins_change_things(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    group = Chat(telegram, -9001, chat_type="supergroup", chat_title="Newsroom")
    telegram.add_chat(-9001, chat_type="supergroup", title="Newsroom")
    telegram.set_member_status(-9001, DEFAULT_USER_ID, "administrator")
    assert "newswatch" in await group.say("/start@newswatch_test_bot")
    assert "Watching" in await group.say("/watch@newswatch_test_bot gas")
    telegram.set_member_status(-9001, DEFAULT_USER_ID, "member")
    assert "Only the group's admins" in await group.say("/unwatch 1")
    assert "gas" in await group.say("/watchlists")  # reading is for everyone
    before = len(telegram.sent_to(-9001))
    telegram.anonymous_admin_sends("/unwatch 1", chat_id=-9001, chat_title="Newsroom")
    messages = await telegram.wait_for_messages(-9001, before + 1, timeout=10)
    assert "Stopped watching gas" in messages[-1].plain_text


async def test_channel_posts_are_commands_too(app: NewswatchApp, telegram: FakeTelegram) -> None:
    before = len(telegram.sent_to(-100777))
    telegram.channel_post("/start", chat_id=-100777)
    messages = await telegram.wait_for_messages(-100777, before + 1, timeout=10)
    assert "newswatch" in messages[-1].plain_text


async def test_a_returning_chat_keeps_its_own_feeds(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    assert "Stopped following Feed 1" in await chat.say("/removefeed 1")
    await chat.say("/stop")
    assert "You follow no feeds yet" in await chat.say("/start")


async def test_limits_per_chat_and_long_lists_split(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    services = app.bot_data.require()
    most = services.config.limits.watchlists_per_chat
    long_query = " OR ".join(f"word{i}" for i in range(20))
    for i in range(most):
        services.engine.add_watchlist(CHAT, f"list {i}", long_query, services.clock())
    assert "This chat has 60 watchlists, the most it can have" in await chat.say("/watch more")
    before = len(telegram.sent_to(CHAT))
    telegram.user_sends("/watchlists", chat_id=CHAT)
    await telegram.wait_for_messages(CHAT, before + 2, timeout=10)  # too long for one message
    await asyncio.sleep(0.3)
    parts = telegram.sent_to(CHAT)[before:]
    assert all(len(p.plain_text) <= 4096 for p in parts)
    text = "\n".join(p.plain_text for p in parts)
    assert "1. list 0" in text and f"{most}. list {most - 1}" in text


async def test_start_in_a_forum_topic_remembers_the_topic(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    group = -1000000000999
    telegram.add_chat(group, chat_type="supergroup", title="Desk", is_forum=True)
    telegram.set_member_status(group, DEFAULT_USER_ID, "creator")
    topic = Chat(telegram, group, chat_type="supergroup", chat_title="Desk", message_thread_id=9)
    await topic.say("/start")
    chat = app.bot_data.require().store.get_chat(group)
    assert chat is not None and chat.thread_id == 9
    assert telegram.sent_to(group)[-1].message_thread_id == 9  # the reply is in the topic too


async def test_addfeed_with_a_web_page_follows_the_feed_it_announces(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    feeds.publish("/site/rss.xml", rss([{"title": "A", "guid": "a"}], title="Site News"))
    page = '<html><head><link rel="alternate" type="application/rss+xml" href="rss.xml"></head>'
    feeds.publish("/site/", page + "<body>Welcome</body></html>", content_type="text/html")
    answer = await chat.say(f"/addfeed {feeds.url('/site/')}")
    assert "Following Site News (1 story in it now) — the feed that page links to" in answer
    listing = await chat.say("/feeds")
    assert "2. Site News" in listing and feeds.url("/site/rss.xml") in listing


async def test_watch_previews_what_it_would_have_caught(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    feeds.publish(
        "/extra.xml",
        rss(
            [
                {"title": "Gas prices fall as storage fills", "guid": "g1"},
                {"title": "Election count goes on", "guid": "g2"},
                {"title": "Pipeline gas flows resume", "guid": "g3"},
            ],
            title="Energy Desk",
        ),
    )
    await chat.say("/removefeed 1")  # only the feed below, whether or not Feed 1 was polled
    await chat.say(f"/addfeed {feeds.url('/extra.xml')}")
    answer = await chat.say("/watch Gas: gas AND NOT election")
    assert "2 of the latest 3 stories in your feeds would have matched:" in answer
    assert "• Pipeline gas flows resume" in answer and "• Gas prices fall" in answer
    assert "Election" not in answer


async def test_added_to_a_group_says_how_to_begin_and_blocking_pauses(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    telegram.chat_member_update(-4321, "left", "member", chat_type="group", chat_title="Desk")
    [hello] = await telegram.wait_for_messages(-4321, 1, timeout=10)
    assert "An admin can send /start" in hello.plain_text

    chat = Chat(telegram)
    await chat.say("/start")
    telegram.chat_member_update(CHAT, "member", "kicked")  # the user blocks the bot
    store = app.bot_data.require().store
    await telegram.wait_for(lambda: not store.get_chat(CHAT).active, what="chat paused")  # type: ignore[union-attr]
    assert store.followed_feeds(CHAT)  # nothing is deleted


async def test_numbers_in_other_scripts_and_huge_numbers_get_plain_answers(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    await chat.say("/watch Embassies: Russia AND embassy")
    for command in ("/unwatch ²", "/pause ²", "/resume ³", "/unwatch ١", "/mute ² 2h"):
        answer = await chat.say(command)
        assert "no watchlist called" in answer and "went wrong" not in answer, command
    assert "no feed number" not in await chat.say("/removefeed ³")
    assert "don't follow that feed" in await chat.say("/removefeed ³")
    answer = await chat.say("/removefeed " + "9" * 5001)
    assert "There is no feed number 999" in answer and len(answer) < 200
    answer = await chat.say("/unwatch " + "1" * 5001)
    assert "There is no watchlist number 111" in answer and len(answer) < 200
    assert "Embassies" in await chat.say("/watchlists")  # ١ did not remove #1
    answer = await chat.say("/watch a NEAR/² b")
    assert "needs a number of words" in answer and "went wrong" not in answer


async def test_a_long_bad_query_is_quoted_around_the_error_only(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    before = len(telegram.sent_to(CHAT))
    query = "Russia AND " * 30 + "(embassy " + "OR gas " * 10
    telegram.user_sends(f"/watch {query}", chat_id=CHAT)
    answer = (await telegram.wait_for_messages(CHAT, before + 1, timeout=10))[before]
    await asyncio.sleep(0.3)
    assert len(telegram.sent_to(CHAT)) == before + 1  # one message, accepted by the server
    [shown, caret] = answer.plain_text.split("\n")[1:3]
    assert len(shown) <= 62 and shown.startswith("…") and shown.endswith("…")
    assert shown[caret.index("^")] == "(" and "(embassy" in shown


async def test_invisible_controls_do_not_reach_replies(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    chat = Chat(telegram)
    await chat.say("/start")
    answer = await chat.say("/watch Gas\u202e sag\u202c\u200b: gas OR LNG")
    assert "Watching Gas sag:" in answer
    assert "\u202e" not in answer and "\u200b" not in answer
    feeds.publish("/rtl.xml", rss([{"title": "x", "guid": "x"}], title="Wire \u2067evil\u2069"))
    assert "Following Wire evil" in await chat.say(f"/addfeed {feeds.url('/rtl.xml')}")
    listing = await chat.say("/feeds")
    assert "Wire evil" in listing and "\u2067" not in listing
    assert "Stopped watching Gas sag" in await chat.say("/unwatch Gas sag")
