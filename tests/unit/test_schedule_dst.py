"""Every schedule, mute and quiet-hours decision across both clock changes of several zones.

The decisions are checked against a walk along the chat's clock, a quarter of an hour at a time:
what it shows, and which times it jumps past. The zones cover both hemispheres, half-hour and
45-minute offsets, a half-hour shift, a zone without daylight saving time, and clocks that
change at midnight.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import example, given, settings
from hypothesis import strategies as st

from watchers.digest import decide_delivery
from watchers.model import Chat, Watchlist
from watchers.schedule import (
    DigestSchedule,
    QuietHours,
    ScheduleKind,
    digest_is_due,
    is_muted,
    next_digest_at,
    next_poll_at,
    parse_mute,
    quiet_decision,
)

QUARTER = timedelta(minutes=15)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)

ZONE_YEARS = {
    "America/New_York": 2024,
    "Europe/London": 2024,
    "Europe/Berlin": 2024,
    "Australia/Sydney": 2024,  # southern hemisphere: forward in October, back in April
    "Australia/Lord_Howe": 2024,  # a half-hour shift
    "Asia/Kolkata": 2024,  # +05:30, no clock changes
    "Pacific/Chatham": 2024,  # +12:45 / +13:45
    "America/Sao_Paulo": 2018,  # changed at midnight until 2019
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@cache
def clock_changes(zone: str) -> tuple[datetime, ...]:
    """The instants in the zone's year at which its clocks change: walk the year an hour at a
    time, then narrow each change down to the minute."""
    tz = ZoneInfo(zone)
    year = ZONE_YEARS[zone]
    changes = []
    moment, end = utc(year, 1, 1), utc(year + 1, 1, 1)
    while moment < end:
        later = moment + timedelta(hours=1)
        if moment.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            before = moment
            while later - before > timedelta(minutes=1):
                middle = before + (later - before) / 2
                if middle.astimezone(tz).utcoffset() == before.astimezone(tz).utcoffset():
                    before = middle
                else:
                    later = middle
            changes.append(later)
        moment += timedelta(hours=1)
    return tuple(changes)


def near_a_clock_change(zone: str) -> st.SearchStrategy[datetime]:
    """Quarter hours up to a day and a half either side of one of the zone's clock changes."""
    changes = clock_changes(zone) or (utc(ZONE_YEARS[zone], 3, 31),)
    return st.builds(
        lambda change, quarters: change + quarters * QUARTER,
        st.sampled_from(changes),
        st.integers(min_value=-36 * 4, max_value=36 * 4),
    )


zone_and_moment = st.sampled_from(sorted(ZONE_YEARS)).flatmap(
    lambda zone: st.tuples(st.just(zone), near_a_clock_change(zone))
)
quarter_times = st.builds(
    time, st.integers(min_value=0, max_value=23), st.sampled_from([0, 15, 30, 45])
)


def shows(moment: datetime, tz: ZoneInfo) -> datetime:
    """What the clock in ``tz`` shows at ``moment`` (date and time, no zone)."""
    return moment.astimezone(tz).replace(tzinfo=None)


def marks_reached(step: datetime, tz: ZoneInfo) -> list[datetime]:
    """The quarter-hour marks the clock reaches in the quarter hour up to ``step``.

    The clock moves on a quarter; when it jumps forward it passes every mark up to what it
    shows; when it goes back it reaches only what it shows. (Every clock change of these
    zones falls on a quarter hour of UTC, as the steps do.)
    """
    shown = shows(step, tz)
    mark = shows(step - QUARTER, tz) + QUARTER
    if shown < mark:
        return [shown]
    reached = []
    while mark <= shown:
        reached.append(mark)
        mark += QUARTER
    return reached


def expected_slots(
    schedule: DigestSchedule, tz: ZoneInfo, start: datetime, stop: datetime
) -> list[datetime]:
    """The quarter hours in ``(start, stop]`` at which the schedule's time is reached: for
    hourly, every full hour the clock reaches; for daily and weekly, the first time the clock
    reaches the time on its day."""
    slots = []
    seen: set[datetime] = set()
    step = start - DAY  # so that a time first reached before ``start`` is known
    while step <= stop:
        marks = marks_reached(step, tz)
        if schedule.kind is ScheduleKind.HOURLY:
            hit = any(mark.minute == 0 for mark in marks)
        else:
            hit = any(
                mark.time() == schedule.at
                and (schedule.weekday is None or mark.weekday() == schedule.weekday)
                and mark not in seen
                for mark in marks
            )
        seen.update(marks)
        if hit and step > start:
            slots.append(step)
        step += QUARTER
    return slots


def run_scheduler(
    schedule: DigestSchedule, tz: ZoneInfo, start: datetime, stop: datetime
) -> list[datetime]:
    """Poll every quarter hour from ``start`` (a digest just sent) to ``stop``, sending whenever
    a digest is due; the moments sent."""
    last = start
    sent = []
    step = start + QUARTER
    while step <= stop:
        if digest_is_due(schedule, tz, last, step):
            sent.append(step)
            last = step
            assert next_digest_at(schedule, tz, last, step) > step
        step += QUARTER
    return sent


# --- digests -----------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(case=zone_and_moment, at=quarter_times)
@example(("America/New_York", utc(2024, 3, 10, 7)), time(2, 30))  # skipped
@example(("America/New_York", utc(2024, 11, 3, 6)), time(1, 30))  # shown twice
@example(("Europe/Berlin", utc(2024, 10, 27, 1)), time(2, 30))
@example(("America/Sao_Paulo", utc(2018, 2, 18, 2)), time(23, 30))  # back from 00:00 to 23:00
@example(("America/Sao_Paulo", utc(2018, 11, 4, 3)), time(0, 0))  # 00:00 is skipped
@example(("Australia/Lord_Howe", utc(2024, 10, 5, 15, 30)), time(2, 15))
@example(("Pacific/Chatham", utc(2024, 9, 28, 14)), time(2, 45))
def test_daily_digest_goes_once_every_local_day(case: tuple[str, datetime], at: time) -> None:
    zone, middle = case
    tz = ZoneInfo(zone)
    schedule = DigestSchedule(ScheduleKind.DAILY, at)
    start, stop = middle - 2 * DAY, middle + 2 * DAY
    sent = run_scheduler(schedule, tz, start, stop)
    assert sent == expected_slots(schedule, tz, start, stop)
    days = [shows(moment, tz).date() for moment in sent]
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]
    assert len(days) >= 3
    for moment in sent:
        day = shows(moment, tz).date()
        if shows(moment, tz).time() != at:  # skipped that day: sent as the clock jumped past
            assert shows(moment - SECOND, tz) < datetime.combine(day, at) < shows(moment, tz)


@settings(max_examples=20, deadline=None)
@given(case=zone_and_moment, at=quarter_times, weekday=st.integers(min_value=0, max_value=6))
@example(("Europe/London", utc(2024, 3, 31, 1)), time(1, 30), 6)  # skipped on a Sunday
@example(("Australia/Sydney", utc(2024, 4, 6, 16)), time(2, 30), 6)  # shown twice on a Sunday
def test_weekly_digest_goes_once_every_week(
    case: tuple[str, datetime], at: time, weekday: int
) -> None:
    zone, middle = case
    tz = ZoneInfo(zone)
    schedule = DigestSchedule(ScheduleKind.WEEKLY, at, weekday)
    start, stop = middle - 8 * DAY, middle + 8 * DAY
    sent = run_scheduler(schedule, tz, start, stop)
    assert sent == expected_slots(schedule, tz, start, stop)
    days = [shows(moment, tz).date() for moment in sent]
    assert days == [days[0] + timedelta(days=7 * n) for n in range(len(days))]
    assert len(days) >= 2
    assert all(day.weekday() == weekday for day in days)


@settings(max_examples=30, deadline=None)
@given(case=zone_and_moment)
@example(("America/New_York", utc(2024, 11, 3, 6)))
@example(("Australia/Lord_Howe", utc(2024, 4, 6, 15)))
@example(("Australia/Lord_Howe", utc(2024, 10, 5, 15, 30)))
@example(("Pacific/Chatham", utc(2024, 9, 28, 14)))
def test_hourly_digest_goes_whenever_the_clock_reaches_a_full_hour(
    case: tuple[str, datetime],
) -> None:
    zone, middle = case
    tz = ZoneInfo(zone)
    schedule = DigestSchedule(ScheduleKind.HOURLY)
    start, stop = middle - DAY / 2, middle + DAY / 2
    sent = run_scheduler(schedule, tz, start, stop)
    assert sent == expected_slots(schedule, tz, start, stop)
    # an hour apart, except around a shift that is not a whole hour or does not fall on one:
    # Chatham jumps from 02:45 to 03:45 (03:00 is reached at the jump, 04:00 a quarter later)
    gaps = [later - earlier for earlier, later in pairwise(sent)]
    assert all(QUARTER <= gap <= timedelta(minutes=90) for gap in gaps)
    assert len(sent) >= 22


# --- quiet hours -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    case=zone_and_moment,
    start=quarter_times,
    end=quarter_times,
    late=st.timedeltas(min_value=timedelta(0), max_value=QUARTER - SECOND),
)
# the reported case: New York skips 02:00-03:00 on 10 March 2024, all of the time outside
@example(("America/New_York", utc(2024, 3, 10, 5)), time(2, 15), time(2), timedelta(0))
@example(("America/New_York", utc(2024, 3, 10, 6, 45)), time(2, 15), time(2), timedelta(0))
@example(("Europe/Berlin", utc(2024, 10, 27, 0, 45)), time(2, 30), time(3), timedelta(0))
@example(("Europe/London", utc(2024, 3, 31, 0, 30)), time(22), time(1, 30), timedelta(0))
@example(("America/Sao_Paulo", utc(2018, 2, 18, 1, 30)), time(23, 45), time(6), timedelta(0))
@example(("Australia/Sydney", utc(2024, 10, 5, 15)), time(2, 30), time(2), timedelta(0))
def test_held_alerts_are_released_outside_quiet_hours(
    case: tuple[str, datetime], start: time, end: time, late: timedelta
) -> None:
    zone, moment = case
    if start == end:
        return
    tz = ZoneInfo(zone)
    quiet = QuietHours(start, end)
    now = moment + late
    hold, release_at, silent = quiet_decision(quiet, tz, now)
    assert not silent
    assert hold == quiet.contains(shows(now, tz).time())
    if not hold:
        assert release_at is None
        return
    assert release_at is not None
    assert now < release_at <= now + timedelta(hours=49)
    # released outside the quiet hours, by the decision's own reckoning and the clock's
    assert not quiet.contains(shows(release_at, tz).time())
    assert quiet_decision(quiet, tz, release_at).hold is False
    # and no earlier: the clock shows a time inside them all the way
    assert quiet.contains(shows(release_at - SECOND, tz).time())
    step = moment + QUARTER
    while step < release_at:
        assert quiet.contains(shows(step, tz).time())
        assert quiet_decision(quiet, tz, step).release_at == release_at
        step += QUARTER


@settings(max_examples=40, deadline=None)
@given(case=zone_and_moment, start=quarter_times, end=quarter_times)
@example(("America/New_York", utc(2024, 3, 10, 5)), time(2, 15), time(2))
def test_the_bot_sends_held_alerts_when_quiet_hours_release_them(
    case: tuple[str, datetime], start: time, end: time
) -> None:
    zone, now = case
    if start == end:
        return
    chat = Chat(id=1, kind="private", timezone=zone, quiet=str(QuietHours(start, end)))
    watchlist = Watchlist(id=1, chat_id=1, name="w", query="w", created_at=now - DAY)
    decision = decide_delivery(chat, watchlist, now)
    held = quiet_decision(QuietHours(start, end), ZoneInfo(zone), now)
    assert decision.send is not held.hold
    if held.release_at is not None:
        assert decision.reason == "quiet hours"
        assert not decide_delivery(chat, watchlist, held.release_at - SECOND).send
        assert decide_delivery(chat, watchlist, held.release_at).send


# --- mutes and polling -------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(case=zone_and_moment, minutes=st.integers(min_value=1, max_value=3 * 24 * 60))
@example(("Europe/Berlin", utc(2024, 10, 26, 23)), 24 * 60)  # a day that is 25 hours long
@example(("America/New_York", utc(2024, 3, 10, 4)), 24 * 60)  # a day that is 23 hours long
def test_a_mute_lasts_its_length_whatever_the_clocks_do(
    case: tuple[str, datetime], minutes: int
) -> None:
    zone, now = case
    until = now + parse_mute(f"{minutes}m")
    assert until - now == timedelta(minutes=minutes)
    assert is_muted(until, now)
    assert is_muted(until, until - SECOND)
    assert not is_muted(until, until)
    chat = Chat(id=1, kind="private", timezone=zone)
    watchlist = Watchlist(1, 1, "w", "w", now - DAY, muted_until=until)
    assert decide_delivery(chat, watchlist, until - SECOND).reason == "muted"
    assert decide_delivery(chat, watchlist, until).send


@settings(max_examples=40, deadline=None)
@given(case=zone_and_moment, minutes=st.integers(min_value=1, max_value=24 * 60))
def test_feeds_are_polled_by_elapsed_time(case: tuple[str, datetime], minutes: int) -> None:
    _, now = case
    interval = timedelta(minutes=minutes)
    assert next_poll_at(now, interval, now) == now + interval


# --- nothing raises, anywhere ------------------------------------------------------------------

all_zones = st.sampled_from(sorted(available_timezones()))
any_moment = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
)
any_time = st.times().map(lambda t: t.replace(second=0, microsecond=0))
schedules = st.one_of(
    st.just(DigestSchedule(ScheduleKind.INSTANT)),
    st.just(DigestSchedule(ScheduleKind.HOURLY)),
    st.builds(DigestSchedule, st.just(ScheduleKind.DAILY), any_time),
    st.builds(
        DigestSchedule,
        st.just(ScheduleKind.WEEKLY),
        any_time,
        st.integers(min_value=0, max_value=6),
    ),
)


@settings(max_examples=100, deadline=None)
@given(
    zone=all_zones,
    now=any_moment,
    schedule=schedules,
    start=any_time,
    end=any_time,
    since=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
)
# Samoa skipped Friday 30 December 2011, Kiritimati 31 December 1994
@example(
    "Pacific/Apia",
    utc(2011, 12, 30, 12),
    DigestSchedule(ScheduleKind.WEEKLY, time(9), 4),
    time(22),
    time(7),
    timedelta(days=1),
)
@example(
    "Pacific/Kiritimati",
    utc(1994, 12, 31, 12),
    DigestSchedule(ScheduleKind.DAILY, time(9)),
    time(8),
    time(10),
    timedelta(hours=1),
)
def test_no_decision_raises_in_any_zone(
    zone: str,
    now: datetime,
    schedule: DigestSchedule,
    start: time,
    end: time,
    since: timedelta,
) -> None:
    tz = ZoneInfo(zone)
    last_sent = now - since
    due = next_digest_at(schedule, tz, last_sent, now)
    assert due >= now
    assert digest_is_due(schedule, tz, last_sent, now) == (due == now)
    if schedule.kind is not ScheduleKind.INSTANT:
        assert next_digest_at(schedule, tz, now, now) > now
        assert next_digest_at(schedule, tz, None, now) >= now
    if start != end:
        quiet = QuietHours(start, end)
        decision = quiet_decision(quiet, tz, now)
        if decision.release_at is not None:
            assert decision.release_at > now
            assert not quiet.contains(shows(decision.release_at, tz).time())


def test_every_zone_here_changes_its_clocks_twice_or_never() -> None:
    # the walks above rely on it, and on changes falling on a quarter hour of UTC
    for zone in ZONE_YEARS:
        changes = clock_changes(zone)
        assert len(changes) == (0 if zone == "Asia/Kolkata" else 2), zone
        assert all(change.minute % 15 == 0 for change in changes)
