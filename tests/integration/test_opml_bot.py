"""OPML import, /export and /import through the fake Bot API, as a user would do them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import NewswatchApp
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import FakeTelegram
from tests.integration.harness import bot_config, running_bot
from watchers.opml import parse_opml

CHAT = 4242


@pytest.fixture
async def app(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> AsyncIterator[NewswatchApp]:
    feeds.publish("/default.xml", rss([{"title": "Old story", "guid": "old-1"}], title="Default"))
    config = bot_config(tmp_path, telegram, [feeds.url("/default.xml")], polling={"interval": 60})
    async with running_bot(config, telegram, analyser) as application:
        yield application


class User:
    """Types commands and sends files in one private chat; returns the bot's next answer."""

    def __init__(self, telegram: FakeTelegram, chat_id: int = CHAT) -> None:
        self.telegram, self.chat_id = telegram, chat_id

    async def _answer(self, before: int) -> str:
        messages = await self.telegram.wait_for_messages(self.chat_id, before + 1, timeout=15)
        return messages[before].plain_text

    async def say(self, text: str) -> str:
        before = len(self.telegram.sent_to(self.chat_id))
        self.telegram.user_sends(text, chat_id=self.chat_id)
        return await self._answer(before)

    async def send_file(self, content: bytes, name: str) -> str:
        before = len(self.telegram.sent_to(self.chat_id))
        self.telegram.user_sends_document(content, name, chat_id=self.chat_id)
        return await self._answer(before)


def opml(*outlines: str, title: str = "My reader") -> bytes:
    body = "\n".join(outlines)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><opml version="1.0"><head><title>{title}'
        f"</title></head><body>{body}</body></opml>"
    ).encode()


async def test_an_opml_file_is_imported_outline_by_outline(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.publish("/wire.xml", rss([{"title": "Wire story", "guid": "w1"}], title="Wire"))
    feeds.publish("/daily.xml", rss([{"title": "Daily story", "guid": "d1"}], title="Daily"))
    feeds.status("/gone.xml", 404)
    user = User(telegram)
    await user.say("/start")
    report = await user.send_file(
        opml(
            '<outline text="World" title="World">',
            f'<outline type="rss" text="Wire One" xmlUrl="{feeds.url("/wire.xml")}"/>',
            '<outline text="Inner">',
            f'<outline type="rss" text="Daily Two" xmlUrl="{feeds.url("/daily.xml")}"/>',
            "</outline></outline>",
            f'<outline type="rss" text="The default" xmlUrl="{feeds.url("/default.xml")}"/>',
            f'<outline type="rss" text="Gone" xmlUrl="{feeds.url("/gone.xml")}"/>',
            '<outline type="rss" text="Mail" xmlUrl="mailto:x@example.org"/>',
            f'<outline type="rss" text="Wire again" xmlUrl="{feeds.url("/wire.xml")}#x"/>',
        ),
        "subscriptions.opml",
    )
    assert report.startswith(
        "📥 OPML import from My reader: 2 feeds followed, 1 already followed, "
        "1 couldn't be added, 2 skipped."
    )
    assert "Its 2 categories were flattened" in report
    assert "1. ✅ Wire One" in report
    assert "2. ✅ Daily Two" in report
    assert "3. ☑️ The default — already followed" in report
    assert "4. ❌ Gone — couldn't add:" in report and "404" in report
    assert "5. ⏭ Mail — skipped: its address is not an http(s) address (mailto:)" in report
    assert "6. ⏭ Wire again — skipped: the same feed as outline 1" in report
    listing = await user.say("/feeds")
    assert "Wire" in listing and "Daily" in listing and "gone" not in listing


async def test_a_broken_or_hostile_opml_file_imports_nothing(
    app: NewswatchApp, telegram: FakeTelegram, feeds: FeedServer
) -> None:
    user = User(telegram)
    await user.say("/start")
    broken = opml(f'<outline text="A" xmlUrl="{feeds.url("/a.xml")}">')
    answer = await user.send_file(broken, "feeds.opml")
    assert answer.startswith("That file is not well-formed XML (line 1, column")
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<opml version="2.0"><body><outline text="&c;" xmlUrl="https://x.example/"/></body>'
        b"</opml>"
    )
    answer = await user.send_file(laughs, "feeds.xml")
    assert "defines XML entities, which I refuse to expand" in answer
    listing = await user.say("/feeds")
    assert "1. Feed 1" in listing and "2." not in listing


async def test_an_unknown_file_in_a_private_chat_gets_an_answer(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    user = User(telegram)
    await user.say("/start")
    answer = await user.send_file(b"%PDF-1.4", "report.pdf")
    assert answer.startswith("I read OPML files (.opml or .xml, from any feed reader)")
    assert answer.endswith("This file is neither.")


async def test_export_then_import_into_another_chat_restores_everything(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    user = User(telegram)
    await user.say("/start")
    await user.say("/watch Embassies: Russia AND embassy")
    await user.say("/watch Gas: gas OR LNG")
    await user.say("/schedule Gas: hourly")
    await user.say("/pause Embassies")
    await user.say("/timezone Europe/Berlin")
    await user.say("/quiet 22:00-07:00")
    telegram.user_sends("/export", chat_id=CHAT)
    await telegram.wait_for(lambda: len(telegram.documents_to(CHAT)) == 2, what="two files")
    feeds_file, settings_file = telegram.documents_to(CHAT)
    assert feeds_file.file_name == "newswatch-feeds.opml"
    assert feeds_file.caption is not None and feeds_file.caption.startswith("Your 1 feed,")
    assert [f.title for f in parse_opml(feeds_file.content).feeds] == ["Feed 1"]
    assert settings_file.file_name == "newswatch-settings.json"
    document = json.loads(settings_file.content)
    assert document["settings"] == {
        "timezone": "Europe/Berlin",
        "schedule": "instant",
        "quiet": "22:00-07:00",
    }
    assert [(w["name"], w["schedule"], w["paused"]) for w in document["watchlists"]] == [
        ("Embassies", None, True),
        ("Gas", "hourly", False),
    ]

    other = User(telegram, 5151)
    await other.say("/start")
    report = await other.send_file(settings_file.content, settings_file.file_name)
    assert report.startswith("📥 Settings imported.")
    assert "Added: Embassies, Gas." in report
    assert "timezone Europe/Berlin" in report and "quiet hours 22:00-07:00" in report
    listing = await other.say("/watchlists")
    assert "Embassies" in listing and "Gas" in listing
    assert "Europe/Berlin" in await other.say("/timezone")
    assert "• Gas: hourly" in await other.say("/status")
    imported_feeds = await other.send_file(feeds_file.content, feeds_file.file_name)
    assert "1. ☑️ Feed 1 — already followed" in imported_feeds


async def test_a_bad_settings_file_lists_its_problems_and_changes_nothing(
    app: NewswatchApp, telegram: FakeTelegram
) -> None:
    user = User(telegram)
    await user.say("/start")
    await user.say("/watch Gas: gas OR LNG")
    bad = {
        "format": "newswatch-settings",
        "version": 1,
        "settings": {"timezone": "Europe/Berlin"},
        "watchlists": [
            {"name": "Gas", "query": "gas OR (LNG"},
            {"name": "Fine", "query": "wind AND farm"},
        ],
    }
    answer = await user.send_file(json.dumps(bad).encode(), "newswatch-settings.json")
    assert answer.startswith("I didn't import that file: 1 problem (nothing was changed).")
    assert "• watchlist 1 “Gas”, query: missing ) for the (" in answer
    listing = await user.say("/watchlists")
    assert "gas OR LNG" in listing and "Fine" not in listing
    assert "UTC" in await user.say("/timezone")


async def test_import_without_a_file_says_how(app: NewswatchApp, telegram: FakeTelegram) -> None:
    user = User(telegram)
    await user.say("/start")
    answer = await user.say("/import")
    assert answer.startswith("Send me the settings file from /export")
