"""Benchmark worker processes on PostgreSQL: how the polling scales with 1, 2 and 4 workers.

Usage: python bench/scale.py [--feeds 5000] [--watchlists 1000] [--workers 1,2,4]
       [--url postgresql://postgres@127.0.0.1:5432/test]

A server process serves ``--feeds`` feeds on 127.0.0.1. Each feed holds its last 5 stories of
about 60 words; each run the server moves every feed on by one story (a new ETag), except one
feed in 50 that answers 500 and one in 50 that answers after 0.5 s. The database is a fresh
schema: 10 chats each follow every feed and share the watchlists (one or two words each, a few
names of places). Every feed has been polled before (its stories are history), so each run is
the steady state: every feed due, one new story in each.

For each worker count, the workers (``newswatch worker`` processes) are started and have loaded
their model before the run begins; the run begins when the server moves the feeds on and every
feed is made due, and ends when every feed has been polled again. JSON, one object per run:
``feeds_per_s``, ``stories_per_s`` (new stories analysed), ``matches_per_s`` (hits stored),
``peak_rss_mb`` per worker (the process and the recogniser processes it forks), ``db_mb`` (the
schema's tables and indexes after the run), and ``to_hit_s`` (p50/p95/max: from the moment the
story appeared until its hit was seen committed, sampled every 0.25 s; the bot's digest job adds
up to 5 s more before the outbox row). The last object is a cost model for 200,000 feeds.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEEP = 5  # stories in a feed
PLACES = ["Vienna", "Lagos", "Quito", "Hanoi", "Oslo", "Perth", "Tunis", "Lima", "Riga", "Doha"]
SLOW_DELAY = 0.5


def _words(rnd: random.Random, n: int) -> str:
    return " ".join(f"w{rnd.randrange(3000)}" for _ in range(n))


def serve(port_out: Any, seed: int) -> None:
    """The feed server (run in its own process): GET /fN.xml, POST /advance."""
    state = {"generation": 1, "at": time.time()}
    lock = threading.Lock()

    def story(feed: int, gen: int) -> str:
        rnd = random.Random(seed * 1_000_003 + feed * 1009 + gen)
        title = f"{rnd.choice(PLACES)} {_words(rnd, 8)}"
        published = format_datetime(datetime.fromtimestamp(state["at"], UTC), usegmt=True)
        return (
            f"<item><title>{escape(title)}</title><guid>f{feed}-g{gen}</guid>"
            f"<link>http://example.invalid/{feed}/{gen}</link><pubDate>{published}</pubDate>"
            f"<description>{escape(_words(rnd, 50))}</description></item>"
        )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            with lock:
                state["generation"] += 1
                state["at"] = time.time()
            self._send(200, b"ok", {})

        def do_GET(self) -> None:
            feed = int(self.path.strip("/f.xml") or 0)
            if feed % 50 == 7:
                self._send(500, b"broken", {})
                return
            if feed % 50 == 13:
                time.sleep(SLOW_DELAY)
            gen = int(state["generation"])
            etag = f'"{gen}"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", {"ETag": etag})
                return
            # generation 1 is what the feeds held before (never served: they start polled)
            items = "".join(story(feed, g) for g in range(gen, max(1, gen - KEEP), -1))
            body = (
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
                f"{items}</channel></rss>"
            ).encode()
            self._send(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that closed its connection early: nothing to report

    server = Server(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def setup(conn: Any, port: int, feeds: int, watchlists: int, seed: int) -> None:
    """Feeds already polled once (history), 10 chats following all, the watchlists."""
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    polled = now  # not due (the interval is an hour) until a run makes every feed due
    chats = list(range(1, 11))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO chats(id, kind, created_at) VALUES (%s, 'private', %s)",
            [(c, now) for c in chats],
        )
        cur.executemany(
            "INSERT INTO feeds(url, created_at, last_polled_at, last_success_at, "
            "matched_through) VALUES (%s, %s, %s, %s, 0)",
            [(f"http://127.0.0.1:{port}/f{n}.xml", now, polled, polled) for n in range(feeds)],
        )
        cur.execute(
            "INSERT INTO follows(chat_id, feed_id, since) "
            "SELECT c, f.id, %s FROM feeds f, unnest(%s::bigint[]) c",
            (now, chats),
        )
        queries = []
        for i in range(watchlists):
            if i % 100 == 0:
                queries.append(rnd.choice(PLACES))
            elif i % 3 == 0:  # words of the stories are w0..w2999: a watchlist matches rarely
                queries.append(f"w{rnd.randrange(3000)} AND w{rnd.randrange(3000)}")
            else:
                queries.append(f"w{rnd.randrange(30_000)}")
        cur.executemany(
            "INSERT INTO watchlists(chat_id, name, query, created_at) VALUES (%s, %s, %s, %s)",
            [(chats[i % 10], f"wl{i}", q, now) for i, q in enumerate(queries)],
        )
    conn.commit()


def run(conn: Any, config: Path, workers: int, port: int, feeds: int) -> dict[str, Any]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    peaks = [0.0] * workers
    try:
        for p in procs:  # ready when it logs that it started
            for line in p.stderr or ():
                if "worker started" in line:
                    break
        # keep reading the logs so that the pipes never fill
        for p in procs:
            threading.Thread(target=lambda p=p: [None for _ in p.stderr or ()], daemon=True).start()
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM articles")
            articles0 = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM hits")
            hits0 = cur.fetchone()[0]
        conn.commit()
        __import__("urllib.request").request.urlopen(
            __import__("urllib.request").request.Request(
                f"http://127.0.0.1:{port}/advance", method="POST"
            )
        ).read()
        start = time.time()
        appeared = datetime.now(UTC)
        with conn.cursor() as cur:
            # every feed due, those backing off after errors (the 500s) too
            cur.execute("UPDATE feeds SET last_polled_at=%s", (appeared - timedelta(days=30),))
        conn.commit()
        seen: dict[tuple[int, int], float] = {}
        while True:
            time.sleep(0.25)
            for k, p in enumerate(procs):
                try:
                    family = [psutil.Process(p.pid), *psutil.Process(p.pid).children(True)]
                    rss = sum(x.memory_info().rss for x in family) / 2**20
                except psutil.Error:
                    continue
                peaks[k] = max(peaks[k], rss)
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT watchlist_id, article_id FROM hits WHERE created_at>=%s",
                    (appeared - timedelta(seconds=1),),
                )
                now = time.time()
                for row in cur.fetchall():
                    seen.setdefault((row[0], row[1]), now - start)
                cur.execute("SELECT count(*) FROM feeds WHERE last_polled_at<%s", (appeared,))
                left = cur.fetchone()[0]
            conn.commit()
            if left == 0:
                break
        wall = time.time() - start
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM articles")
            stories = cur.fetchone()[0] - articles0
            cur.execute("SELECT count(*) FROM hits")
            hits = cur.fetchone()[0] - hits0
            cur.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid=c.relnamespace "
                "WHERE n.nspname=current_schema() AND c.relkind='r'"
            )
            db = float(cur.fetchone()[0] or 0) / 2**20
        conn.commit()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    lat = sorted(seen.values())

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None

    return {
        "workers": workers,
        "feeds": feeds,
        "wall_s": round(wall, 1),
        "feeds_per_s": round(feeds / wall, 1),
        "stories_per_s": round(stories / wall, 1),
        "matches_per_s": round(hits / wall, 1),
        "stories": stories,
        "matches": hits,
        "peak_rss_mb": [round(x) for x in peaks],
        "db_mb": round(db, 1),
        "to_hit_s": {"p50": pct(0.5), "p95": pct(0.95), "max": pct(1.0)},
    }


STORIES_PER_FEED_DAY = 30  # assumed for the model: a busy news feed


def cost_model(results: list[dict[str, Any]]) -> dict[str, Any]:
    """What 200,000 feeds polled every 15 minutes would need, from the measured costs (every
    poll of the runs found one new story, a heavier load than most feeds give)."""
    target = 200_000
    needed = target / 900.0  # feeds per second
    one = min(results, key=lambda r: r["workers"])
    per_worker = round(one["feeds_per_s"] / one["workers"], 1)  # a worker: about one core
    workers = needed / per_worker
    stories = sum(r["stories"] for r in results)
    per_story_kb = results[-1]["db_mb"] * 1024 / max(1, stories)
    return {
        "model": "200,000 feeds every 15 min, one new story per poll (as measured)",
        "feeds_per_s_needed": round(needed, 1),
        "feeds_per_s_one_worker": per_worker,
        "workers_needed": round(workers, 1),
        "cores_needed": round(workers * 1.25, 1),  # + PostgreSQL and the bot, from the runs
        "memory_gb": round(workers * max(one["peak_rss_mb"]) / 1024, 1),
        "db_kb_per_story": round(per_story_kb, 1),  # with its hits, indexes included
        "stories_per_feed_day_assumed": STORIES_PER_FEED_DAY,
        "db_gb_per_day": round(per_story_kb * STORIES_PER_FEED_DAY * target / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--watchlists", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    import multiprocessing

    import psycopg
    from psycopg import sql

    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports, args.seed), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    schema = f"nwbench_{uuid.uuid4().hex[:8]}"
    conn = psycopg.connect(args.url)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    conn.commit()
    url = f"{args.url}{'&' if '?' in args.url else '?'}options={quote(f'-c search_path={schema}')}"
    results: list[dict[str, Any]] = []
    try:
        from watchers.store_pg import PostgresStorage

        PostgresStorage.connect(url).close()  # the tables
        setup(conn, port, args.feeds, args.watchlists, args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bench.toml"
            config.write_text(
                f"[storage]\nurl = {json.dumps(url)}\n"
                f'[polling]\ninterval = "1h"\nconcurrency = 16\n'
                "[fetch]\nallow_private_networks = true\ntimeout = 10\n"
            )
            for n in (int(w) for w in args.workers.split(",")):
                result = run(conn, config, n, port, args.feeds)
                results.append(result)
                print(json.dumps(result), flush=True)
        print(json.dumps(cost_model(results)), flush=True)
    finally:
        conn.rollback()
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        conn.commit()
        conn.close()
        server.terminate()


if __name__ == "__main__":
    main()
