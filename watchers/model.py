"""Plain data shared by the engine's stages. Frozen, slotted, timezone-aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed as the store knows it. ``etag``/``last_modified`` are opaque, sent back unchanged."""

    id: int
    url: str
    name: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = None
    last_error: str | None = None
    error_count: int = 0
    full_text: str = "matched"  # "matched" | "never"
    body_hash: str | None = None  # of the last body read (see ``pipeline.body_hash``)
    last_success_at: datetime | None = None  # the last poll that read the feed; None: not yet
    not_before: datetime | None = None  # not polled again before (Retry-After, max-age, <ttl>)
    gone_at: datetime | None = None  # when the server said 410 Gone: never polled again
    update_period: timedelta | None = None  # how often the feed says it changes (<ttl>, sy:)

    @property
    def title(self) -> str:
        return self.name or self.url


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What the fetcher got. ``not_modified`` is a normal outcome (HTTP 304), not an error."""

    url: str  # the final URL after redirects
    status: int
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    moved_to: str | None = None  # the new address, when every redirect was permanent (301/308)
    cache_control: str | None = None  # the Cache-Control header, as sent
    retry_after: str | None = None  # the Retry-After header, as sent

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Article:
    """One feed entry, as plain text. ``key`` is the stable dedup key within its feed."""

    key: str
    title: str
    link: str | None = None
    guid: str | None = None
    summary: str = ""  # plain text, markup stripped
    published: datetime | None = None
    source: str = ""  # the feed's display name
    source_host: str = ""  # host name of the feed (for `source:` queries)
    content: str = ""  # longer plain text when the feed carries it (content:encoded)

    @property
    def body(self) -> str:
        """The longest text we have for the article."""
        return self.content if len(self.content) > len(self.summary) else self.summary

    @property
    def public_id(self) -> str:
        """The id shown to users and in JSON: the entry's guid, else its dedup key."""
        return self.guid or self.key


@dataclass(frozen=True, slots=True)
class Token:
    """A word of an analysed text. Offsets are character offsets into ``Analysis.text``."""

    start: int
    end: int
    norm: str  # case-folded, accents removed
    key: str  # inflection key of ``norm``: what plain terms are compared with


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity; offsets are character offsets into ``Analysis.text``."""

    label: str  # PERSON, ORG, GPE, LOC, NORP, EVENT, ...
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Analysis:
    """An article analysed once for every watchlist.

    ``text`` is the title, a blank line, then the body; tokens and entities index into it.
    ``entities`` is None when named-entity recognition was not run (yet).
    """

    text: str
    title_end: int
    tokens: tuple[Token, ...]
    entities: tuple[Entity, ...] | None = None
    sources: tuple[str, ...] = ()  # case-folded feed name and host, for `source:` queries


@dataclass(frozen=True, slots=True)
class Quote:
    """A direct quotation. ``start``/``end`` are character offsets of the quoted words."""

    text: str
    speaker: str | None
    start: int
    end: int
    full: bool = True  # False for a partial quote (a few words inside a sentence)


@dataclass(frozen=True, slots=True)
class Match:
    """Why a watchlist matched an analysed article."""

    watchlist_id: int
    terms: tuple[str, ...]  # the query terms that matched, as written in the query
    spans: tuple[tuple[int, int], ...] = ()  # character spans in ``Analysis.text``


@dataclass(frozen=True, slots=True)
class Watchlist:
    id: int
    chat_id: int
    name: str
    query: str
    created_at: datetime
    schedule: str | None = None  # None: the chat's schedule
    muted_until: datetime | None = None
    paused: bool = False
    last_digest_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoryCopy:
    """Another feed's copy of a digest's story: who published it, where, under which title."""

    source: str
    link: str | None
    title: str = ""


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One story in a digest; ``also`` lists every other copy of it."""

    article_id: int
    title: str
    link: str | None
    source: str
    published: datetime | None
    matched: tuple[str, ...]
    quotes: tuple[Quote, ...] = ()
    snippet: str = ""
    snippet_spans: tuple[tuple[int, int], ...] = ()
    also: tuple[StoryCopy, ...] = ()
    watchlists: tuple[str, ...] = ()  # every watchlist of the chat it matched, when several


@dataclass(frozen=True, slots=True)
class Digest:
    """What one chat gets for one watchlist."""

    chat_id: int
    watchlist_id: int
    watchlist_name: str
    items: tuple[DigestItem, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Chat:
    """A Telegram chat (or the console) that newswatch serves."""

    id: int
    kind: str  # private | group | supergroup | channel | console
    title: str = ""
    active: bool = True
    timezone: str = "UTC"
    schedule: str = "instant"  # instant | hourly | daily HH:MM | weekly DAY HH:MM
    quiet: str = ""  # e.g. "22:00-07:00" or "22:00-07:00 silent"; empty: none
    thread_id: int | None = None  # the forum topic digests go to; None: the chat itself


@dataclass(frozen=True, slots=True)
class HitDetail:
    """What the digest needs to say about one hit, stored with it."""

    terms: tuple[str, ...]
    quotes: tuple[Quote, ...] = ()  # every quote found, best first
    snippet: str = ""
    snippet_spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PendingHit:
    """A hit not yet put in a digest, with its article."""

    watchlist_id: int
    article_id: int
    article: Article
    detail: HitDetail
    created_at: datetime
    story: str = ""  # the story fingerprint, to group one story from several feeds
    held: bool = False  # past a digest's first stories: waits for /digest more


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to Telegram, answer not yet recorded
    SENT = "sent"
    FAILED = "failed"  # Telegram refused it for good (a bad request)
    PARKED = "parked"  # the chat blocked us or is gone: kept until the chat is active again
    UNCERTAIN = "uncertain"  # sends of unknown fate kept timing out: given up, logged


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message we intend to send: recorded before sending, marked after."""

    id: int
    chat_id: int
    text: str  # Telegram HTML
    state: OutboxState
    attempts: int = 0
    not_before: datetime | None = None
    silent: bool = False
    preview: bool = False
    watchlist_id: int | None = None
    buttons: str = ""  # JSON of inline buttons, rendered by the bot
    thread_id: int | None = None  # the chat's forum topic, if it chose one
