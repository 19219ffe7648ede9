"""Digests into the outbox, and the Telegram side of sending them.

Record intent, send, then mark sent: a digest is rendered and stored as outbox rows in the same
transaction that ties its hits to them. ``bot.outbox.DeliveryLoop`` drains the outbox through
``TelegramSender``, which sends one message and says what became of it: Telegram has no
idempotency key, so a send whose fate is unknown (a timeout or a dropped connection after the
request went out) is told apart from one that certainly failed (429, 5xx, a refused connection).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from html.parser import HTMLParser

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.outbox import Outcome, SendResult
from bot.pacing import BULK, Pacer, retry_seconds
from bot.render import render_digest_html
from watchers.digest import compose_digests, decide_delivery
from watchers.model import Digest, OutboxMessage
from watchers.pipeline import FeedOutcome
from watchers.store import Storage

logger = logging.getLogger(__name__)

GONE_CHAT = ("chat not found", "bot was kicked", "user is deactivated", "not a member")
UNPARSABLE = "can't parse entities"
TOPIC_GONE = "thread not found"


def digest_buttons(watchlist_id: int) -> str:
    """Inline buttons under a digest (JSON, stored with the outbox row)."""
    return json.dumps(
        [
            [
                {"text": "🔕 Mute 1 day", "data": f"mute:{watchlist_id}"},
                {"text": "⏸ Pause", "data": f"pause:{watchlist_id}"},
                {"text": "🔎 Query", "data": f"query:{watchlist_id}"},
            ]
        ]
    )


def _markup(buttons: str) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = json.loads(buttons)
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["data"]) for b in row] for row in rows]
    )


def _render_html(digest: Digest, now: datetime, more: int) -> list[str]:
    return render_digest_html(digest, now, more=more)


def queue_digests(
    store: Storage,
    now: datetime,
    *,
    quotes_per_article: int = 1,
    max_items: int = 10,
    chat_ids: Sequence[int] | None = None,
    forced: bool = False,
    render: Callable[[Digest, datetime, int], list[str]] | None = None,
) -> int:
    """Turn pending hits into outbox rows where their schedule says so; returns how many
    messages were queued. ``forced`` (``/digest now``) ignores schedules, quiet hours and mutes.
    ``render`` turns a digest into message texts (default: Telegram HTML).
    """
    render = render or _render_html
    queued = 0
    for chat_id in store.chats_with_pending_hits() if chat_ids is None else chat_ids:
        chat = store.get_chat(chat_id)
        if chat is None or not chat.active:
            continue
        watchlists = {w.id: w for w in store.watchlists(chat_id)}
        decisions = {
            w.id: decide_delivery(chat, w, now, forced=forced) for w in watchlists.values()
        }
        due = [watchlist_id for watchlist_id, d in decisions.items() if d.send]
        if not due:
            continue
        # Every watchlist's hits: a story goes once, with the first due digest that has it.
        hits = store.pending_hits(chat_id, include_held=forced or len(watchlists) > 1)
        for composed in compose_digests(
            chat_id,
            hits,
            watchlists,
            quotes_per_article=quotes_per_article,
            max_items=max_items,
            due=due,
            include_held=forced,
        ):
            watchlist_id = composed.digest.watchlist_id
            texts = render(composed.digest, now, composed.more)
            queued += len(
                store.queue_messages(
                    chat_id,
                    watchlist_id,
                    texts,
                    composed.hits,
                    now,
                    preview=len(composed.digest.items) == 1,
                    silent=decisions[watchlist_id].silent,
                    buttons=digest_buttons(watchlist_id),
                )
            )
            store.hold_hits(composed.held)
            store.mark_digest_queued(watchlist_id, now)
    return queued


def advance_idle_schedules(store: Storage, now: datetime) -> int:
    """A scheduled digest whose time came with nothing to send still counts as sent, so that
    the next story waits for the next slot instead of going out at once as "overdue".
    Call after ``queue_digests``, which has already queued every due digest that had news."""
    advanced = 0
    for chat, watchlist in store.scheduled_watchlists():
        if decide_delivery(chat, watchlist, now).send:
            store.mark_digest_queued(watchlist.id, now)
            advanced += 1
    return advanced


WARN_AFTER_FAILURES = 5  # consecutive failed polls before the chats are told, once a streak


def queue_feed_warning(store: Storage, outcome: FeedOutcome, now: datetime) -> None:
    """Tell the chats that follow a feed that it keeps failing (its alerts are not coming)."""
    feed = store.get_feed(outcome.feed_id)
    if feed is None or outcome.error is None:
        return
    text = (
        f"⚠️ The feed <b>{escape(feed.title, quote=False)}</b> has failed "
        f"{outcome.failures} times in a row: {escape(outcome.error, quote=False)}.\n"
        "I keep trying, less often. /feeds lists your feeds; /removefeed stops this one."
    )
    for chat_id in store.followers(feed.id):
        store.queue_messages(chat_id, None, [text], [], now)


def queue_feed_gone(store: Storage, outcome: FeedOutcome, now: datetime) -> None:
    """Tell the chats that follow a feed its site removed it (410 Gone): it is not checked any
    more. Called once, for the poll that found it gone."""
    feed = store.get_feed(outcome.feed_id)
    if feed is None or not outcome.gone:
        return
    text = (
        f"⛔ The feed <b>{escape(feed.title, quote=False)}</b> is gone: its site says it was "
        "removed for good, so I no longer check it. To take it off your list, send "
        f"<code>/removefeed {escape(feed.url, quote=False)}</code>."
    )
    for chat_id in store.followers(feed.id):
        store.queue_messages(chat_id, None, [text], [], now)


class _PlainText(HTMLParser):
    """Telegram HTML to the text a reader sees, links written out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            href = self._links.pop()
            if href:
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _never_sent(error: NetworkError) -> bool:
    """True when the request certainly did not reach Telegram (safe to send again)."""
    cause = error.__cause__
    if cause is None:
        return True  # Telegram answered with an error status (5xx): it did not send it
    return isinstance(
        cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.WriteError
    )


def classify(error: TelegramError) -> SendResult:
    """What a Bot API error means for the message that caused it."""
    text = error.message
    lowered = text.lower()
    if isinstance(error, RetryAfter):
        return SendResult(Outcome.RETRY, text, retry_after=retry_seconds(error))
    if isinstance(error, ChatMigrated):
        return SendResult(Outcome.MOVED, text, moved_to=error.new_chat_id)
    if isinstance(error, Forbidden):
        return SendResult(Outcome.GONE, text)
    if isinstance(error, BadRequest):
        if any(gone in lowered for gone in GONE_CHAT):
            return SendResult(Outcome.GONE, text)
        return SendResult(Outcome.REFUSED, text)
    if isinstance(error, NetworkError):  # TimedOut included
        if _never_sent(error):
            return SendResult(Outcome.RETRY, text)
        return SendResult(Outcome.UNKNOWN, text)
    return SendResult(Outcome.REFUSED, text)


class TelegramSender:
    """Sends one outbox row through the Bot API at the pace the ``Pacer`` allows."""

    def __init__(self, bot: ExtBot[int], pacer: Pacer) -> None:
        self.bot = bot
        self.pacer = pacer

    def ready_in(self, chat_id: int) -> float:
        return self.pacer.wait(chat_id)

    async def send(self, message: OutboxMessage) -> SendResult:
        result = await self._attempt(message, message.text, ParseMode.HTML, message.thread_id)
        lowered = result.detail.lower()
        if result.outcome is Outcome.REFUSED and TOPIC_GONE in lowered and message.thread_id:
            # The forum topic was deleted: send to the chat itself from now on.
            result = await self._attempt(message, message.text, ParseMode.HTML, None)
            if result.outcome is Outcome.SENT:
                result = SendResult(Outcome.SENT, message_id=result.message_id, topic_gone=True)
        elif result.outcome is Outcome.REFUSED and UNPARSABLE in lowered:
            logger.warning("markup refused chat=%d outcome=plain text", message.chat_id)
            result = await self._attempt(message, plain_text(message.text), None, message.thread_id)
        return result

    async def _attempt(
        self, message: OutboxMessage, text: str, parse_mode: str | None, thread_id: int | None
    ) -> SendResult:
        stamp = self.pacer.record(message.chat_id)
        try:
            sent = await self.bot.send_message(
                chat_id=message.chat_id,
                text=text,
                parse_mode=parse_mode,
                link_preview_options=LinkPreviewOptions(is_disabled=not message.preview),
                disable_notification=message.silent,
                reply_markup=_markup(message.buttons),
                message_thread_id=thread_id,
                rate_limit_args=BULK,
            )
        except TelegramError as e:
            result = classify(e)
            if result.retry_after is not None:
                self.pacer.hold(message.chat_id, result.retry_after)
            return result
        finally:
            self.pacer.settle(message.chat_id, stamp)
        return SendResult(Outcome.SENT, message_id=sent.message_id)
