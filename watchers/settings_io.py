"""A chat's watchlists and settings as a JSON file, and that file read back as a plan.

Pure: data and ``now`` in, bytes or a plan out; nothing here touches the store. Reading checks
the whole file first (every query with ``parse_query``, every schedule, time zone and quiet
hours with the parsers of ``watchers.schedule``) and returns either a ``SettingsPlan`` with every
change to make, or ``SettingsRefused`` with every problem and its place, so that a bad file
changes nothing.

The file::

    {
      "format": "newswatch-settings",
      "version": 1,
      "exported_at": "2026-03-01T12:00:00+00:00",
      "settings": {"timezone": "Europe/Berlin", "schedule": "daily 08:00",
                   "quiet": "22:00-07:00"},
      "watchlists": [
        {"name": "Embassies", "query": "Russia AND embassy", "schedule": null,
         "paused": false, "muted_until": null}
      ]
    }

Importing merges: a watchlist with the name of an existing one (in any case) replaces its
query, schedule and states; others are added; watchlists the file does not name are kept.
Every key of ``settings`` and of a watchlist other than ``name`` and ``query`` is optional.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from watchers.errors import CommandError, QueryError
from watchers.model import Chat, Watchlist
from watchers.query import parse_query
from watchers.schedule import (
    is_muted,
    parse_quiet,
    parse_schedule,
    parse_timezone,
    zone_name,
)

__all__ = [
    "FORMAT",
    "MAX_SETTINGS_BYTES",
    "VERSION",
    "ChatSettings",
    "SettingsPlan",
    "SettingsProblem",
    "SettingsRefused",
    "WatchlistSettings",
    "export_settings",
    "plan_settings_import",
]

FORMAT = "newswatch-settings"
VERSION = 1
MAX_SETTINGS_BYTES = 1_000_000

_SETTINGS_KEYS = ("timezone", "schedule", "quiet")
_WATCHLIST_KEYS = ("name", "query", "schedule", "paused", "muted_until")
_TOP_KEYS = ("format", "version", "exported_at", "settings", "watchlists")


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """A chat's settings, each in canonical form; None: keep the chat's current value."""

    timezone: str | None = None
    schedule: str | None = None
    quiet: str | None = None  # "" for no quiet hours


@dataclass(frozen=True, slots=True)
class WatchlistSettings:
    """One watchlist of the file, checked. ``replaces`` is the id of the chat's watchlist of
    the same name, None for a new one."""

    name: str
    query: str
    schedule: str | None = None  # None: the chat's schedule
    paused: bool = False
    muted_until: datetime | None = None  # only a mute still running at import time
    replaces: int | None = None


@dataclass(frozen=True, slots=True)
class SettingsPlan:
    """Every change an import makes."""

    settings: ChatSettings
    watchlists: tuple[WatchlistSettings, ...]

    @property
    def added(self) -> list[str]:
        return [w.name for w in self.watchlists if w.replaces is None]

    @property
    def replaced(self) -> list[str]:
        return [w.name for w in self.watchlists if w.replaces is not None]


@dataclass(frozen=True, slots=True)
class SettingsProblem:
    """Something wrong in the file: ``place`` says where (``watchlist 2 “Gas”, query``)."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


@dataclass(frozen=True, slots=True)
class SettingsRefused:
    """The file was not imported; nothing changed."""

    problems: tuple[SettingsProblem, ...]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def export_settings(chat: Chat, watchlists: Sequence[Watchlist], now: datetime) -> bytes:
    """The chat's settings and watchlists as the JSON file ``plan_settings_import`` reads.

    A mute that has ended by ``now`` is written as none.
    """
    document = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(now),
        "settings": {"timezone": chat.timezone, "schedule": chat.schedule, "quiet": chat.quiet},
        "watchlists": [
            {
                "name": w.name,
                "query": w.query,
                "schedule": w.schedule,
                "paused": w.paused,
                "muted_until": _iso(w.muted_until) if is_muted(w.muted_until, now) else None,
            }
            for w in watchlists
        ],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


class _Checker:
    """Collects problems while the file is read, so that every one of them is reported."""

    def __init__(self) -> None:
        self.problems: list[SettingsProblem] = []

    def fail(self, place: str, message: str) -> None:
        self.problems.append(SettingsProblem(place, message))

    def table(self, value: object, place: str, keys: Sequence[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(place, f"expected an object, got {_kind(value)}")
            return None
        for key in value:
            if key not in keys:
                self.fail(place, f"unknown key “{key}” (known: {', '.join(keys)})")
        return value

    def text(self, table: Mapping[str, Any], key: str, place: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(_join(place, key), f"expected text, got {_kind(value)}")
            return None
        return value

    def parsed(self, place: str, parse: Any, text: str) -> Any:
        try:
            return parse(text)
        except CommandError as e:
            self.fail(place, e.message)
            return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _join(place: str, key: str) -> str:
    return f"{place}, {key}" if place else key


def plan_settings_import(
    data: bytes,
    existing: Sequence[Watchlist],
    now: datetime,
    *,
    max_watchlists: int,
    max_name: int,
) -> SettingsPlan | SettingsRefused:
    """Check a settings file against the chat's ``existing`` watchlists.

    ``max_watchlists`` is the most a chat may have after the import, ``max_name`` the longest
    name. Returns the plan, or every problem found (then nothing may change).
    """
    check = _Checker()
    document = _decode(data, check)
    if document is None:
        return SettingsRefused(tuple(check.problems))
    top = check.table(document, "", _TOP_KEYS)
    if top is None:
        return SettingsRefused(tuple(check.problems))
    if top.get("format") != FORMAT:
        check.fail("format", f"this is not a newswatch settings file (expected “{FORMAT}”)")
        return SettingsRefused(tuple(check.problems))
    version = top.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        check.fail("version", "expected a whole number, 1 or more")
    elif version > VERSION:
        check.fail(
            "version",
            f"this file is version {version}, made by a newer newswatch; I read version {VERSION}",
        )
    settings = _chat_settings(top.get("settings"), check)
    watchlists = _watchlists(top.get("watchlists"), existing, now, check, max_name)
    if not check.problems:
        kept = {w.id for w in existing} - {w.replaces for w in watchlists}
        total = len(kept) + len(watchlists)
        if total > max_watchlists:
            check.fail(
                "watchlists",
                f"with these, this chat would have {total} watchlists; the most is "
                f"{max_watchlists}",
            )
    if check.problems:
        return SettingsRefused(tuple(check.problems))
    return SettingsPlan(settings=settings, watchlists=tuple(watchlists))


def _decode(data: bytes, check: _Checker) -> object:
    if len(data) > MAX_SETTINGS_BYTES:
        check.fail("", f"the file is larger than {MAX_SETTINGS_BYTES // 1_000_000} MB")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        check.fail(f"byte {e.start + 1}", "the file is not UTF-8 text")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        check.fail(f"line {e.lineno}, column {e.colno}", f"not valid JSON: {e.msg}")
        return None
    except RecursionError:
        check.fail("", "not valid JSON: nested too deeply")
        return None


def _chat_settings(value: object, check: _Checker) -> ChatSettings:
    if value is None:
        return ChatSettings()
    table = check.table(value, "settings", _SETTINGS_KEYS)
    if table is None:
        return ChatSettings()
    timezone = schedule = quiet = None
    text = check.text(table, "timezone", "settings")
    if text is not None:
        zone = check.parsed("settings, timezone", parse_timezone, text)
        timezone = zone_name(zone) if zone is not None else None
    text = check.text(table, "schedule", "settings")
    if text is not None:
        parsed = check.parsed("settings, schedule", parse_schedule, text)
        schedule = str(parsed) if parsed is not None else None
    text = check.text(table, "quiet", "settings")
    if text is not None:
        if not text.strip() or text.strip().lower() == "off":
            quiet = ""
        else:
            hours = check.parsed("settings, quiet", parse_quiet, text)
            quiet = str(hours) if hours is not None else None
    return ChatSettings(timezone=timezone, schedule=schedule, quiet=quiet)


def _watchlists(
    value: object,
    existing: Sequence[Watchlist],
    now: datetime,
    check: _Checker,
    max_name: int,
) -> list[WatchlistSettings]:
    if value is None:
        return []
    if not isinstance(value, list):
        check.fail("watchlists", f"expected a list, got {_kind(value)}")
        return []
    by_name = {w.name.casefold(): w.id for w in existing}
    seen: dict[str, int] = {}
    result: list[WatchlistSettings] = []
    for number, raw in enumerate(value, 1):
        place = f"watchlist {number}"
        shown = raw.get("name") if isinstance(raw, Mapping) else None
        if isinstance(shown, str) and shown.strip():
            place += f" “{' '.join(shown.split())[:max_name]}”"
        table = check.table(raw, place, _WATCHLIST_KEYS)
        if table is None:
            continue
        item = _watchlist(table, place, now, check, max_name)
        if item is None:
            continue
        key = item.name.casefold()
        if key in seen:
            check.fail(_join(place, "name"), f"the same name as watchlist {seen[key]}")
            continue
        seen[key] = number
        result.append(replace(item, replaces=by_name.get(key)))
    return result


def _watchlist(
    table: Mapping[str, Any], place: str, now: datetime, check: _Checker, max_name: int
) -> WatchlistSettings | None:
    before = len(check.problems)
    name = " ".join((check.text(table, "name", place) or "").split())
    if not name:
        if "name" not in table or isinstance(table["name"], str):
            check.fail(_join(place, "name"), "a watchlist needs a name")
    elif len(name) > max_name:
        check.fail(_join(place, "name"), f"a name can have at most {max_name} characters")
    query = (check.text(table, "query", place) or "").strip()
    if not query:
        if "query" not in table or isinstance(table["query"], str):
            check.fail(_join(place, "query"), "the query is empty")
    else:
        try:
            parse_query(query)
        except QueryError as e:
            check.fail(_join(place, "query"), str(e))
    schedule = None
    text = check.text(table, "schedule", place)
    if text is not None and text.strip().casefold() not in ("", "default", "chat"):
        parsed = check.parsed(_join(place, "schedule"), parse_schedule, text)
        schedule = str(parsed) if parsed is not None else None
    paused = table.get("paused", False)
    if not isinstance(paused, bool):
        check.fail(_join(place, "paused"), f"expected true or false, got {_kind(paused)}")
        paused = False
    muted_until = _mute(table.get("muted_until"), _join(place, "muted_until"), now, check)
    if len(check.problems) > before:
        return None
    return WatchlistSettings(name, query, schedule, paused, muted_until)


def _mute(value: object, place: str, now: datetime, check: _Checker) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        check.fail(place, f"expected a date and time or null, got {_kind(value)}")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        check.fail(place, f"“{value[:40]}” is not a date and time like 2026-03-01T12:00:00+00:00")
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        check.fail(place, "the date and time needs its UTC offset, like +00:00")
        return None
    return moment.astimezone(UTC) if is_muted(moment, now) else None
