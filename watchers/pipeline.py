"""The conductor: poll due feeds -> parse -> analyse -> match -> full text -> quotes -> hits.

It calls the adapters and the pure functions in order and decides nothing itself: what matches,
which quote is key, which stories are the same and what a digest holds are decided by ``match``,
``quotes``, ``dedup`` and ``digest``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from http import HTTPStatus

from watchers.dedup import StoryFingerprint, same_story, story_fingerprint
from watchers.digest import body_snippet
from watchers.errors import FeedError, FetchError, ParseError, QueryError, StorageError
from watchers.fetch import Fetcher
from watchers.fulltext import extract_main_text
from watchers.match import Matcher
from watchers.model import Analysis, Article, Feed, FetchResult, HitDetail, Match, Watchlist
from watchers.nlp import Analyser, QuoteParser
from watchers.parse import FeedInfo, discover_feeds, parse_feed
from watchers.query import Query, parse_query
from watchers.quotes import choose_key_quotes, extract_quotes
from watchers.schedule import (
    FeedState,
    cache_max_age,
    due_feeds,
    hold_until,
    parse_retry_after,
)
from watchers.store import Storage

logger = logging.getLogger(__name__)

Span = tuple[int, int]
STORY_MEMORY = timedelta(days=3)  # how long a delivered story keeps its repeats out of a chat
BATCH = 16  # new articles analysed, matched and committed together: hits never wait for a burst
PROCESSORS = 2  # feeds analysed at once: one in the recogniser while another is parsed and matched


def body_hash(content: bytes) -> str:
    """What identifies a feed's body: the same hash, the same bytes, nothing to parse again."""
    return hashlib.blake2b(content, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    feed_id: int
    url: str
    new_articles: int = 0
    hits: int = 0
    not_modified: bool = False  # a 304, or the same body as last time (not parsed again)
    baseline: bool = False
    error: str | None = None
    failures: int = 0  # consecutive failed polls, this one included
    gone: bool = False  # the server said 410 Gone, this poll: the feed stops, its chats are told
    moved_to: str | None = None  # the feed moved for good (301/308) and its address was updated


@dataclass(frozen=True, slots=True)
class CycleReport:
    feeds: tuple[FeedOutcome, ...] = field(default_factory=tuple)

    @property
    def hits(self) -> int:
        return sum(f.hits for f in self.feeds)

    @property
    def new_articles(self) -> int:
        return sum(f.new_articles for f in self.feeds)


@dataclass(frozen=True, slots=True)
class Found:
    """One article that matched one watchlist, with what the digest needs to say about it."""

    index: int  # into the articles handed in
    match: Match
    detail: HitDetail
    story: str  # the story fingerprint, as stored


@dataclass(frozen=True, slots=True)
class ArticleResult:
    """What the engine found in one article (used by ``newswatch check``)."""

    article: Article
    match: Match
    detail: HitDetail
    story: str


class Engine:
    """Holds the compiled watchlists and runs poll cycles against the store.

    ``baseline_new_feeds``: on a feed's first successful poll, what it holds counts as history
    (the bot). The console turns it off: on a fresh store every entry is new.

    ``on_hits``: called (on the event loop) each time hits were committed, in the middle of a
    cycle too, so that delivery need not wait for the rest of a burst.
    """

    def __init__(
        self,
        store: Storage,
        fetcher: Fetcher,
        analyser: Analyser,
        *,
        concurrency: int = 8,
        interval: float = 900.0,
        baseline_new_feeds: bool = True,
        on_hits: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.analyser = analyser
        self.matcher = Matcher()
        self.concurrency = concurrency
        self.interval = timedelta(seconds=interval)
        self.baseline_new_feeds = baseline_new_feeds
        self.on_hits = on_hits
        self._watchlist_chat: dict[int, int] = {}
        self._chat_watchlists: dict[int, set[int]] = {}
        self._paused: set[int] = set()
        self._version: int | None = None  # the store's watchlist counter when last loaded

    # -- watchlists ---------------------------------------------------------------------------

    def load_watchlists(self) -> int:
        """Compile every stored watchlist into a new matcher; a query that no longer parses is
        skipped with a warning (it stays stored, so nothing is lost)."""
        # Read before the watchlists: a change made meanwhile moves it again, and is loaded
        # at the next refresh.
        self._version = self.store.watchlists_version()
        self.matcher = Matcher()
        self._watchlist_chat = {}
        self._chat_watchlists = {}
        self._paused = set()
        for w in self.store.all_watchlists():
            try:
                self._index(w, parse_query(w.query))
            except QueryError as e:
                logger.warning("stored watchlist does not parse id=%d error=%s", w.id, e)
            if w.paused:
                self._paused.add(w.id)
        return len(self.matcher)

    def refresh_watchlists(self) -> bool:
        """The store is the one door to watchlists: when any process (this one too) changed
        them since they were loaded, load them again. Returns whether it did."""
        if self.store.watchlists_version() == self._version:
            return False
        loaded = self.load_watchlists()
        logger.info("watchlists reloaded count=%d", loaded)
        return True

    def _index(self, watchlist: Watchlist, query: Query) -> None:
        if watchlist.id in self._watchlist_chat:
            self.matcher.remove(watchlist.id)
        self.matcher.add(watchlist.id, query)
        self._watchlist_chat[watchlist.id] = watchlist.chat_id
        self._chat_watchlists.setdefault(watchlist.chat_id, set()).add(watchlist.id)

    def add_watchlist(
        self, chat_id: int, name: str, text: str, now: datetime
    ) -> tuple[Watchlist, Query]:
        """Parse (raising ``QueryError``), store and index a watchlist."""
        query = parse_query(text)
        before = self.store.watchlists_version()
        watchlist = self.store.add_watchlist(chat_id, name, text, now)
        self._index(watchlist, query)
        self._own_change(before)
        return watchlist, query

    def remove_watchlist(self, chat_id: int, watchlist_id: int) -> bool:
        before = self.store.watchlists_version()
        removed = self.store.remove_watchlist(chat_id, watchlist_id)
        if removed and watchlist_id in self._watchlist_chat:
            self.matcher.remove(watchlist_id)
            del self._watchlist_chat[watchlist_id]
            self._chat_watchlists.get(chat_id, set()).discard(watchlist_id)
            self._paused.discard(watchlist_id)
        if removed:
            self._own_change(before)
        return removed

    def set_paused(self, watchlist_id: int, paused: bool) -> None:
        """A paused watchlist looks for nothing until it is resumed."""
        before = self.store.watchlists_version()
        self.store.set_watchlist_paused(watchlist_id, paused)
        if paused:
            self._paused.add(watchlist_id)
        else:
            self._paused.discard(watchlist_id)
        self._own_change(before)

    def _own_change(self, before: int) -> None:
        """This engine's index already holds the change it just stored: when no other process
        changed a watchlist since the last load, the counter's new value needs no reload (with
        many watchlists a reload takes seconds)."""
        if before == self._version and self.store.watchlists_version() == before + 1:
            self._version = before + 1

    # -- polling ------------------------------------------------------------------------------

    async def fetch(self, feed: Feed) -> FetchResult:
        if feed.url.startswith(("http://", "https://")):
            return await self.fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified
            )
        return await asyncio.to_thread(self.fetcher.read_local, feed.url)

    def due_feeds(self, now: datetime) -> list[Feed]:
        """The followed feeds whose interval has passed (longer after errors), most overdue
        first."""
        feeds = {f.id: f for f in self.store.feeds_to_poll()}
        states = [FeedState.from_feed(f) for f in feeds.values()]
        return [feeds[i] for i in due_feeds(states, now, self.interval)]

    async def run_cycle(self, now: datetime, feeds: Sequence[Feed] | None = None) -> CycleReport:
        """Poll ``feeds`` (default: every followed feed) once.

        A stream: ``concurrency`` fetches at a time (the fetcher also limits each host), and
        each feed is processed as soon as its fetch completes, while the others are still
        being fetched. At most ``concurrency`` fetched bodies wait for processing, so memory
        does not grow with the number of feeds. The report lists the feeds in the order given.
        """
        feeds = list(self.store.feeds_to_poll() if feeds is None else feeds)
        ready: asyncio.Queue[tuple[int, FetchResult | FeedError] | None] = asyncio.Queue(
            self.concurrency
        )
        todo = iter(enumerate(feeds))
        outcomes: dict[int, FeedOutcome] = {}

        async def fetch_some() -> None:
            for k, feed in todo:  # shared: each fetcher takes the next feed
                try:
                    result: FetchResult | FeedError = await self.fetch(feed)
                except FeedError as e:
                    result = e
                await ready.put((k, result))

        async def fetch_all() -> None:
            async with asyncio.TaskGroup() as fetchers:
                for _ in range(min(self.concurrency, len(feeds))):
                    fetchers.create_task(fetch_some())
            for _ in range(PROCESSORS):
                await ready.put(None)

        async def process_some() -> None:
            while (item := await ready.get()) is not None:
                k, result = item
                outcomes[k] = await self._process_guarded(feeds[k], result, now)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(fetch_all())
                for _ in range(PROCESSORS):
                    group.create_task(process_some())
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None  # e.g. StorageError: the cycle stops
        return CycleReport(tuple(outcomes[k] for k in range(len(feeds))))

    async def _process_guarded(
        self, feed: Feed, result: FetchResult | FeedError, now: datetime
    ) -> FeedOutcome:
        try:
            return await self._process(feed, result, now)
        except StorageError:
            raise  # the database is the problem, not this feed: stop the cycle
        except Exception as e:  # a bug or a library failing on odd input: skip this feed
            logger.exception("feed processing failed feed=%s", feed.url)
            self.store.mark_matched(feed.id)  # its stories, too: not tried again and again
            message = f"newswatch could not process this feed ({type(e).__name__})"
            return self._failed(feed, message, now)

    async def _process(
        self, feed: Feed, result: FetchResult | FeedError, now: datetime
    ) -> FeedOutcome:
        if isinstance(result, FeedError):
            logger.warning("feed failed feed=%s error=%s", feed.url, result.message)
            if isinstance(result, FetchError) and result.status == HTTPStatus.GONE:
                outcome = self._failed(feed, result.message, now)
                gone = self.store.mark_feed_gone(feed.id, now)
                logger.warning("feed gone feed=%s first=%s", feed.url, gone)
                return replace(outcome, gone=gone)
            retry_after = result.retry_after if isinstance(result, FetchError) else None
            held = hold_until(now, self.interval, retry_after=parse_retry_after(retry_after, now))
            return self._failed(feed, result.message, now, not_before=held)
        moved_to = self._moved(feed, result)
        if result.not_modified:
            self.store.record_poll(feed.id, now, not_before=self._hold(feed, result, now))
            return FeedOutcome(feed.id, feed.url, not_modified=True, moved_to=moved_to)
        digest = body_hash(result.content)
        if digest == feed.body_hash and not self.store.needs_baseline(feed.id):
            # The same bytes as last time (a server without validators): nothing to parse.
            self.store.record_poll(
                feed.id,
                now,
                etag=result.etag,
                last_modified=result.last_modified,
                not_before=self._hold(feed, result, now),
            )
            return FeedOutcome(feed.id, feed.url, not_modified=True, moved_to=moved_to)
        try:
            info, articles = await asyncio.to_thread(
                parse_feed, result.content, result.url, source=feed.name
            )
        except FeedError as e:
            logger.warning("feed unreadable feed=%s error=%s", feed.url, e.message)
            return self._failed(feed, e.message, now)
        etag, last_modified = result.etag, result.last_modified
        update_period = info.update_period or timedelta(0)
        held = self._hold(replace(feed, update_period=update_period), result, now)
        del result  # the body: not needed any more, and it may be large
        baseline = self.baseline_new_feeds and self.store.needs_baseline(feed.id)
        new = self.store.insert_articles(feed.id, articles, now)
        new = self._unmatched(feed.id, new)

        def record() -> None:
            # Last: a poll cut short (a worker killed) leaves the feed as it was, so the next
            # poll reads the body again and matches the stories this one stored.
            self.store.record_poll(
                feed.id,
                now,
                etag=etag,
                last_modified=last_modified,
                name=info.title,
                body_hash=digest,
                not_before=held,
                update_period=update_period,
            )

        if baseline or not new:
            self.store.mark_matched(feed.id)
            record()
            logger.info("feed polled feed=%s new=%d baseline=%s", feed.url, len(new), baseline)
            return FeedOutcome(
                feed.id, feed.url, new_articles=len(new), baseline=baseline, moved_to=moved_to
            )
        self.refresh_watchlists()
        chats = set(self.store.followers(feed.id))
        relevant = {
            w for c in chats for w in self._chat_watchlists.get(c, ()) if w not in self._paused
        }
        stored = 0
        for start in range(0, len(new), BATCH):  # each batch's hits are committed at once
            batch = new[start : start + BATCH]
            ids = [article_id for article_id, _ in batch]
            found = await self.find(
                [a for _, a in batch], relevant, full_text=feed.full_text == "matched", ids=ids
            )
            hits = [
                (f.match.watchlist_id, ids[f.index], f.detail, f.story)
                for f in self._fresh_stories(found, ids, now)
            ]
            added = self.store.add_hits(hits, now)
            self.store.mark_matched(feed.id, through=max(ids))
            stored += added
            if added and self.on_hits is not None:
                self.on_hits()
        record()
        logger.info("feed polled feed=%s new=%d hits=%d", feed.url, len(new), stored)
        return FeedOutcome(feed.id, feed.url, new_articles=len(new), hits=stored, moved_to=moved_to)

    def _unmatched(self, feed_id: int, new: list[tuple[int, Article]]) -> list[tuple[int, Article]]:
        """The stories just stored, and before them any a poll cut short stored but never
        matched (their hits may be partly stored: a hit is stored once, whatever happens)."""
        fresh = {article_id for article_id, _ in new}
        left = [i for i in self.store.unmatched_article_ids(feed_id) if i not in fresh]
        earlier = [(i, a) for i in left if (a := self.store.get_article(i)) is not None]
        if earlier:
            logger.info("finishing an interrupted poll feed=%d stories=%d", feed_id, len(left))
        return earlier + new

    def _hold(self, feed: Feed, result: FetchResult, now: datetime) -> datetime | None:
        """Until when the server (Retry-After, Cache-Control max-age) and the feed (``<ttl>``,
        ``sy:updatePeriod``) ask not to be polled again; None: the interval alone decides."""
        return hold_until(
            now,
            self.interval,
            retry_after=parse_retry_after(result.retry_after, now),
            max_age=cache_max_age(result.cache_control),
            update_period=feed.update_period,
        )

    def _moved(self, feed: Feed, result: FetchResult) -> str | None:
        """Store the feed's new address when it moved for good (every redirect 301/308, each hop
        checked by the fetcher like the first); the new address if it was stored."""
        if result.moved_to is None or result.moved_to == feed.url:
            return None
        if not self.store.move_feed(feed.id, result.moved_to):
            logger.info(
                "feed moved to an address another feed has; both kept feed=%s to=%s",
                feed.url,
                result.moved_to,
            )
            return None
        logger.info("feed moved feed=%s to=%s", feed.url, result.moved_to)
        return result.moved_to

    def _failed(
        self, feed: Feed, message: str, now: datetime, *, not_before: datetime | None = None
    ) -> FeedOutcome:
        self.store.record_poll(feed.id, now, error=message, not_before=not_before)
        return FeedOutcome(feed.id, feed.url, error=message, failures=feed.error_count + 1)

    def _fresh_stories(
        self, found: Sequence[Found], ids: Sequence[int], now: datetime
    ) -> list[Found]:
        """Leave out a hit whose story already went to that chat from another feed."""
        out = []
        new_ids = set(ids)
        memory: dict[int, list[StoryFingerprint]] = {}
        for f in found:
            chat = self._watchlist_chat.get(f.match.watchlist_id)
            if chat is None:
                continue
            if chat not in memory:
                memory[chat] = [
                    StoryFingerprint.from_str(story)
                    for article_id, story in self.store.queued_stories(chat, now - STORY_MEMORY)
                    if article_id not in new_ids
                ]
            mine = StoryFingerprint.from_str(f.story)
            if any(same_story(mine, seen) for seen in memory[chat]):
                logger.info("story already delivered chat=%d article=%d", chat, ids[f.index])
                continue
            out.append(f)
        return out

    # -- analysis, matching, full text and quotes ---------------------------------------------

    async def find(
        self,
        articles: Sequence[Article],
        relevant: set[int] | None,
        *,
        full_text: bool,
        ids: Sequence[int] | None = None,
    ) -> list[Found]:
        """Analyse, match, fetch the full text of what matched, and extract its quotes."""
        analyses, matched = await asyncio.to_thread(self._match, articles, relevant)
        if not matched:
            return []
        texts: dict[int, str] = {}
        if full_text:
            wanted = sorted({i for i, _ in matched})
            gate = asyncio.Semaphore(self.concurrency)

            async def page(i: int) -> str | None:
                async with gate:
                    return await self._full_text(articles[i], ids[i] if ids else None)

            pages = await asyncio.gather(*(page(i) for i in wanted))
            texts = {i: text for i, text in zip(wanted, pages, strict=True) if text}
        return await asyncio.to_thread(self._describe, articles, analyses, matched, texts)

    def _match(
        self, articles: Sequence[Article], relevant: set[int] | None
    ) -> tuple[list[Analysis], list[tuple[int, Match]]]:
        """Analyse each article once, only as deeply as its candidates need, and match it."""
        analyses = self.analyser.analyse(articles, entities=False)
        self._add_entities(self.matcher, analyses)
        matched = [
            (i, m)
            for i, analysis in enumerate(analyses)
            for m in self.matcher.match(analysis)
            if relevant is None or m.watchlist_id in relevant
        ]
        return analyses, matched

    def _add_entities(self, matcher: Matcher, analyses: list[Analysis]) -> None:
        """Run the recogniser, in place, on the analyses whose matches depend on entities, and
        there only around the places where an entity term of some candidate could be."""
        need = [i for i, a in enumerate(analyses) if matcher.needs_entities(a)]
        if not need:
            return
        deeper = self.analyser.add_entities(
            [analyses[i] for i in need], [matcher.entity_spans(analyses[i]) for i in need]
        )
        for i, analysis in zip(need, deeper, strict=True):
            analyses[i] = analysis

    async def _full_text(self, article: Article, article_id: int | None) -> str | None:
        """The article page's main text, fetched once per article; None keeps the feed's text.

        A page that fails or has no text never blocks the alert.
        """
        if not article.link or not article.link.startswith(("http://", "https://")):
            return None
        if article_id is not None:
            cached, state = self.store.full_text(article_id)
            if state is not None:
                return cached
        try:
            page = await self.fetcher.fetch(article.link)
            text = await asyncio.to_thread(extract_main_text, page.content, page.url)
        except FeedError as e:
            logger.info("full text unavailable url=%s error=%s", article.link, e.message)
            if article_id is not None:
                self.store.set_full_text(article_id, None, "failed")
            return None
        if article_id is not None:
            self.store.set_full_text(article_id, text, "ok" if text else "none")
        return text

    def _describe(
        self,
        articles: Sequence[Article],
        analyses: list[Analysis],
        matched: Sequence[tuple[int, Match]],
        texts: dict[int, str],
    ) -> list[Found]:
        """Quotes (from the full text where there is one), snippet and story fingerprint."""
        indices = sorted({i for i, _ in matched})
        # The text quotes are taken from. The quote extractor finds speakers from the text
        # itself (bench/quotes.py scores the same with and without entities), so NER runs here
        # only where matching the full text needs it; entities already found are passed on.
        sources = {i: analyses[i] for i in indices if i not in texts}
        fulls = [i for i in indices if i in texts]
        full_analyses = self.analyser.analyse(
            [replace(articles[i], content=texts[i]) for i in fulls], entities=False
        )
        self._add_entities(self.matcher, full_analyses)
        sources.update(zip(fulls, full_analyses, strict=True))
        quotes = {i: extract_quotes(sources[i].text, sources[i].entities) for i in indices}
        # Where the rules leave a quote without a speaker, the full parse attributes it by syntax
        # (its entities cover the whole text). Only there: at 1,000 watchlists nearly every
        # article matches something, and parsing every one that holds a quote cost 7x the
        # cycle's throughput (bench/poll.py). Every other article stays on the cheap path.
        quoted = [i for i in indices if any(q.speaker is None for q in quotes[i])]
        if quoted and isinstance(self.analyser, QuoteParser):
            parses = self.analyser.parse([sources[i].text for i in quoted])
            if parses is not None:
                for i, parse in zip(quoted, parses, strict=True):
                    quotes[i] = extract_quotes(sources[i].text, parse=parse)
        spans_in_source: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {}
        for i in fulls:
            for m in self.matcher.match(sources[i]):
                spans_in_source[(i, m.watchlist_id)] = m.spans
        stories = {
            i: story_fingerprint(
                articles[i].title, articles[i].summary or texts.get(i, ""), articles[i].link
            ).to_str()
            for i in indices
        }
        out = []
        snippets: dict[tuple[int, tuple[tuple[int, int], ...]], tuple[str, Sequence[Span]]] = {}
        for i, m in matched:
            spans = spans_in_source.get((i, m.watchlist_id), ()) if i in texts else m.spans
            ranked = choose_key_quotes(quotes[i], spans, n=len(quotes[i]))
            if (i, m.spans) not in snippets:  # watchlists matching the same words share it
                snippets[(i, m.spans)] = body_snippet(
                    analyses[i].text, analyses[i].title_end, m.spans
                )
            text, snippet_spans = snippets[(i, m.spans)]
            detail = HitDetail(
                terms=m.terms,
                quotes=tuple(ranked),
                snippet=text,
                snippet_spans=tuple(snippet_spans),
            )
            out.append(Found(i, m, detail, stories[i]))
        return out

    async def check(self, articles: Sequence[Article], *, full_text: bool) -> list[ArticleResult]:
        """Match ``articles`` against the loaded watchlists, treating every one as new."""
        found = await self.find(articles, None, full_text=full_text)
        return [ArticleResult(articles[f.index], f.match, f.detail, f.story) for f in found]

    def preview(self, query: Query, articles: Sequence[Article]) -> list[Article]:
        """Which of ``articles`` a query would have matched (blocking: run it in a thread)."""
        probe = Matcher()
        probe.add(0, query)
        analyses = self.analyser.analyse(articles, entities=False)
        if query.uses_entities:
            self._add_entities(probe, analyses)
        return [articles[i] for i, a in enumerate(analyses) if probe.match(a)]

    # -- feeds added from a chat --------------------------------------------------------------

    async def follow_new_feed(self, chat_id: int, url: str, now: datetime) -> tuple[Feed, int]:
        """Fetch ``url`` now, and follow it only if it is a readable feed.

        What the feed holds today is stored as history, so alerts are for stories that appear
        afterwards. Raises ``FeedError`` (nothing stored) when it cannot be fetched or read.
        """
        known = self.store.feed_by_url(url)
        if known is not None and known.gone_at is None and self.store.followers(known.id):
            # Already polled for other chats: its current items are history already, and new
            # ones must still reach those chats, so nothing is fetched or stored here. A feed
            # that was gone is fetched: still gone, the chat is told; back, it is polled again.
            self.store.follow(chat_id, known.id, now)
            return known, 0
        result = await self.fetcher.fetch(url)
        try:
            info, articles = await asyncio.to_thread(parse_feed, result.content, result.url)
        except ParseError as e:
            # A web page rather than its feed: follow the feed the page announces, if any.
            candidates = discover_feeds(result.content, result.url)
            if not candidates:
                raise
            url, result, info, articles = await self._first_readable(candidates, e)
            known = self.store.feed_by_url(url)
            if known is not None and self.store.followers(known.id):
                self.store.follow(chat_id, known.id, now)
                return known, 0
        feed = self.store.add_feed(url, now, name=info.title or None)
        self.store.follow(chat_id, feed.id, now)
        self.store.insert_articles(feed.id, articles, now)
        self.store.mark_matched(feed.id)  # history
        self.store.record_poll(
            feed.id, now, etag=result.etag, last_modified=result.last_modified, name=info.title
        )
        return self.store.get_feed(feed.id) or feed, len(articles)

    async def _first_readable(
        self, candidates: Sequence[str], page_error: ParseError
    ) -> tuple[str, FetchResult, FeedInfo, list[Article]]:
        """The first of a page's announced feeds that can be fetched and read."""
        for candidate in candidates:
            try:
                result = await self.fetcher.fetch(candidate)
                info, articles = await asyncio.to_thread(parse_feed, result.content, result.url)
            except FeedError as e:
                logger.info("announced feed unusable url=%s error=%s", candidate, e.message)
                continue
            return candidate, result, info, articles
        raise ParseError(
            page_error.url, "this web page names feeds, but none of them could be read"
        ) from page_error
