"""Delivery under Telegram's flood limits: 1,000 chats through the fake Bot API.

The real bot (``build_application``, polling, the delivery loop) runs against the local fake Bot
API with Telegram's limits enforced (a burst then about 1/s per chat, 20/min per group, 30 in
any sliding second overall). Its outbox holds two digests for each of the chats (a tenth of them
groups, five of those with two dozen digests each), and while they go out users send commands,
one every half second, from chats that are also getting digests.

Prints JSON: ``messages`` (every message received while digests flowed, replies included;
``digests`` without them), ``seconds`` (first digest to last), ``messages_per_s``,
``http_429``, ``max_per_chat_per_s`` (most messages, replies included, one chat received in
any sliding second), ``max_per_group_per_min``, ``lost`` and ``duplicates`` (what the fake
received against what was queued), and ``reply_latency_p99_under_load`` (seconds from a
command to its reply while digests flow). Targets: >= 28 messages/s with no 429, never more
than 1/s to one chat or 20/min to one group, replies under 1 s at p99.

Usage: python bench/deliver.py [--chats 1000] [--per-chat 2] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import ALLOWED_UPDATES, build_application
from bot.config import config_from_dict
from tests.fakes.telegram import FakeTelegram, SentMessage
from watchers.model import Article, Chat, HitDetail
from watchers.store import SqliteStorage

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TOKEN = re.compile(r"#m-?\d+-\d+#")
BUSY_GROUPS = 5
BUSY_EXTRA = 22
COMMAND_EVERY = 0.5


class _NoAnalysis:
    """The benchmark polls no feeds: spaCy is never needed."""

    has_entities = False

    def analyse(self, articles: Sequence[object], *, entities: bool) -> list[object]:
        raise AssertionError("no feeds are polled")

    def add_entities(self, analyses: Sequence[object]) -> list[object]:
        raise AssertionError("no feeds are polled")


def _chat_ids(chats: int) -> list[int]:
    groups = chats // 10
    return [-(1000 + i) for i in range(groups)] + [10_000 + i for i in range(chats - groups)]


def _prepare(db: Path, chat_ids: list[int], per_chat: int) -> Counter[str]:
    store = SqliteStorage(db)
    feed = store.add_feed("https://n.example/rss", T0)
    due: Counter[str] = Counter()
    filler = "y" * 2500  # too long to merge two: every digest is one message
    for index, chat in enumerate(chat_ids):
        store.upsert_chat(Chat(chat, "group" if chat < 0 else "private"), T0)
        w = store.add_watchlist(chat, "W", "x", T0)
        count = per_chat + (BUSY_EXTRA if chat < 0 and index < BUSY_GROUPS else 0)
        for n in range(count):
            [(article, _)] = store.insert_articles(
                feed.id, [Article(key=f"{chat}-{n}", title="t")], T0
            )
            store.add_hits([(w.id, article, HitDetail(("x",)), "")], T0)
            token = f"#m{chat}-{n}#"
            store.queue_messages(chat, w.id, [f"<b>{token}</b> {filler}"], [(w.id, article)], T0)
            due[token] += 1
    store.close()
    return due


def _most_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def _run(chats: int, per_chat: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram() as fake:
        fake.telegram_limits()
        chat_ids = _chat_ids(chats)
        for chat in chat_ids:
            fake.add_chat(chat, chat_type="group" if chat < 0 else "private")
        db = Path(tmp) / "nw.db"
        due = _prepare(db, chat_ids, per_chat)
        config = config_from_dict(
            {
                "telegram": {"base_url": fake.base_url},
                "storage": {"path": str(db)},
                "polling": {"interval": "1h"},
                "feeds": [],
            },
            Path(tmp),
        )
        app = build_application(config, fake.token, analyser=_NoAnalysis())  # type: ignore[arg-type]
        await app.initialize()
        assert app.post_init is not None and app.updater is not None
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)

        def digests() -> list[SentMessage]:
            return [m for m in fake.sent if TOKEN.search(m.plain_text)]

        latencies: list[float] = []
        private = [c for c in chat_ids if c > 0]
        try:
            await fake.wait_for(lambda: bool(digests()), timeout=60, what="the first digest")
            pending: list[tuple[int, float, int]] = []
            give_up = time.monotonic() + 600
            while len(digests()) < sum(due.values()) and time.monotonic() < give_up:
                chat = rng.choice(private)
                before = len([m for m in fake.sent_to(chat) if "/watch" in m.plain_text])
                fake.user_sends("/help", chat_id=chat)
                pending.append((chat, time.monotonic(), before))
                await asyncio.sleep(COMMAND_EVERY)
                for entry in list(pending):
                    replies = [m for m in fake.sent_to(entry[0]) if "/watch" in m.plain_text]
                    if len(replies) > entry[2]:
                        latencies.append(replies[entry[2]].received_at - entry[1])
                        pending.remove(entry)
            deadline = time.monotonic() + 10
            while pending and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                for entry in list(pending):
                    replies = [m for m in fake.sent_to(entry[0]) if "/watch" in m.plain_text]
                    if len(replies) > entry[2]:
                        latencies.append(replies[entry[2]].received_at - entry[1])
                        pending.remove(entry)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            assert app.post_shutdown is not None
            await app.post_shutdown(app)

        received = digests()
        times = [m.received_at for m in received]
        seconds = max(times) - min(times)
        everything = [m for m in fake.sent if min(times) <= m.received_at <= max(times)]
        got = Counter(t for m in received for t in TOKEN.findall(m.plain_text))
        per_chat_times: dict[int, list[float]] = {}
        for m in fake.sent:
            per_chat_times.setdefault(m.chat_id, []).append(m.received_at)
        latencies.sort()
        return {
            "chats": chats,
            "messages": len(everything),
            "digests": len(received),
            "seconds": round(seconds, 2),
            "messages_per_s": round(len(everything) / seconds, 2),
            "digests_per_s": round(len(received) / seconds, 2),
            "http_429": fake.flood_refusals,
            "max_per_chat_per_s": max(_most_in_window(t, 1.0) for t in per_chat_times.values()),
            "max_digests_per_chat_per_s": max(
                _most_in_window([m.received_at for m in received if m.chat_id == c], 1.0)
                for c in chat_ids
            ),
            "max_per_group_per_min": max(
                _most_in_window(t, 60.0) for c, t in per_chat_times.items() if c < 0
            ),
            "lost": sum(1 for token in due if token not in got),
            "duplicates": sum(n - 1 for n in got.values() if n > 1),
            "commands": len(latencies),
            "unanswered": len(pending),
            "reply_latency_p50_under_load": round(statistics.median(latencies), 3),
            "reply_latency_p99_under_load": round(
                latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3
            ),
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--per-chat", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="report the median of this many")
    args = parser.parse_args(argv)
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    results = [asyncio.run(_run(args.chats, args.per_chat, seed)) for seed in range(args.runs)]
    if len(results) == 1:
        print(json.dumps(results[0], indent=2))
        return 0
    median = {
        key: statistics.median(r[key] for r in results) if key != "chats" else args.chats
        for key in results[0]
    }
    print(json.dumps({"median_of": len(results), **median, "runs": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
