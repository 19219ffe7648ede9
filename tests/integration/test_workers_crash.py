"""Workers killed at random moments lose nothing and double nothing.

Two ``newswatch worker`` processes poll feeds on the local feed server while new stories
appear; one of them is SIGKILLed at a random moment of its work, over and over (each time
restarted). At the end every story that matched is one hit for each chat it matched, none
missing and none twice, and the bot's digests carry each of them to each chat once.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from bot.delivery import queue_digests
from bot.render import render_digest_text
from tests.fakes.feeds import FeedServer, rss
from watchers.model import Chat
from watchers.store import Storage, open_storage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
KILLS = 22
FEEDS = 6
LEASE = 3.0  # seconds: a killed worker's feeds are taken over this soon
HARBOUR, PORTS = 1, 2  # chats: one watches "harbour", the other "harbour OR port"
WORDS = [
    *("amber", "basalt", "cobalt", "dahlia", "ember", "falcon", "garnet", "hazel", "indigo"),
    *("juniper", "kestrel", "lilac", "marble", "nutmeg", "onyx", "pepper", "quartz", "russet"),
    *("saffron", "tamarind", "umber", "violet", "walnut", "yarrow", "zephyr", "anchor"),
    *("beacon", "citadel", "delta", "estuary", "fjord", "glacier", "headland", "island"),
]


class Workers:
    """Worker processes, each writing its log to a file of its own."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.procs: dict[int, tuple[subprocess.Popen[bytes], Path, IO[bytes]]] = {}
        self.started = 0

    def start(self, slot: int) -> None:
        self.started += 1
        log = self.logs / f"worker-{slot}-{self.started}.log"
        out = log.open("wb")
        command = [sys.executable, "-m", "bot.cli", "worker", "--config", str(self.config)]
        command += ["--lease", str(LEASE)]
        proc = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[slot] = (proc, log, out)

    def ready(self, slot: int) -> bool:
        _, log, _ = self.procs[slot]
        return b"worker started" in log.read_bytes()

    def stop(self, slot: int, sig: int) -> None:
        """SIGTERM: the worker stops by itself. SIGKILL: the worker and the recogniser
        processes it forked die at once, as when its container or machine is killed."""
        proc, _, out = self.procs.pop(slot)
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        out.close()

    def stop_all(self, sig: int) -> None:
        for slot in list(self.procs):
            self.stop(slot, sig)


def _story(rng: random.Random, n: int) -> dict[str, str]:
    """A story with a title of its own (no two alike, so none is taken for another's copy)."""
    kind = rng.choice(["harbour", "port", "none"])
    words = " ".join(rng.sample(WORDS, 4))
    lead = {"harbour": "Harbour", "port": "Port", "none": "Council"}[kind]
    return {"guid": f"g{n}", "title": f"{lead} {words} {n}", "description": f"Story {n}."}


def _wait(until: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until() if callable(until) else until:
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _run(tmp_path: Path, feeds: FeedServer, storage: dict[str, str]) -> None:
    rng = random.Random(11)
    section = storage or {"path": str(tmp_path / "nw.db")}
    config = tmp_path / "c.toml"
    config.write_text(
        "[storage]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in section.items())
        + '[polling]\ninterval = "1s"\n[fetch]\nallow_private_networks = true\n'
    )
    store: Storage = open_storage(section.get("url") or section["path"])
    now = datetime.now(UTC)
    published: dict[str, list[dict[str, str]]] = {}
    feed_ids = []
    for chat, query in ((HARBOUR, "harbour"), (PORTS, "harbour OR port")):
        store.upsert_chat(Chat(chat, "private"), now)
        store.add_watchlist(chat, f"w{chat}", query, now)
    for i in range(FEEDS):
        path = f"/f{i}.xml"
        published[path] = [{"guid": f"old{i}", "title": f"Harbour history {i}"}]
        feeds.publish(path, rss(published[path]))
        feed = store.add_feed(feeds.url(path), now)
        feed_ids.append(feed.id)
        for chat in (HARBOUR, PORTS):
            store.follow(chat, feed.id, now)

    workers = Workers(config, tmp_path)
    try:
        for slot in (0, 1):
            workers.start(slot)
        # Stories published before a feed's first poll are its history: wait for it.
        _wait(
            lambda: all(
                (f := store.get_feed(i)) is not None and f.last_success_at is not None
                for i in feed_ids
            ),
            60,
            "every feed polled once",
        )
        n = 0
        for _kill in range(KILLS):
            # The victim: a worker at work (one restarted a moment ago is still loading).
            _wait(lambda: any(workers.ready(k) for k in (0, 1)), 60, "a worker started")
            slot = rng.choice([k for k in (0, 1) if workers.ready(k)])
            end = time.monotonic() + rng.uniform(0.2, 2.5)
            while time.monotonic() < end:  # new stories while the worker works
                n += 1
                path = rng.choice(list(published))
                published[path].insert(0, _story(rng, n))
                feeds.publish(path, rss(published[path]))
                time.sleep(rng.uniform(0.02, 0.2))
            workers.stop(slot, signal.SIGKILL)
            workers.start(slot)
        last = datetime.now(UTC)
        _wait(
            lambda: all(
                (f := store.get_feed(i)) is not None
                and f.last_polled_at is not None
                and f.last_polled_at > last + timedelta(seconds=1)
                and not store.unmatched_article_ids(i)
                for i in feed_ids
            ),
            90,
            "every feed polled after the last story",
        )
        workers.stop_all(signal.SIGTERM)
    finally:
        workers.stop_all(signal.SIGKILL)

    stories = [s for items in published.values() for s in items if s["guid"].startswith("g")]
    expected = {
        HARBOUR: sorted(s["title"] for s in stories if s["title"].startswith("Harbour")),
        PORTS: sorted(s["title"] for s in stories if s["title"].startswith(("Harbour", "Port"))),
    }
    assert len(expected[HARBOUR]) > 20 and len(expected[PORTS]) > len(expected[HARBOUR])
    for chat, titles in expected.items():
        hits = sorted(h.article.title for h in store.pending_hits(chat, include_held=True))
        assert hits == titles, f"chat {chat}: hits differ from the stories that matched"

    # The bot's side: each story goes to each chat in exactly one message.
    when = datetime.now(UTC)
    queue_digests(
        store,
        when,
        max_items=1000,
        forced=True,
        render=lambda digest, at, more: [render_digest_text(digest, at, more=more)],
    )
    outbox = store.due_outbox(when + timedelta(seconds=1), limit=10_000)
    for chat, titles in expected.items():
        texts = [m.text for m in outbox if m.chat_id == chat]
        for title in titles:
            assert sum(text.count(title) for text in texts) == 1, (chat, title)
        assert not store.pending_hits(chat, include_held=True)
    store.close()
    assert workers.started >= 2 + KILLS


def test_killed_workers_lose_and_double_nothing_on_postgresql(
    tmp_path: Path, feeds: FeedServer, pg_schema: str
) -> None:
    from tests.integration.postgres import schema_url

    _run(tmp_path, feeds, {"url": schema_url(pg_schema)})


def test_killed_workers_lose_and_double_nothing_on_sqlite(
    tmp_path: Path, feeds: FeedServer
) -> None:
    _run(tmp_path, feeds, {})
