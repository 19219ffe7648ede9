"""Benchmark the indexed matcher: generated watchlists against generated analysed articles.

Usage: python bench/match.py [--sizes 1000,10000,100000] [--articles 2000] [--seed 1] [--no-freeze]

Each size runs in a fresh subprocess so that its peak RSS is its own. Prints one JSON object per
size on stdout: watchlists, articles, articles_per_s, candidates_per_article, index_build_s,
peak_rss_mb (and a few more details).

The vocabulary has a long tail: word ranks follow a Zipf law (s = 1.07), the top ranks being
common English and news words, the rest generated pseudo-words. Articles are ~80 words (80%) or
~700 words (20%), with person, organisation and country entities. Watchlists mix words, phrases,
ORs, NOTs, NEARs, prefixes, title:/source: and entity terms, their words drawn from the middle
and the tail of the vocabulary, as people watch names and topics rather than "the".
"""

from __future__ import annotations

import argparse
import bisect
import gc
import itertools
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watchers.countries import all_countries
from watchers.match import Matcher
from watchers.model import Analysis, Entity
from watchers.query import parse_query
from watchers.text import tokenise

COMMON = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "that",
    "is",
    "for",
    "on",
    "was",
    "with",
    "he",
    "it",
    "as",
    "at",
    "by",
    "said",
    "his",
    "be",
    "from",
    "are",
    "have",
    "has",
    "had",
    "not",
    "but",
    "they",
    "an",
    "this",
    "were",
    "which",
    "been",
    "who",
    "their",
    "will",
    "would",
    "more",
    "its",
    "after",
    "one",
    "year",
    "about",
    "two",
    "new",
    "also",
    "people",
    "government",
    "over",
    "there",
    "when",
    "up",
    "than",
    "into",
    "out",
    "first",
    "last",
    "other",
    "police",
    "minister",
    "president",
    "could",
    "can",
    "state",
    "country",
    "told",
    "officials",
    "week",
    "time",
    "some",
    "against",
    "under",
    "three",
    "talks",
    "country",
    "military",
    "security",
    "report",
    "percent",
    "million",
    "economy",
    "court",
    "election",
    "party",
    "leader",
    "capital",
    "force",
    "city",
    "power",
    "company",
    "market",
    "bank",
    "prices",
    "oil",
    "gas",
    "trade",
    "deal",
    "war",
    "peace",
    "attack",
    "troops",
    "border",
    "crisis",
    "vote",
    "law",
    "plan",
    "support",
    "region",
    "group",
    "forces",
    "agreement",
    "sanctions",
    "energy",
    "foreign",
    "policy",
    "health",
    "workers",
    "children",
    "women",
    "school",
    "water",
    "climate",
    "summit",
    "strike",
    "protest",
]
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "ma",
    "ne",
    "lo",
    "sa",
    "vi",
    "de",
    "ru",
    "po",
    "la",
    "mi",
    "ten",
    "gor",
    "an",
    "el",
    "is",
    "ur",
    "bar",
    "dan",
    "mor",
    "sel",
    "tri",
    "vek",
    "lin",
    "har",
    "zo",
    "quin",
    "pel",
    "dra",
    "sto",
    "fen",
    "cas",
    "bru",
    "mal",
    "dor",
    "ven",
]
FIRST = [
    "Anna",
    "Maria",
    "Olga",
    "Ivan",
    "Sergei",
    "Joe",
    "Emmanuel",
    "Olaf",
    "Recep",
    "Xi",
    "Narendra",
    "Luiz",
    "Keir",
    "Giorgia",
    "Pedro",
    "Volodymyr",
    "Benjamin",
    "Ali",
    "Fatima",
    "Chen",
    "Kenji",
    "Amara",
    "Lars",
    "Sofia",
]
ORG_WORDS = [
    "Bank",
    "Ministry",
    "Council",
    "Group",
    "Agency",
    "Union",
    "Party",
    "Fund",
    "Institute",
    "Authority",
]
REPORTING = ["said", "told", "added", "warned"]
SOURCES = [("Reuters World", "feeds.reuters.com"), ("BBC News", "feeds.bbci.co.uk"),
           ("Le Monde", "www.lemonde.fr"), ("Al Jazeera", "www.aljazeera.com"),
           ("AP Top News", "apnews.com"), ("The Guardian", "www.theguardian.com")]  # fmt: skip


class World:
    """A vocabulary with a Zipf distribution and the names the articles talk about."""

    def __init__(self, rnd: random.Random, size: int = 200_000) -> None:
        seen = set(COMMON)
        words = list(COMMON)
        while len(words) < size:
            w = "".join(rnd.choice(SYLLABLES) for _ in range(rnd.choice((2, 2, 3, 3, 4))))
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        weights = [1 / (r + 1) ** 1.07 for r in range(size)]
        self.cumulative = list(itertools.accumulate(weights))
        self.surnames = [self._name(rnd) for _ in range(20_000)]
        countries = list(all_countries())
        rnd.shuffle(countries)
        self.countries = [c.name for c in countries]
        self.demonyms = [c.demonym or c.name for c in countries]
        self.country_cumulative = list(
            itertools.accumulate(1 / (r + 1) ** 1.2 for r in range(len(countries)))
        )
        self.orgs = [self._name(rnd) + " " + rnd.choice(ORG_WORDS) for _ in range(1500)]
        name_weights = [1 / (r + 1) for r in range(len(self.surnames))]
        self.name_cumulative = list(itertools.accumulate(name_weights))

    @staticmethod
    def _name(rnd: random.Random) -> str:
        return "".join(rnd.choice(SYLLABLES) for _ in range(rnd.choice((2, 3)))).capitalize()

    def word(self, rnd: random.Random) -> str:
        return self.words[bisect.bisect(self.cumulative, rnd.random() * self.cumulative[-1])]

    def rank(self, rnd: random.Random, low: int, high: int) -> int:
        """A rank drawn log-uniformly from [low, high)."""
        return int(low * (high / low) ** rnd.random())

    def country(self, rnd: random.Random) -> int:
        r = rnd.random() * self.country_cumulative[-1]
        return bisect.bisect(self.country_cumulative, r)

    def person(self, rnd: random.Random) -> str:
        i = bisect.bisect(self.name_cumulative, rnd.random() * self.name_cumulative[-1])
        return self.surnames[min(i, len(self.surnames) - 1)]


def make_article(world: World, rnd: random.Random, n_words: int) -> Analysis:
    parts: list[str] = []
    entities: list[tuple[str, int, int]] = []  # label, start, end (chars)
    pos = 0

    def put(text: str, label: str | None = None) -> None:
        nonlocal pos
        if parts:
            parts.append(" ")
            pos += 1
        if label:
            entities.append((label, pos, pos + len(text)))
        parts.append(text)
        pos += len(text)

    title_words = rnd.randint(6, 12)
    count = 0
    title_end = 0
    while count < n_words + title_words:
        r = rnd.random()
        if r < 0.03:
            put(f"{rnd.choice(FIRST)} {world.person(rnd)}", "PERSON")
            if rnd.random() < 0.4:
                put(rnd.choice(REPORTING))
            count += 2
        elif r < 0.05:
            put(world.countries[world.country(rnd)], "GPE")
            count += 1
        elif r < 0.06:
            put(world.demonyms[world.country(rnd)], "NORP")
            count += 1
        elif r < 0.075:
            put(rnd.choice(world.orgs[:200] if rnd.random() < 0.7 else world.orgs), "ORG")
            count += 2
        else:
            put(world.word(rnd))
            count += 1
        if count >= title_words and not title_end:
            title_end = pos
            parts.append("\n\n")
            pos += 2
            parts.append("")
        elif rnd.random() < 0.07 and title_end:
            parts.append(".")
            pos += 1
    text = "".join(parts)
    source = rnd.choice(SOURCES)
    return Analysis(
        text=text,
        title_end=title_end,
        tokens=tokenise(text),
        entities=tuple(Entity(lab, s, e, text[s:e]) for lab, s, e in entities),
        sources=(source[0].lower(), source[1]),
    )


def make_query(world: World, rnd: random.Random) -> str:
    """A watchlist as people write them: specific names and topics, rarely a common word."""

    def term(low: int = 2000) -> str:
        return world.words[world.rank(rnd, low, len(world.words))]

    def leaf() -> str:
        r = rnd.random()
        if r < 0.12:
            return f'"{term(500)} {term(500)}"'
        if r < 0.16:
            w = term(5000)
            return w[: max(6, len(w) - 1)] + "*"
        if r < 0.19:
            return f"title:{term()}"
        return term()

    def entity() -> str:
        r = rnd.random()
        if r < 0.5:
            return f"PERSON:{world.surnames[world.rank(rnd, 20, len(world.surnames))]}"
        if r < 0.75:
            return f'GPE:"{rnd.choice(world.countries)}"'
        org = world.orgs[world.rank(rnd, 1, len(world.orgs))]
        return f'ORG:"{org}"'

    r = rnd.random()
    if r < 0.30:
        return term(10_000) if rnd.random() < 0.8 else leaf()
    if r < 0.50:
        return " AND ".join(leaf() for _ in range(rnd.randint(2, 3)))
    if r < 0.65:
        ors = " OR ".join(leaf() for _ in range(rnd.randint(2, 3)))
        return f"({ors}) AND {leaf()}" if rnd.random() < 0.7 else ors
    if r < 0.75:
        return f"{leaf()} {leaf()} NOT {term()}" if rnd.random() < 0.5 else f"{leaf()} -{term()}"
    if r < 0.83:
        op = rnd.choice(["NEAR", "ONEAR"])
        return f"{leaf()} {op}/{rnd.randint(2, 10)} {leaf()}"
    if r < 0.97:
        other = leaf() if rnd.random() < 0.6 else f"({leaf()} OR {leaf()})"
        e = entity()
        return f"{e} AND {other}" if e.startswith("GPE") or rnd.random() < 0.7 else e
    return f"source:{rnd.choice(SOURCES)[0].split()[0].lower()} AND {leaf()}"


def run_size(watchlists: int, n_articles: int, seed: int, freeze: bool) -> dict[str, object]:
    rnd = random.Random(seed)
    world = World(rnd)
    articles = [
        make_article(world, rnd, 700 if i % 5 == 4 else rnd.randint(60, 100))
        for i in range(n_articles)
    ]
    texts = [make_query(world, rnd) for _ in range(watchlists)]

    start = time.perf_counter()
    queries = [parse_query(t) for t in texts]
    parsed = time.perf_counter()
    matcher = Matcher()
    for i, q in enumerate(queries):
        matcher.add(i, q)
    built = time.perf_counter()

    # A running bot has seen articles: let the matcher learn word frequencies (it refiles its
    # queries after 256 and 4,096 articles), then time a separate reindex.
    for a in itertools.islice(itertools.cycle(articles), 4096):
        matcher.observe(a)
    t_re = time.perf_counter()
    matcher.reindex()
    reindex_s = time.perf_counter() - t_re
    if freeze:
        gc.collect()
        gc.freeze()  # the long-lived watchlists need not be traced by every collection

    candidates = sum(len(matcher.candidates(a)) for a in articles)
    need_ner = sum(matcher.needs_entities(_bare(a)) for a in articles)
    hits = 0
    rounds = 0
    t0 = time.perf_counter()
    while True:
        for a in articles:
            hits += len(matcher.match(a))
        rounds += 1
        elapsed = time.perf_counter() - t0
        if elapsed > 3 or rounds >= 5:
            break
    words = sum(len(a.tokens) for a in articles)
    return {
        "watchlists": watchlists,
        "articles": n_articles,
        "articles_per_s": round(n_articles * rounds / elapsed, 1),
        "candidates_per_article": round(candidates / n_articles, 1),
        "index_build_s": round(built - parsed, 3),
        "parse_s": round(parsed - start, 3),
        "reindex_s": round(reindex_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "matches_per_article": round(hits / rounds / n_articles, 2),
        "words_per_article": round(words / n_articles, 1),
        "ner_needed_share": round(need_ner / n_articles, 3),
        "gc_freeze": freeze,
    }


def _bare(a: Analysis) -> Analysis:
    return Analysis(a.text, a.title_end, a.tokens, None, a.sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave the loaded watchlists to the collector"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run one size in-process
    args = parser.parse_args()
    if args.one:
        result = run_size(args.one, args.articles, args.seed, not args.no_freeze)
        print(json.dumps(result), flush=True)
        return
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--one", str(size)]
        cmd += ["--articles", str(args.articles), "--seed", str(args.seed)]
        cmd += ["--no-freeze"] if args.no_freeze else []
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
