"""What goes into a digest, in which order (pure: plain data in, digests out).

A digest shows a watchlist's newest stories first, whatever their quotes or how many terms they
matched, so that the ages read in order. One story from several feeds is one item, its other
copies listed under "also" with their links; stories past the first ``max_items`` wait for
``/digest more``. Composing costs the pending hits' sorting plus a comparison of each with the
stories shown: it is bounded by what is shown, not by how many hits are held
(``bench/digest.py`` measures it).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from watchers.dedup import ShownStories, StoryFingerprint, same_story, story_fingerprint
from watchers.errors import CommandError
from watchers.model import Chat, Digest, DigestItem, PendingHit, StoryCopy, Watchlist
from watchers.quotes import ELLIPSIS, snippet
from watchers.schedule import (
    DEFAULT_SCHEDULE,
    DigestSchedule,
    ScheduleKind,
    digest_is_due,
    is_muted,
    next_digest_at,
    parse_quiet,
    parse_schedule,
    parse_timezone,
    quiet_decision,
)


@dataclass(frozen=True, slots=True)
class ComposedDigest:
    """A digest and the hits it carries (watchlist id, article id). The hits past its
    ``max_items`` stories (``held``; ``more`` counts them, one per link) wait for
    ``/digest more``."""

    digest: Digest
    hits: tuple[tuple[int, int], ...]
    more: int = 0
    held: tuple[tuple[int, int], ...] = ()


def _newest_first(hit: PendingHit) -> tuple[float, int, int]:
    """Newest first; at the same time, more matched terms first, then the earlier article."""
    published = hit.article.published or hit.created_at
    return (-published.timestamp(), -len(hit.detail.terms), hit.article_id)


def _fingerprint(hit: PendingHit) -> StoryFingerprint:
    if hit.story:
        try:
            return StoryFingerprint.from_str(hit.story)
        except ValueError:
            pass  # a format no longer read: the article itself still tells
    a = hit.article
    return story_fingerprint(a.title, a.summary, a.link)


_SPACE = re.compile(r"\s+")


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def without_headline(
    text: str, spans: Sequence[tuple[int, int]], title: str
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A snippet without the headline it starts with (snippets stored before they were taken
    from the body alone began with it), spans shifted to match; unchanged otherwise."""
    head = _flat(title)
    if not head:
        return text, tuple(spans)
    # the whole headline, or (when the snippet was cut before it) "…" and its last words
    ends = [ELLIPSIS + head[i + 1 :] for i, c in enumerate(head) if c == " " and i < len(head) - 12]
    start = head if text.startswith(head) else next((s for s in ends if text.startswith(s)), None)
    if start is None:
        return text, tuple(spans)
    rest = text[len(start) :]
    if rest and not rest[0].isspace() and rest[0] not in ".:—–-" + ELLIPSIS:
        return text, tuple(spans)  # the headline's words run on into longer words
    cut = len(text) - len(rest.lstrip(" .:—–-"))
    body = text[cut:]
    if body == ELLIPSIS:
        return "", ()
    return body, tuple((a - cut, b - cut) for a, b in spans if a >= cut)


def body_snippet(
    text: str, title_end: int, spans: Sequence[tuple[int, int]], width: int = 200
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The snippet of an analysed text (title, blank line, body) taken from the body alone:
    around the first match in the body, or its start when every match is in the title (the
    headline is shown already, as the item's link). Spans index into ``text``."""
    body_start = len(text) - len(text[title_end:].lstrip())
    body = text[body_start:]
    inside = [(a - body_start, b - body_start) for a, b in spans if a >= body_start]
    return snippet(body, inside, width)


def _copies(hit: PendingHit, others: Sequence[PendingHit]) -> tuple[StoryCopy, ...]:
    """Every other copy of the story, labelled by its source (numbered when a source repeats)."""
    seen = {hit.article.source or hit.article.source_host: 1}
    copies = []
    for other in others:
        a = other.article
        label = a.source or a.source_host or "another feed"
        seen[label] = seen.get(label, 0) + 1
        shown = label if seen[label] == 1 else f"{label} ({seen[label]})"
        copies.append(StoryCopy(source=shown, link=a.link, title=a.title))
    return tuple(copies)


def _item(hit: PendingHit, quotes_per_article: int, also: Sequence[PendingHit] = ()) -> DigestItem:
    a = hit.article
    text, spans = without_headline(hit.detail.snippet, hit.detail.snippet_spans, a.title)
    return DigestItem(
        article_id=hit.article_id,
        title=a.title,
        link=a.link,
        source=a.source or a.source_host,
        published=a.published,
        matched=hit.detail.terms,
        quotes=hit.detail.quotes[:quotes_per_article],
        snippet=text,
        snippet_spans=spans,
        also=_copies(hit, also),
    )


def _link_key(hit: PendingHit) -> str:
    link = hit.story.rsplit("|", 1)[-1] if hit.story else ""
    return link or hit.article.link or f"#{hit.article_id}"


def choose_stories(
    hits: Sequence[PendingHit], max_items: int
) -> tuple[list[list[PendingHit]], list[PendingHit]]:
    """The first ``max_items`` stories, newest first, each with every copy among ``hits``
    (representative first), and the hits of the other stories, newest first.

    Each hit is compared with the stories already chosen only (at most ``max_items``), so the
    cost is the sorting plus one look at each hit's words, whatever the number of hits. Once
    every story is chosen, they are indexed by their words (``ShownStories``), and a hit's whole
    fingerprint is read only when a chosen story may be the same.
    """
    stories: list[list[PendingHit]] = []
    leaders: list[StoryFingerprint] = []
    rest: list[PendingHit] = []
    shown: ShownStories | None = None
    for hit in sorted(hits, key=_newest_first):
        if shown is None and len(stories) >= max_items:
            shown = ShownStories(leaders)
        if shown is not None:
            i = _same_story_as(hit, shown)
            if i is None:
                rest.append(hit)
            else:
                stories[i].append(hit)
            continue
        fingerprint = _fingerprint(hit)
        for i, leader in enumerate(leaders):
            if same_story(leader, fingerprint):
                stories[i].append(hit)
                break
        else:
            stories.append([hit])
            leaders.append(fingerprint)
    return stories, rest


def _same_story_as(hit: PendingHit, shown: ShownStories) -> int | None:
    """The index of the first shown story that is the hit's story, None if none is."""
    if hit.story:
        try:
            return shown.find(hit.story)
        except ValueError:
            pass  # an older format: compare the whole fingerprint
    fingerprint = _fingerprint(hit)
    return next((i for i, s in enumerate(shown.stories) if same_story(s, fingerprint)), None)


def _other_copies(group: Sequence[PendingHit], extra: Sequence[PendingHit]) -> list[PendingHit]:
    """The story's copies after its representative: its own, then those that only other
    watchlists matched, each article once."""
    seen = {h.article_id for h in group}
    copies = list(group[1:])
    for h in extra:
        if h.article_id not in seen:
            seen.add(h.article_id)
            copies.append(h)
    return copies


def compose_digests(
    chat_id: int,
    hits: Sequence[PendingHit],
    watchlists: Mapping[int, Watchlist],
    *,
    quotes_per_article: int = 1,
    max_items: int = 10,
    due: Collection[int] | None = None,
    include_held: bool = True,
) -> list[ComposedDigest]:
    """One digest per due watchlist with pending hits, newest stories first; ``hits`` are the
    chat's pending hits, of every watchlist.

    The same story from several feeds is one item, "also" listing every other copy with its
    link. At most ``max_items`` items go in a digest; the hits of later stories stay pending
    (``held``) and ``more`` counts them, one per link (copies of one story under different links
    count apart until they are shown). Hits of watchlists that no longer exist are left out.

    A chat gets a story once, however many of its watchlists it matched: it goes in the digest
    of the first due watchlist (``due``, by id; default: every watchlist with hits) that has
    it, the item naming every watchlist it matched, and the other watchlists' hits of it go
    with that digest (due or not, held or not), so that their own digests do not repeat it.
    A due watchlist's held hits are offered for its digest only with ``include_held``.
    """
    known = [h for h in hits if h.watchlist_id in watchlists]
    by_watchlist: dict[int, list[PendingHit]] = {}
    for hit in known:
        by_watchlist.setdefault(hit.watchlist_id, []).append(hit)
    due_ids = sorted(by_watchlist if due is None else set(due) & by_watchlist.keys())
    several = len(by_watchlist) > 1
    taken: set[int] = set()  # articles in a digest composed here
    drafts: list[tuple[int, list[list[PendingHit]], list[list[PendingHit]], list[PendingHit]]] = []
    for watchlist_id in due_ids:
        own = [
            h
            for h in by_watchlist[watchlist_id]
            if h.article_id not in taken and (include_held or not h.held)
        ]
        if not own:
            continue
        chosen, rest = choose_stories(own, max_items)
        extra: list[list[PendingHit]] = [[] for _ in chosen]
        if several:
            story_of = {h.article_id: i for i, group in enumerate(chosen) for h in group}
            shown = ShownStories([_fingerprint(group[0]) for group in chosen])
            for hit in known:
                if hit.watchlist_id == watchlist_id or hit.article_id in taken:
                    continue
                i = story_of.get(hit.article_id)
                if i is None:
                    i = _same_story_as(hit, shown)
                    if i is None:
                        continue
                    story_of[hit.article_id] = i
                extra[i].append(hit)
        for group, more_hits in zip(chosen, extra, strict=True):
            taken.update(h.article_id for h in group)
            taken.update(h.article_id for h in more_hits)
        drafts.append((watchlist_id, chosen, extra, rest))
    out = []
    for watchlist_id, chosen, extra, rest in drafts:
        left = [h for h in rest if h.article_id not in taken]
        items = []
        for group, more_hits in zip(chosen, extra, strict=True):
            matched = {watchlist_id} | {h.watchlist_id for h in more_hits}
            names = tuple(watchlists[i].name for i in sorted(matched)) if len(matched) > 1 else ()
            item = _item(group[0], quotes_per_article, _other_copies(group, more_hits))
            items.append(replace(item, watchlists=names))
        digest = Digest(
            chat_id=chat_id,
            watchlist_id=watchlist_id,
            watchlist_name=watchlists[watchlist_id].name,
            items=tuple(items),
        )
        out.append(
            ComposedDigest(
                digest=digest,
                hits=tuple(
                    (h.watchlist_id, h.article_id)
                    for group, more_hits in zip(chosen, extra, strict=True)
                    for h in (*group, *more_hits)
                ),
                more=len({_link_key(h) for h in left}),
                held=tuple((h.watchlist_id, h.article_id) for h in left),
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


def chat_timezone(chat: Chat) -> tzinfo:
    try:
        return parse_timezone(chat.timezone)
    except CommandError:
        return UTC


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


def next_delivery_at(chat: Chat, watchlist: Watchlist, now: datetime) -> datetime | None:
    """Pure: the first moment (UTC, never before ``now``) at which ``decide_delivery`` would
    send this watchlist's stories, None while it is paused. What ``/status`` tells a user."""
    if watchlist.paused:
        return None
    start = now.astimezone(UTC)
    if is_muted(watchlist.muted_until, start) and watchlist.muted_until is not None:
        start = watchlist.muted_until.astimezone(UTC)
    tz = chat_timezone(chat)
    schedule = effective_schedule(chat, watchlist)
    at = next_digest_at(schedule, tz, watchlist.last_digest_at, start)
    if schedule.kind is ScheduleKind.INSTANT and chat.quiet:
        try:
            quiet = parse_quiet(chat.quiet)
        except CommandError:
            quiet = None
        decision = quiet_decision(quiet, tz, at)
        if decision.hold and decision.release_at is not None:
            at = decision.release_at
    return at
