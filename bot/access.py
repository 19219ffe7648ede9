"""Who may use this instance, and how fast: the gate every update passes before any handler.

``[telegram] allowed_users`` / ``allowed_chats`` make an instance private: anyone else gets one
polite sentence (once per chat in ``NOTICE_EVERY``) and nothing more. Every user's commands go
through a token bucket (``[limits] commands_burst``, ``commands_per_minute``): a flood from one
user is dropped after at most one "slow down" notice, while everyone else is answered as usual.

The decisions (``Throttle``, ``is_allowed``) are pure and take ``now``; ``AccessGate`` applies them
to PTB updates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.config import LimitsConfig, TelegramConfig
from bot.services import Context

logger = logging.getLogger(__name__)

NOTICE_EVERY = 3600.0  # seconds: a stranger's chat hears "this instance is private" this often
PRIVATE_NOTICE = "Sorry, this newswatch instance is private."
SLOW_DOWN_NOTICE = "Slow down a little, please: I'll answer your next commands in a moment."
_REMEMBERED = 10_000  # users (or chats) remembered before idle ones are forgotten


class Verdict(StrEnum):
    ALLOW = "allow"
    WARN = "warn"  # refused; say "slow down" once
    DROP = "drop"  # refused silently: the user was already told


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class Throttle:
    """A token bucket per key (a user): ``burst`` commands at once, then ``per_minute``."""

    def __init__(self, burst: int, per_minute: int) -> None:
        self.burst = float(burst)
        self.rate = per_minute / 60.0  # tokens per second
        self._buckets: dict[int, _Bucket] = {}

    def check(self, key: int, now: float) -> Verdict:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _REMEMBERED:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Verdict.ALLOW
        if bucket.warned:
            return Verdict.DROP
        bucket.warned = True
        return Verdict.WARN

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


def is_allowed(telegram: TelegramConfig, user_id: int | None, chat_id: int | None) -> bool:
    """Whether a user (in a chat) may use the instance: always, unless it is private."""
    if not telegram.private:
        return True
    if user_id is not None and (user_id in telegram.allowed_users or user_id in telegram.admins):
        return True
    return chat_id is not None and chat_id in telegram.allowed_chats


class _Notices:
    """When each chat was last told something, to say it at most once in a while."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last: dict[int, float] = {}

    def due(self, chat_id: int, now: float) -> bool:
        last = self._last.get(chat_id)
        if last is not None and now - last < self.every:
            return False
        if len(self._last) >= _REMEMBERED:
            self._last = {c: t for c, t in self._last.items() if now - t < self.every}
        self._last[chat_id] = now
        return True


class AccessGate:
    """A PTB handler for group -1: stops updates from strangers and from flooding users."""

    def __init__(
        self,
        telegram: TelegramConfig,
        limits: LimitsConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.telegram = telegram
        self.throttle = Throttle(limits.commands_burst, limits.commands_per_minute)
        self.clock = clock
        self._notices = _Notices(NOTICE_EVERY)

    async def check(self, update: object, context: Context) -> None:
        if not isinstance(update, Update):
            return
        if update.my_chat_member is not None:
            await self._membership(update, context)
            return
        user, chat = update.effective_user, update.effective_chat
        user_id = user.id if user is not None and update.channel_post is None else None
        chat_id = chat.id if chat is not None else None
        if not is_allowed(self.telegram, user_id, chat_id):
            await self._refuse(update, context, PRIVATE_NOTICE)
            raise ApplicationHandlerStop
        if not self._counts(update):
            return
        key = user_id if user_id is not None else chat_id
        if key is None:
            return
        verdict = self.throttle.check(key, self.clock())
        if verdict is Verdict.ALLOW:
            return
        logger.info("commands throttled user=%s verdict=%s", key, verdict)
        if verdict is Verdict.WARN:
            await self._tell(update, context, SLOW_DOWN_NOTICE)
        raise ApplicationHandlerStop

    @staticmethod
    def _counts(update: Update) -> bool:
        """Commands, buttons and forwarded posts count against the bucket; other chatter not."""
        if update.callback_query is not None:
            return True
        message = update.effective_message
        if message is None:
            return False
        return (message.text or "").startswith("/") or message.forward_origin is not None

    async def _membership(self, update: Update, context: Context) -> None:
        change = update.my_chat_member
        assert change is not None
        if change.new_chat_member.status in ("left", "kicked"):
            return  # always let the bot notice it was removed
        if not is_allowed(self.telegram, change.from_user.id, change.chat.id):
            if change.chat.type != "channel" and self._notices.due(change.chat.id, self.clock()):
                await context.bot.send_message(change.chat.id, PRIVATE_NOTICE)
            raise ApplicationHandlerStop

    async def _refuse(self, update: Update, context: Context, text: str) -> None:
        chat = update.effective_chat
        if update.callback_query is not None:
            await update.callback_query.answer(text)
            return
        if chat is None or chat.type == "channel":
            return  # posts in a channel are public: say nothing there
        if self._notices.due(chat.id, self.clock()):
            logger.info("update from outside the allowed users chat=%d", chat.id)
            await self._tell(update, context, text)

    @staticmethod
    async def _tell(update: Update, context: Context, text: str) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer(text)
            return
        message = update.effective_message
        if message is not None:
            await message.reply_text(text, do_quote=False)
