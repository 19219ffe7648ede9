"""Guided conversations: /watch, /addfeed, /schedule and /quiet sent alone (real PTB, fake
Bot API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import conversations
from bot.app import NewswatchApp
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import DEFAULT_USER_ID, FakeTelegram, SentMessage
from tests.integration.harness import bot_config, running_bot

CHAT = 4242
GROUP = -4343
OTHER_USER = 5151


@pytest.fixture
async def app(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> AsyncIterator[NewswatchApp]:
    stories = [
        {"title": "Russia recalls its embassy staff", "guid": "1", "description": "Talks end."},
        {"title": "Gas prices fall", "guid": "2", "description": "LNG cargoes arrive."},
    ]
    feeds.publish("/default.xml", rss(stories, title="Default"))
    config = bot_config(
        tmp_path,
        telegram,
        [feeds.url("/default.xml")],
        polling={"interval": 60},
        limits={"commands_burst": 1000},
    )
    async with running_bot(config, telegram, analyser) as application:
        yield application


class Talk:
    """A user talking to the bot: say something, wait for the answer; press a button, wait
    for the edit or the next message."""

    def __init__(self, telegram: FakeTelegram, chat_id: int = CHAT, **kw: Any) -> None:
        self.telegram, self.chat_id, self.kw = telegram, chat_id, kw

    async def say(self, text: str) -> SentMessage:
        before = len(self.telegram.sent_to(self.chat_id))
        self.telegram.user_sends(text, chat_id=self.chat_id, **self.kw)
        messages = await self.telegram.wait_for_messages(self.chat_id, before + 1, timeout=10)
        return messages[before]

    async def press(self, message: SentMessage, data: str) -> str:
        """Press a button of ``message``; return the message's text once edited."""
        edits = len(self.telegram.edits)
        answers = len(self.telegram.callback_answers)
        user = self.kw.get("user_id")
        self.telegram.user_presses(self.chat_id, message.message_id, data, user_id=user)
        await self.telegram.wait_for(
            lambda: len(self.telegram.callback_answers) > answers, what="an answer"
        )
        await self.telegram.wait_for(lambda: len(self.telegram.edits) > edits, what="an edit")
        return self.telegram.edits[-1].plain_text


def button_data(message: SentMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_watch_asks_query_name_and_schedule(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    talk = Talk(telegram)
    await talk.say("/start")
    store = app.bot_data.require().store
    await telegram.wait_for(lambda: store.recent_articles(CHAT, 5), what="the first poll")
    await talk.say("/watch Old: gas")  # the one-line form still works
    first = await talk.say("/watch")
    assert "What should I watch for?" in first.plain_text
    assert "/watch Russia AND embassy" in first.plain_text  # the one-line form, for next time
    bad = await talk.say("Russia AND (embassy")
    assert "missing ) for the ( at position 12" in bad.plain_text
    assert "Send the query again" in bad.plain_text
    good = await talk.say("Russia AND embassy")
    assert "It would have caught 1 of the 2 stories from the last 72 hours" in good.plain_text
    assert "Russia, embassy" in good.plain_text and "cv:name" in button_data(good)
    taken = await talk.say("old")
    assert "already have a watchlist called Old" in taken.plain_text
    how = await talk.say("Embassies")
    assert "How often should Embassies" in how.plain_text
    assert set(button_data(how)) == {"cv:instant", "cv:hourly", "cv:daily", "cv:chat"}
    asked = await talk.press(how, "cv:daily")
    assert "At what time" in asked
    wrong = await talk.say("25:99")
    assert "25:99" in wrong.plain_text and "/cancel" in wrong.plain_text
    done = await talk.say("8am")
    assert "Watching Embassies: Russia AND embassy" in done.plain_text
    assert "daily 08:00" in done.plain_text
    (embassies,) = [w for w in store.watchlists(CHAT) if w.name == "Embassies"]
    assert embassies.schedule == "daily 08:00"
    # The conversation is over: plain text is no longer read as a query.
    assert len(store.watchlists(CHAT)) == 2


async def test_watch_with_the_suggested_name_and_a_button(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    talk = Talk(telegram)
    await talk.say("/start")
    await talk.say("/watch")
    named = await talk.say("gas OR LNG NOT football")
    answers, before = len(telegram.callback_answers), len(telegram.sent_to(CHAT))
    telegram.user_presses(CHAT, named.message_id, "cv:name")
    messages = await telegram.wait_for_messages(CHAT, before + 1, timeout=10)
    await telegram.wait_for(lambda: len(telegram.callback_answers) > answers)
    assert "How often should Gas, LNG" in messages[-1].plain_text
    done = await talk.press(messages[-1], "cv:hourly")
    assert "Watching Gas, LNG" in done and "once an hour" in done


async def test_cancel_and_the_other_conversations(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    talk = Talk(telegram)
    await talk.say("/start")
    assert "/addfeed https://example.com/rss" in (await talk.say("/addfeed")).plain_text
    assert "Cancelled: nothing was changed" in (await talk.say("/cancel")).plain_text
    assert "hello" not in (await talk.say("/feeds")).plain_text
    await talk.say("/addfeed")
    feeds.status("/gone.xml", 404)
    again = await talk.say(feeds.url("/gone.xml"))
    assert "couldn't add that feed" in again.plain_text
    assert "Send another address" in again.plain_text
    feeds.publish("/extra.xml", rss([{"title": "A", "guid": "a"}], title="Extra News"))
    assert "Following Extra News" in (await talk.say(feeds.url("/extra.xml"))).plain_text
    await talk.say("/addfeed")  # the same feed again: said so, as /addfeed <url> says it
    assert "already follow Extra News" in (await talk.say(feeds.url("/extra.xml"))).plain_text

    schedule = await talk.say("/schedule")
    assert "Digests for this chat come as soon as they are found" in schedule.plain_text
    assert "once an hour" in await talk.press(schedule, "cv:hourly")
    schedule = await talk.say("/schedule")
    assert "At what time" in await talk.press(schedule, "cv:daily")
    assert "daily 17:30" in (await talk.say("17:30")).plain_text
    quiet = await talk.say("/quiet")
    assert "No quiet hours" in quiet.plain_text
    assert "Quiet hours 23:00-07:00" in await talk.press(quiet, "cv:q:1")
    quiet = await talk.say("/quiet")
    assert "Send the hours" in await talk.press(quiet, "cv:q:other")
    assert "22:30-06:00" in (await talk.say("22:30-06:00 silent")).plain_text
    chat = app.bot_data.require().store.get_chat(CHAT)
    assert chat is not None and chat.schedule == "daily 17:30" and "silent" in chat.quiet
    # One-line forms are unchanged.
    assert "once an hour" in (await talk.say("/schedule hourly")).plain_text


async def test_in_a_group_only_the_admin_who_began_answers(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    telegram.add_chat(GROUP, chat_type="supergroup", title="Newsroom")
    telegram.set_member_status(GROUP, DEFAULT_USER_ID, "administrator")
    admin = Talk(telegram, GROUP, chat_type="supergroup")
    other = Talk(telegram, GROUP, chat_type="supergroup", user_id=OTHER_USER)
    await admin.say("/start")
    store = app.bot_data.require().store
    await telegram.wait_for(lambda: store.recent_articles(GROUP, 5), what="the first poll")
    assert "Only the group's admins" in (await other.say("/watch")).plain_text
    asked = await admin.say("/watch")
    markup = asked.reply_markup or {}
    assert markup.get("force_reply") is True and markup.get("selective") is True
    telegram.user_sends("football", chat_id=GROUP, chat_type="supergroup", user_id=OTHER_USER)
    named = await admin.say("embassy")
    assert "It would have caught" in named.plain_text
    answers = len(telegram.callback_answers)
    telegram.user_presses(GROUP, named.message_id, "cv:name", user_id=OTHER_USER)
    await telegram.wait_for(lambda: len(telegram.callback_answers) > answers)
    assert "asked to someone else" in (telegram.callback_answers[-1].text or "")
    how = await admin.say("Embassy")
    assert "How often should Embassy" in how.plain_text
    assert "football" not in [w.query for w in store.watchlists(GROUP)]


@pytest.mark.slow
async def test_silence_ends_a_conversation_politely(
    tmp_path: Path,
    telegram: FakeTelegram,
    feeds: FeedServer,
    analyser: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conversations, "CONVERSATION_TIMEOUT", 1.0)
    feeds.publish("/default.xml", rss([{"title": "Old", "guid": "o"}], title="Default"))
    config = bot_config(tmp_path, telegram, [feeds.url("/default.xml")], polling={"interval": 60})
    async with running_bot(config, telegram, analyser) as application:
        talk = Talk(telegram)
        await talk.say("/start")
        await talk.say("/watch")
        messages = await telegram.wait_for_messages(CHAT, 3, timeout=10)
        assert "I stopped waiting for an answer" in messages[2].plain_text
        await talk.say("embassy")  # no longer a query
        assert application.bot_data.require().store.watchlists(CHAT) == []
