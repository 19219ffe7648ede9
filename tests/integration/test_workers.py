"""Worker processes sharing the polling through one database (SQLite and PostgreSQL): a
watchlist changed through one engine is used by the others at once, two workers never poll
one feed twice, a poll cut short is finished by the next, and a worker loads no Telegram
code."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.feeds import FeedServer, rss
from watchers.fetch import Fetcher, FetchSettings
from watchers.model import Chat
from watchers.pipeline import Engine
from watchers.store import Storage
from watchers.worker import Worker, WorkerSettings

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CHAT = 5
ROOT = Path(__file__).resolve().parents[2]


def _story(n: int, title: str) -> dict[str, str]:
    return {"guid": f"s-{n}", "title": title, "description": f"{title}, officials said."}


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    f = Fetcher(FetchSettings(timeout=5, allow_private_networks=True))
    yield f
    await f.aclose()


@pytest.fixture
def engines(
    open_store: Callable[[], Storage], fetcher: Fetcher, analyser: Any
) -> Iterator[Callable[[], Engine]]:
    """Each call: another engine on its own connection to the one database, as in another
    process."""
    opened: list[Storage] = []

    def make() -> Engine:
        store = open_store()
        opened.append(store)
        engine = Engine(store, fetcher, analyser, interval=60)
        engine.load_watchlists()
        return engine

    yield make
    for store in opened:
        store.close()


def _followed(store: Storage, feeds: FeedServer, paths: list[str]) -> list[int]:
    store.upsert_chat(Chat(CHAT, "private"), T0)
    ids = []
    for path in paths:
        feed = store.add_feed(feeds.url(path), T0)
        store.follow(CHAT, feed.id, T0)
        ids.append(feed.id)
    return ids


async def test_a_watchlist_changed_through_one_engine_is_used_by_another_at_once(
    engines: Callable[[], Engine], feeds: FeedServer
) -> None:
    bot, worker = engines(), engines()  # the worker loaded its watchlists before the change
    feeds.publish("/a.xml", rss([_story(1, "Harbour strike ends")]))
    _followed(bot.store, feeds, ["/a.xml"])
    await worker.run_cycle(T0)  # history

    watchlist, _ = bot.add_watchlist(CHAT, "Ports", "port OR harbour", T0)
    feeds.publish("/a.xml", rss([_story(2, "Port of Antwerp reopens")]))
    report = await worker.run_cycle(T0 + timedelta(minutes=1))
    assert report.hits == 1

    bot.set_paused(watchlist.id, True)
    feeds.publish("/a.xml", rss([_story(3, "Port of Rotterdam closes")]))
    assert (await worker.run_cycle(T0 + timedelta(minutes=2))).hits == 0

    bot.set_paused(watchlist.id, False)
    feeds.publish("/a.xml", rss([_story(4, "Harbour cranes idle")]))
    assert (await worker.run_cycle(T0 + timedelta(minutes=3))).hits == 1

    assert bot.remove_watchlist(CHAT, watchlist.id)
    feeds.publish("/a.xml", rss([_story(5, "Harbour dredging starts")]))
    assert (await worker.run_cycle(T0 + timedelta(minutes=4))).hits == 0


async def test_two_workers_poll_each_due_feed_once(
    engines: Callable[[], Engine], feeds: FeedServer
) -> None:
    paths = [f"/{i}.xml" for i in range(12)]
    for path in paths:
        feeds.publish(path, rss([_story(1, f"Story of {path}")]))
    first = engines()
    _followed(first.store, feeds, paths)
    clock = [T0]
    workers = [
        Worker(e, WorkerSettings(name=f"w{k}", claim=3), lambda: clock[0])
        for k, e in enumerate([first, engines()])
    ]
    reports = await asyncio.gather(*(w.run_pass() for w in workers))
    assert sum(r.polled for r in reports) == len(paths)
    assert all(len(feeds.requests_for(p)) == 1 for p in paths)
    # Nothing is due again until the interval has passed; nothing stays leased.
    again = await asyncio.gather(*(w.run_pass() for w in workers))
    assert sum(r.polled for r in again) == 0
    clock[0] = T0 + timedelta(hours=1)
    again = await asyncio.gather(*(w.run_pass() for w in workers))
    assert sum(r.polled for r in again) == len(paths)


async def test_a_poll_cut_short_is_finished_by_the_next(
    engines: Callable[[], Engine], feeds: FeedServer
) -> None:
    """A worker killed after storing a feed's new stories but before matching them: the next
    poll (by any worker) matches them, although they are no longer new."""
    engine = engines()
    feeds.publish("/a.xml", rss([_story(1, "Quiet day")]))
    [feed] = _followed(engine.store, feeds, ["/a.xml"])
    engine.add_watchlist(CHAT, "Ports", "harbour", T0)
    await engine.run_cycle(T0)  # history
    stories = [_story(2, "Harbour strike ends"), _story(1, "Quiet day")]
    feeds.publish("/a.xml", rss(stories))
    # What the killed worker got done: the stories stored, nothing else.
    from watchers.parse import parse_feed

    _, articles = parse_feed(rss(stories).encode(), feeds.url("/a.xml"))
    engine.store.insert_articles(feed, articles, T0 + timedelta(minutes=1))

    other = engines()
    report = await other.run_cycle(T0 + timedelta(minutes=1))
    assert report.hits == 1
    assert [h.article.title for h in other.store.pending_hits(CHAT)] == ["Harbour strike ends"]
    assert (await other.run_cycle(T0 + timedelta(minutes=2))).hits == 0


def test_a_worker_polls_and_loads_no_telegram_code(
    tmp_path: Path, feeds: FeedServer, storage_section: dict[str, str]
) -> None:
    from bot.config import config_from_dict
    from watchers.store import open_storage

    feeds.publish("/a.xml", rss([_story(1, "Quiet day")]))
    section = storage_section or {"path": str(tmp_path / "nw.db")}
    config = config_from_dict(
        {"storage": section, "fetch": {"allow_private_networks": True}}, tmp_path
    )
    store = open_storage(config.storage.url or config.storage.path)
    _followed(store, feeds, ["/a.xml"])
    store.close()
    (tmp_path / "c.toml").write_text(
        "[storage]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in section.items())
        + "[fetch]\nallow_private_networks = true\n"
    )
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        f"rc = main(['worker', '--once', '--config', {str(tmp_path / 'c.toml')!r}])\n"
        "print(rc, 'telegram' in sys.modules, 'bot.delivery' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["0", "False", "False"], done.stderr
    assert len(feeds.requests_for("/a.xml")) == 1


@pytest.mark.slow
async def test_the_bot_sends_what_a_worker_found_and_polls_nothing_itself(
    tmp_path: Path,
    telegram: Any,
    feeds: FeedServer,
    analyser: Any,
    storage_section: dict[str, str],
) -> None:
    from bot.app import POLL_JOB
    from tests.integration.harness import bot_config, running_bot
    from watchers.store import open_storage

    feeds.publish("/world.xml", rss([_story(1, "Storm closes mountain passes")]))
    config = bot_config(tmp_path, telegram, [feeds.url("/world.xml")], storage=storage_section)
    async with running_bot(config, telegram, analyser, poll=False) as app:
        assert app.job_queue is not None and not app.job_queue.get_jobs_by_name(POLL_JOB)
        telegram.user_sends("/start", chat_id=CHAT)
        telegram.user_sends("/watch harbour OR port", chat_id=CHAT)
        await telegram.wait_for_messages(CHAT, 2, timeout=10)
        await asyncio.sleep(1.5)
        assert feeds.requests_for("/world.xml") == []  # the bot itself polls nothing

        store = open_storage(config.storage.url or config.storage.path)
        fetcher = Fetcher(FetchSettings(timeout=5, allow_private_networks=True))
        engine = Engine(store, fetcher, analyser, interval=1)
        engine.load_watchlists()
        worker = Worker(engine, WorkerSettings(name="w1", idle=0.2), lambda: datetime.now(UTC))
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            for _ in range(100):  # the first poll: history
                if feeds.requests_for("/world.xml"):
                    break
                await asyncio.sleep(0.1)
            feeds.publish(
                "/world.xml",
                rss([_story(2, "Harbour strike ends"), _story(1, "Storm closes mountain passes")]),
            )
            [*_, alert] = await telegram.wait_for_messages(CHAT, 3, timeout=15)
            assert "Harbour strike ends" in alert.plain_text
            assert "Storm" not in alert.plain_text
        finally:
            stop.set()
            await running
            await fetcher.aclose()
            store.close()


def test_an_engine_reloads_its_watchlists_only_for_changes_made_elsewhere(
    engines: Callable[[], Engine],
) -> None:
    a, b = engines(), engines()
    a.store.upsert_chat(Chat(CHAT, "private"), T0)
    ports, _ = a.add_watchlist(CHAT, "Ports", "harbour", T0)
    a.set_paused(ports.id, True)
    assert not a.refresh_watchlists()  # its own changes are in its index already
    assert b.refresh_watchlists()
    assert not b.refresh_watchlists()
    b.add_watchlist(CHAT, "Rail", "railway", T0)
    a.add_watchlist(CHAT, "Air", "airport", T0)  # after another engine's change: reload
    assert a.refresh_watchlists()
    assert sorted(a._watchlist_chat) == sorted(w.id for w in a.store.watchlists(CHAT))
