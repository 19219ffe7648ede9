"""Try a query on stored stories: which of them it would have matched (``/test``).

The stories of a few days can be tens of thousands; the path is the poll's, made cheap by a
prefilter on the lower-cased text: each term of the query names strings one of which any word it
matches must begin with (a word or phrase: its inflection keys, less a last letter that inflection
may change, and its irregular forms; a prefix: itself; an entity: its words or an alias's), and a
story without them at the start of a word cannot match. That test, a few searches, never leaves
out a story that matches. Only the stories that pass it are tokenised and matched for real, and the
named-entity recogniser reads, as in a poll, only those whose result depends on an entity, and
there only around the candidate words.
At most ``MAX_CHECKED`` candidates are checked (``MAX_RECOGNISED`` by the recogniser), newest
first; when more could match, the count is estimated from the share of those that did.

The store runs a looser test first, in SQL (``text_gate``): on a story whose text has no letter
outside ASCII (``is_plain``) a case-blind substring search, anywhere in a word; the others all
pass it. The first ``READ`` stories that pass are read into Python and tested here; the others
are counted at the rate of those.

Pure apart from the analyser handed in (run it off the event loop).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from watchers.digest import body_snippet
from watchers.match import Matcher
from watchers.model import Analysis, Article
from watchers.nlp import Analyser, analyse_cheap, article_sources, article_text
from watchers.query import And, EntityTerm, Near, Node, Not, Or, Prefix, Query, Source, Words
from watchers.text import _IRREGULAR, inflection_key  # its table of irregular forms

PREVIEW_WINDOW = timedelta(hours=72)  # how far back /test looks
PREVIEW_SHOWN = 5  # stories shown; the count covers them all
MAX_CHECKED = 100  # candidate stories tokenised and matched; past that the count is estimated
MAX_RECOGNISED = 50  # ... of them read by the named-entity recogniser, at most
READ = 5 * MAX_CHECKED  # stories past the store's gate read into Python, at most
_BATCH = 50


class StoryReader(Protocol):
    """What ``preview_stored`` needs of the store."""

    def article_ids_since(
        self, chat_id: int, since: datetime, gate: Gate | None = None
    ) -> list[int]: ...
    def get_articles(self, article_ids: Sequence[int]) -> list[Article]: ...


Spans = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class PreviewItem:
    """A story the query matched: its title and a snippet, with the matched words' spans."""

    article: Article
    title: str
    title_spans: Spans
    snippet: str
    snippet_spans: Spans


@dataclass(frozen=True, slots=True)
class Preview:
    """What a query would have caught among ``scanned`` stories: ``count`` of them (estimated
    when ``complete`` is false: too many could match to check them all), the first ``items`` in
    the order given."""

    count: int
    scanned: int
    items: tuple[PreviewItem, ...]
    complete: bool = True


# Characters outside ASCII that never change a word's normal form: quotes, dashes, spaces.
_PUNCTUATION = "\u00a0\u00ab\u00bb\u2010-\u2015\u2018\u201a-\u201f\u2026\u2032\u2033"
_FOREIGN = re.compile(f"[^\\x00-\\x7f{_PUNCTUATION}\u2019]")


class _Text:
    """A story's text as the prefilter reads it: lower-cased, and (only when it has letters
    outside ASCII) folded as ``normalise`` folds a word; plus its sources, read lazily."""

    __slots__ = ("_article", "_folded", "_sources", "lower")

    def __init__(self, article: Article) -> None:
        self._article = article
        text, _ = article_text(article)
        self.lower = text.lower()
        self._folded: tuple[str, ...] | None = None
        self._sources: str | None = None

    def has(self, needle: _Needle) -> bool:
        """Whether some word of the text may begin with the needle (folded: contain it)."""
        if needle.pattern.search(self.lower):
            return True
        if self._folded is None:
            self._folded = _fold(self.lower) if _FOREIGN.search(self.lower) else ()
        return any(needle.text in text for text in self._folded)

    def sources_have(self, words: frozenset[str]) -> bool:
        """Whether each word may occur in the story's source names."""
        if self._sources is None:
            self._sources = " ".join(article_sources(self._article))
        return all(word in self._sources for word in words)


@dataclass(frozen=True, slots=True)
class _Needle:
    """A string (ASCII) that a word begins with; ``pattern`` finds it at the start of a word
    in a lower-cased text, a full stop allowed between its letters (U.N. is the word un) and
    a curly apostrophe for a straight one. A word starts after a character that is not one of
    ``\\w``, as the tokeniser's words do."""

    text: str
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, text: str) -> _Needle:
        chars = ["['\u2019]" if c == "'" else re.escape(c) for c in text]
        return cls(text, re.compile(r"(?<!\w)" + r"\.?".join(chars)))


def _fold(lower: str) -> tuple[str, ...]:
    """``lower`` case-folded, accents removed, curly apostrophes made straight, other letters
    outside ASCII dropped (which only joins words: a needle found before is found after)."""
    decomposed = unicodedata.normalize("NFKD", lower.casefold()).replace("\u2019", "'")
    folded = decomposed.encode("ascii", "ignore").decode("ascii")
    return folded, folded.replace(".", "")


Test = Callable[[_Text], bool]


def _needles(key: str, irregular: dict[str, list[str]]) -> tuple[str, ...] | None:
    """Strings one of which every word with inflection key ``key`` contains, once folded; None
    when there are none to look for (a key outside ASCII: such stories always pass).

    A regular inflection keeps all of its key but perhaps the last letter (``embassies`` ->
    ``embassy``, ``hoped`` -> ``hope``); irregular forms are listed (``went`` -> ``go``)."""
    if not key.isascii():
        return None
    if not key.isalpha():
        return (key,)  # kept as written: ``at&t``, ``o'brien``, ``3.5``
    return (key[:-1], *irregular.get(key, ()))


def _prefilter(node: Node, irregular: dict[str, list[str]]) -> Test:
    """A test that is true for every story ``node`` matches (and for some more)."""
    if isinstance(node, Words):
        return _all_keys(node.keys, irregular)
    if isinstance(node, Prefix) or (isinstance(node, EntityTerm) and node.prefix):
        if not node.prefix.isascii():
            return lambda t: True
        prefix = _Needle.of(node.prefix)
        return lambda t: t.has(prefix)
    if isinstance(node, EntityTerm):
        names = [_all_keys(k, irregular) for k in (node.keys, *node.aliases)]
        return lambda t: any(name(t) for name in names)
    if isinstance(node, Source):
        words = frozenset(node.words)
        return lambda t: t.sources_have(words)
    if isinstance(node, Near):
        left, right = _prefilter(node.left, irregular), _prefilter(node.right, irregular)
        return lambda t: left(t) and right(t)
    if isinstance(node, And):
        parts = [_prefilter(c, irregular) for c in node.children if not isinstance(c, Not)]
        return lambda t: all(p(t) for p in parts)
    if isinstance(node, Or):
        options = [_prefilter(c, irregular) for c in node.children]
        return lambda t: any(p(t) for p in options)
    return lambda t: True  # NOT: what it leaves out is decided by the real match


def _all_keys(keys: Sequence[str], irregular: dict[str, list[str]]) -> Test:
    needles = [
        [_Needle.of(n) for n in options]
        for options in (_needles(k, irregular) for k in keys)
        if options is not None
    ]
    return lambda t: all(any(t.has(n) for n in options) for options in needles)


@dataclass(frozen=True, slots=True)
class Contains:
    """A story may pass when ``needle`` (ASCII, lower case) occurs in its title, summary or
    content, ignoring ASCII case, or does once full stops are removed (U.N. is the word un)."""

    needle: str


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every part holds (none: always true)."""

    parts: tuple[Gate, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Some part holds."""

    parts: tuple[Gate, ...]


Gate = Contains | AllOf | AnyOf
PASS = AllOf(())


def text_gate(query: Query) -> Gate:
    """The prefilter of ``query`` as data, for the store to run in SQL on stories that
    ``is_plain``: true for every such story the prefilter keeps (source terms always pass)."""
    return _gate(query.root, _irregular_forms())


def _gate(node: Node, irregular: dict[str, list[str]]) -> Gate:
    if isinstance(node, Words):
        return _keys_gate(node.keys, irregular)
    if isinstance(node, Prefix) or (isinstance(node, EntityTerm) and node.prefix):
        return _contains(node.prefix) if node.prefix.isascii() else PASS
    if isinstance(node, EntityTerm):
        return AnyOf(tuple(_keys_gate(k, irregular) for k in (node.keys, *node.aliases)))
    if isinstance(node, Near):
        return AllOf((_gate(node.left, irregular), _gate(node.right, irregular)))
    if isinstance(node, And):
        return AllOf(tuple(_gate(c, irregular) for c in node.children if not isinstance(c, Not)))
    if isinstance(node, Or):
        return AnyOf(tuple(_gate(c, irregular) for c in node.children))
    return PASS  # NOT and source terms: decided later


def _keys_gate(keys: Sequence[str], irregular: dict[str, list[str]]) -> Gate:
    needles = [n for n in (_needles(k, irregular) for k in keys) if n is not None]
    return AllOf(tuple(AnyOf(tuple(_contains(n) for n in options)) for options in needles))


def _contains(needle: str) -> Gate:
    """``needle``, and with a curly apostrophe for a straight one, as ``_Text.has`` reads it."""
    if "'" in needle:
        return AnyOf((Contains(needle), Contains(needle.replace("'", "\u2019"))))
    return Contains(needle)


def is_plain(article: Article) -> bool:
    """Whether the story's title, summary and content have no character outside ASCII but
    punctuation: then ``text_gate`` decides alone what the prefilter would (the store keeps
    this with each story)."""
    return not any(_FOREIGN.search(t) for t in (article.title, article.summary, article.content))


def _irregular_forms() -> dict[str, list[str]]:
    """Inflection key -> the irregular forms that have it."""
    out: dict[str, list[str]] = {}
    for form in _IRREGULAR:
        out.setdefault(inflection_key(form), []).append(form)
    return out


def preview_query(
    query: Query,
    articles: Sequence[Article],
    analyser: Analyser,
    *,
    scanned: int | None = None,
    unread: int = 0,
    shown: int = PREVIEW_SHOWN,
    max_checked: int = MAX_CHECKED,
    max_recognised: int = MAX_RECOGNISED,
) -> Preview:
    """The stories of ``articles`` (in their order, e.g. newest first) that ``query`` matches.

    ``articles`` may be the first of the stories that passed ``text_gate`` among ``scanned``;
    ``unread`` more passed it but were not read: they are counted at the rate of those read.
    Blocking (the recogniser may run): call it in a thread.
    """
    test = _prefilter(query.root, _irregular_forms())
    candidates = [a for a in articles if test(_Text(a))]
    if unread and articles:  # as many of them as of those read would pass the prefilter
        unread = round(unread * len(candidates) / len(articles))
    probe = Matcher()
    probe.add(0, query)
    items: list[PreviewItem] = []
    count = checked = recognised = 0
    while checked < len(candidates) and checked < max_checked and recognised < max_recognised:
        batch = candidates[checked : checked + min(_BATCH, max_checked - checked)]
        analyses = [analyse_cheap(a) for a in batch]
        if query.uses_entities:
            need = [i for i, a in enumerate(analyses) if probe.needs_entities(a)]
            if recognised + len(need) > max_recognised:  # stop at the bound, within the batch
                cut = need[max_recognised - recognised]
                batch, analyses = batch[:cut], analyses[:cut]
                need = [i for i in need if i < cut]
            deeper = analyser.add_entities(
                [analyses[i] for i in need], [probe.entity_spans(analyses[i]) for i in need]
            )
            for i, analysis in zip(need, deeper, strict=True):
                analyses[i] = analysis
            recognised += len(need)
        for article, analysis in zip(batch, analyses, strict=True):
            matches = probe.match(analysis)
            if matches:
                count += 1
                if len(items) < shown:
                    items.append(_item(article, analysis, matches[0].spans))
        checked += len(batch)
        if not batch:
            break
    left = len(candidates) - checked + unread
    if left:  # the rest is estimated from the share of the checked candidates that matched
        count += round(left * count / checked) if checked else 0
    total = len(articles) + unread if scanned is None else scanned
    return Preview(count, total, tuple(items), complete=not left)


def preview_stored(
    store: StoryReader, chat_id: int, query: Query, analyser: Analyser, now: datetime
) -> Preview:
    """``preview_query`` on the chat's stories of the last ``PREVIEW_WINDOW``: the store runs
    ``text_gate`` first, and only the first ``READ`` stories that pass it are read.

    Blocking (the database and the recogniser): call it in a thread."""
    since = now - PREVIEW_WINDOW
    scanned = len(store.article_ids_since(chat_id, since))
    passed = store.article_ids_since(chat_id, since, text_gate(query))
    articles = store.get_articles(passed[:READ])
    return preview_query(
        query, articles, analyser, scanned=scanned, unread=len(passed) - len(articles)
    )


def _item(article: Article, analysis: Analysis, spans: Spans) -> PreviewItem:
    title = analysis.text[: analysis.title_end]
    title_spans = tuple((a, b) for a, b in spans if b <= analysis.title_end)
    snippet, snippet_spans = body_snippet(analysis.text, analysis.title_end, spans)
    return PreviewItem(article, title, title_spans, snippet, tuple(snippet_spans))
