"""When feeds and digests are due: durations, backoff, digest schedules across DST, quiet hours,
time zones and mutes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from watchers.errors import CommandError
from watchers.model import Feed
from watchers.schedule import (
    DEFAULT_MAX_BACKOFF,
    DEFAULT_SCHEDULE,
    DigestSchedule,
    FeedState,
    QuietDecision,
    QuietHours,
    ScheduleKind,
    backoff_delay,
    digest_is_due,
    due_feeds,
    feed_is_due,
    is_muted,
    next_digest_at,
    next_poll_at,
    parse_duration,
    parse_mute,
    parse_quiet,
    parse_schedule,
    parse_time_of_day,
    parse_timezone,
    quiet_decision,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(
    tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, *, fold: int = 0
) -> datetime:
    """A local wall-clock time in ``tz`` as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold).astimezone(UTC)


def error_of(parse: object, text: object) -> str:
    with pytest.raises(CommandError) as caught:
        parse(text)  # type: ignore[operator]
    return caught.value.message


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2 hours", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
        (" 15M ", timedelta(minutes=15)),
        ("30", timedelta(seconds=30)),
        ("2.5", timedelta(seconds=2.5)),
        (30, timedelta(seconds=30)),
        (0.5, timedelta(seconds=0.5)),
        ("365d", timedelta(days=365)),
    ],
)
def test_parse_duration(text: str | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("15x", "I can't read '15x' as a duration; use e.g. 90s, 15m, 2h"),
        ("h", "I can't read 'h' as a duration; use e.g. 90s, 15m, 2h"),
        ("1h30", "I can't read '1h30' as a duration; use e.g. 90s, 15m, 2h"),
        ("soon", "I can't read 'soon' as a duration; use e.g. 90s, 15m, 2h"),
        ("", "no duration given; use e.g. 90s, 15m, 2h"),
        ("   ", "no duration given; use e.g. 90s, 15m, 2h"),
        ("0", "a duration must be longer than zero, not '0'"),
        ("0m", "a duration must be longer than zero, not '0m'"),
        ("-5m", "a duration must be longer than zero, not '-5m'"),
        ("-30", "a duration must be longer than zero, not '-30'"),
        (0, "a duration must be longer than zero, not '0'"),
        (-1.5, "a duration must be longer than zero, not '-1.5'"),
        (float("nan"), "a duration must be longer than zero, not 'nan'"),
        ("400d", "a duration of '400d' is too long; use at most 365 days"),
        (float("inf"), "a duration of 'inf' is too long; use at most 365 days"),
        ("99999999999999d", "a duration of '99999999999999d' is too long; use at most 365 days"),
        (True, "I can't read 'True' as a duration; use e.g. 90s, 15m, 2h"),
    ],
)
def test_parse_duration_errors(text: str | float, message: str) -> None:
    assert error_of(parse_duration, text) == message


def test_long_input_is_cut_short_in_the_message() -> None:
    message = error_of(parse_duration, "x" * 500)
    assert message == f"I can't read '{'x' * 40}…' as a duration; use e.g. 90s, 15m, 2h"


# --- feed polling ------------------------------------------------------------------------------

INTERVAL = timedelta(minutes=15)
NOW = utc(2024, 5, 1, 12, 0)


def test_never_polled_feed_is_due() -> None:
    assert next_poll_at(None, INTERVAL, NOW) == NOW
    assert feed_is_due(None, INTERVAL, NOW)


def test_healthy_feed_is_due_one_interval_after_its_last_poll() -> None:
    last = NOW - timedelta(minutes=10)
    assert next_poll_at(last, INTERVAL, NOW) == last + INTERVAL
    assert not feed_is_due(last, INTERVAL, NOW)
    assert feed_is_due(last, INTERVAL, last + INTERVAL)


def test_result_is_utc_whatever_zone_the_inputs_are_in() -> None:
    last = NOW.astimezone(BERLIN)
    result = next_poll_at(last, INTERVAL, NOW.astimezone(NEW_YORK))
    assert result.tzinfo is UTC
    assert result == NOW + INTERVAL


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        feed_is_due(None, INTERVAL, datetime(2024, 5, 1, 12, 0))


def test_backoff_doubles_with_every_error() -> None:
    delays = [backoff_delay(INTERVAL, errors) for errors in range(6)]
    assert delays == [INTERVAL * 2**errors for errors in range(6)]


def test_backoff_is_capped() -> None:
    assert backoff_delay(INTERVAL, 10) == DEFAULT_MAX_BACKOFF
    assert backoff_delay(INTERVAL, 10_000) == DEFAULT_MAX_BACKOFF
    assert backoff_delay(INTERVAL, 3, max_backoff=HOUR) == HOUR


def test_backoff_never_shortens_a_long_interval() -> None:
    weekly = timedelta(days=7)
    assert backoff_delay(weekly, 5) == weekly
    assert backoff_delay(weekly, 5, feed_id=3) == weekly


def test_jitter_is_small_fixed_per_feed_and_spreads_feeds() -> None:
    plain = backoff_delay(INTERVAL, 3)
    jittered = {feed_id: backoff_delay(INTERVAL, 3, feed_id=feed_id) for feed_id in range(50)}
    assert all(0.9 * plain <= delay <= plain for delay in jittered.values())
    assert len(set(jittered.values())) > 40
    assert backoff_delay(INTERVAL, 3, feed_id=17) == jittered[17]
    # a healthy feed has no jitter
    assert backoff_delay(INTERVAL, 0, feed_id=17) == INTERVAL


def test_jittered_backoff_stays_under_the_cap() -> None:
    for feed_id in range(50):
        assert backoff_delay(INTERVAL, 30, feed_id=feed_id) <= DEFAULT_MAX_BACKOFF


@given(
    interval=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2)),
    errors=st.integers(min_value=0, max_value=200),
    feed_id=st.integers(min_value=0, max_value=10**9),
)
def test_backoff_grows_monotonically_between_interval_and_cap(
    interval: timedelta, errors: int, feed_id: int
) -> None:
    delay = backoff_delay(interval, errors, feed_id=feed_id)
    assert interval <= delay <= max(DEFAULT_MAX_BACKOFF, interval)
    assert delay <= backoff_delay(interval, errors + 1, feed_id=feed_id)


def test_failing_feed_waits_for_its_backoff() -> None:
    last = NOW - HOUR
    assert next_poll_at(last, INTERVAL, NOW, error_count=3) == last + 8 * INTERVAL
    assert not feed_is_due(last, INTERVAL, NOW, error_count=3)
    assert feed_is_due(last, INTERVAL, NOW, error_count=2)


def test_retry_after_is_honoured() -> None:
    last = NOW - timedelta(minutes=20)
    later = NOW + timedelta(minutes=30)
    assert next_poll_at(last, INTERVAL, NOW, retry_after=later) == later
    assert not feed_is_due(last, INTERVAL, NOW, retry_after=later)
    assert feed_is_due(last, INTERVAL, later, retry_after=later)
    # even for a feed never polled
    assert next_poll_at(None, INTERVAL, NOW, retry_after=later) == later


def test_retry_after_in_the_past_does_not_hurry_the_backoff() -> None:
    last = NOW - timedelta(minutes=20)
    due = next_poll_at(last, INTERVAL, NOW, error_count=2, retry_after=NOW - HOUR)
    assert due == last + 4 * INTERVAL


def test_retry_after_cannot_switch_a_feed_off() -> None:
    last = NOW - HOUR
    far = NOW + timedelta(days=400)
    assert next_poll_at(last, INTERVAL, NOW, retry_after=far) == last + DEFAULT_MAX_BACKOFF


def test_poll_from_the_future_counts_as_now() -> None:
    # the clock went back an hour: the feed is due one interval from now, not from the future
    assert next_poll_at(NOW + HOUR, INTERVAL, NOW) == NOW + INTERVAL


def test_due_feeds_most_overdue_first_in_stable_order() -> None:
    feeds = [
        FeedState(1, NOW - timedelta(minutes=5)),  # polled recently: not due
        FeedState(2, NOW - timedelta(minutes=20)),  # 5 minutes overdue
        FeedState(3, None),  # never polled: due now
        FeedState(4, NOW - timedelta(hours=2)),  # long overdue
        FeedState(5, NOW - timedelta(minutes=20), error_count=3),  # backing off
        FeedState(6, NOW - timedelta(hours=2), retry_after=NOW + HOUR),  # told to wait
        FeedState(7, NOW - timedelta(minutes=20)),  # ties with 2
        FeedState(8, NOW - timedelta(minutes=20), interval=timedelta(hours=1)),  # own interval
    ]
    assert due_feeds(feeds, NOW, INTERVAL) == [4, 2, 7, 3]
    assert due_feeds([], NOW, INTERVAL) == []


def test_feed_state_from_feed() -> None:
    feed = Feed(id=9, url="https://example.org/feed", last_polled_at=NOW, error_count=2)
    state = FeedState.from_feed(feed, retry_after=NOW + HOUR)
    assert state == FeedState(9, NOW, 2, NOW + HOUR)


# --- digest schedules: parsing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("instant", "instant"),
        ("INSTANT", "instant"),
        ("hourly", "hourly"),
        ("daily 08:00", "daily 08:00"),
        ("Daily 8:05", "daily 08:05"),
        ("daily 23:59", "daily 23:59"),
        ("daily 0:00", "daily 00:00"),
        ("weekly mon 08:00", "weekly mon 08:00"),
        ("weekly Monday 08:00", "weekly mon 08:00"),
        ("WEEKLY SUNDAY 18:30", "weekly sun 18:30"),
        ("weekly tues 7:00", "weekly tue 07:00"),
        ("weekly thurs 07:00", "weekly thu 07:00"),
        ("weekly 08:00 fri", "weekly fri 08:00"),
        ("  weekly   sat   09:15 ", "weekly sat 09:15"),
    ],
)
def test_parse_schedule_and_canonical_text(text: str, canonical: str) -> None:
    schedule = parse_schedule(text)
    assert str(schedule) == canonical
    assert parse_schedule(str(schedule)) == schedule


def test_parsed_schedule_fields() -> None:
    assert parse_schedule("instant") == DEFAULT_SCHEDULE
    assert parse_schedule("weekly wed 06:45") == DigestSchedule(ScheduleKind.WEEKLY, time(6, 45), 2)


USAGE = "use one of: instant, hourly, daily 08:00, weekly mon 08:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"no schedule given; {USAGE}"),
        ("fortnightly", f"I can't read 'fortnightly' as a schedule; {USAGE}"),
        ("08:00", f"I can't read '08:00' as a schedule; {USAGE}"),
        ("25:99", f"I can't read '25:99' as a schedule; {USAGE}"),  # a sentence, not a quote
        ("instant 08:00", f"instant takes no time or day; {USAGE}"),
        ("hourly 30", f"hourly takes no time or day; {USAGE}"),
        ("daily", "daily needs one time of day, e.g. daily 08:00"),
        ("daily 08:00 09:00", "daily needs one time of day, e.g. daily 08:00"),
        ("daily 25:00", "I can't read '25:00' as a time of day; use e.g. 08:00, 8am or 22:30"),
        ("daily 08:60", "I can't read '08:60' as a time of day; use e.g. 08:00, 8am or 22:30"),
        ("daily 13pm", "I can't read '13pm' as a time of day; use e.g. 08:00, 8am or 22:30"),
        ("weekly 08:00", "weekly needs a day and a time of day, e.g. weekly mon 08:00"),
        ("weekly mon", "weekly needs a day and a time of day, e.g. weekly mon 08:00"),
        (
            "weekly someday 08:00",
            "I can't read 'someday' as a day of the week; use mon, tue, wed, thu, fri, sat or sun",
        ),
        (
            "weekly mo 08:00",
            "I can't read 'mo' as a day of the week; use mon, tue, wed, thu, fri, sat or sun",
        ),
        ("weekly mon 8h", "I can't read '8h' as a time of day; use e.g. 08:00, 8am or 22:30"),
    ],
)
def test_parse_schedule_errors(text: str, message: str) -> None:
    assert error_of(parse_schedule, text) == message


def test_schedule_rejects_inconsistent_fields() -> None:
    with pytest.raises(ValueError):
        DigestSchedule(ScheduleKind.DAILY)
    with pytest.raises(ValueError):
        DigestSchedule(ScheduleKind.HOURLY, time(8, 0))
    with pytest.raises(ValueError):
        DigestSchedule(ScheduleKind.DAILY, time(8, 0), 1)
    with pytest.raises(ValueError):
        DigestSchedule(ScheduleKind.WEEKLY, time(8, 0), 7)


# --- digest schedules: when --------------------------------------------------------------------

DAILY_8 = parse_schedule("daily 08:00")
DAILY_0230 = parse_schedule("daily 02:30")
DAILY_0130 = parse_schedule("daily 01:30")
HOURLY = parse_schedule("hourly")


def test_instant_is_always_due_now() -> None:
    assert next_digest_at(DEFAULT_SCHEDULE, BERLIN, NOW - timedelta(seconds=1), NOW) == NOW
    assert digest_is_due(DEFAULT_SCHEDULE, BERLIN, None, NOW)


def test_hourly_is_top_of_the_next_hour_after_last_sent() -> None:
    last = utc(2024, 5, 1, 10, 0, 5)
    assert next_digest_at(HOURLY, BERLIN, last, utc(2024, 5, 1, 10, 30)) == utc(2024, 5, 1, 11)
    assert next_digest_at(HOURLY, BERLIN, utc(2024, 5, 1, 10), utc(2024, 5, 1, 10)) == utc(
        2024, 5, 1, 11
    )
    assert not digest_is_due(HOURLY, BERLIN, last, utc(2024, 5, 1, 10, 59))
    assert digest_is_due(HOURLY, BERLIN, last, utc(2024, 5, 1, 11))


def test_hourly_follows_the_local_clock_in_a_half_hour_zone() -> None:
    # 10:00 UTC is 15:30 in Kolkata: the next local top of the hour is 16:00 = 10:30 UTC
    last = utc(2024, 5, 1, 10, 0)
    assert next_digest_at(HOURLY, KOLKATA, last, last) == utc(2024, 5, 1, 10, 30)


def test_hourly_without_last_sent_starts_at_the_next_top_of_the_hour() -> None:
    assert next_digest_at(HOURLY, BERLIN, None, utc(2024, 5, 1, 10, 20)) == utc(2024, 5, 1, 11)
    assert next_digest_at(HOURLY, BERLIN, None, utc(2024, 5, 1, 10)) == utc(2024, 5, 1, 10)


def test_daily_is_next_local_time_after_last_sent() -> None:
    # Berlin is UTC+2 in May: 08:00 local is 06:00 UTC
    last = utc(2024, 5, 1, 6, 0, 2)
    assert next_digest_at(DAILY_8, BERLIN, last, utc(2024, 5, 1, 9)) == utc(2024, 5, 2, 6)
    assert not digest_is_due(DAILY_8, BERLIN, last, utc(2024, 5, 2, 5, 59))
    assert digest_is_due(DAILY_8, BERLIN, last, utc(2024, 5, 2, 6))


def test_daily_without_last_sent_waits_for_the_next_slot() -> None:
    # set up at 10:00 local: the first digest goes out tomorrow at 08:00, not at once
    now = local(BERLIN, 2024, 5, 1, 10, 0)
    assert next_digest_at(DAILY_8, BERLIN, None, now) == local(BERLIN, 2024, 5, 2, 8, 0)
    assert not digest_is_due(DAILY_8, BERLIN, None, now)
    at_eight = local(BERLIN, 2024, 5, 2, 8, 0)
    assert digest_is_due(DAILY_8, BERLIN, None, at_eight)


def test_missed_digest_is_due_at_once_and_only_once() -> None:
    last = local(BERLIN, 2024, 5, 1, 8, 0)
    back_up = local(BERLIN, 2024, 5, 4, 15, 20)  # down for three days
    assert next_digest_at(DAILY_8, BERLIN, last, back_up) == back_up
    assert digest_is_due(DAILY_8, BERLIN, last, back_up)
    # sent now: the next one is tomorrow morning, not the two other missed slots
    assert next_digest_at(DAILY_8, BERLIN, back_up, back_up + MINUTE) == local(
        BERLIN, 2024, 5, 5, 8, 0
    )
    assert not digest_is_due(DAILY_8, BERLIN, back_up, back_up + MINUTE)


def test_daily_local_time_keeps_through_berlin_dst() -> None:
    # spring: 08:00 is 07:00 UTC on the Saturday (CET) and 06:00 UTC on the Sunday (CEST)
    sat = local(BERLIN, 2024, 3, 30, 8, 0)
    assert sat == utc(2024, 3, 30, 7)
    assert next_digest_at(DAILY_8, BERLIN, sat, sat) == utc(2024, 3, 31, 6)
    # autumn: back to 07:00 UTC
    sat = local(BERLIN, 2024, 10, 26, 8, 0)
    assert next_digest_at(DAILY_8, BERLIN, sat, sat) == utc(2024, 10, 27, 7)


def test_daily_in_the_spring_gap_goes_at_the_first_valid_time_after() -> None:
    # Berlin, 31 March 2024: the clocks jump from 02:00 to 03:00; 02:30 does not exist
    last = local(BERLIN, 2024, 3, 30, 2, 30)
    at = next_digest_at(DAILY_0230, BERLIN, last, last)
    assert at == utc(2024, 3, 31, 1)
    assert at.astimezone(BERLIN).time() == time(3, 0)
    # and the day after it is 02:30 again
    assert next_digest_at(DAILY_0230, BERLIN, at, at) == local(BERLIN, 2024, 4, 1, 2, 30)


def test_daily_in_the_autumn_overlap_goes_at_the_first_occurrence() -> None:
    # Berlin, 27 October 2024: 03:00 CEST -> 02:00 CET; 02:30 happens twice
    last = local(BERLIN, 2024, 10, 26, 2, 30)
    at = next_digest_at(DAILY_0230, BERLIN, last, last)
    assert at == utc(2024, 10, 27, 0, 30)  # 02:30 CEST, not 02:30 CET (01:30 UTC)
    # sent at the first 02:30: the second 02:30 is not another slot
    assert next_digest_at(DAILY_0230, BERLIN, at, at) == local(BERLIN, 2024, 10, 28, 2, 30)


def test_new_york_spring_gap_and_autumn_overlap() -> None:
    # 10 March 2024: 02:00 EST -> 03:00 EDT; 3 November 2024: 02:00 EDT -> 01:00 EST
    daily_0215 = parse_schedule("daily 02:15")
    last = local(NEW_YORK, 2024, 3, 9, 2, 15)
    assert next_digest_at(daily_0215, NEW_YORK, last, last) == utc(2024, 3, 10, 7)  # 03:00 EDT
    last = local(NEW_YORK, 2024, 11, 2, 1, 30)
    at = next_digest_at(DAILY_0130, NEW_YORK, last, last)
    assert at == utc(2024, 11, 3, 5, 30)  # 01:30 EDT, the first of the two
    assert at.astimezone(NEW_YORK).utcoffset() == -timedelta(hours=4)


def test_hourly_across_dst_is_sixty_minutes() -> None:
    last = local(NEW_YORK, 2024, 11, 3, 1, 0)  # 01:00 EDT
    assert next_digest_at(HOURLY, NEW_YORK, last, last) == last + HOUR  # 01:00 EST


def test_weekly_across_the_year_end() -> None:
    weekly = parse_schedule("weekly mon 09:00")
    # Monday 30 December 2024, then Monday 6 January 2025
    last = local(BERLIN, 2024, 12, 30, 9, 0)
    assert next_digest_at(weekly, BERLIN, last, last) == local(BERLIN, 2025, 1, 6, 9, 0)
    # set up on New Year's Eve, before any digest
    now = local(BERLIN, 2024, 12, 31, 12, 0)
    assert next_digest_at(weekly, BERLIN, None, now) == local(BERLIN, 2025, 1, 6, 9, 0)
    fri = parse_schedule("weekly fri 17:00")
    assert next_digest_at(fri, NEW_YORK, None, now) == local(NEW_YORK, 2025, 1, 3, 17, 0)


def test_weekly_later_the_same_day() -> None:
    weekly = parse_schedule("weekly wed 18:00")
    now = local(NEW_YORK, 2024, 5, 1, 9, 0)  # a Wednesday morning
    assert next_digest_at(weekly, NEW_YORK, None, now) == local(NEW_YORK, 2024, 5, 1, 18, 0)


def test_daily_digest_sent_once_a_day_through_a_dst_month() -> None:
    """Run a scheduler loop through March in Berlin, sending whenever a digest is due."""
    now = utc(2024, 3, 1)
    last: datetime | None = None
    sent: list[datetime] = []
    while now < utc(2024, 4, 1):
        if digest_is_due(DAILY_0230, BERLIN, last, now):
            sent.append(now)
            last = now
        now += timedelta(minutes=10)
    assert len(sent) == 31
    shown = [moment.astimezone(BERLIN) for moment in sent]
    assert [moment.date() for moment in shown] == [date(2024, 3, day) for day in range(1, 32)]
    assert {moment.time() for moment in shown} == {time(2, 30), time(3, 0)}
    assert shown[30].time() == time(3, 0)


TIMED_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kathmandu",  # +05:45
    "America/Sao_Paulo",
    "UTC",
]
HOURLY_ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "UTC"]
QUARTER = timedelta(minutes=15)


def _ceil_quarter(moment: datetime) -> datetime:
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor if floor == moment else floor + QUARTER


def _reference_slot(
    schedule: DigestSchedule, tz: ZoneInfo, after: datetime, inclusive: bool
) -> datetime:
    """Walk the UTC clock in quarter hours until the local clock reaches a slot.

    A slot is reached when the local time passes the scheduled time between one step and the
    next (a skipped time is passed by the jump) on its first occurrence (fold 0).
    """
    step = _ceil_quarter(after)
    if step == after and not inclusive:
        step += QUARTER
    while True:
        previous = (step - QUARTER).astimezone(tz)
        current = step.astimezone(tz)
        if schedule.kind is ScheduleKind.HOURLY:
            if current.minute == 0 and current.second == 0:
                return step
        else:
            assert schedule.at is not None
            for day in {previous.date(), current.date()}:
                if schedule.weekday is not None and day.weekday() != schedule.weekday:
                    continue
                target = datetime.combine(day, schedule.at)
                was, now = previous.replace(tzinfo=None), current.replace(tzinfo=None)
                if was < target <= now and current.fold == 0:
                    return step
        step += QUARTER


quarter_times = st.builds(
    time, st.integers(min_value=0, max_value=23), st.sampled_from([0, 15, 30, 45])
)
timed_schedules = st.one_of(
    st.builds(DigestSchedule, st.just(ScheduleKind.DAILY), quarter_times),
    st.builds(
        DigestSchedule,
        st.just(ScheduleKind.WEEKLY),
        quarter_times,
        st.integers(min_value=0, max_value=6),
    ),
)
moments = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
# Moments just before the 2024 transitions in Berlin and New York, so that every run crosses them.
dst_moments = st.sampled_from(
    [utc(2024, 3, 30, 23), utc(2024, 10, 26, 23), utc(2024, 3, 10, 5), utc(2024, 11, 3, 4)]
).flatmap(
    lambda base: st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)).map(
        lambda d: base + d
    )
)


@settings(max_examples=300, deadline=None)
@given(
    schedule=timed_schedules,
    zone=st.sampled_from(TIMED_ZONES),
    last_sent=st.one_of(st.none(), moments, dst_moments),
    wait=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
)
@example(DAILY_0230, "Europe/Berlin", utc(2024, 3, 30, 3), timedelta(hours=1))
@example(DAILY_0230, "Europe/Berlin", utc(2024, 10, 26, 3), timedelta(hours=1))
@example(parse_schedule("weekly sun 02:00"), "Europe/Berlin", utc(2024, 3, 25), timedelta(0))
@example(parse_schedule("weekly sun 01:30"), "America/New_York", utc(2024, 11, 1), timedelta(0))
@example(parse_schedule("weekly tue 23:45"), "UTC", utc(2024, 12, 29), timedelta(days=3))
def test_next_digest_at_matches_walking_the_clock(
    schedule: DigestSchedule, zone: str, last_sent: datetime | None, wait: timedelta
) -> None:
    tz = ZoneInfo(zone)
    now = (last_sent or utc(2024, 6, 1)) + wait
    result = next_digest_at(schedule, tz, last_sent, now)
    if last_sent is None:
        expected = max(_reference_slot(schedule, tz, now, inclusive=True), now)
    else:
        expected = max(_reference_slot(schedule, tz, last_sent, inclusive=False), now)
    assert result == expected
    assert result >= now
    assert result.tzinfo is UTC
    if last_sent is not None:
        assert result > last_sent
    assert digest_is_due(schedule, tz, last_sent, now) == (result == now)
    if result > now:
        # when the scheduled time exists that day, that is what the chat's clock shows
        shown = result.astimezone(tz)
        assert schedule.at is not None
        exists = (
            datetime.combine(shown.date(), schedule.at, tz).astimezone(UTC).astimezone(tz).time()
            == schedule.at
        )
        if exists:
            assert shown.time() == schedule.at
            assert shown.fold == 0
        if schedule.weekday is not None and exists:
            assert shown.weekday() == schedule.weekday


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(HOURLY_ZONES),
    last_sent=st.one_of(st.none(), moments, dst_moments),
    wait=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)),
)
def test_hourly_matches_walking_the_clock(
    zone: str, last_sent: datetime | None, wait: timedelta
) -> None:
    tz = ZoneInfo(zone)
    now = (last_sent or utc(2024, 6, 1, 10, 7)) + wait
    result = next_digest_at(HOURLY, tz, last_sent, now)
    if last_sent is None:
        expected = max(_reference_slot(HOURLY, tz, now, inclusive=True), now)
    else:
        expected = max(_reference_slot(HOURLY, tz, last_sent, inclusive=False), now)
    assert result == expected
    if last_sent is not None:
        assert last_sent < result
        assert result <= max(last_sent + HOUR, now)


# --- time zones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("EUROPE/BERLIN", "Europe/Berlin"),
        (" America/New_York ", "America/New_York"),
        ("america/new york", "America/New_York"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_parse_timezone(text: str, key: str) -> None:
    assert parse_timezone(text) == ZoneInfo(key)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("europe/berln", "I can't read 'europe/berln' as a time zone; did you mean Europe/Berlin?"),
        (
            "Amercia/New_York",
            "I can't read 'Amercia/New_York' as a time zone; did you mean America/New_York?",
        ),
        ("berlin", "I can't read 'berlin' as a time zone; did you mean Europe/Berlin?"),
        ("new york", "I can't read 'new york' as a time zone; did you mean America/New_York?"),
        (
            "Mars/Olympus_Mons",
            "I can't read 'Mars/Olympus_Mons' as a time zone; "
            "use a name like Europe/Berlin, America/New_York or UTC, "
            "or an offset like UTC+02:00",
        ),
        (
            "",
            "no time zone given; use a name like Europe/Berlin, America/New_York or UTC, "
            "or an offset like UTC+02:00",
        ),
        (
            "../../etc/passwd",
            "I can't read '../../etc/passwd' as a time zone; "
            "use a name like Europe/Berlin, America/New_York or UTC, "
            "or an offset like UTC+02:00",
        ),
    ],
)
def test_parse_timezone_errors(text: str, message: str) -> None:
    assert error_of(parse_timezone, text) == message


def test_parse_timezone_does_not_search_for_a_novel() -> None:
    message = error_of(parse_timezone, "Europe/Berlin" * 100)
    assert message.endswith(
        "use a name like Europe/Berlin, America/New_York or UTC, or an offset like UTC+02:00"
    )


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-07:00", QuietHours(time(22), time(7))),
        ("22:00 - 07:00", QuietHours(time(22), time(7))),
        ("22:00 to 7:00", QuietHours(time(22), time(7))),
        ("13:00-14:30", QuietHours(time(13), time(14, 30))),
        ("23:30-06:00 silent", QuietHours(time(23, 30), time(6), silent=True)),
        ("23:30-06:00 SILENT", QuietHours(time(23, 30), time(6), silent=True)),
        ("off", None),
        (" OFF ", None),
    ],
)
def test_parse_quiet(text: str, expected: QuietHours | None) -> None:
    assert parse_quiet(text) == expected
    if expected is not None:
        assert parse_quiet(str(expected)) == expected


def test_quiet_hours_canonical_text() -> None:
    assert str(QuietHours(time(22), time(7))) == "22:00-07:00"
    assert str(QuietHours(time(23, 30), time(6), silent=True)) == "23:30-06:00 silent"


QUIET_USAGE = "use e.g. 22:00-07:00, 22:00-07:00 silent, or off"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"no quiet hours given; {QUIET_USAGE}"),
        ("nights", f"I can't read 'nights' as a range of hours; {QUIET_USAGE}"),
        ("22:00", f"I can't read '22:00' as a range of hours; {QUIET_USAGE}"),
        ("22:00-07:00 loud", f"I can't read '22:00-07:00 loud' as a range of hours; {QUIET_USAGE}"),
        ("22:00-24:00", "I can't read '24:00' as a time of day; use e.g. 08:00, 8am or 22:30"),
        ("10pm-0am", "I can't read '0am' as a time of day; use e.g. 08:00, 8am or 22:30"),
        ("07:00-07:00", f"quiet hours must start and end at different times; {QUIET_USAGE}"),
    ],
)
def test_parse_quiet_errors(text: str, message: str) -> None:
    assert error_of(parse_quiet, text) == message


def test_parse_time_of_day() -> None:
    assert parse_time_of_day("7:05") == time(7, 5)
    assert error_of(parse_time_of_day, "7:5") == (
        "I can't read '7:5' as a time of day; use e.g. 08:00, 8am or 22:30"
    )


NIGHT = QuietHours(time(22), time(7))


def test_no_quiet_hours_sends_at_once() -> None:
    assert quiet_decision(None, BERLIN, NOW) == (False, None, False)


@pytest.mark.parametrize(
    ("wall", "held"),
    [
        ((2024, 1, 15, 21, 59), False),
        ((2024, 1, 15, 22, 0), True),
        ((2024, 1, 15, 23, 30), True),
        ((2024, 1, 16, 0, 0), True),
        ((2024, 1, 16, 6, 59), True),
        ((2024, 1, 16, 7, 0), False),
        ((2024, 1, 16, 12, 0), False),
    ],
)
def test_quiet_hours_wrap_midnight_in_the_chats_zone(
    wall: tuple[int, int, int, int, int], held: bool
) -> None:
    now = local(NEW_YORK, *wall)
    hold, release_at, silent = quiet_decision(NIGHT, NEW_YORK, now)
    assert hold is held
    assert silent is False
    if held:
        # released at 07:00 New York time on the morning after the night began, 12:00 UTC
        assert release_at == utc(2024, 1, 16, 12)
    else:
        assert release_at is None


def test_quiet_hours_inside_one_day() -> None:
    lunch = QuietHours(time(12), time(13, 30))
    now = local(BERLIN, 2024, 7, 1, 12, 45)
    assert quiet_decision(lunch, BERLIN, now) == QuietDecision(
        True, local(BERLIN, 2024, 7, 1, 13, 30), False
    )
    assert quiet_decision(lunch, BERLIN, local(BERLIN, 2024, 7, 1, 13, 30)).hold is False


def test_silent_quiet_hours_send_without_sound() -> None:
    quiet = QuietHours(time(22), time(7), silent=True)
    assert quiet_decision(quiet, BERLIN, local(BERLIN, 2024, 1, 15, 23, 0)) == (False, None, True)
    assert quiet_decision(quiet, BERLIN, local(BERLIN, 2024, 1, 15, 21, 0)) == (False, None, False)


def test_quiet_hours_across_the_spring_gap() -> None:
    # quiet until 02:30, which Berlin skips on 31 March 2024: released when the clocks read 03:00
    quiet = QuietHours(time(23), time(2, 30))
    now = local(BERLIN, 2024, 3, 31, 1, 45)
    hold, release_at, _ = quiet_decision(quiet, BERLIN, now)
    assert hold
    assert release_at == utc(2024, 3, 31, 1)
    assert release_at is not None
    assert release_at.astimezone(BERLIN).time() == time(3, 0)


def test_quiet_hours_across_the_autumn_overlap() -> None:
    # New York, 3 November 2024: quiet until 01:30, which happens twice; released at the first
    quiet = QuietHours(time(0), time(1, 30))
    now = local(NEW_YORK, 2024, 11, 3, 0, 45)
    assert quiet_decision(quiet, NEW_YORK, now) == (True, utc(2024, 11, 3, 5, 30), False)
    # the second 01:15 (EST) is inside the quiet hours again, released at the second 01:30
    second = local(NEW_YORK, 2024, 11, 3, 1, 15, fold=1)
    assert quiet_decision(quiet, NEW_YORK, second) == (True, utc(2024, 11, 3, 6, 30), False)


def test_quiet_hours_when_the_spring_gap_swallows_the_time_outside_them() -> None:
    # New York, 10 March 2024, clocks jump from 02:00 to 03:00: the only time outside quiet
    # hours 02:15-02:00 never shows, so a held alert waits for the next 02:00, not for 03:00
    quiet = QuietHours(time(2, 15), time(2))
    night_before = local(NEW_YORK, 2024, 3, 9, 2, 5)
    assert quiet_decision(quiet, NEW_YORK, night_before).hold is False
    now = local(NEW_YORK, 2024, 3, 10, 1, 30)
    hold, release_at, _ = quiet_decision(quiet, NEW_YORK, now)
    assert hold
    assert release_at == local(NEW_YORK, 2024, 3, 11, 2, 0)
    assert quiet_decision(quiet, NEW_YORK, utc(2024, 3, 10, 7)).hold  # 03:00 EDT
    assert quiet_decision(quiet, NEW_YORK, release_at).hold is False


def test_quiet_hours_end_when_the_clocks_go_back_before_their_start() -> None:
    # Berlin, 27 October 2024: at 03:00 CEST the clocks go back to 02:00 CET, out of 02:30-03:00
    quiet = QuietHours(time(2, 30), time(3))
    now = local(BERLIN, 2024, 10, 27, 2, 45)
    assert quiet_decision(quiet, BERLIN, now) == (True, utc(2024, 10, 27, 1), False)
    # and 02:30 CET is inside them again, until 03:00 CET
    again = local(BERLIN, 2024, 10, 27, 2, 30, fold=1)
    assert quiet_decision(quiet, BERLIN, again) == (True, utc(2024, 10, 27, 2), False)


def test_hourly_follows_a_half_hour_shift() -> None:
    # Lord Howe Island, 7 April 2024: 02:00 (+11) goes back to 01:30 (+10:30); the next full
    # hour the clock shows is 02:00 +10:30, an hour and a half after 01:00 +11
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    one = utc(2024, 4, 6, 14)
    assert one.astimezone(lord_howe).time() == time(1)
    assert next_digest_at(HOURLY, lord_howe, one, one) == utc(2024, 4, 6, 15, 30)
    # 6 October 2024: 02:00 (+10:30) jumps to 02:30 (+11); 02:00 is reached at the jump
    at = next_digest_at(HOURLY, lord_howe, utc(2024, 10, 5, 14, 30), utc(2024, 10, 5, 14, 30))
    assert at == utc(2024, 10, 5, 15, 30)
    assert next_digest_at(HOURLY, lord_howe, at, at) == utc(2024, 10, 5, 16)


@settings(max_examples=200, deadline=None)
@given(
    start=quarter_times,
    end=quarter_times,
    zone=st.sampled_from(TIMED_ZONES),
    now=st.one_of(moments, dst_moments),
)
# New York skips 02:00-03:00 on 10 March 2024: the only time outside these quiet hours
# (02:00-02:15) does not exist that day, so the alert waits for the next day's 02:00
@example(time(2, 15), time(2), "America/New_York", utc(2024, 3, 10, 5))
@example(time(2, 15), time(2), "America/New_York", utc(2024, 3, 9, 7, 15))
# Berlin, 27 October 2024: at 03:00 CEST the clock goes back to 02:00, out of 02:30-03:00
@example(time(2, 30), time(3), "Europe/Berlin", utc(2024, 10, 27, 0, 45))
def test_held_alerts_are_released_when_quiet_hours_end(
    start: time, end: time, zone: str, now: datetime
) -> None:
    if start == end:
        return
    tz = ZoneInfo(zone)
    quiet = QuietHours(start, end)
    hold, release_at, silent = quiet_decision(quiet, tz, now)
    assert not silent
    assert hold == quiet.contains(now.astimezone(tz).time())
    if hold:
        assert release_at is not None
        # a day, or two when a spring night skips all of the time outside the quiet hours
        assert now < release_at <= now + timedelta(hours=49)
        assert not quiet.contains(release_at.astimezone(tz).time())
        assert quiet_decision(quiet, tz, release_at).hold is False
        assert quiet.contains((release_at - timedelta(seconds=1)).astimezone(tz).time())
        # and not earlier: the quiet hours hold all the way (quarter hours, like the times)
        step = _ceil_quarter(now)
        while step < release_at:
            assert quiet.contains(step.astimezone(tz).time())
            step += QUARTER


# --- mutes -------------------------------------------------------------------------------------


def test_parse_mute() -> None:
    assert parse_mute("2h") == timedelta(hours=2)
    assert parse_mute("1d") == timedelta(days=1)
    assert parse_mute("30m") == timedelta(minutes=30)
    assert parse_mute("off") == timedelta(0)
    assert parse_mute("Off") == timedelta(0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("forever", "I can't read 'forever' as a duration; use e.g. 30m, 2h, 1d, or off"),
        ("", "no duration given; use e.g. 30m, 2h, 1d, or off"),
        ("0m", "a duration must be longer than zero, not '0m'"),
        ("2y", "I can't read '2y' as a duration; use e.g. 30m, 2h, 1d, or off"),
        ("500d", "a duration of '500d' is too long; use at most 365 days"),
    ],
)
def test_parse_mute_errors(text: str, message: str) -> None:
    assert error_of(parse_mute, text) == message


def test_is_muted() -> None:
    assert not is_muted(None, NOW)
    assert is_muted(NOW + parse_mute("2h"), NOW)
    assert is_muted(NOW + parse_mute("2h"), NOW + timedelta(hours=1, minutes=59))
    assert not is_muted(NOW + parse_mute("2h"), NOW + timedelta(hours=2))
    assert not is_muted(NOW + parse_mute("off"), NOW)
