"""The buttons under /watchlists and on a watchlist's card (real PTB, fake Bot API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import NewswatchApp
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import DEFAULT_USER_ID, FakeTelegram, SentMessage
from tests.integration.test_conversations import Talk, button_data

CHAT = 6161
GROUP = -6262
MEMBER = 7373


@pytest.fixture
async def app(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> AsyncIterator[NewswatchApp]:
    from tests.integration.harness import bot_config, running_bot

    stories = [
        {"title": "Gas prices fall as LNG arrives", "guid": "1"},
        {"title": "Rain", "guid": "2"},
    ]
    feeds.publish("/default.xml", rss(stories, title="Default"))
    config = bot_config(
        tmp_path, telegram, [feeds.url("/default.xml")], limits={"commands_burst": 1000}
    )
    async with running_bot(config, telegram, analyser) as application:
        yield application


async def _card(talk: Talk, telegram: FakeTelegram) -> SentMessage:
    listing = await talk.say("/watchlists")
    (open_card,) = [d for d in button_data(listing) if d.startswith("wl:o:")]
    before = len(telegram.sent_to(talk.chat_id))
    telegram.user_presses(
        talk.chat_id, listing.message_id, open_card, user_id=talk.kw.get("user_id")
    )
    messages = await telegram.wait_for_messages(talk.chat_id, before + 1, timeout=10)
    return messages[-1]


async def test_card_buttons_change_with_the_state(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    talk = Talk(telegram, CHAT)
    await talk.say("/start")
    store = app.bot_data.require().store
    await telegram.wait_for(lambda: store.recent_articles(CHAT, 5), what="the first poll")
    await talk.say("/watch Gas: gas OR LNG")
    card = await _card(talk, telegram)
    (gas,) = store.watchlists(CHAT)
    assert "Gas: gas OR LNG" in card.plain_text and "Watching." in card.plain_text
    assert f"wl:p:{gas.id}" in button_data(card) and f"wl:m:{gas.id}" in button_data(card)
    assert all(len(d.encode()) <= 64 for d in button_data(card))

    assert "Paused" in await talk.press(card, f"wl:p:{gas.id}")
    assert "is paused" in (telegram.callback_answers[-1].text or "")
    markup = telegram.edits[-1].reply_markup or {}
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    assert "▶️ Resume" in labels and "⏸ Pause" not in labels
    assert "Watching." in await talk.press(card, f"wl:r:{gas.id}")

    assert "Watching." in await talk.press(card, f"wl:m:{gas.id}")  # the choice of how long
    muted = await talk.press(card, f"wl:M:{gas.id}:1h")
    assert "Muted until" in muted
    assert (telegram.callback_answers[-1].text or "").startswith("Muted until ")
    labels = [b["text"] for row in telegram.edits[-1].reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
    assert "🔔 Unmute" in labels
    assert "Muted" not in await talk.press(card, f"wl:u:{gas.id}")

    await talk.press(card, f"wl:s:{gas.id}")
    assert "Daily 08:00" in await talk.press(card, f"wl:S:{gas.id}:daily_08:00")
    assert store.get_watchlist(gas.id).schedule == "daily 08:00"  # type: ignore[union-attr]

    before = len(telegram.sent_to(CHAT))
    telegram.user_presses(CHAT, card.message_id, f"wl:t:{gas.id}")
    tested = await telegram.wait_for_messages(CHAT, before + 1, timeout=10)
    assert "It would have caught 1 of the 2 stories" in tested[-1].plain_text
    assert "Gas prices fall" in tested[-1].plain_text and "<b>Gas</b>" in tested[-1].text

    assert "Delete it?" in await talk.press(card, f"wl:d:{gas.id}")
    assert "is deleted" in await talk.press(card, f"wl:D:{gas.id}")
    assert store.watchlists(CHAT) == []
    answers = len(telegram.callback_answers)
    telegram.user_presses(CHAT, card.message_id, f"wl:p:{gas.id}")
    await telegram.wait_for(lambda: len(telegram.callback_answers) > answers)
    assert "no longer exists" in (telegram.callback_answers[-1].text or "")


async def test_in_groups_only_admins_change_a_watchlist(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    telegram.add_chat(GROUP, chat_type="supergroup", title="Newsroom")
    telegram.set_member_status(GROUP, DEFAULT_USER_ID, "administrator")
    admin = Talk(telegram, GROUP, chat_type="supergroup")
    member = Talk(telegram, GROUP, chat_type="supergroup", user_id=MEMBER)
    await admin.say("/start")
    await admin.say("/watch gas")
    card = await _card(member, telegram)  # anyone may look
    (gas,) = app.bot_data.require().store.watchlists(GROUP)
    answers = len(telegram.callback_answers)
    telegram.user_presses(GROUP, card.message_id, f"wl:p:{gas.id}", user_id=MEMBER)
    await telegram.wait_for(lambda: len(telegram.callback_answers) > answers)
    assert "Only the group's admins" in (telegram.callback_answers[-1].text or "")
    assert "Paused" in await admin.press(card, f"wl:p:{gas.id}")


async def test_test_command(app: NewswatchApp, telegram: FakeTelegram) -> None:
    talk = Talk(telegram, CHAT)
    await talk.say("/start")
    store = app.bot_data.require().store
    await telegram.wait_for(lambda: store.recent_articles(CHAT, 5), what="the first poll")
    assert "/test Russia AND embassy" in (await talk.say("/test")).plain_text
    assert "at position 9" in (await talk.say("/test gas AND (LNG")).plain_text
    found = await talk.say("/test prices")
    assert "It would have caught 1 of the 2 stories from the last 72 hours" in found.plain_text
    assert "<b>prices</b>" in found.text
    assert "0 of the 2 stories" in (await talk.say("/test snow")).plain_text
