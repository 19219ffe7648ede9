"""The one loop that drains the outbox, behind a channel-neutral ``Sender``.

Nothing here knows Telegram: a ``Sender`` sends one message and says what became of it (sent,
retry later, unknown, gone, moved, refused) and how long a chat must wait before its next
message. The rules:

- **One sender.** One ``DeliveryLoop`` per database drains the outbox; everything else only
  wakes it. Each row is claimed (``pending`` -> ``sending``, checked) before it is sent, and
  one send is in flight at a time, so no two sends of a row can overlap.
- **At least once, at most one extra.** A send that certainly failed is retried with backoff.
  A send whose fate is unknown (a timeout after the request went out, a crash mid-request) is
  retried once: a crash costs at most one duplicate, never a lost alert.
- A chat that cannot be written to is paused and its rows are parked (kept); a chat that moved
  (a group that became a supergroup) keeps receiving at its new id; a message the channel
  refuses for good is marked failed and the chat's next messages go on.
- When a chat's backlog grows past ``MERGE_AFTER`` messages, its waiting messages are merged
  into as few as fit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from watchers.errors import NewswatchError
from watchers.model import OutboxMessage, OutboxState
from watchers.store import Storage

logger = logging.getLogger(__name__)

MERGE_AFTER = 3  # a chat's waiting messages beyond a digest's worth are merged
MAX_MESSAGE = 4096  # the longest message a chat is sent (raw text, an upper bound)
MERGE_SEPARATOR = "\n\n"
BACKOFF_FIRST = 5.0  # seconds before the first retry of a certain failure
BACKOFF_MAX = 300.0
IDLE_CHECK = 1.0  # seconds between looks at the outbox when nothing woke the loop
LINGER = 1.0  # seconds a pass waits for paced chats before reading the outbox again
MAX_UNSURE_TIMEOUTS = 1  # sends of unknown fate (timeouts) retried per row before giving up


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # certainly not delivered: try again later
    UNKNOWN = "unknown"  # may or may not have been delivered
    GONE = "gone"  # the chat cannot be written to (blocked, removed, deleted)
    MOVED = "moved"  # the chat lives at another id now
    REFUSED = "refused"  # this message can never be sent as it is


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    detail: str = ""
    message_id: int | None = None
    retry_after: float | None = None  # RETRY: how long the channel asked us to wait
    moved_to: int | None = None  # MOVED: the chat's new id
    topic_gone: bool = False  # SENT to the chat itself: its topic no longer exists


class Sender(Protocol):
    """One channel's way to send a single message."""

    def ready_in(self, chat_id: int) -> float:
        """Seconds until the channel accepts a message for ``chat_id`` (0: now)."""
        ...

    async def send(self, message: OutboxMessage) -> SendResult: ...


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    parked: int = 0
    merged: int = 0
    waiting: int = 0  # chats with a due message that must wait for their pace
    next_in: float | None = None  # seconds until the first of those may go

    @property
    def acted(self) -> bool:
        """Something changed in the outbox: more may be due at once."""
        return bool(
            self.sent or self.retried or self.failed or self.unknown or self.parked or self.merged
        )


def backoff(attempts: int) -> float:
    """Seconds before the next try of a message that failed ``attempts`` times."""
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, attempts - 1)))


def plan_merges(
    messages: Sequence[OutboxMessage], *, max_length: int = MAX_MESSAGE
) -> list[list[OutboxMessage]]:
    """Consecutive waiting messages grouped so that each group's joined text fits in one
    message; only groups of two or more are returned."""
    groups: list[list[OutboxMessage]] = []
    current: list[OutboxMessage] = []
    length = 0
    for message in messages:
        extra = len(message.text) + (len(MERGE_SEPARATOR) if current else 0)
        if current and length + extra <= max_length:
            current.append(message)
            length += extra
            continue
        if len(current) > 1:
            groups.append(current)
        current, length = [message], len(message.text)
    if len(current) > 1:
        groups.append(current)
    return groups


def merged_buttons(group: Sequence[OutboxMessage]) -> str:
    """The buttons of a merged message: kept when every part is about the same watchlist."""
    watchlists = {m.watchlist_id for m in group}
    return group[-1].buttons if len(watchlists) == 1 else ""


def merge_backlog(store: Storage, chat_id: int) -> int:
    """Merge a chat's waiting messages (never one that may have reached it already)."""
    merged = 0
    for group in plan_merges(store.mergeable_outbox(chat_id)):
        text = MERGE_SEPARATOR.join(m.text for m in group)
        store.merge_outbox(group[0].id, text, [m.id for m in group[1:]], merged_buttons(group))
        merged += len(group) - 1
    if merged:
        logger.info("backlog merged chat=%d messages=%d", chat_id, merged)
    return merged


async def deliver_once(
    store: Storage,
    sender: Sender,
    clock: Callable[[], datetime],
    *,
    limit: int = 200,
    linger: float = 0.0,
    on_chat_moved: Callable[[int, int], None] | None = None,
) -> DeliveryReport:
    """Send every due message whose chat the channel accepts, one at a time. With ``linger``,
    wait up to that many seconds in all for chats that must wait for their pace, instead of
    reading the outbox again for every slot that frees."""
    report = DeliveryReport()
    store.unpark_active_chats()
    heads = store.due_heads(clock(), limit=limit)
    started = time.monotonic()
    while heads:
        waiting: list[tuple[OutboxMessage, int]] = []
        report.next_in = None
        for message, backlog in heads:
            wait = sender.ready_in(message.chat_id)
            if wait > 0:
                waiting.append((message, backlog))
                report.next_in = wait if report.next_in is None else min(report.next_in, wait)
                continue
            await _send_head(store, sender, clock, message, backlog, report, on_chat_moved)
        heads = waiting
        report.waiting = len(waiting)
        if report.next_in is None or time.monotonic() - started + report.next_in > linger:
            break
        await asyncio.sleep(report.next_in)
    return report


async def _send_head(
    store: Storage,
    sender: Sender,
    clock: Callable[[], datetime],
    message: OutboxMessage,
    backlog: int,
    report: DeliveryReport,
    on_chat_moved: Callable[[int, int], None] | None,
) -> None:
    if backlog > MERGE_AFTER:
        report.merged += merge_backlog(store, message.chat_id)
        fresh = store.mergeable_outbox(message.chat_id)
        if fresh and fresh[0].id == message.id:
            message = fresh[0]
    if not store.mark_sending(message.id):
        return  # another pass took it, it was merged away, or the chat was paused meanwhile
    try:
        result = await sender.send(message)
    except (asyncio.CancelledError, Exception):
        # Stopped mid-request, or a bug: the request may have gone out. Release the row now
        # rather than leave it claimed until the next start.
        store.retry_later(message.id, clock(), "interrupted mid-send", unsure=True)
        raise
    _record(store, message, result, clock(), report, on_chat_moved)


def _record(
    store: Storage,
    message: OutboxMessage,
    result: SendResult,
    now: datetime,
    report: DeliveryReport,
    on_chat_moved: Callable[[int, int], None] | None,
) -> None:
    """Store what became of one send, and log it once."""
    chat_id = message.chat_id
    attempts = message.attempts + 1
    match result.outcome:
        case Outcome.SENT:
            store.mark_sent(message.id, now, result.message_id)
            if result.topic_gone:
                store.set_chat_thread(chat_id, None)
                logger.info("topic gone chat=%d outcome=sent to the chat", chat_id)
            report.sent += 1
        case Outcome.RETRY:
            seconds = result.retry_after if result.retry_after is not None else backoff(attempts)
            store.retry_later(message.id, now + timedelta(seconds=seconds), result.detail)
            report.retried += 1
            logger.warning(
                "send failed chat=%d outcome=retry in=%.0fs error=%s",
                chat_id,
                seconds,
                result.detail,
            )
        case Outcome.UNKNOWN:
            seconds = backoff(attempts)
            unsure = store.retry_later(
                message.id, now + timedelta(seconds=seconds), result.detail, unsure=True
            )
            if unsure > MAX_UNSURE_TIMEOUTS:
                store.mark_failed(message.id, result.detail, OutboxState.UNCERTAIN)
                logger.error(
                    "send of unknown fate chat=%d outcome=given up after %d tries error=%s",
                    chat_id,
                    unsure,
                    result.detail,
                )
            else:
                logger.warning(
                    "send of unknown fate chat=%d outcome=retry once in=%.0fs error=%s",
                    chat_id,
                    seconds,
                    result.detail,
                )
            report.unknown += 1
        case Outcome.GONE:
            store.retry_later(message.id, now, result.detail)
            parked = store.park_chat(chat_id, result.detail)
            report.parked += parked
            logger.info(
                "chat unreachable chat=%d outcome=paused parked=%d error=%s",
                chat_id,
                parked,
                result.detail,
            )
        case Outcome.MOVED:
            new_id = result.moved_to
            assert new_id is not None
            store.retry_later(message.id, now, result.detail)
            store.migrate_chat(chat_id, new_id)
            if on_chat_moved is not None:
                on_chat_moved(chat_id, new_id)
            report.retried += 1
            logger.info("chat migrated chat=%d outcome=moved new=%d", chat_id, new_id)
        case Outcome.REFUSED:
            store.mark_failed(message.id, result.detail, OutboxState.FAILED)
            report.failed += 1
            logger.error(
                "message refused chat=%d id=%d outcome=failed error=%s",
                chat_id,
                message.id,
                result.detail,
            )


class DeliveryLoop:
    """The outbox's one sender: a task that sends what is due, then sleeps until woken (a new
    digest, a command) or until the next message may go."""

    def __init__(
        self,
        store: Storage,
        sender: Sender,
        clock: Callable[[], datetime],
        wake: asyncio.Event,
        *,
        on_chat_moved: Callable[[int, int], None] | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.wake = wake
        self.on_chat_moved = on_chat_moved
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="newswatch-delivery")

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Let the send in flight finish (or release its row) and stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self.wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            self.wake.clear()
            pause = IDLE_CHECK
            try:
                report = await deliver_once(
                    self.store,
                    self.sender,
                    self.clock,
                    linger=LINGER,
                    on_chat_moved=self.on_chat_moved,
                )
            except NewswatchError as e:
                logger.error("delivery pass failed error=%s", e)
            except Exception:
                logger.exception("delivery pass failed")
            else:
                if report.acted:
                    continue  # more may be due at once
                if report.next_in is not None:
                    pause = min(pause, report.next_in)
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), pause)
