"""Kill the bot with SIGKILL mid-delivery, again and again: no alert is lost, and each kill
costs at most one duplicate. What counts is what the fake Bot API RECEIVED."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from watchers.model import Article, Chat, HitDetail
from watchers.store import SqliteStorage

pytestmark = pytest.mark.slow

CHATS = 50
PER_CHAT = 20
KILLS = 20
TOKEN = re.compile(r"#m(\d+)-(\d+)#")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _prepare(db: Path) -> set[str]:
    """Queue PER_CHAT long digests for each chat (two fit in a message once merged)."""
    store = SqliteStorage(db)
    feed = store.add_feed("https://n.example/rss", T0)
    due: set[str] = set()
    for chat in range(1, CHATS + 1):
        store.upsert_chat(Chat(chat, "private"), T0)
        w = store.add_watchlist(chat, "W", "x", T0)
        for n in range(PER_CHAT):
            [(article, _)] = store.insert_articles(
                feed.id, [Article(key=f"{chat}-{n}", title="t")], T0
            )
            store.add_hits([(w.id, article, HitDetail(("x",)), "")], T0)
            token = f"#m{chat}-{n}#"
            store.queue_messages(chat, w.id, [token + " " + "x" * 1900], [(w.id, article)], T0)
            due.add(token)
    store.close()
    return due


def _start(config: Path, token: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.bot_process", str(config), token],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _outbox_left(db: Path) -> int:
    store = SqliteStorage(db)
    try:
        counts = store.outbox_counts()
    finally:
        store.close()
    return sum(n for state, n in counts.items() if state != "sent")


def test_sigkill_mid_delivery_loses_nothing_and_repeats_at_most_once_per_kill(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    telegram.telegram_limits()
    for chat in range(1, CHATS + 1):
        telegram.add_chat(chat)
    db = tmp_path / "nw.db"
    due = _prepare(db)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "telegram": {"base_url": telegram.base_url},
                "storage": {"path": str(db)},
                "polling": {"interval": "1h"},
                "feeds": [],
            }
        )
    )
    rng = random.Random(os.environ.get("CRASH_SEED", time.time_ns()))
    kills = 0
    while kills < KILLS:
        before = len(telegram.sent)
        process = _start(config, telegram.token)
        deadline = time.monotonic() + 15
        while len(telegram.sent) == before and time.monotonic() < deadline:
            time.sleep(0.01)  # until this life delivers something
        time.sleep(rng.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.communicate()
        kills += 1
    left = _outbox_left(db)
    assert left > 0, "everything went out before the last kill: queue more"
    process = _start(config, telegram.token)
    try:
        deadline = time.monotonic() + 60
        while _outbox_left(db) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)  # a graceful stop this time
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors.decode()
    assert b"Traceback" not in errors, errors.decode()

    received = Counter(m.group(0) for s in telegram.sent for m in TOKEN.finditer(s.plain_text))
    lost = due - set(received)
    seen: set[str] = set()
    repeated = 0  # messages that brought the chat nothing new
    for message in telegram.sent:
        tokens = set(TOKEN.findall(message.plain_text))
        keys = {f"#m{a}-{b}#" for a, b in tokens}
        if keys <= seen:
            repeated += 1
        seen |= keys
    print(
        f"kills={kills} left_after_kills={left} messages={len(telegram.sent)} "
        f"lost={len(lost)} duplicates={repeated} http_429={telegram.flood_refusals}"
    )
    assert not lost
    assert repeated <= kills
