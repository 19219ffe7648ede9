"""What goes into a digest, in which order (pure: plain data in, digests out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from watchers.dedup import StoryFingerprint, group_stories, story_fingerprint
from watchers.errors import CommandError
from watchers.model import Chat, Digest, DigestItem, PendingHit, Watchlist
from watchers.schedule import (
    DEFAULT_SCHEDULE,
    DigestSchedule,
    ScheduleKind,
    digest_is_due,
    is_muted,
    parse_quiet,
    parse_schedule,
    parse_timezone,
    quiet_decision,
)


@dataclass(frozen=True, slots=True)
class ComposedDigest:
    """A digest and the hits it carries (watchlist id, article id). The stories past its
    ``max_items`` (``more`` of them, whose hits are ``held``) wait for ``/digest more``."""

    digest: Digest
    hits: tuple[tuple[int, int], ...]
    more: int = 0
    held: tuple[tuple[int, int], ...] = ()


def _relevance(hit: PendingHit) -> tuple[int, int, float]:
    named_quote = any(q.full and q.speaker for q in hit.detail.quotes)
    published = hit.article.published or hit.created_at
    return (len(hit.detail.terms), int(named_quote), published.timestamp())


def _fingerprint(hit: PendingHit) -> StoryFingerprint:
    if hit.story:
        return StoryFingerprint.from_str(hit.story)
    a = hit.article
    return story_fingerprint(a.title, a.summary, a.link)


def _item(hit: PendingHit, quotes_per_article: int, also: Sequence[PendingHit] = ()) -> DigestItem:
    a = hit.article
    own = a.source or a.source_host
    others = tuple(
        dict.fromkeys(
            s for h in also if (s := h.article.source or h.article.source_host) and s != own
        )
    )
    return DigestItem(
        article_id=hit.article_id,
        title=a.title,
        link=a.link,
        source=a.source or a.source_host,
        published=a.published,
        matched=hit.detail.terms,
        quotes=hit.detail.quotes[:quotes_per_article],
        snippet=hit.detail.snippet,
        snippet_spans=hit.detail.snippet_spans,
        also=others,
    )


def compose_digests(
    chat_id: int,
    hits: Sequence[PendingHit],
    watchlists: Mapping[int, Watchlist],
    *,
    quotes_per_article: int = 1,
    max_items: int = 10,
) -> list[ComposedDigest]:
    """One digest per watchlist with pending hits, most relevant (then newest) items first.

    The same story from several feeds is one item, "also" naming the other sources.

    At most ``max_items`` items go in a digest; the rest stay pending and are counted in ``more``.
    Hits of watchlists that no longer exist are left out.
    """
    by_watchlist: dict[int, list[PendingHit]] = {}
    for hit in hits:
        if hit.watchlist_id in watchlists:
            by_watchlist.setdefault(hit.watchlist_id, []).append(hit)
    out = []
    for watchlist_id in sorted(by_watchlist):
        ranked = sorted(by_watchlist[watchlist_id], key=_relevance, reverse=True)
        stories = group_stories(ranked, _fingerprint)  # one entry per story, best first
        chosen = stories[:max_items]
        digest = Digest(
            chat_id=chat_id,
            watchlist_id=watchlist_id,
            watchlist_name=watchlists[watchlist_id].name,
            items=tuple(_item(g[0], quotes_per_article, g[1:]) for g in chosen),
        )
        out.append(
            ComposedDigest(
                digest=digest,
                hits=tuple((h.watchlist_id, h.article_id) for g in chosen for h in g),
                more=len(stories) - len(chosen),
                held=tuple((h.watchlist_id, h.article_id) for g in stories[max_items:] for h in g),
            )
        )
    return out


def relative_time(then: datetime | None, now: datetime) -> str:
    """``5 min ago``, ``3 h ago``, ``2 days ago``; empty when unknown."""
    if then is None:
        return ""
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return "yesterday" if days == 1 else f"{days} days ago"


@dataclass(frozen=True, slots=True)
class DeliveryDecision:
    """Whether a watchlist's pending hits go out now, and how."""

    send: bool
    silent: bool = False
    reason: str = ""  # why not (or how): "paused", "muted", "scheduled", "quiet hours"


def chat_timezone(chat: Chat) -> ZoneInfo:
    try:
        return parse_timezone(chat.timezone)
    except CommandError:
        return ZoneInfo("UTC")


def effective_schedule(chat: Chat, watchlist: Watchlist) -> DigestSchedule:
    """The watchlist's own schedule, else the chat's; a stored text that no longer parses falls
    back to instant rather than holding alerts forever."""
    try:
        return parse_schedule(watchlist.schedule or chat.schedule)
    except CommandError:
        return DEFAULT_SCHEDULE


def decide_delivery(
    chat: Chat, watchlist: Watchlist, now: datetime, *, forced: bool = False
) -> DeliveryDecision:
    """Pure: should this watchlist's pending hits be sent at ``now``?

    ``forced`` (``/digest now``) sends whatever the schedule, quiet hours or mute say.
    """
    if forced:
        return DeliveryDecision(True, reason="asked for")
    if watchlist.paused:
        return DeliveryDecision(False, reason="paused")
    if is_muted(watchlist.muted_until, now):
        return DeliveryDecision(False, reason="muted")
    tz = chat_timezone(chat)
    schedule = effective_schedule(chat, watchlist)
    if not digest_is_due(schedule, tz, watchlist.last_digest_at, now.astimezone(UTC)):
        return DeliveryDecision(False, reason="scheduled")
    if schedule.kind is ScheduleKind.INSTANT and chat.quiet:
        try:
            quiet = parse_quiet(chat.quiet)
        except CommandError:
            quiet = None
        decision = quiet_decision(quiet, tz, now)
        if decision.hold:
            return DeliveryDecision(False, reason="quiet hours")
        if decision.silent:
            return DeliveryDecision(True, silent=True, reason="quiet hours")
    return DeliveryDecision(True)
