"""Feeds and settings in and out of a chat: OPML import, ``/export`` and ``/import``.

The handlers in ``bot.handlers`` stay thin: they fetch the file and call these, which read it
with the pure readers (``watchers.opml``, ``watchers.settings_io``), change the store through the
engine, and return the reply as Telegram HTML.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from bot.render import text_html
from bot.services import Services
from watchers.errors import CommandError, FeedError
from watchers.fetch import validate_feed_url
from watchers.model import Chat
from watchers.opml import OpmlDocument, OpmlFeed, OutlineStatus, feed_key, parse_opml, write_opml
from watchers.quotes import shorten
from watchers.settings_io import (
    SettingsPlan,
    SettingsRefused,
    export_settings,
    plan_settings_import,
)

logger = logging.getLogger(__name__)

OPML_NAME = "newswatch-feeds.opml"
SETTINGS_NAME = "newswatch-settings.json"
OPML_EXTENSIONS = (".opml", ".xml")
SETTINGS_EXTENSIONS = (".json",)
REPORT_LINES = 200  # outlines listed one by one in an import report; the rest are counted
SHOWN_PROBLEMS = 20  # problems of a refused settings file listed


@dataclass(frozen=True, slots=True)
class ExportFile:
    name: str
    content: bytes
    caption: str


def export_files(services: Services, chat: Chat, now: datetime) -> list[ExportFile]:
    """The chat's feeds as OPML, and its watchlists and settings as JSON."""
    feeds = services.store.followed_feeds(chat.id)
    opml = write_opml(
        [OpmlFeed(url=f.url, title=f.name) for f in feeds],
        title=f"newswatch feeds of {chat.title}" if chat.title else "newswatch feeds",
        now=now,
    )
    watchlists = services.store.watchlists(chat.id)
    settings = export_settings(chat, watchlists, now)
    return [
        ExportFile(
            OPML_NAME,
            opml,
            f"Your {_count(len(feeds), 'feed')}, for any feed reader (or to send back here).",
        ),
        ExportFile(
            SETTINGS_NAME,
            settings,
            f"Your {_count(len(watchlists), 'watchlist')} and settings: send this file back "
            "with /import to restore them.",
        ),
    ]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- OPML import ------------------------------------------------------------------------------


async def import_opml(
    services: Services, chat: Chat, data: bytes, *, max_feeds: int, concurrency: int
) -> str:
    """Follow every feed of an OPML file the chat does not follow yet; report each outline.

    A file that cannot be read raises ``CommandError`` and changes nothing. Each new feed is
    fetched once (as ``/addfeed`` does), ``concurrency`` at a time, so the report says which
    ones work.
    """
    document = parse_opml(data)
    if not document.outlines:
        raise CommandError("That OPML file lists no feeds, so there was nothing to import.")
    now = services.clock()
    followed = {feed_key(f.url) for f in services.store.followed_feeds(chat.id)}
    room = max(0, max_feeds - len(followed))
    lines: list[str | None] = []
    todo: list[tuple[int, int, str, OpmlFeed]] = []  # line, outline number, url, feed
    counts = {"followed": 0, "already": 0, "skipped": 0, "failed": 0}
    for outline in document.outlines:
        title = text_html(shorten(outline.title, 80))
        feed = outline.feed
        if outline.status is not OutlineStatus.FEED or feed is None:
            lines.append(f"{outline.number}. ⏭ {title} — skipped: {text_html(outline.reason)}")
            counts["skipped"] += 1
            continue
        try:
            url = validate_feed_url(feed.url)
        except FeedError as e:
            lines.append(f"{outline.number}. ⏭ {title} — skipped: {text_html(e.message)}")
            counts["skipped"] += 1
            continue
        if feed_key(url) in followed:
            lines.append(f"{outline.number}. ☑️ {title} — already followed")
            counts["already"] += 1
            continue
        if room <= 0:
            lines.append(
                f"{outline.number}. ⏭ {title} — skipped: this chat would follow more than "
                f"{max_feeds} feeds"
            )
            counts["skipped"] += 1
            continue
        room -= 1
        followed.add(feed_key(url))
        todo.append((len(lines), outline.number, url, feed))
        lines.append(None)  # filled in once fetched

    gate = asyncio.Semaphore(max(1, concurrency))

    async def follow(index: int, number: int, url: str, feed: OpmlFeed) -> None:
        title = text_html(shorten(feed.title or url, 80))
        async with gate:
            try:
                added, _ = await services.engine.follow_new_feed(chat.id, url, now)
            except FeedError as e:
                lines[index] = f"{number}. ❌ {title} — couldn't add: {text_html(e.message)}"
                counts["failed"] += 1
                return
        counts["followed"] += 1
        lines[index] = f"{number}. ✅ {text_html(shorten(feed.title or added.title, 80))}"

    await asyncio.gather(*(follow(*item) for item in todo))
    logger.info(
        "opml imported chat=%d followed=%d already=%d skipped=%d failed=%d",
        chat.id,
        counts["followed"],
        counts["already"],
        counts["skipped"],
        counts["failed"],
    )
    return _opml_report(document, [line for line in lines if line is not None], counts)


def _opml_report(document: OpmlDocument, lines: list[str], counts: dict[str, int]) -> str:
    source = f" from <b>{text_html(shorten(document.title, 80))}</b>" if document.title else ""
    summary = [
        f"{_count(counts['followed'], 'feed')} followed",
        f"{counts['already']} already followed" if counts["already"] else "",
        f"{counts['failed']} couldn't be added" if counts["failed"] else "",
        f"{counts['skipped']} skipped" if counts["skipped"] else "",
    ]
    head = [f"📥 OPML import{source}: " + ", ".join(s for s in summary if s) + "."]
    if document.categories:
        head.append(
            f"Its {document.categories} "
            f"{'category was' if document.categories == 1 else 'categories were'} flattened: "
            "newswatch keeps one list of feeds per chat."
        )
    shown = lines[:REPORT_LINES]
    if len(lines) > REPORT_LINES:
        shown.append(f"… and {len(lines) - REPORT_LINES} more outlines.")
    tail = ["See /feeds."] if counts["followed"] else []
    return "\n".join([*head, "", *shown, *tail])


# -- settings import --------------------------------------------------------------------------


def import_settings(
    services: Services, chat: Chat, data: bytes, *, max_watchlists: int, max_name: int
) -> str:
    """Check a settings file whole; apply it only if every part of it is right."""
    now = services.clock()
    store = services.store
    result = plan_settings_import(
        data, store.watchlists(chat.id), now, max_watchlists=max_watchlists, max_name=max_name
    )
    if isinstance(result, SettingsRefused):
        return _refusal(result)
    _apply(services, chat, result, now)
    logger.info(
        "settings imported chat=%d added=%d replaced=%d",
        chat.id,
        len(result.added),
        len(result.replaced),
    )
    return _settings_report(result)


def _apply(services: Services, chat: Chat, plan: SettingsPlan, now: datetime) -> None:
    settings = plan.settings
    if settings.timezone is not None or settings.schedule is not None or settings.quiet is not None:
        services.store.set_chat_settings(
            chat.id, timezone=settings.timezone, schedule=settings.schedule, quiet=settings.quiet
        )
    for item in plan.watchlists:
        watchlist, _ = services.engine.add_watchlist(chat.id, item.name, item.query, now)
        services.store.set_watchlist_schedule(watchlist.id, item.schedule)
        services.store.set_watchlist_mute(watchlist.id, item.muted_until)
        services.engine.set_paused(watchlist.id, item.paused)


def _refusal(refused: SettingsRefused) -> str:
    problems = refused.problems
    lines = [
        f"I didn't import that file: {_count(len(problems), 'problem')} "
        "(nothing was changed). Fix them and send it again:"
    ]
    lines += [f"• {text_html(shorten(str(p), 300))}" for p in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"… and {len(problems) - SHOWN_PROBLEMS} more.")
    return "\n".join(lines)


def _settings_report(plan: SettingsPlan) -> str:
    lines = ["📥 Settings imported."]
    settings = plan.settings
    changed = [
        f"timezone {settings.timezone}" if settings.timezone is not None else "",
        f"digests {settings.schedule}" if settings.schedule is not None else "",
        (f"quiet hours {settings.quiet or 'off'}" if settings.quiet is not None else ""),
    ]
    if any(changed):
        lines.append("Chat: " + text_html(", ".join(c for c in changed if c)) + ".")
    if plan.added:
        lines.append("Added: " + text_html(", ".join(plan.added)) + ".")
    if plan.replaced:
        lines.append("Replaced: " + text_html(", ".join(plan.replaced)) + ".")
    if not plan.watchlists and not any(changed):
        lines = ["That settings file holds no watchlists or settings; nothing changed."]
    else:
        lines.append("See /watchlists.")
    return "\n".join(lines)


def file_kind(file_name: str | None) -> str | None:
    """``"opml"`` or ``"settings"`` by the file's extension, None for anything else."""
    name = (file_name or "").casefold()
    if name.endswith(OPML_EXTENSIONS):
        return "opml"
    if name.endswith(SETTINGS_EXTENSIONS):
        return "settings"
    return None
