"""Settings export and import: a round trip keeps everything; a bad file changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watchers.model import Chat, Watchlist
from watchers.settings_io import (
    FORMAT,
    ChatSettings,
    SettingsPlan,
    SettingsRefused,
    WatchlistSettings,
    export_settings,
    plan_settings_import,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHAT = Chat(
    7, "private", timezone="Europe/Berlin", schedule="daily 08:00", quiet="22:00-07:00 silent"
)
LIMITS: dict[str, int] = {"max_watchlists": 5, "max_name": 40}


def watchlist(id: int, name: str, query: str, **kw: Any) -> Watchlist:
    return Watchlist(id, CHAT.id, name, query, NOW - timedelta(days=3), **kw)


EXISTING = [
    watchlist(1, "Embassies", "Russia AND embassy", paused=True),
    watchlist(2, "Gas", "gas OR LNG", schedule="hourly", muted_until=NOW + timedelta(hours=2)),
    watchlist(3, "Old mute", "tariffs", muted_until=NOW - timedelta(hours=1)),
]


def plan(document: object, existing: list[Watchlist] | None = None) -> SettingsPlan:
    result = plan_settings_import(json.dumps(document).encode(), existing or [], NOW, **LIMITS)
    assert isinstance(result, SettingsPlan), result
    return result


def refused(data: object, existing: list[Watchlist] | None = None) -> list[str]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    result = plan_settings_import(raw, existing or [], NOW, **LIMITS)
    assert isinstance(result, SettingsRefused), result
    return [str(p) for p in result.problems]


def file(**parts: Any) -> dict[str, Any]:
    return {"format": FORMAT, "version": 1, **parts}


def test_export_holds_settings_and_watchlists_with_their_states() -> None:
    document = json.loads(export_settings(CHAT, EXISTING, NOW))
    assert document["format"] == FORMAT and document["version"] == 1
    assert document["exported_at"] == "2026-03-01T12:00:00+00:00"
    assert document["settings"] == {
        "timezone": "Europe/Berlin",
        "schedule": "daily 08:00",
        "quiet": "22:00-07:00 silent",
    }
    assert document["watchlists"] == [
        {
            "name": "Embassies",
            "query": "Russia AND embassy",
            "schedule": None,
            "paused": True,
            "muted_until": None,
        },
        {
            "name": "Gas",
            "query": "gas OR LNG",
            "schedule": "hourly",
            "paused": False,
            "muted_until": "2026-03-01T14:00:00+00:00",
        },
        {  # a mute that has ended is not carried over
            "name": "Old mute",
            "query": "tariffs",
            "schedule": None,
            "paused": False,
            "muted_until": None,
        },
    ]


def test_an_export_imported_into_an_empty_chat_recreates_everything() -> None:
    result = plan_settings_import(export_settings(CHAT, EXISTING, NOW), [], NOW, **LIMITS)
    assert isinstance(result, SettingsPlan)
    assert result.settings == ChatSettings("Europe/Berlin", "daily 08:00", "22:00-07:00 silent")
    assert result.watchlists == (
        WatchlistSettings("Embassies", "Russia AND embassy", None, True, None),
        WatchlistSettings("Gas", "gas OR LNG", "hourly", False, NOW + timedelta(hours=2)),
        WatchlistSettings("Old mute", "tariffs"),
    )
    assert result.added == ["Embassies", "Gas", "Old mute"] and result.replaced == []


def test_import_replaces_watchlists_of_the_same_name_and_keeps_the_others() -> None:
    result = plan(
        file(
            watchlists=[
                {"name": "gas", "query": "gas OR LNG OR pipeline"},
                {"name": "New", "query": "x"},
            ]
        ),
        EXISTING,
    )
    assert [(w.name, w.replaces) for w in result.watchlists] == [("gas", 2), ("New", None)]
    assert result.replaced == ["gas"] and result.added == ["New"]
    assert result.settings == ChatSettings()  # no settings in the file: the chat's stay


def test_values_are_read_in_their_canonical_forms() -> None:
    result = plan(
        file(
            settings={
                "timezone": "europe/berlin",
                "schedule": "WEEKLY Monday 8:00",
                "quiet": "off",
            },
            watchlists=[{"name": "  Two\nlines ", "query": " a ", "schedule": "default"}],
        )
    )
    assert result.settings == ChatSettings("Europe/Berlin", "weekly mon 08:00", "")
    (item,) = result.watchlists
    assert (item.name, item.query, item.schedule) == ("Two lines", "a", None)


def test_every_problem_is_reported_with_its_place() -> None:
    problems = refused(
        file(
            settings={"timezone": "Mars/Olympus", "schedule": "sometimes", "colour": "blue"},
            watchlists=[
                {"name": "Good", "query": "fine"},
                {"name": "Broken", "query": "Russia AND (embassy"},
                {"name": "", "query": "x", "paused": "yes"},
                {"name": "Late", "query": "x", "muted_until": "tomorrow"},
                {"name": "good", "query": "again"},
                "not an object",
            ],
        )
    )
    assert any(
        p.startswith("settings, timezone: I can't read 'Mars/Olympus' as a time zone")
        for p in problems
    )
    assert any(
        p.startswith("settings, schedule: I can't read 'sometimes' as a schedule") for p in problems
    )
    assert any(p.startswith("settings: unknown key “colour”") for p in problems)
    assert any(
        p.startswith("watchlist 2 “Broken”, query: missing ) for the ( at position 12")
        for p in problems
    )
    assert "watchlist 3, name: a watchlist needs a name" in problems
    assert "watchlist 3, paused: expected true or false, got text" in problems
    assert any(
        p.startswith("watchlist 4 “Late”, muted_until: “tomorrow” is not a date") for p in problems
    )
    assert "watchlist 5 “good”, name: the same name as watchlist 1" in problems
    assert "watchlist 6: expected an object, got text" in problems
    assert len(problems) == 9


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'{"format": "newswatch-settings",\n "version": 1,,}',
            "line 2, column 15: not valid JSON",
        ),
        (b"\xff\xfe{}", "byte 1: the file is not UTF-8 text"),
        (b"[1, 2]", "expected an object, got a list"),
        (json.dumps({"version": 1}).encode(), "format: this is not a newswatch settings file"),
        (json.dumps(file(version=2)).encode(), "version: this file is version 2, made by a newer"),
        (json.dumps(file(version="1")).encode(), "version: expected a whole number"),
    ],
)
def test_a_file_that_is_not_a_settings_file_says_so(data: bytes, expected: str) -> None:
    problems = refused(data)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_mute_needs_its_utc_offset_and_an_ended_one_is_dropped() -> None:
    problems = refused(
        file(watchlists=[{"name": "A", "query": "a", "muted_until": "2026-03-02T10:00:00"}])
    )
    assert problems == [
        "watchlist 1 “A”, muted_until: the date and time needs its UTC offset, like +00:00"
    ]
    result = plan(
        file(watchlists=[{"name": "A", "query": "a", "muted_until": "2026-02-01T10:00:00Z"}])
    )
    assert result.watchlists[0].muted_until is None


def test_the_watchlist_limit_counts_kept_and_added_watchlists() -> None:
    new = [{"name": f"New {i}", "query": "x"} for i in range(3)]
    problems = refused(file(watchlists=new), EXISTING)  # 3 kept + 3 new > 5
    assert problems == ["watchlists: with these, this chat would have 6 watchlists; the most is 5"]
    replacing = [{"name": "Gas", "query": "x"}, {"name": "Embassies", "query": "y"}, *new[:2]]
    assert len(plan(file(watchlists=replacing), EXISTING).watchlists) == 4  # 1 kept + 4


def test_a_long_name_is_refused() -> None:
    problems = refused(file(watchlists=[{"name": "n" * 41, "query": "x"}]))
    assert problems == [f"watchlist 1 “{'n' * 40}”, name: a name can have at most 40 characters"]
