"""The ``newswatch`` command: ``run`` (Telegram or ``--console``), ``check``, and for larger
deployments ``bot`` (Telegram only) with any number of ``worker`` processes (polling only).

``worker`` and ``check`` load no Telegram code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import Config, load_config
from bot.redact import install_redaction, redact
from bot.render import counted, render_digest_text
from watchers.dedup import StoryFingerprint, group_stories
from watchers.errors import FeedError, NewswatchError, QueryError
from watchers.model import Article, Chat
from watchers.parse import parse_feed
from watchers.pipeline import ArticleResult

if TYPE_CHECKING:
    from bot.services import Services
    from watchers.fetch import Fetcher

logger = logging.getLogger(__name__)

CONSOLE_CHAT = Chat(id=0, kind="console", title="console")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newswatch", description="News monitoring alerts.")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot (or, with --console, print digests)")
    run.add_argument("--config", type=Path, help="the TOML config file")
    run.add_argument("--console", action="store_true", help="no Telegram: print digests")
    run.add_argument("--once", action="store_true", help="one poll cycle, then exit")

    bot = sub.add_parser("bot", help="answer Telegram and send alerts; workers poll the feeds")
    bot.add_argument("--config", type=Path, help="the TOML config file")

    worker = sub.add_parser("worker", help="poll feeds for the bot (run any number of them)")
    worker.add_argument("--config", type=Path, help="the TOML config file")
    worker.add_argument("--once", action="store_true", help="poll what is due once, then exit")
    worker.add_argument(
        "--lease",
        type=float,
        metavar="SECONDS",
        help="how long a feed stays this worker's if it dies (default: 5 minutes)",
    )

    check = sub.add_parser("check", help="what a query would match in some feeds")
    check.add_argument("--query", required=True, help="the watchlist query")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument(
        "--full-text", action="store_true", help="fetch matching articles' pages for quotes"
    )
    check.add_argument("--config", type=Path, help="the TOML config file")
    check.add_argument("sources", nargs="+", metavar="SOURCE", help="feed URLs or files")
    return p


def _setup_logging(verbose: bool, *, quiet: bool) -> None:
    """INFO for the bot (it runs as a service); only warnings for the terminal commands."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.ExtBot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # python-telegram-bot 22 warns on every flood-limit error unless told to use timedelta.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    console = args.command == "run" and args.console
    _setup_logging(args.verbose, quiet=args.command == "check" or console)
    try:
        config = load_config(args.config)
        if args.command == "check":
            sources = [
                s if s.startswith(("http://", "https://")) else str(Path(s).expanduser().resolve())
                for s in args.sources
            ]
            return asyncio.run(
                check(config, args.query, sources, as_json=args.json, full_text=args.full_text)
            )
        if args.command == "worker":
            return asyncio.run(run_worker(config, once=args.once, lease=args.lease))
        if args.command == "bot":
            return run_telegram(config, poll=False)
        if args.console:
            return asyncio.run(run_console(config, once=args.once, out=sys.stdout))
        return run_telegram(config)
    except QueryError as e:
        sys.stderr.write(f"newswatch: bad query: {e}\n")
        return 2
    except NewswatchError as e:
        sys.stderr.write(f"newswatch: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130


def run_telegram(config: Config, *, poll: bool = True) -> int:
    """The bot; with ``poll`` false it leaves the feeds to ``newswatch worker`` processes."""
    from telegram.error import InvalidToken, NetworkError

    from bot.app import ALLOWED_UPDATES, build_application

    token = os.environ.get(config.telegram.token_env, "").strip()
    if not token:
        sys.stderr.write(
            f"newswatch: no bot token: set the environment variable {config.telegram.token_env} "
            "to the token @BotFather gave you, or run `newswatch run --console` to print "
            "digests in this terminal instead.\n"
        )
        return 2
    install_redaction([token])
    app = build_application(config, token, poll=poll)
    try:
        app.run_polling(allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:
        sys.stderr.write(
            f"newswatch: Telegram refused the token in {config.telegram.token_env}; "
            "check it with @BotFather (/token), and that [telegram] base_url "
            f"({config.telegram.base_url}) is a Bot API server.\n"
        )
        return 2
    except NetworkError as e:
        sys.stderr.write(
            f"newswatch: cannot reach the Bot API at {config.telegram.base_url}: "
            f"{redact(str(e), [token])}\n"
        )
        return 2
    return 0


def _fetcher(config: Config) -> Fetcher:
    from watchers.fetch import Fetcher, FetchSettings

    return Fetcher(
        FetchSettings(
            timeout=config.fetch.timeout,
            max_bytes=config.fetch.max_bytes,
            allow_private_networks=config.fetch.allow_private_networks,
        )
    )


async def run_worker(config: Config, *, once: bool, lease: float | None = None) -> int:
    """Poll the due feeds this worker can claim, until SIGTERM or SIGINT (or once)."""
    from watchers.nlp import load_analyser
    from watchers.pipeline import Engine
    from watchers.store import open_storage
    from watchers.worker import Worker, WorkerSettings, worker_name

    # The model first: it forks its recogniser processes, which must not inherit the
    # database's connections (a killed worker's children would hold its transaction open).
    analyser = await asyncio.to_thread(load_analyser, config.nlp.model)
    store = open_storage(config.storage.url or config.storage.path)
    fetcher = _fetcher(config)
    try:
        engine = Engine(
            store,
            fetcher,
            analyser,
            concurrency=config.polling.concurrency,
            interval=config.polling.interval,
        )
        settings = WorkerSettings(name=worker_name())
        if lease is not None:
            settings = WorkerSettings(name=settings.name, lease=timedelta(seconds=lease))
        worker = Worker(engine, settings, lambda: datetime.now(UTC))
        loaded = engine.load_watchlists()
        logger.info("worker started worker=%s watchlists=%d", settings.name, loaded)
        if once:
            await worker.run_pass()
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)
        logger.info("worker stopped worker=%s", settings.name)
        return 0
    finally:
        await fetcher.aclose()
        store.close()
        analyser.close()


async def _console_setup(services: Services) -> None:
    """The console has one pseudo-chat that follows the config's feeds and watchlists."""
    from bot.services import utc_now

    store, now = services.store, utc_now()
    store.upsert_chat(CONSOLE_CHAT, now)
    wanted_feeds: set[int] = set()
    for feed_config in services.config.feeds:
        feed = store.add_feed(
            feed_config.url, now, name=feed_config.name, full_text=feed_config.full_text
        )
        store.follow(CONSOLE_CHAT.id, feed.id, now)
        wanted_feeds.add(feed.id)
    for feed in store.followed_feeds(CONSOLE_CHAT.id):  # dropped from the config since
        if feed.id not in wanted_feeds:
            store.unfollow(CONSOLE_CHAT.id, feed.id)
    wanted = {w.name.casefold(): w for w in services.config.watchlists}
    for existing in store.watchlists(CONSOLE_CHAT.id):
        if existing.name.casefold() not in wanted:
            services.engine.remove_watchlist(CONSOLE_CHAT.id, existing.id)
    for w in services.config.watchlists:
        services.engine.add_watchlist(CONSOLE_CHAT.id, w.name, w.query, now)


async def console_cycle(services: Services, out: TextIO) -> int:
    """Poll once and print the digests; returns how many were printed."""
    from bot.delivery import queue_digests

    now = services.clock()
    report = await services.engine.run_cycle(now)
    for outcome in report.feeds:
        if outcome.error:
            out.write(f"! {outcome.url}: {outcome.error}\n")
    store = services.store
    queue_digests(
        store,
        now,
        quotes_per_article=services.config.digest.quotes_per_article,
        max_items=services.config.digest.max_items,
        chat_ids=[CONSOLE_CHAT.id],
        forced=True,  # the console has no schedules, and no /digest more to ask with
        render=lambda digest, when, more: [render_digest_text(digest, when, more=more)],
    )
    digests = [m for m in store.due_outbox(now) if m.chat_id == CONSOLE_CHAT.id]
    for message in digests:
        store.mark_sending(message.id)
        out.write(message.text + "\n\n")
        out.flush()
        store.mark_sent(message.id, services.clock(), None)
    if not digests:
        stories = counted(report.new_articles, "new story", "new stories")
        out.write(f"(no new matches: {stories} in {counted(len(report.feeds), 'feed')})\n")
    return len(digests)


async def run_console(config: Config, *, once: bool, out: TextIO) -> int:
    from bot.app import close_services, open_services

    if not config.watchlists:
        out.write("(no [[watchlists]] in the config: nothing to watch for)\n")
    services = await open_services(config, baseline_new_feeds=False)
    try:
        await _console_setup(services)
        while True:
            await console_cycle(services, out)
            if once:
                return 0
            await asyncio.sleep(config.polling.interval)
    finally:
        await close_services(services)


async def _read_source(fetcher: Fetcher, source: str) -> list[Article]:
    if source.startswith(("http://", "https://")):
        result = await fetcher.fetch(source)
    else:
        result = await asyncio.to_thread(fetcher.read_local, source)
    _, articles = await asyncio.to_thread(parse_feed, result.content, result.url)
    return articles


def _also(first: ArticleResult, others: Sequence[ArticleResult]) -> list[str]:
    """The other sources that carried the same story."""
    own = first.article.source or first.article.source_host
    names = (o.article.source or o.article.source_host or o.article.link or "" for o in others)
    return [n for n in dict.fromkeys(names) if n and n != own]


async def check(
    config: Config, query: str, sources: Sequence[str], *, as_json: bool, full_text: bool = False
) -> int:
    """Print what ``query`` matches in ``sources``, every entry treated as new."""
    from watchers.nlp import load_analyser
    from watchers.pipeline import Engine
    from watchers.query import parse_query
    from watchers.store import open_storage

    parsed = parse_query(query)  # refuse a bad query before loading anything
    for warning in parsed.warnings:
        sys.stderr.write(f"note: {warning}\n")
    fetcher = _fetcher(config)
    analyser = await asyncio.to_thread(load_analyser, config.nlp.model)
    store = open_storage(":memory:")
    try:
        engine = Engine(store, fetcher, analyser)
        engine.matcher.add(1, parsed)
        results = []
        failed = 0
        for source in sources:
            try:
                articles = await _read_source(fetcher, source)
            except FeedError as e:
                sys.stderr.write(f"newswatch: {source}: {e.message}\n")
                failed += 1
                continue
            results.extend(await engine.check(articles, full_text=full_text))
    finally:
        await fetcher.aclose()
        store.close()
    stories = group_stories(results, lambda r: StoryFingerprint.from_str(r.story))
    if as_json:
        payload = [
            {
                "id": r.article.public_id,
                "title": r.article.title,
                "link": r.article.link,
                "source": r.article.source,
                "published": r.article.published.isoformat() if r.article.published else None,
                "matched": list(r.detail.terms),
                "quotes": [
                    {"text": q.text, "speaker": q.speaker, "full": q.full} for q in r.detail.quotes
                ],
                "snippet": r.detail.snippet,
                "also": _also(r, others),
            }
            for r, *others in stories
        ]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        for r, *others in stories:
            sys.stdout.write(f"* {r.article.title}\n")
            if r.article.link:
                sys.stdout.write(f"  {r.article.link}\n")
            sys.stdout.write(f"  matched: {', '.join(r.detail.terms)}\n")
            if r.detail.quotes:
                q = r.detail.quotes[0]
                sys.stdout.write(f"  “{q.text}” — {q.speaker or 'unattributed'}\n")
            if also := _also(r, others):
                sys.stdout.write(f"  also: {', '.join(also)}\n")
        sys.stdout.write(counted(len(stories), "matching story", "matching stories") + "\n")
    return 1 if failed == len(sources) else 0


if __name__ == "__main__":
    raise SystemExit(main())
