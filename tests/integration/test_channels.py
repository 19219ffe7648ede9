"""A channel managed from a private chat: linking, acting on it, rights checked (real PTB, fake
Bot API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import NewswatchApp
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import BOT_ID, FakeTelegram
from tests.integration.harness import bot_config, running_bot

USER = 321
CHANNEL = -1001234567890
HEADER = "📢 Desk Wire (/channel off to leave)"


@pytest.fixture
async def app(
    tmp_path: Path,
    telegram: FakeTelegram,
    feeds: FeedServer,
    analyser: Any,
    storage_section: dict[str, str],
) -> AsyncIterator[NewswatchApp]:
    feeds.publish("/default.xml", rss([{"title": "Old story", "guid": "old-1"}]))
    config = bot_config(
        tmp_path,
        telegram,
        [feeds.url("/default.xml")],
        polling={"interval": 60},
        limits={"commands_burst": 1000},
        storage=storage_section,
    )
    telegram.add_chat(CHANNEL, chat_type="channel", title="Desk Wire", username="deskwire")
    telegram.set_member_status(CHANNEL, USER, "administrator")
    async with running_bot(config, telegram, analyser) as application:
        yield application


async def _say(telegram: FakeTelegram, text: str) -> str:
    before = len(telegram.sent_to(USER))
    telegram.user_sends(text, chat_id=USER)
    messages = await telegram.wait_for_messages(USER, before + 1, timeout=10)
    return messages[before].plain_text


async def test_link_a_channel_and_manage_it_from_the_private_chat(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    store = app.bot_data.require().store
    assert "/channel @channelname" in await _say(telegram, "/channel")
    answer = await _say(telegram, "/channel @deskwire")
    assert answer.startswith(HEADER)
    assert "now act on the channel Desk Wire: it follows 1 feed" in answer
    answer = await _say(telegram, "/watch Gas: gas OR LNG")
    assert answer.startswith(HEADER) and "Watching Gas" in answer
    assert [w.name for w in store.watchlists(CHANNEL)] == ["Gas"]
    assert store.watchlists(USER) == []
    assert (await _say(telegram, "/help")).startswith(HEADER)
    assert "Commands act on this chat again" in await _say(telegram, "/channel off")
    assert "now act on the channel Desk Wire" in await _say(telegram, f"/channel {CHANNEL}")
    await _say(telegram, "/channel off")
    answer = await _say(telegram, "/watchlists")
    assert not answer.startswith("📢") and "/start" in answer  # the private chat itself
    assert telegram.sent_to(CHANNEL) == []  # nothing was posted in the channel


async def test_a_forwarded_channel_post_links_the_channel(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    before = len(telegram.sent_to(USER))
    telegram.user_forwards_channel_post(USER, CHANNEL)
    messages = await telegram.wait_for_messages(USER, before + 1, timeout=10)
    assert "now act on the channel Desk Wire" in messages[-1].plain_text
    assert app.bot_data.require().store.channel_link(USER) == CHANNEL


async def test_rights_are_checked_when_linking_and_on_every_command(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    store = app.bot_data.require().store
    assert "can't find that channel" in await _say(telegram, "/channel @nosuchchannel")
    assert "not a channel name" in await _say(telegram, "/channel deskwire")
    assert "not a channel name" in await _say(telegram, "/channel -١٠٠١")
    telegram.set_member_status(CHANNEL, BOT_ID, "member")
    assert "Make me an admin of Desk Wire" in await _say(telegram, "/channel @deskwire")
    telegram.set_member_status(CHANNEL, BOT_ID, "administrator")
    telegram.set_member_status(CHANNEL, USER, "member")
    assert "Only the admins of Desk Wire" in await _say(telegram, "/channel @deskwire")
    assert store.channel_link(USER) is None and store.get_chat(CHANNEL) is None

    telegram.set_member_status(CHANNEL, USER, "creator")
    await _say(telegram, "/channel @deskwire")
    telegram.set_member_status(CHANNEL, USER, "member")  # demoted later
    answer = await _say(telegram, "/watch gas")
    assert "no longer an admin of Desk Wire" in answer
    await asyncio.sleep(0.1)
    assert store.watchlists(CHANNEL) == []


async def test_channel_is_refused_outside_private_chats(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    telegram.set_member_status(-9001, 1001, "administrator")
    telegram.user_sends("/channel @deskwire", chat_id=-9001, chat_type="supergroup")
    [answer] = await telegram.wait_for_messages(-9001, 1, timeout=10)
    assert "in a private chat" in answer.plain_text


async def test_buttons_under_a_channel_digest_are_for_its_admins(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    await _say(telegram, "/channel @deskwire")
    await _say(telegram, "/watch Gas: gas")
    store = app.bot_data.require().store
    [gas] = store.watchlists(CHANNEL)
    posted = await app.bot.send_message(CHANNEL, "🔔 Gas · 1 new story")
    subscriber = 4242  # sees the channel's posts, is not an admin
    telegram.user_presses(CHANNEL, posted.message_id, f"pause:{gas.id}", user_id=subscriber)
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 1, what="an answer")
    assert "Only the channel's admins" in (telegram.callback_answers[0].text or "")
    assert not store.watchlists(CHANNEL)[0].paused
    telegram.user_presses(CHANNEL, posted.message_id, f"pause:{gas.id}", user_id=USER)
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 2, what="an answer")
    assert store.watchlists(CHANNEL)[0].paused


async def test_a_channel_watchlist_card_and_its_test_name_the_channel(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    from tests.integration.test_conversations import Talk, button_data

    talk = Talk(telegram, USER)
    await talk.say("/channel @deskwire")
    await talk.say("/watch Gas: gas")
    [gas] = app.bot_data.require().store.watchlists(CHANNEL)
    listing = await talk.say("/watchlists")
    assert listing.plain_text.startswith(HEADER)
    before = len(telegram.sent_to(USER))
    telegram.user_presses(USER, listing.message_id, f"wl:o:{gas.id}", user_id=USER)
    card = (await telegram.wait_for_messages(USER, before + 1, timeout=10))[-1]
    assert card.plain_text.startswith(HEADER) and "Gas: gas" in card.plain_text
    assert f"wl:t:{gas.id}" in button_data(card)
    assert (await talk.press(card, f"wl:p:{gas.id}")).startswith(HEADER)  # the edited card too
    before = len(telegram.sent_to(USER))
    telegram.user_presses(USER, card.message_id, f"wl:t:{gas.id}", user_id=USER)
    tested = (await telegram.wait_for_messages(USER, before + 1, timeout=10))[-1]
    assert tested.plain_text.startswith(HEADER) and "🔎" in tested.plain_text
