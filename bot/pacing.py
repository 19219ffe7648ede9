"""Telegram's flood limits, kept before Telegram enforces them.

Telegram allows about one message a second to a chat (short bursts are tolerated), twenty a
minute to a group and about thirty a second overall. ``Pacer`` counts what was sent in sliding
windows (a leaky bucket lets a burst through and then overruns a sliding second) and answers
"how long until a message to this chat may go". A chat never gets a digest within a second of
another message, nor a reply within a second of a digest; replies to a user's own commands may
burst (Telegram tolerates short bursts). Replies come first: digests leave one slot a second free
for them, and a reply whose chat may receive takes the next free slot, while digests to the chat
it is for wait behind it.

``PacedRateLimiter`` plugs the pacer into python-telegram-bot for everything the handlers send;
the delivery loop asks the pacer itself and marks its requests ``BULK`` so that they are not
paced twice.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

BULK = 1
"""``rate_limit_args`` of a request the caller has already paced (outbox deliveries)."""

_PACED_PREFIXES = ("send", "copy", "forward", "edit")


@dataclass(frozen=True, slots=True)
class FloodLimits:
    overall: int = 30
    """Messages in any second, all chats together; a waiting reply takes the next free one."""
    reserved_for_replies: int = 1
    """Of ``overall``, slots digests leave free so that a reply seldom waits at all."""
    chat_burst: int = 10
    """Messages one chat may get at once (replies may burst, refilled at one a second);
    digests go at most one a second."""
    group_per_minute: int = 20
    margin: float = 0.01
    """Each window is measured this much longer than Telegram's. A send counts from when it
    started until its answer came, then from when the answer came (Telegram saw it before),
    so network delays cannot squeeze two sends into Telegram's window."""


def is_group(chat: int | str) -> bool:
    """Groups, supergroups and channels have negative ids (or are named ``@channel``)."""
    return isinstance(chat, str) or chat < 0


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _free_in(stamps: list[float], now: float, window: float, cap: int) -> float:
    """Seconds until fewer than ``cap`` of ``stamps`` (ascending) lie within ``window``."""
    if cap <= 0:
        return window
    if len(stamps) < cap:
        return 0.0
    return max(0.0, stamps[-cap] + window - now)


def _restamp(stamps: list[float], old: float, new: float) -> None:
    index = bisect.bisect_left(stamps, old)
    if index < len(stamps) and stamps[index] == old:
        del stamps[index]
        bisect.insort(stamps, new)


class Pacer:
    """Sliding-window counts of what went to Telegram, per chat and overall.

    Used from one event loop: checking and recording happen without an ``await`` between them.
    """

    def __init__(
        self, limits: FloodLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or FloodLimits()
        self.clock = clock
        self._overall: list[float] = []
        self._chats: dict[int | str, list[float]] = {}
        self._buckets: dict[int | str, tuple[float, float]] = {}  # tokens, when counted
        self._held: dict[int | str, float] = {}
        self._replies_waiting: dict[int | str, int] = {}
        self._digests: dict[int | str, float] = {}  # when each chat last got a digest

    def _tokens(self, chat: int | str, now: float) -> float:
        """The chat's burst allowance now: it refills at one message a second (less margin)."""
        burst = float(self.limits.chat_burst)
        tokens, stamp = self._buckets.get(chat, (burst, now))
        return min(burst, tokens + (now - stamp) / (1.0 + self.limits.margin))

    @staticmethod
    def _prune(stamps: list[float], now: float, window: float) -> None:
        cut = bisect.bisect_right(stamps, now - window)
        if cut:
            del stamps[:cut]

    def wait(self, chat: int | str, *, reply: bool = False) -> float:
        """Seconds until a message to ``chat`` may go (0: now)."""
        now = self.clock()
        limits = self.limits
        second = 1.0 + limits.margin
        self._prune(self._overall, now, second)
        wait = max(0.0, self._held.get(chat, now) - now)
        cap = limits.overall
        if not reply:
            cap -= limits.reserved_for_replies
            if self._replies_waiting.get(chat):
                wait = max(wait, 0.05)
            # Replies take the next free slots: those whose chat may receive now.
            cap -= sum(n for c, n in self._replies_waiting.items() if self._chat_wait(c, now) <= 0)
        wait = max(wait, _free_in(self._overall, now, second, cap))
        if reply:
            wait = max(wait, self._chat_wait(chat, now))
        stamps = self._chats.get(chat)
        if stamps:
            if not reply:
                wait = max(wait, _free_in(stamps, now, second, 1))
            if is_group(chat):
                minute = 60.0 + limits.margin
                wait = max(wait, _free_in(stamps, now, minute, limits.group_per_minute))
        return wait

    def _chat_wait(self, chat: int | str, now: float) -> float:
        """Seconds until a reply to ``chat`` may go as far as the chat's own limits go: its
        burst allowance, a 429's hold, and a second after its last digest."""
        second = 1.0 + self.limits.margin
        wait = max(0.0, self._held.get(chat, now) - now)
        tokens = self._tokens(chat, now)
        if tokens < 1.0:
            wait = max(wait, (1.0 - tokens) * second)
        last_digest = self._digests.get(chat)
        if last_digest is not None:
            if last_digest + second <= now:
                del self._digests[chat]
            else:
                wait = max(wait, last_digest + second - now)
        return wait

    def record(self, chat: int | str, *, reply: bool = False) -> float:
        """A message to ``chat`` is going out now; returns its stamp for ``settle``."""
        now = self.clock()
        if not reply:
            self._digests[chat] = now
        self._overall.append(now)
        self._buckets[chat] = (self._tokens(chat, now) - 1.0, now)
        stamps = self._chats.setdefault(chat, [])
        stamps.append(now)
        self._prune(stamps, now, (60.0 if is_group(chat) else 1.0) + self.limits.margin)
        if self._held.get(chat, now) <= now:
            self._held.pop(chat, None)
        return now

    def settle(self, chat: int | str, stamp: float) -> None:
        """The answer to the send recorded at ``stamp`` came: count it from now on."""
        now = self.clock()
        _restamp(self._overall, stamp, now)
        stamps = self._chats.get(chat)
        if stamps is not None:
            _restamp(stamps, stamp, now)
        if self._digests.get(chat) == stamp:
            self._digests[chat] = now

    def hold(self, chat: int | str, seconds: float) -> None:
        """Telegram asked us (429) to leave ``chat`` alone for ``seconds``."""
        until = self.clock() + seconds
        self._held[chat] = max(until, self._held.get(chat, until))

    async def acquire_reply(self, chat: int | str) -> float:
        """Wait for a slot for a reply to ``chat``, ahead of any digest, and take it; returns
        the stamp for ``settle``."""
        self._replies_waiting[chat] = self._replies_waiting.get(chat, 0) + 1
        try:
            while True:
                wait = self.wait(chat, reply=True)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)  # the window frees at a known time: no event to wait on
            return self.record(chat, reply=True)
        finally:
            left = self._replies_waiting[chat] - 1
            if left:
                self._replies_waiting[chat] = left
            else:
                del self._replies_waiting[chat]


class PacedRateLimiter(BaseRateLimiter[int]):
    """python-telegram-bot's rate limiter, backed by a ``Pacer``: replies to commands wait for
    their chat's and the overall slot; a 429 holds that chat only and the reply is tried once
    more. Requests marked ``BULK`` were paced by the delivery loop and pass straight through."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = data.get("chat_id")
        paced = endpoint.lower().startswith(_PACED_PREFIXES) and isinstance(chat, int | str)
        if rate_limit_args == BULK or not paced:
            return await callback(*args, **kwargs)
        assert isinstance(chat, int | str)
        for attempt in (1, 2):
            stamp = await self.pacer.acquire_reply(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as e:
                seconds = retry_seconds(e)
                self.pacer.hold(chat, seconds)
                logger.warning("flood limit chat=%s retry_after=%.0fs reply", chat, seconds)
                if attempt == 2:
                    raise
            finally:
                self.pacer.settle(chat, stamp)
        raise AssertionError("unreachable")
