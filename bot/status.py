"""``/status``: what a chat would otherwise have to guess, on one page.

Its feeds with their health (last success, last error, next poll), its watchlists with their
schedules and states, its timezone and quiet hours, and what is waiting (stories found but not
sent yet, and when they go). Pure: data and ``now`` in, Telegram HTML out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.render import counted, text_html
from watchers.digest import chat_timezone, next_delivery_at, relative_time
from watchers.model import Chat, Feed, Watchlist
from watchers.quotes import shorten
from watchers.schedule import is_muted, next_poll_at

MAX_ERROR = 120  # characters of a feed's last error shown


def time_until(then: datetime, now: datetime) -> str:
    """``now``, ``in 5 min``, ``in 3 h``, ``in 2 days``."""
    seconds = (then - now).total_seconds()
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"in {int(seconds // 60)} min"
    if seconds < 86400:
        return f"in {int(seconds // 3600)} h"
    return f"in {counted(int(seconds // 86400), 'day')}"


def clock(moment: datetime, chat: Chat) -> str:
    """``Tue 14:30`` on the chat's clock."""
    return f"{moment.astimezone(chat_timezone(chat)):%a %H:%M}"


def feed_health(feed: Feed, interval: timedelta, now: datetime) -> str:
    """One feed's line: how its last polls went and when the next one is."""
    if feed.gone_at is not None:
        since = relative_time(feed.gone_at, now)
        return f"⛔ gone: its site removed it {since}, so it is no longer polled"
    if feed.last_polled_at is None:
        return "not polled yet: its first poll is due now"
    parts: list[str] = []
    if feed.last_error:
        tries = f" ({counted(feed.error_count, 'time')} in a row)" if feed.error_count > 1 else ""
        error = text_html(shorten(feed.last_error, MAX_ERROR))
        parts.append(
            f"⚠️ last poll failed {relative_time(feed.last_polled_at, now)}{tries}: {error}"
        )
        if feed.last_success_at is not None:
            parts.append(f"last read {relative_time(feed.last_success_at, now)}")
    else:
        parts.append(f"✅ read {relative_time(feed.last_polled_at, now)}")
    due = next_poll_at(
        feed.last_polled_at,
        interval,
        now,
        error_count=feed.error_count,
        retry_after=feed.not_before,  # what the server or the feed asked for
        # The backoff's spread is shown; a healthy feed's jitter (a little early) is not.
        feed_id=feed.id if feed.error_count else None,
    )
    parts.append(f"next poll {time_until(due, now)}")
    return "; ".join(parts)


def _watchlist_line(chat: Chat, watchlist: Watchlist, waiting: int, now: datetime) -> str:
    line = f"• <b>{text_html(watchlist.name)}</b>: "
    if watchlist.paused:
        return line + f"⏸ paused, looks for nothing (/resume {text_html(watchlist.name)})"
    states: list[str] = []
    if is_muted(watchlist.muted_until, now) and watchlist.muted_until is not None:
        states.append(f"🔕 muted until {clock(watchlist.muted_until, chat)}")
    schedule = watchlist.schedule or chat.schedule
    states.append(schedule + ("" if watchlist.schedule else " (the chat's)"))
    if waiting:
        at = next_delivery_at(chat, watchlist, now)
        when = "" if at is None else f", going {time_until(at, now)}"
        if at is not None and at - now >= timedelta(minutes=1):
            when += f" ({clock(at, chat)})"
        states.append(f"{counted(waiting, 'story', 'stories')} waiting{when}")
    return line + ", ".join(states)


def render_status(
    chat: Chat,
    feeds: Sequence[Feed],
    watchlists: Sequence[Watchlist],
    waiting: Mapping[int, int],
    held: int,
    *,
    interval: timedelta,
    now: datetime,
) -> str:
    """The whole page. ``waiting``: stories found and not yet sent, per watchlist id; ``held``:
    those kept back from long digests, which only ``/digest more`` sends."""
    local = now.astimezone(chat_timezone(chat))
    lines = ["📋 <b>Status</b>"]
    if not chat.active:
        lines.append("⏸ Alerts are paused for this chat: send /start to resume.")
    lines.append(f"Timezone: {text_html(chat.timezone)} (it is {local:%a %H:%M} there now).")
    lines.append(
        f"Digests: {text_html(chat.schedule)}; quiet hours: {text_html(chat.quiet or 'none')}."
    )
    lines += ["", f"<b>Feeds</b> ({len(feeds)})"]
    if not feeds:
        lines.append("None yet: add one with /addfeed <i>URL</i>.")
    for i, feed in enumerate(feeds, 1):
        lines.append(f"{i}. <b>{text_html(feed.title)}</b>: {feed_health(feed, interval, now)}")
    lines += ["", f"<b>Watchlists</b> ({len(watchlists)})"]
    if not watchlists:
        lines.append("None yet: <code>/watch Russia AND embassy</code>")
    for watchlist in watchlists:
        lines.append(_watchlist_line(chat, watchlist, waiting.get(watchlist.id, 0), now))
    total = sum(waiting.get(w.id, 0) for w in watchlists)
    lines.append("")
    if total or held:
        line = f"Waiting: {counted(total, 'story', 'stories')}."
        if held:
            line += (
                f" {counted(held, 'more story', 'more stories')} from long digests: /digest more."
            )
        lines.append(line + " /digest now sends what is waiting at once.")
    else:
        lines.append("Nothing is waiting to be sent.")
    return "\n".join(lines)
