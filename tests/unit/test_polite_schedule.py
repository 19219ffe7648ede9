"""Polite polling decisions: jitter, Retry-After, Cache-Control max-age, <ttl>/sy:updatePeriod."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watchers.model import Feed
from watchers.schedule import (
    DEFAULT_MAX_BACKOFF,
    FeedState,
    cache_max_age,
    due_feeds,
    feed_update_period,
    hold_until,
    next_poll_at,
    parse_retry_after,
    poll_jitter,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)


def test_jitter_is_fixed_per_feed_and_poll_and_spreads_feeds() -> None:
    assert poll_jitter(INTERVAL, 7, NOW) == poll_jitter(INTERVAL, 7, NOW)
    shifts = {poll_jitter(INTERVAL, feed_id, NOW) for feed_id in range(50)}
    assert len(shifts) > 10  # feeds polled together come up at different moments
    assert {poll_jitter(INTERVAL, 7, NOW + timedelta(minutes=k)) for k in range(20)} != {
        poll_jitter(INTERVAL, 7, NOW)
    }  # and one feed's shift changes from poll to poll
    assert all(timedelta(0) <= s <= INTERVAL * 0.1 for s in shifts)
    assert poll_jitter(timedelta(days=1), 7, NOW) <= timedelta(minutes=5)


def test_a_healthy_feed_comes_up_within_the_jitter_of_its_interval() -> None:
    last = NOW - timedelta(hours=1)
    due = next_poll_at(last, INTERVAL, NOW, feed_id=3)
    assert last + INTERVAL * 0.9 <= due <= last + INTERVAL
    assert due == last + INTERVAL - poll_jitter(INTERVAL, 3, last)
    # without a feed id (no jitter) the interval is exact
    assert next_poll_at(last, INTERVAL, NOW) == last + INTERVAL


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Tue, 24 Nov 2026 10:30:00 GMT", NOW) == NOW + timedelta(hours=1.5)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("", NOW) is None


def test_cache_control_max_age() -> None:
    assert cache_max_age("public, max-age=3600") == timedelta(hours=1)
    assert cache_max_age('max-age="600", must-revalidate') == timedelta(minutes=10)
    assert cache_max_age("s-maxage=600") is None
    assert cache_max_age("no-cache, max-age=3600") is None
    assert cache_max_age(None) is None


def test_ttl_and_syndication_period() -> None:
    assert feed_update_period("60") == timedelta(hours=1)
    assert feed_update_period(None, "hourly", "2") == timedelta(minutes=30)
    assert feed_update_period(None, "daily") == timedelta(days=1)
    assert feed_update_period("30", "hourly", "1") == timedelta(hours=1)  # the longer
    assert feed_update_period("soon", "sometimes", "0") is None
    assert feed_update_period(None) is None


def test_hints_only_move_the_next_poll_later_and_are_capped() -> None:
    # shorter than the interval: no hold, the interval decides
    assert hold_until(NOW, INTERVAL, max_age=timedelta(minutes=5)) is None
    assert hold_until(NOW, INTERVAL, retry_after=NOW - timedelta(hours=1)) is None
    assert hold_until(NOW, INTERVAL) is None
    # the longest hint wins
    held = hold_until(
        NOW,
        INTERVAL,
        retry_after=NOW + timedelta(minutes=40),
        max_age=timedelta(hours=1),
        update_period=timedelta(minutes=30),
    )
    assert held == NOW + timedelta(hours=1)
    # a server cannot switch a feed off
    far = NOW + timedelta(days=30)
    assert hold_until(NOW, INTERVAL, retry_after=far) == NOW + DEFAULT_MAX_BACKOFF
    assert hold_until(NOW, timedelta(days=2), retry_after=far) == NOW + timedelta(days=2)


def test_a_stored_hold_keeps_a_feed_from_being_due() -> None:
    feed = Feed(
        id=4, url="https://n.example/rss", last_polled_at=NOW, not_before=NOW + 4 * INTERVAL
    )
    state = FeedState.from_feed(feed)
    assert state.retry_after == NOW + 4 * INTERVAL
    assert due_feeds([state], NOW + 3 * INTERVAL, INTERVAL) == []
    assert due_feeds([state], NOW + 4 * INTERVAL, INTERVAL) == [4]
