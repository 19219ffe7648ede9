"""When things are due: feed polling with backoff, digest schedules, quiet hours and mutes.

Pure: every decision takes ``now`` (timezone-aware, returned as UTC) and reads no clock; nothing
here does I/O. The parsers turn a user's words into data and raise ``CommandError`` with a
plain-word message when the words make no sense.

Local wall-clock times (``daily 08:00``, ``hourly``, quiet hours) are read off the chat's clock, in
its time zone, by one rule: a time is reached when the clock shows it, or jumps past it.

- A time the clock skips that day (spring forward) is reached at the first instant after the
  jump: ``daily 02:30`` goes at 03:00 on the day Berlin's clocks jump from 02:00 to 03:00.
- A time the clock shows twice (autumn back) is a daily or weekly slot only the first time, so a
  daily digest goes exactly once per local day: never twice, never skipped. ``hourly`` goes each
  time the clock reaches a full hour, the repeated hour included.
- Quiet hours are a range of the clock's face (start included, end not): an alert waits while the
  clock shows a time inside it and is released at the first instant the clock shows one outside
  it, whether the clock got there by reaching the end, by jumping past the end (spring), or by
  going back before the start (autumn). When the clocks go back into the range, alerts wait again.
  So on the day the clocks skip the whole of the time between end and start (quiet hours
  02:15-02:00 on the day New York jumps from 02:00 to 03:00), the clock never leaves the range:
  the end, 02:00, and the start, 02:15, are both reached at 03:00, the start wins, and held
  alerts wait for the next day's 02:00. A release is therefore never inside the quiet hours.
- Mutes and poll intervals are lengths of elapsed time, not clock readings: a one-day mute ends
  24 hours later, whatever the clock shows then.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from watchers.errors import CommandError
from watchers.model import Feed

__all__ = [
    "DEFAULT_MAX_BACKOFF",
    "DEFAULT_MUTE",
    "DEFAULT_SCHEDULE",
    "MAX_DURATION",
    "DigestSchedule",
    "FeedState",
    "QuietDecision",
    "QuietHours",
    "ScheduleKind",
    "backoff_delay",
    "cache_max_age",
    "digest_is_due",
    "due_feeds",
    "feed_is_due",
    "feed_update_period",
    "hold_until",
    "is_fixed_offset",
    "is_muted",
    "next_digest_at",
    "next_poll_at",
    "parse_duration",
    "parse_mute",
    "parse_quiet",
    "parse_retry_after",
    "parse_schedule",
    "parse_time_of_day",
    "parse_timezone",
    "poll_jitter",
    "quiet_decision",
    "zone_name",
    "zones_at_offset",
]

MAX_DURATION = timedelta(days=365)
"""The longest duration a user may give (a poll interval, a mute)."""

DEFAULT_MUTE = timedelta(days=1)
"""How long ``/mute`` without a duration, and the mute button under a digest, mute for."""

DEFAULT_MAX_BACKOFF = timedelta(hours=24)
"""A failing feed is retried at least this often (unless its own interval is longer)."""

_JITTER = 0.1  # a failing feed's delay is shortened by up to this fraction, fixed per feed
_POLL_JITTER = 0.1  # a healthy feed's next poll comes up to this fraction of its interval early
_MAX_POLL_JITTER = timedelta(minutes=5)  # ... but never more than this early
_SY_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}  # RSS 1.0 syndication module's update periods
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.IGNORECASE)


def _quote(text: str) -> str:
    """``text`` in quotes for an error message, cut short if a user pasted a novel."""
    text = " ".join(text.split())
    return f"'{text[:40]}…'" if len(text) > 40 else f"'{text}'"


def _utc(moment: datetime, name: str = "now") -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


# --- durations ---------------------------------------------------------------------------------

_DURATION_USAGE = "use e.g. 90s, 15m, 2h"
_MUTE_USAGE = "use e.g. 30m, 2h, 1d, or off"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_WORDS = {
    **{w: "s" for w in ("s", "sec", "secs", "second", "seconds")},
    **{w: "m" for w in ("m", "min", "mins", "minute", "minutes")},
    **{w: "h" for w in ("h", "hr", "hrs", "hour", "hours")},
    **{w: "d" for w in ("d", "day", "days")},
    **{w: "w" for w in ("w", "week", "weeks")},
}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DURATION = re.compile(r"(?:\s*(?:\d+(?:\.\d*)?|\.\d+)\s*[a-z]+)+\s*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)")


def _checked_duration(seconds: float, shown: str) -> timedelta:
    if math.isnan(seconds) or seconds <= 0:
        raise CommandError(f"a duration must be longer than zero, not {_quote(shown)}")
    if seconds > MAX_DURATION.total_seconds():
        raise CommandError(
            f"a duration of {_quote(shown)} is too long; use at most {MAX_DURATION.days} days"
        )
    return timedelta(seconds=seconds)


def _parse_duration(text: str | float, usage: str) -> timedelta:
    if isinstance(text, bool):
        raise CommandError(f"I can't read {_quote(str(text))} as a duration; {usage}")
    if isinstance(text, int | float):
        return _checked_duration(float(text), str(text))
    words = text.strip().lower()
    if not words:
        raise CommandError(f"no duration given; {usage}")
    if _NUMBER.fullmatch(words):
        return _checked_duration(float(words), text)
    if words.startswith("-"):
        raise CommandError(f"a duration must be longer than zero, not {_quote(text)}")
    if not _DURATION.fullmatch(words):
        raise CommandError(f"I can't read {_quote(text)} as a duration; {usage}")
    seconds = 0.0
    for number, unit in _DURATION_PART.findall(words):
        if unit not in _UNIT_WORDS:
            raise CommandError(f"I can't read {_quote(text)} as a duration; {usage}")
        seconds += float(number) * _UNIT_SECONDS[_UNIT_WORDS[unit]]
    return _checked_duration(seconds, text)


def parse_duration(text: str | float) -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"``, or plain seconds (``30``, ``"30"``).

    Units may be spelt out (``"2 hours"``); the duration must be longer than zero and at most
    ``MAX_DURATION``.
    """
    return _parse_duration(text, _DURATION_USAGE)


# --- feed polling ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the poll decision needs to know about one feed.

    ``retry_after`` is the moment a server's Retry-After header points to; ``interval`` is the
    feed's own poll interval, None for the default.
    """

    id: int
    last_polled_at: datetime | None = None
    error_count: int = 0
    retry_after: datetime | None = None
    interval: timedelta | None = None

    @classmethod
    def from_feed(cls, feed: Feed, *, retry_after: datetime | None = None) -> FeedState:
        """The feed's state; ``retry_after`` defaults to the ``not_before`` stored with it."""
        held = retry_after if retry_after is not None else feed.not_before
        return cls(feed.id, feed.last_polled_at, feed.error_count, held)


def _jitter_fraction(feed_id: int | str | None) -> float:
    """A number in [0, 1) fixed for ``feed_id`` (the same in every process), 0 without an id."""
    if feed_id is None:
        return 0.0
    digest = hashlib.blake2b(str(feed_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def poll_jitter(interval: timedelta, feed_id: int | str, last_polled_at: datetime) -> timedelta:
    """How much earlier than ``interval`` a healthy feed is polled after ``last_polled_at``: up
    to 10 % of the interval (at most 5 minutes), whole seconds, the same for one feed and poll
    (seeded by its id and that poll's time), different from poll to poll and feed to feed, so
    feeds added together do not stay in step and hit their hosts at the same moment."""
    cycle = int(_utc(last_polled_at, "last_polled_at").timestamp())
    most = min(interval * _POLL_JITTER, _MAX_POLL_JITTER).total_seconds()
    return timedelta(seconds=math.floor(most * _jitter_fraction(f"{feed_id}:{cycle}")))


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """A Retry-After header (seconds, or an HTTP date) -> the moment it names (UTC); None when
    absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return _utc(now) + timedelta(seconds=min(int(text), MAX_DURATION.total_seconds()))
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP date is in GMT
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def cache_max_age(cache_control: str | None) -> timedelta | None:
    """``Cache-Control: max-age=N`` -> N seconds; None without one, or with no-cache/no-store."""
    if not cache_control or _NO_CACHE.search(cache_control):
        return None
    m = _MAX_AGE.search(cache_control)
    if m is None:
        return None
    return timedelta(seconds=min(int(m.group(1)), MAX_DURATION.total_seconds()))


def feed_update_period(
    ttl: str | None, period: str | None = None, frequency: str | None = None
) -> timedelta | None:
    """How often a feed says it changes: RSS ``<ttl>`` (minutes), or the syndication module's
    ``sy:updatePeriod`` divided by ``sy:updateFrequency`` (default 1); the longer of the two.
    None when it says neither (or nothing readable)."""
    found: list[timedelta] = []
    if ttl is not None and ttl.strip().isdigit() and int(ttl) > 0:
        found.append(timedelta(minutes=min(int(ttl), MAX_DURATION.total_seconds() // 60)))
    if period is not None and period.strip().lower() in _SY_PERIODS:
        times = frequency.strip() if frequency is not None else "1"
        if times.isdigit() and int(times) > 0:
            found.append(_SY_PERIODS[period.strip().lower()] / int(times))
    return max(found) if found else None


def hold_until(
    now: datetime,
    interval: timedelta,
    *,
    retry_after: datetime | None = None,
    max_age: timedelta | None = None,
    update_period: timedelta | None = None,
    cap: timedelta = DEFAULT_MAX_BACKOFF,
) -> datetime | None:
    """The moment before which a feed just polled at ``now`` should not be polled again, from
    what the server and the feed asked for (Retry-After, Cache-Control max-age, ``<ttl>`` or
    ``sy:updatePeriod``); None when none asks for longer than ``interval``.

    A hint only ever moves the next poll later than ``interval`` would, never earlier, and no
    further than ``cap`` (or ``interval``, if longer) from ``now``: a server cannot switch a
    feed off.
    """
    now = _utc(now)
    delays = [d for d in (max_age, update_period) if d is not None]
    if retry_after is not None:
        delays.append(_utc(retry_after, "retry_after") - now)
    longest = max(delays, default=timedelta(0))
    if longest <= interval:
        return None
    return now + min(longest, max(cap, interval))


def backoff_delay(
    interval: timedelta,
    error_count: int = 0,
    *,
    feed_id: int | str | None = None,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
) -> timedelta:
    """How long to wait after a poll: ``interval``, doubled for every consecutive error.

    The doubled delay is capped at ``max_backoff`` (or ``interval`` if that is longer) and then
    shortened by up to 10 %, by an amount fixed per ``feed_id``, so that feeds which failed
    together do not all retry at the same moment. Never shorter than ``interval``; whole seconds.
    """
    if interval <= timedelta(0):
        raise ValueError(f"interval must be positive, got {interval!r}")
    if error_count <= 0:
        return interval
    ceiling = max(max_backoff, interval).total_seconds()
    seconds = min(interval.total_seconds() * 2.0 ** min(error_count, 64), ceiling)
    seconds *= 1 - _JITTER * _jitter_fraction(feed_id)
    return max(timedelta(seconds=round(seconds)), interval)


def next_poll_at(
    last_polled_at: datetime | None,
    interval: timedelta,
    now: datetime,
    *,
    error_count: int = 0,
    retry_after: datetime | None = None,
    feed_id: int | str | None = None,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
) -> datetime:
    """When a feed should next be polled (UTC); ``now`` or earlier means at once.

    A feed never polled is due now. A ``last_polled_at`` in the future (the clock went back)
    counts as now. With a ``feed_id``, a healthy feed comes up a little early, by
    ``poll_jitter``. A server's Retry-After is honoured, but no further out than the backoff cap,
    so a confused server cannot switch a feed off.
    """
    now = _utc(now)
    ceiling = max(max_backoff, interval)
    if last_polled_at is None:
        base = now
        due = now
    else:
        base = min(_utc(last_polled_at, "last_polled_at"), now)
        delay = backoff_delay(interval, error_count, feed_id=feed_id, max_backoff=max_backoff)
        if error_count <= 0 and feed_id is not None:
            delay -= poll_jitter(interval, feed_id, base)
        due = base + delay
    if retry_after is not None:
        due = max(due, min(_utc(retry_after, "retry_after"), base + ceiling))
    return due


def feed_is_due(
    last_polled_at: datetime | None,
    interval: timedelta,
    now: datetime,
    *,
    error_count: int = 0,
    retry_after: datetime | None = None,
    feed_id: int | str | None = None,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
) -> bool:
    """Whether a feed should be polled now; see ``next_poll_at``."""
    due = next_poll_at(
        last_polled_at,
        interval,
        now,
        error_count=error_count,
        retry_after=retry_after,
        feed_id=feed_id,
        max_backoff=max_backoff,
    )
    return due <= _utc(now)


def due_feeds(
    feeds: Iterable[FeedState],
    now: datetime,
    interval: timedelta,
    *,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
) -> list[int]:
    """The ids of the feeds due now, longest overdue first (ties keep the given order).

    ``interval`` is the default; a feed's own ``interval`` wins. The feed id seeds the jitter.
    """
    now = _utc(now)
    due: list[tuple[datetime, int, int]] = []
    for position, feed in enumerate(feeds):
        at = next_poll_at(
            feed.last_polled_at,
            feed.interval or interval,
            now,
            error_count=feed.error_count,
            retry_after=feed.retry_after,
            feed_id=feed.id,
            max_backoff=max_backoff,
        )
        if at <= now:
            # Ordered without the jitter: it decides whether a feed is due, not which goes first.
            unjittered = next_poll_at(
                feed.last_polled_at,
                feed.interval or interval,
                now,
                error_count=feed.error_count,
                retry_after=feed.retry_after,
                max_backoff=max_backoff,
            )
            due.append((unjittered, position, feed.id))
    due.sort()
    return [feed_id for _, _, feed_id in due]


# --- wall-clock times in a zone ----------------------------------------------------------------

_TIME = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?(?:\s*([ap])\.?m\.?)?")
_TIME_USAGE = "use e.g. 08:00, 8am or 22:30"
_MERIDIEM = re.compile(r"(\d)\s+([ap]\.?m\b\.?)")


def _join_meridiem(text: str) -> str:
    """``"10 pm - 7 am"`` -> ``"10pm - 7am"``: a time stays one word."""
    return _MERIDIEM.sub(r"\1\2", text.lower())


def parse_time_of_day(text: str) -> time:
    """A wall-clock time as people write it -> ``time``: ``"08:00"``, ``"8:00"``, ``"8"``,
    ``"22"``, ``"8am"``, ``"8 am"``, ``"10:30pm"``, ``"12am"`` (midnight), ``"12pm"`` (noon)."""
    m = _TIME.fullmatch(text.strip().lower())
    if m is None:
        raise CommandError(f"I can't read {_quote(text)} as a time of day; {_TIME_USAGE}")
    hour, minute, meridiem = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if meridiem is not None:
        if not 1 <= hour <= 12:
            raise CommandError(f"I can't read {_quote(text)} as a time of day; {_TIME_USAGE}")
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    if hour > 23 or minute > 59:
        raise CommandError(f"I can't read {_quote(text)} as a time of day; {_TIME_USAGE}")
    return time(hour, minute)


def _clock(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def _first_second(before: int, after: int, reached: Callable[[int], bool]) -> datetime:
    """The first whole second (UTC) in ``(before, after]`` for which ``reached`` holds, given that
    it does not hold at ``before``, holds at ``after`` and stays true once it holds."""
    while after - before > 1:
        middle = (before + after) // 2
        if reached(middle):
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _wall_time_at(day: date, at: time, tz: tzinfo) -> tuple[datetime, ...]:
    """The UTC instants at which the clocks in ``tz`` show ``at`` on ``day``, in order.

    Usually one; two when the clocks go back over it; when the clocks skip it (spring forward),
    the end of the gap: the first valid time after it.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
        return (first,) if second == first else (first, second)
    # In a gap, fold=0 reads the time with the offset before the jump (a moment after the jump)
    # and fold=1 with the offset after it (a moment before the jump): search between them for
    # the first second whose local time has passed ``naive``.
    other = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return (
        _first_second(
            math.floor(min(first, other).timestamp()),
            math.ceil(max(first, other).timestamp()),
            lambda second: datetime.fromtimestamp(second, tz).replace(tzinfo=None) >= naive,
        ),
    )


def _clocks_go_back(first: datetime, second: datetime, tz: tzinfo) -> datetime:
    """The instant the clocks in ``tz`` go back, between the two times they show one wall time."""
    offset = first.astimezone(tz).utcoffset()
    return _first_second(
        math.floor(first.timestamp()),
        math.ceil(second.timestamp()),
        lambda moment: datetime.fromtimestamp(moment, tz).utcoffset() != offset,
    )


def _clock_at(moment: datetime, tz: tzinfo) -> time:
    """What the clocks in ``tz`` show at ``moment``."""
    return moment.astimezone(tz).time().replace(tzinfo=None)


def _next_wall_time(
    at: time,
    tz: tzinfo,
    after: datetime,
    *,
    weekday: int | None = None,
    inclusive: bool = False,
) -> datetime:
    """The first moment (UTC) later than ``after`` (or equal, if ``inclusive``) at which the
    clocks in ``tz`` show ``at`` (on ``weekday``, 0 = Monday, if given) for the first time that
    day; a skipped ``at`` is reached when the clocks jump past it.
    """
    start = after.astimezone(tz).date() - timedelta(days=1)
    for offset in range(10):
        day = start + timedelta(days=offset)
        if weekday is not None and day.weekday() != weekday:
            continue
        moment = _wall_time_at(day, at, tz)[0]
        if moment > after or (inclusive and moment == after):
            return moment
    raise AssertionError("no matching day within ten days")  # pragma: no cover


# --- digest schedules --------------------------------------------------------------------------

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SCHEDULE_USAGE = "use one of: instant, hourly, daily 08:00, weekly mon 08:00"
_DAY_USAGE = "use mon, tue, wed, thu, fri, sat or sun"


class ScheduleKind(enum.Enum):
    INSTANT = "instant"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a chat (or one watchlist) gets its digest.

    ``at`` is a local wall-clock time (daily and weekly), ``weekday`` 0 = Monday (weekly only).
    ``str()`` gives the canonical text that ``parse_schedule`` reads back.
    """

    kind: ScheduleKind = ScheduleKind.INSTANT
    at: time | None = None
    weekday: int | None = None

    def __post_init__(self) -> None:
        timed = self.kind in (ScheduleKind.DAILY, ScheduleKind.WEEKLY)
        if timed != (self.at is not None):
            raise ValueError(f"{self.kind.value} schedule {'needs' if timed else 'takes no'} time")
        if (self.kind is ScheduleKind.WEEKLY) != (self.weekday is not None):
            raise ValueError("a weekday goes with a weekly schedule, and only there")
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {self.weekday}")

    def __str__(self) -> str:
        if self.at is None:
            return self.kind.value
        clock = _clock(self.at)
        if self.weekday is None:
            return f"{self.kind.value} {clock}"
        return f"{self.kind.value} {_DAYS[self.weekday][:3]} {clock}"


DEFAULT_SCHEDULE = DigestSchedule(ScheduleKind.INSTANT)


def _parse_weekday(word: str) -> int:
    """``mon``, ``Monday``, ``tues``, ``THU`` ... -> 0..6."""
    word = word.lower()
    if len(word) >= 3:
        for index, day in enumerate(_DAYS):
            if day.startswith(word):
                return index
    raise CommandError(f"I can't read {_quote(word)} as a day of the week; {_DAY_USAGE}")


def parse_schedule(text: str) -> DigestSchedule:
    """``instant``, ``hourly``, ``daily HH:MM`` or ``weekly DAY HH:MM`` (case does not matter;
    the time as ``parse_time_of_day`` reads it: ``daily 8am``, ``weekly fri 5 pm``)."""
    words = _join_meridiem(text).split()
    if not words:
        raise CommandError(f"no schedule given; {_SCHEDULE_USAGE}")
    kind_word, rest = words[0], words[1:]
    kind = next((k for k in ScheduleKind if k.value == kind_word), None)
    if kind is None:
        raise CommandError(f"I can't read {_quote(text)} as a schedule; {_SCHEDULE_USAGE}")
    if kind in (ScheduleKind.INSTANT, ScheduleKind.HOURLY):
        if rest:
            raise CommandError(f"{kind.value} takes no time or day; {_SCHEDULE_USAGE}")
        return DigestSchedule(kind)
    if kind is ScheduleKind.DAILY:
        if len(rest) != 1:
            raise CommandError("daily needs one time of day, e.g. daily 08:00")
        return DigestSchedule(kind, parse_time_of_day(rest[0]))
    if len(rest) != 2:
        raise CommandError("weekly needs a day and a time of day, e.g. weekly mon 08:00")
    day_word, clock = rest if not rest[0][:1].isdigit() else reversed(rest)
    return DigestSchedule(kind, parse_time_of_day(clock), _parse_weekday(day_word))


def _next_hour(after: datetime, tz: tzinfo, *, inclusive: bool) -> datetime:
    """The next moment the local clock reaches a full hour (or jumps past one).

    That is the top of the local hour, which is not UTC's in a +05:30 zone; an hour the clocks
    repeat (autumn back) is reached again, and a half-hour shift (Lord Howe Island) moves it.
    """
    top = after.astimezone(tz).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    hours = [top + timedelta(hours=n) for n in range(-3, 4)]  # a clock change moves it 3h at most
    return min(
        moment
        for hour in hours
        for moment in _wall_time_at(hour.date(), hour.time(), tz)
        if moment > after or (inclusive and moment == after)
    )


def _next_slot(schedule: DigestSchedule, tz: tzinfo, after: datetime, inclusive: bool) -> datetime:
    if schedule.kind is ScheduleKind.HOURLY:
        return _next_hour(after, tz, inclusive=inclusive)
    assert schedule.at is not None
    return _next_wall_time(schedule.at, tz, after, weekday=schedule.weekday, inclusive=inclusive)


def next_digest_at(
    schedule: DigestSchedule, tz: tzinfo, last_sent_at: datetime | None, now: datetime
) -> datetime:
    """When the next digest should go out (UTC); never earlier than ``now``.

    instant: now. hourly: the top of the next (local) hour after ``last_sent_at``. daily and
    weekly: the next time the chat's clock shows the scheduled time after ``last_sent_at``.
    If that moment has already passed (the bot was down), the answer is ``now``: one digest at
    once, not one per missed slot. Without ``last_sent_at`` the first slot from ``now`` on.

    The caller records ``last_sent_at`` whenever a due digest is handled, even when it had
    nothing to send, so that a quiet day does not make the next story "overdue".
    """
    now = _utc(now)
    if schedule.kind is ScheduleKind.INSTANT:
        return now
    if last_sent_at is None:
        slot = _next_slot(schedule, tz, now, inclusive=True)
    else:
        slot = _next_slot(schedule, tz, _utc(last_sent_at, "last_sent_at"), inclusive=False)
    return max(slot, now)


def digest_is_due(
    schedule: DigestSchedule, tz: tzinfo, last_sent_at: datetime | None, now: datetime
) -> bool:
    """Whether the digest should go out now; see ``next_digest_at``."""
    return next_digest_at(schedule, tz, last_sent_at, now) <= _utc(now)


# --- time zones --------------------------------------------------------------------------------

_ZONE_USAGE = "use a name like Europe/Berlin, America/New_York or UTC, or an offset like UTC+02:00"
_OFFSET = re.compile(r"(?:utc|gmt)?\s*([+\-\u2212])\s*(\d{1,2})(?::?(\d{2}))?")
_MAX_OFFSET = timedelta(hours=14)  # the furthest from UTC any place keeps its clocks
_WELL_KNOWN_ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/St_Johns",
    "America/Halifax",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Nairobi",
    "Asia/Tehran",
)
"""Zones suggested first for a fixed offset: one big city for most offsets in use."""


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """Case-folded IANA name -> its proper spelling, for every zone this system knows."""
    return {name.casefold(): name for name in available_timezones()}


@lru_cache(maxsize=1)
def _zone_cities() -> dict[str, str]:
    """Case-folded last part of a zone name (``berlin``) -> the zone, where that is unique."""
    cities: dict[str, list[str]] = {}
    for name in _zone_names().values():
        if "/" in name:
            cities.setdefault(name.rsplit("/", 1)[1].casefold(), []).append(name)
    return {city: names[0] for city, names in cities.items() if len(names) == 1}


@lru_cache(maxsize=256)
def _zone_suggestion(key: str) -> str | None:
    names = _zone_names()
    cities = _zone_cities()
    if key in cities:
        return cities[key]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
    if close:
        return names[close[0]]
    close = difflib.get_close_matches(key, cities, n=1, cutoff=0.8)
    return cities[close[0]] if close else None


def _parse_offset(text: str) -> tzinfo | None:
    """``UTC+2``, ``GMT+1``, ``UTC-05:30``, ``+0200`` -> a fixed offset (``UTC+0`` -> UTC);
    None when ``text`` is not written as an offset."""
    m = _OFFSET.fullmatch(text.strip().casefold())
    if m is None:
        return None
    sign = -1 if m.group(1) != "+" else 1
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if minutes > 59:
        raise CommandError(f"I can't read {_quote(text)} as a time zone; {_ZONE_USAGE}")
    offset = sign * timedelta(hours=hours, minutes=minutes)
    if abs(offset) > _MAX_OFFSET:
        raise CommandError(
            f"the offset {_quote(text)} is further from UTC than any clock; "
            "offsets go from UTC-12 to UTC+14"
        )
    if not offset:
        return ZoneInfo("UTC")
    shown = f"UTC{'+' if sign > 0 else '-'}{hours:02d}:{minutes:02d}"
    return timezone(offset, shown)


def zone_name(tz: tzinfo) -> str:
    """The name ``parse_timezone`` reads back: ``Europe/Berlin``, or ``UTC+02:00``."""
    if isinstance(tz, ZoneInfo):
        return tz.key
    return tz.tzname(None) or "UTC"


def is_fixed_offset(tz: tzinfo) -> bool:
    """Whether ``tz`` is an offset that never changes (no daylight saving time), not a place."""
    return not isinstance(tz, ZoneInfo)


def zones_at_offset(offset: timedelta, now: datetime, limit: int = 3) -> list[str]:
    """Up to ``limit`` zone names whose clocks are ``offset`` from UTC at ``now``, well-known
    cities first: what to suggest to someone who gave a fixed offset."""
    now = _utc(now)
    found: list[str] = []
    others = sorted(
        name
        for name in _zone_names().values()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/"))
    )
    for name in (*_WELL_KNOWN_ZONES, *others):
        if name not in found and now.astimezone(ZoneInfo(name)).utcoffset() == offset:
            found.append(name)
            if len(found) == limit:
                break
    return found


def parse_timezone(text: str) -> tzinfo:
    """An IANA time zone name in any case (``europe/berlin``, ``America/New York``), ``UTC``,
    or a fixed offset from UTC (``UTC+2``, ``GMT+1``, ``UTC-05:30``, ``+02:00``).

    A typo or a bare city gets a suggestion in the error message. ``zone_name`` gives the
    name to store; a fixed offset has no daylight saving time (see ``is_fixed_offset``).
    """
    key = "_".join(text.split()).casefold()
    if not key:
        raise CommandError(f"no time zone given; {_ZONE_USAGE}")
    offset = _parse_offset(text)
    if offset is not None:
        return offset
    name = _zone_names().get(key)
    if name is not None:
        return ZoneInfo(name)
    suggestion = _zone_suggestion(key) if len(key) <= 64 else None
    if suggestion is not None:
        raise CommandError(
            f"I can't read {_quote(text)} as a time zone; did you mean {suggestion}?"
        )
    raise CommandError(f"I can't read {_quote(text)} as a time zone; {_ZONE_USAGE}")


# --- quiet hours -------------------------------------------------------------------------------

_QUIET = re.compile(r"(\S+?)\s*(?:-|–|—|\bto\b)\s*(\S+?)(?:\s+(silent))?")
_QUIET_USAGE = "use e.g. 22:00-07:00, 22:00-07:00 silent, or off"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local wall-clock hours in which instant alerts wait (or, if ``silent``, arrive without a
    sound). ``start`` after ``end`` wraps midnight."""

    start: time
    end: time
    silent: bool = False

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")

    def contains(self, clock: time) -> bool:
        """Whether the local time ``clock`` is inside (start inclusive, end exclusive)."""
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def __str__(self) -> str:
        text = f"{_clock(self.start)}-{_clock(self.end)}"
        return f"{text} silent" if self.silent else text


class QuietDecision(NamedTuple):
    """``hold``: keep the alert until ``release_at`` (UTC); ``silent``: send without sound."""

    hold: bool
    release_at: datetime | None
    silent: bool


_SEND_NOW = QuietDecision(hold=False, release_at=None, silent=False)


def parse_quiet(text: str) -> QuietHours | None:
    """``22:00-07:00`` (may wrap midnight), ``22:00-07:00 silent``, or ``off`` (None); the times
    as ``parse_time_of_day`` reads them: ``10pm-7am``, ``22-7``."""
    words = _join_meridiem(text.strip())
    if not words:
        raise CommandError(f"no quiet hours given; {_QUIET_USAGE}")
    if words == "off":
        return None
    m = _QUIET.fullmatch(words)
    if m is None:
        raise CommandError(f"I can't read {_quote(text)} as a range of hours; {_QUIET_USAGE}")
    start, end = parse_time_of_day(m.group(1)), parse_time_of_day(m.group(2))
    if start == end:
        raise CommandError(f"quiet hours must start and end at different times; {_QUIET_USAGE}")
    return QuietHours(start, end, silent=m.group(3) is not None)


def _quiet_ends(quiet: QuietHours, tz: tzinfo, now: datetime) -> datetime:
    """The first moment after ``now`` at which the clocks in ``tz`` show a time outside ``quiet``.

    The clock leaves the range only where it reaches (or jumps past) the end, or where it goes
    back over the start; every such moment in the next few days is a candidate, and the first
    one after which the clock really is outside wins (on a spring day the clock can jump past
    the end and the start together, and stay inside).
    """
    today = now.astimezone(tz).date()
    candidates: set[datetime] = set()
    for offset in range(-1, 4):
        day = today + timedelta(days=offset)
        candidates.update(_wall_time_at(day, quiet.end, tz))
        starts = _wall_time_at(day, quiet.start, tz)
        if len(starts) == 2:
            candidates.add(_clocks_go_back(*starts, tz))
    for moment in sorted(candidates):
        if moment > now and not quiet.contains(_clock_at(moment, tz)):
            return moment
    raise AssertionError("the clock stays inside the quiet hours for days")  # pragma: no cover


def quiet_decision(quiet: QuietHours | None, tz: tzinfo, now: datetime) -> QuietDecision:
    """What to do with an instant alert at ``now``: send it, hold it, or send it silently.

    Held while the chat's clock shows a time inside the quiet hours; ``release_at`` is the first
    moment it shows one outside them (see the module's notes on clocks that jump).
    """
    now = _utc(now)
    if quiet is None or not quiet.contains(_clock_at(now, tz)):
        return _SEND_NOW
    if quiet.silent:
        return QuietDecision(hold=False, release_at=None, silent=True)
    return QuietDecision(hold=True, release_at=_quiet_ends(quiet, tz, now), silent=False)


# --- mutes -------------------------------------------------------------------------------------


def parse_mute(text: str) -> timedelta:
    """How long to mute: ``30m``, ``2h``, ``1d``; ``off`` gives ``timedelta(0)`` (unmute now).

    The caller stores ``now + parse_mute(text)`` as ``muted_until``; with ``off`` that is ``now``,
    which ``is_muted`` reads as not muted.
    """
    if text.strip().lower() == "off":
        return timedelta(0)
    return _parse_duration(text, _MUTE_USAGE)


def is_muted(muted_until: datetime | None, now: datetime) -> bool:
    """Whether a mute ending at ``muted_until`` still holds at ``now`` (it ends at that instant:
    elapsed time, whatever the clocks do meanwhile)."""
    return muted_until is not None and _utc(now) < _utc(muted_until, "muted_until")
