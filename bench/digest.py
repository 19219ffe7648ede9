"""How long composing one watchlist's digest takes, by the number of its pending hits.

Usage: python bench/digest.py [--sizes 250,500,1000,2000] [--repeat 5] [--copies 0.2]

Builds N pending hits of one watchlist as the store returns them, each with its stored story
fingerprint, a share of them (``--copies``) published again by other feeds under reworded
headlines. Two kinds of stories:

- ``news``: headlines and leads of words drawn from a news vocabulary (Zipf's law), all carrying
  the watchlist's terms, as a busy watchlist sees them;
- ``template``: every story from one wire's template ("<country> and Russia clash over <topic>
  at <city> embassy"), the worst case: every pair shares most of its words.

Times ``compose_digests`` (best of ``--repeat``, CPU time of this process) and, for comparison,
what it did before: group every pending hit into stories, then cut to the first ten. Prints one
JSON object: milliseconds per kind and N for both, and what the digest showed and held. Target:
2,000 pending hits compose in under 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watchers.dedup import StoryFingerprint, group_stories, story_fingerprint
from watchers.digest import compose_digests
from watchers.model import Article, HitDetail, PendingHit, Watchlist
from watchers.text import words_of_text

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WATCHLIST = Watchlist(1, 7, "Embassies", "Russia AND embassy", NOW)
COUNTRIES = words_of_text(
    """Poland Latvia Estonia Lithuania Finland Czechia Romania Bulgaria Moldova Norway Sweden
    Denmark Slovakia Hungary Georgia Armenia Serbia Croatia Austria Belgium Ireland Portugal"""
)
CITIES = words_of_text(
    """Warsaw Riga Tallinn Vilnius Helsinki Prague Bucharest Sofia Chisinau Oslo Stockholm
    Copenhagen Bratislava Budapest Tbilisi Yerevan Belgrade Zagreb Vienna Brussels Dublin"""
)
PEOPLE = words_of_text(
    """Novak Berg Lund Kovacs Hruby Strand Holm Dvorak Tamm Ozols Nowak Popescu Ivanova Horvat
    Petrov Jensen Nieminen Kask Balodis Varga Silva Murphy Janssens Meier Costa Weber"""
)
TOPICS = words_of_text(
    """visas staff property security protests spying election fishing flag sanctions grain
    gas pipeline ferry border cyberattack asylum students archives consulate trade"""
)
VERBS = words_of_text("clash spar row quarrel feud argue")
LEAD = (
    "{c} and Russia traded accusations on {day} over {t} at the Russian embassy in {city}, and "
    "{c}'s foreign minister {p} summoned the ambassador for the {n}th time this year."
)
REWRITE = (
    "{c}'s foreign minister {p} summoned Russia's ambassador on {day} as a row over {t} at the "
    "embassy in {city} deepened, the {n}th summons this year."
)
DAYS = words_of_text("Monday Tuesday Wednesday Thursday Friday")


VOCABULARY = [f"w{rank}" for rank in range(20_000)]
WEIGHTS = [1 / (rank + 1) for rank in range(20_000)]


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(VOCABULARY, WEIGHTS, k=count))


def make_news(count: int, copies: float, seed: int = 1) -> list[tuple[str, str]]:
    """``count`` (title, lead) pairs of news vocabulary, about ``copies`` of them rewrites."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for _ in range(count):
        if out and rng.random() < copies:
            title, lead = rng.choice(out)
            words = title.split()
            rng.shuffle(words)  # a reworded headline over the same lead
            out.append((" ".join(words[:-1]) + " " + _words(rng, 1), lead))
        else:
            title = f"Russia embassy {_words(rng, 7)} {rng.choice(CITIES)}"
            out.append((title, f"{rng.choice(COUNTRIES)} {_words(rng, 30)}"))
    return out


def make_template(count: int, copies: float, seed: int = 1) -> list[tuple[str, str]]:
    """``count`` (title, lead) pairs from one wire's template, about ``copies`` rewrites."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    stories: list[dict[str, Any]] = []
    for _ in range(count):
        if stories and rng.random() < copies:
            facts = rng.choice(stories)
            title = "{c} summons Russian envoy over {t} row at {city} embassy".format(**facts)
            out.append((title, REWRITE.format(**facts)))
        else:
            facts = {
                "c": rng.choice(COUNTRIES),
                "city": rng.choice(CITIES),
                "t": rng.choice(TOPICS),
                "v": rng.choice(VERBS),
                "p": rng.choice(PEOPLE),
                "day": rng.choice(DAYS),
                "n": rng.randrange(2, 30),
            }
            stories.append(facts)
            title = "{c} and Russia {v} over {t} at {city} embassy".format(**facts)
            out.append((title, LEAD.format(**facts)))
    return out


KINDS = {"news": make_news, "template": make_template}


def make_hits(kind: str, count: int, copies: float) -> list[PendingHit]:
    """``count`` pending hits of one watchlist of the given kind, newest last."""
    hits = []
    for n, (title, lead) in enumerate(KINDS[kind](count, copies)):
        published = NOW - timedelta(minutes=count - n)
        link = f"https://feed{n % 40}.example/news/{n}"
        article = Article(
            key=f"k{n}",
            title=title,
            summary=lead,
            link=link,
            source=f"Feed {n % 40}",
            published=published,
        )
        hits.append(
            PendingHit(
                watchlist_id=WATCHLIST.id,
                article_id=n + 1,
                article=article,
                detail=HitDetail(terms=("Russia", "embassy")),
                created_at=published,
                story=story_fingerprint(title, lead, link).to_str(),
            )
        )
    return hits


def group_then_cut(hits: list[PendingHit], max_items: int = 10) -> int:
    """What composing did before: every pending hit grouped into stories, then the cut."""
    ranked = sorted(hits, key=lambda h: h.article.published or h.created_at, reverse=True)
    stories = group_stories(ranked, lambda h: StoryFingerprint.from_str(h.story))
    return len(stories[:max_items])


def _calibration() -> int:
    return sum(i * i for i in range(200_000))


def best_of(repeat: int, run: Callable[..., object], *args: Any) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()  # as timeit does: a collection of the bench's own garbage is not the work
        try:
            started = time.process_time()
            run(*args)
            times.append(time.process_time() - started)
        finally:
            gc.enable()
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250,500,1000,2000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copies", type=float, default=0.2)
    parser.add_argument("--no-before", action="store_true", help="skip the old way's timing")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "what": "compose_digests for one watchlist of N pending hits (best of repeats, CPU ms)",
        "copies": args.copies,
        "repeat": args.repeat,
        "target_ms_at_2000": 50,
        # how busy and how fast the machine was: CPU ms of a fixed pure-Python loop, and the load
        "calibration_ms": round(best_of(args.repeat, _calibration), 2),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "sizes": [],
    }
    sizes = [int(part) for part in args.sizes.split(",")]
    for kind, size in itertools.product(KINDS, sizes):
        hits = make_hits(kind, size, args.copies)
        watchlists = {WATCHLIST.id: WATCHLIST}
        [composed] = compose_digests(WATCHLIST.chat_id, hits, watchlists)
        row: dict[str, Any] = {
            "kind": kind,
            "pending_hits": size,
            "compose_ms": round(best_of(args.repeat, compose_digests, 7, hits, watchlists), 2),
            "shown_stories": len(composed.digest.items),
            "shown_hits": len(composed.hits),
            "copies_listed": sum(len(item.also) for item in composed.digest.items),
            "held_hits": len(composed.held),
            "more": composed.more,
        }
        if not args.no_before:
            row["group_then_cut_ms"] = round(best_of(1, group_then_cut, hits), 2)
        report["sizes"].append(row)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
