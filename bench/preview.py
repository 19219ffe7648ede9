"""Benchmark /test: a query tried on the stories of the last 72 hours, read from a real store.

Usage: python bench/preview.py [--stories 50000] [--feeds 40] [--runs 5] [--model NAME]

Fills a SQLite store (a temporary file) with ``--stories`` stories, all first seen within the
last 72 hours, in feeds that one chat follows: 80 % feed items of ~80 words, 20 % with ~700-word
articles (content:encoded), the words and names of ``bench/pipeline.py``. Then times what /test
does for several kinds of query: read from the store the window's stories that may match and run
``watchers.preview.preview_query`` on them (prefilter, tokens and matching for the candidates, the
recogniser on entity candidates only), through ``watchers.preview.preview_stored``: the
store's SQL gate first, then only the stories that pass it. Prints one JSON object:
``stories``, ``seconds`` (the median over the queries of each query's median over ``--runs``),
``max_seconds`` (the slowest query's median), and per query its median, how many stories it
matched and how many it scanned.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from pipeline import NOUNS, World, _sentence, _text  # noqa: E402  (bench/pipeline.py)

from watchers.model import Article, Chat  # noqa: E402
from watchers.nlp import load_analyser  # noqa: E402
from watchers.preview import PREVIEW_WINDOW, preview_stored  # noqa: E402
from watchers.query import parse_query  # noqa: E402
from watchers.store import open_storage  # noqa: E402

POOL = 3000  # distinct bodies the stories draw from (titles are all different)
CHAT = 1


def fill(path: Path, stories: int, feeds: int, rnd: random.Random, now: datetime) -> World:
    world = World(rnd)
    short = [_text(world, rnd, 80) for _ in range(POOL)]
    long = [_text(world, rnd, 700) for _ in range(POOL // 4)]
    store = open_storage(path)
    store.upsert_chat(Chat(CHAT, "private"), now)
    feed_ids = []
    for f in range(feeds):
        feed = store.add_feed(f"https://news{f}.example/rss", now, name=f"News {f}")
        store.follow(CHAT, feed.id, now)
        feed_ids.append(feed.id)
    window = PREVIEW_WINDOW.total_seconds() * 0.99
    batch: dict[int, list[Article]] = {}
    for i in range(stories):
        full = rnd.random() < 0.2
        article = Article(
            key=f"k{i}",
            title=_sentence(world, rnd).rstrip("."),
            link=f"https://news.example/{i}",
            summary=rnd.choice(short),
            content=rnd.choice(long) if full else "",
            source="",
            source_host="news.example",
        )
        batch.setdefault(rnd.choice(feed_ids), []).append(article)
        if (i + 1) % 1000 == 0 or i + 1 == stories:
            seen = now - timedelta(seconds=window * (1 - (i + 1) / stories))
            for feed_id, articles in batch.items():
                store.insert_articles(feed_id, articles, seen)
            batch.clear()
    store.close()
    return world


def queries(world: World, rnd: random.Random) -> dict[str, str]:
    surname = world.surnames[3]
    rare = world.surnames[len(world.surnames) // 2]
    country = world.countries[1]
    return {
        "word": "embassy",
        "two_words": "sanctions AND pipeline",
        "or_not": "(drought OR floods) NOT wildfire",
        "phrase": '"central bank"',
        "prefix": "diplomat*",
        "rare_name": rare,
        "near": f"{surname} NEAR/5 talks",
        "person": f"PERSON:{surname}",
        "gpe_and_word": f'GPE:"{country}" AND {rnd.choice(NOUNS)}',
        "org": "ORG:NATO AND summit",
        "nothing": "zzyzx",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stories", type=int, default=50_000)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default="en_core_web_sm")
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    now = datetime.now(UTC)
    analyser = load_analyser(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "preview.db"
        world = fill(path, args.stories, args.feeds, rnd, now)
        store = open_storage(path)
        results: dict[str, dict[str, float | int]] = {}
        for name, text in queries(world, rnd).items():
            query = parse_query(text)
            timings = []
            for _ in range(args.runs):
                gc.collect()
                started = time.perf_counter()
                found = preview_stored(store, CHAT, query, analyser, now)
                timings.append(time.perf_counter() - started)
            results[name] = {
                "seconds": round(statistics.median(timings), 3),
                "matched": found.count,
                "scanned": found.scanned,
                "complete": found.complete,
            }
        store.close()
    medians = [float(r["seconds"]) for r in results.values()]
    print(
        json.dumps(
            {
                "stories": args.stories,
                "seconds": round(statistics.median(medians), 3),
                "max_seconds": round(max(medians), 3),
                "queries": results,
            }
        )
    )


if __name__ == "__main__":
    main()
