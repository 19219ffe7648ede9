"""Times, ranges and time zones as people type them: ``8am``, ``10pm-7am``, ``22-7``, ``UTC+2``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchers.errors import CommandError
from watchers.schedule import (
    DigestSchedule,
    QuietHours,
    ScheduleKind,
    is_fixed_offset,
    next_digest_at,
    parse_quiet,
    parse_schedule,
    parse_time_of_day,
    parse_timezone,
    zone_name,
    zones_at_offset,
)

JULY = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
JANUARY = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def error_of(parse: object, text: str) -> str:
    with pytest.raises(CommandError) as caught:
        parse(text)  # type: ignore[operator]
    return caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8am", time(8)),
        ("8 am", time(8)),
        ("8AM", time(8)),
        ("8 a.m.", time(8)),
        ("10pm", time(22)),
        ("10:30pm", time(22, 30)),
        ("12am", time(0)),
        ("12pm", time(12)),
        ("12:15am", time(0, 15)),
        ("8", time(8)),
        ("22", time(22)),
        ("0", time(0)),
        ("8.30", time(8, 30)),
        ("08:00", time(8)),
    ],
)
def test_times_of_day_as_people_write_them(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["13pm", "0am", "24", "8:60", "eight", "8h", "8 o'clock"])
def test_what_is_not_a_time_of_day(text: str) -> None:
    assert error_of(parse_time_of_day, text).endswith("use e.g. 08:00, 8am or 22:30")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10pm-7am", QuietHours(time(22), time(7))),
        ("10 pm - 7 am", QuietHours(time(22), time(7))),
        ("22-7", QuietHours(time(22), time(7))),
        ("11pm to 6:30am silent", QuietHours(time(23), time(6, 30), silent=True)),
        ("12pm-2pm", QuietHours(time(12), time(14))),
    ],
)
def test_quiet_hours_as_people_write_them(text: str, expected: QuietHours) -> None:
    assert parse_quiet(text) == expected
    assert parse_quiet(str(expected)) == expected  # what is stored reads back the same


def test_quiet_hours_that_start_when_they_end_are_refused_in_words() -> None:
    assert error_of(parse_quiet, "7am-7:00").startswith(
        "quiet hours must start and end at different times"
    )


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("daily 8am", "daily 08:00"),
        ("daily 8 pm", "daily 20:00"),
        ("daily 8", "daily 08:00"),
        ("weekly fri 5pm", "weekly fri 17:00"),
        ("weekly 9am mon", "weekly mon 09:00"),
    ],
)
def test_schedules_with_times_as_people_write_them(text: str, canonical: str) -> None:
    assert str(parse_schedule(text)) == canonical


@pytest.mark.parametrize(
    ("text", "name", "offset"),
    [
        ("UTC+2", "UTC+02:00", timedelta(hours=2)),
        ("utc+2", "UTC+02:00", timedelta(hours=2)),
        ("UTC -05:30", "UTC-05:30", -timedelta(hours=5, minutes=30)),
        ("UTC-0530", "UTC-05:30", -timedelta(hours=5, minutes=30)),
        ("GMT+1", "UTC+01:00", timedelta(hours=1)),
        ("+02:00", "UTC+02:00", timedelta(hours=2)),
        ("+5:45", "UTC+05:45", timedelta(hours=5, minutes=45)),
        ("UTC\u22123", "UTC-03:00", -timedelta(hours=3)),  # a typographic minus
        ("UTC+14", "UTC+14:00", timedelta(hours=14)),
    ],
)
def test_utc_offsets_are_fixed_zones(text: str, name: str, offset: timedelta) -> None:
    zone = parse_timezone(text)
    assert JULY.astimezone(zone).utcoffset() == offset
    assert JANUARY.astimezone(zone).utcoffset() == offset  # no daylight saving time
    assert is_fixed_offset(zone)
    assert zone_name(zone) == name
    assert parse_timezone(name) == zone  # what is stored reads back the same


def test_a_zero_offset_is_utc_and_a_place_is_not_fixed() -> None:
    assert parse_timezone("UTC+0") == ZoneInfo("UTC")
    assert zone_name(parse_timezone("GMT+00:00")) == "UTC"
    berlin = parse_timezone("Europe/Berlin")
    assert not is_fixed_offset(berlin) and zone_name(berlin) == "Europe/Berlin"


def test_the_iana_names_with_a_reversed_sign_keep_their_meaning() -> None:
    # In the tz database Etc/GMT+1 is one hour *behind* UTC; whoever types it gets that.
    assert JULY.astimezone(parse_timezone("Etc/GMT+1")).utcoffset() == -timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "UTC+15",
            "the offset 'UTC+15' is further from UTC than any clock; "
            "offsets go from UTC-12 to UTC+14",
        ),
        ("UTC+02:75", "I can't read 'UTC+02:75' as a time zone"),
    ],
)
def test_offsets_that_no_clock_shows(text: str, message: str) -> None:
    assert error_of(parse_timezone, text).startswith(message)


def test_zones_at_an_offset_name_a_well_known_city_first() -> None:
    assert zones_at_offset(timedelta(hours=2), JULY)[0] == "Europe/Berlin"
    assert zones_at_offset(timedelta(hours=1), JANUARY)[0] == "Europe/Berlin"
    assert zones_at_offset(timedelta(hours=-4), JULY)[0] == "America/New_York"
    assert zones_at_offset(timedelta(hours=5, minutes=30), JULY)[0] == "Asia/Kolkata"
    assert zones_at_offset(-timedelta(hours=5, minutes=30), JULY) == []  # no place keeps it
    assert len(zones_at_offset(timedelta(hours=2), JULY, limit=2)) == 2


def test_a_daily_digest_in_a_fixed_offset_zone() -> None:
    zone = parse_timezone("UTC+2")
    daily = DigestSchedule(ScheduleKind.DAILY, time(8))
    assert next_digest_at(daily, zone, None, JULY) == datetime(2025, 7, 2, 6, 0, tzinfo=UTC)
    assert next_digest_at(daily, zone, None, JANUARY) == datetime(2025, 1, 16, 6, 0, tzinfo=UTC)
