"""Digests into the outbox, and the outbox to Telegram.

Record intent, send, then mark sent: a digest is rendered and stored as outbox rows in the same
transaction that ties its hits to them; a row is marked ``sending`` before Telegram is called and
``sent`` after. Telegram has no idempotency key, so a send whose fate is unknown (a timeout after
the request went out) is marked ``uncertain`` and never repeated; a send that certainly did not
go out (429, connection refused) is retried.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.render import render_digest_html
from watchers.digest import compose_digests, decide_delivery
from watchers.model import Digest, OutboxMessage, OutboxState
from watchers.pipeline import FeedOutcome
from watchers.store import Storage

logger = logging.getLogger(__name__)

GONE_CHAT = ("chat not found", "bot was kicked", "user is deactivated", "not a member")


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0


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
        hits = [
            h
            for h in store.pending_hits(chat_id, include_held=forced)
            if h.watchlist_id in decisions and decisions[h.watchlist_id].send
        ]
        for composed in compose_digests(
            chat_id,
            hits,
            watchlists,
            quotes_per_article=quotes_per_article,
            max_items=max_items,
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


def _retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _never_sent(error: NetworkError) -> bool:
    """True when the request certainly did not reach Telegram (safe to send again)."""
    cause = error.__cause__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


async def send_one(bot: Bot, message: OutboxMessage) -> int:
    sent = await bot.send_message(
        chat_id=message.chat_id,
        text=message.text,
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=not message.preview),
        disable_notification=message.silent,
        reply_markup=_markup(message.buttons),
        message_thread_id=message.thread_id,
    )
    return sent.message_id


async def deliver_outbox(
    store: Storage,
    bot: Bot,
    clock: Callable[[], datetime],
    *,
    limit: int = 100,
) -> DeliveryReport:
    """Send what is due in the outbox, oldest first, and record each outcome."""
    report = DeliveryReport()
    held: set[int] = set()  # chats that answered 429 or failed: keep their order intact
    for message in store.due_outbox(clock(), limit=limit):
        if message.chat_id in held:
            continue
        store.mark_sending(message.id)
        try:
            message_id = await send_one(bot, message)
        except RetryAfter as e:
            seconds = _retry_seconds(e)
            store.retry_later(message.id, clock() + timedelta(seconds=seconds), str(e))
            held.add(message.chat_id)
            report.retried += 1
            logger.warning("flood limit chat=%d retry_after=%.0fs", message.chat_id, seconds)
        except ChatMigrated as e:
            store.migrate_chat(message.chat_id, e.new_chat_id)
            store.retry_later(message.id, clock(), "chat migrated")
            held.add(message.chat_id)
            report.retried += 1
            logger.info("chat migrated old=%d new=%d", message.chat_id, e.new_chat_id)
        except Forbidden as e:
            _chat_gone(store, message, e)
            held.add(message.chat_id)
            report.failed += 1
        except BadRequest as e:
            if message.thread_id is not None and "thread not found" in e.message.lower():
                # The topic was deleted: send to the chat itself from now on.
                store.set_chat_thread(message.chat_id, None)
                store.retry_later(message.id, clock(), e.message)
                report.retried += 1
            elif any(text in e.message.lower() for text in GONE_CHAT):
                _chat_gone(store, message, e)
                held.add(message.chat_id)
            else:
                logger.error(
                    "message refused id=%d chat=%d error=%s", message.id, message.chat_id, e.message
                )
                store.mark_failed(message.id, e.message, OutboxState.FAILED)
            report.failed += 1
        except TimedOut as e:
            if _never_sent(e):
                store.retry_later(message.id, clock() + timedelta(seconds=30), str(e))
                report.retried += 1
            else:
                store.mark_failed(message.id, "timed out; not re-sent", OutboxState.UNCERTAIN)
                report.uncertain += 1
            held.add(message.chat_id)
        except NetworkError as e:
            if _never_sent(e):
                store.retry_later(message.id, clock() + timedelta(seconds=30), str(e))
                report.retried += 1
            else:
                store.mark_failed(message.id, str(e), OutboxState.UNCERTAIN)
                report.uncertain += 1
            held.add(message.chat_id)
            logger.warning("network error chat=%d error=%s", message.chat_id, e)
        except TelegramError as e:
            store.mark_failed(message.id, str(e), OutboxState.FAILED)
            held.add(message.chat_id)
            report.failed += 1
            logger.error("telegram error chat=%d error=%s", message.chat_id, e)
        else:
            store.mark_sent(message.id, clock(), message_id)
            report.sent += 1
    return report


def _chat_gone(store: Storage, message: OutboxMessage, error: TelegramError) -> None:
    """The chat blocked us, removed us or no longer exists: stop sending, keep its data."""
    logger.info("chat unreachable chat=%d error=%s", message.chat_id, error.message)
    store.mark_failed(message.id, error.message, OutboxState.FAILED)
    store.set_chat_active(message.chat_id, False)
    store.fail_pending_for_chat(message.chat_id, error.message)
