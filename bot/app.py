"""Wiring: build the PTB Application, open the services in post_init, schedule the jobs."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import buttons, conversations, handlers, preview
from bot.access import AccessGate
from bot.config import Config
from bot.delivery import (
    WARN_AFTER_FAILURES,
    TelegramSender,
    advance_idle_schedules,
    queue_digests,
    queue_feed_gone,
    queue_feed_warning,
)
from bot.metrics import metrics_from_listen
from bot.outbox import DeliveryLoop
from bot.pacing import PacedRateLimiter, Pacer
from bot.services import BotData, Context, Services
from watchers.fetch import Fetcher, FetchSettings
from watchers.nlp import Analyser, load_analyser
from watchers.pipeline import CycleReport, Engine
from watchers.store import open_storage

logger = logging.getLogger(__name__)

NewswatchApp = Application[
    ExtBot[int],
    Context,
    dict[Any, Any],
    dict[Any, Any],
    BotData,
    Any,  # the JobQueue, typed by the builder with its default context
]

POLL_JOB = "newswatch-poll"
DIGEST_JOB = "newswatch-digests"
DIGEST_EVERY = 5.0  # seconds: how often scheduled digests and ended quiet hours are queued
COMPACT_JOB = "newswatch-compact"
COMPACT_EVERY = 6 * 3600.0


def poll_tick(config: Config) -> float:
    """How often the poll job looks for due feeds: a feed is polled at most this late."""
    return max(1.0, min(config.polling.interval / 4, 60.0))


def job_timeout(config: Config) -> float:
    """A hung cycle must not silently skip later runs: give up after this many seconds."""
    return max(120.0, 4 * config.polling.interval)


async def open_services(
    config: Config, *, analyser: Analyser | None = None, baseline_new_feeds: bool = True
) -> Services:
    if analyser is None:
        # Before the database: the recogniser processes it forks must not inherit its
        # connections (after a SIGKILL they would hold an open transaction's locks).
        analyser = await asyncio.to_thread(load_analyser, config.nlp.model)
    store = open_storage(config.storage.url or config.storage.path)
    store.recover_outbox()
    fetcher = Fetcher(
        FetchSettings(
            timeout=config.fetch.timeout,
            max_bytes=config.fetch.max_bytes,
            allow_private_networks=config.fetch.allow_private_networks,
        )
    )
    engine = Engine(
        store,
        fetcher,
        analyser,
        concurrency=config.polling.concurrency,
        interval=config.polling.interval,
        baseline_new_feeds=baseline_new_feeds,
    )
    loaded = engine.load_watchlists()
    # The compiled watchlists live as long as the process: keep the collector off them.
    gc.collect()
    gc.freeze()
    # the URL holds no password (config refuses one), so it may be logged
    logger.info(
        "services open db=%s watchlists=%d", config.storage.url or config.storage.path, loaded
    )
    return Services(
        config=config,
        store=store,
        fetcher=fetcher,
        engine=engine,
        metrics=metrics_from_listen(config.metrics.listen),
    )


async def close_services(services: Services) -> None:
    services.metrics.stop()
    await services.fetcher.aclose()
    services.store.close()


def queue_due_digests(services: Services, now: datetime) -> int:
    """Every digest whose time has come into the outbox."""
    queued = queue_digests(
        services.store,
        now,
        quotes_per_article=services.config.digest.quotes_per_article,
        max_items=services.config.digest.max_items,
    )
    advance_idle_schedules(services.store, now)
    if services.metrics.enabled:
        services.metrics.set_outbox(services.store.outbox_counts())
    return queued


async def run_cycle(services: Services, now: datetime) -> CycleReport:
    """One poll cycle, then every chat's due digests into the outbox."""
    engine = services.engine
    started = time.perf_counter()
    report = await engine.run_cycle(now, engine.due_feeds(now))
    if report.feeds:
        services.metrics.record_cycle(
            polls=len(report.feeds),
            errors=sum(1 for outcome in report.feeds if outcome.error),
            matches=report.hits,
            seconds=time.perf_counter() - started,
        )
    for outcome in report.feeds:
        if outcome.gone:
            queue_feed_gone(services.store, outcome, now)
        elif outcome.error and outcome.failures == WARN_AFTER_FAILURES:
            queue_feed_warning(services.store, outcome, now)
    if report.hits:  # nothing new, no digest work (the digest job keeps the schedules)
        queue_due_digests(services, now)
    return report


async def poll_job(context: Context) -> None:
    services = context.bot_data.require()
    try:
        await asyncio.wait_for(
            run_cycle(services, services.clock()), timeout=job_timeout(services.config)
        )
    except TimeoutError:
        logger.error("poll cycle timed out after %.0fs", job_timeout(services.config))
    services.outbox_ready.set()


async def compact_job(context: Context) -> None:
    """Old stories lose their text; their keys stay so they never count as new again."""
    services = context.bot_data.require()
    keep = timedelta(days=services.config.storage.keep_days)
    slimmed = services.store.compact(services.clock() - keep)
    logger.info("database compacted stories=%d", slimmed)


async def digest_job(context: Context) -> None:
    """Scheduled digests and released quiet hours into the outbox, every few seconds; the
    delivery loop sends them."""
    services = context.bot_data.require()
    if queue_due_digests(services, services.clock()):
        services.outbox_ready.set()


def start_delivery(app: NewswatchApp, pacer: Pacer) -> DeliveryLoop:
    """The outbox's one sender, running until the application stops."""
    services = app.bot_data.require()

    def chat_moved(old_id: int, new_id: int) -> None:
        # The engine indexes watchlists by chat: re-read them so that the next stories
        # reach the supergroup.
        services.engine.load_watchlists()

    loop = DeliveryLoop(
        services.store,
        services.metrics.metered(TelegramSender(app.bot, pacer)),
        services.clock,
        services.outbox_ready,
        on_chat_moved=chat_moved,
    )
    loop.start()
    return loop


def build_application(
    config: Config, token: str, *, analyser: Analyser | None = None, poll: bool = True
) -> NewswatchApp:
    """The bot, ready for ``run_polling`` (or for tests: initialize, post_init, start).

    With ``poll`` false the feeds are left to ``newswatch worker`` processes: the bot answers
    chats, queues the digests of the hits the workers store, and is their one sender.
    """

    pacer = Pacer()
    delivery: list[DeliveryLoop] = []

    async def post_init(app: NewswatchApp) -> None:
        app.bot_data.services = await open_services(config, analyser=analyser)
        app.bot_data.services.metrics.start()
        delivery.append(start_delivery(app, pacer))
        try:
            await app.bot.set_my_commands(handlers.bot_commands())
        except TelegramError as e:
            logger.warning("could not register the command menu error=%s", e)
        jobs = app.job_queue
        assert jobs is not None, "python-telegram-bot[job-queue] is required"
        job_kwargs = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        if poll:
            jobs.run_repeating(
                poll_job,
                interval=poll_tick(config),
                first=1.0,
                name=POLL_JOB,
                job_kwargs=job_kwargs,
            )
        jobs.run_repeating(
            compact_job,
            interval=COMPACT_EVERY,
            first=60.0,
            name=COMPACT_JOB,
            job_kwargs=job_kwargs,
        )
        digests = jobs.run_repeating(
            digest_job,
            interval=DIGEST_EVERY,
            first=DIGEST_EVERY,
            name=DIGEST_JOB,
            job_kwargs=job_kwargs,
        )
        # Hits committed in the middle of a burst are queued and sent at once, not after it.
        app.bot_data.services.engine.on_hits = lambda: digests.job.modify(
            next_run_time=datetime.now(UTC)
        )

    async def stop_delivery(app: NewswatchApp) -> None:
        # Before the bot's HTTP client closes: the send in flight finishes or is released.
        while delivery:
            await delivery.pop().stop()

    async def post_shutdown(app: NewswatchApp) -> None:
        await stop_delivery(app)
        if app.bot_data.services is not None:
            await close_services(app.bot_data.services)
            app.bot_data.services = None

    app: NewswatchApp = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{config.telegram.base_url}/bot{{token}}")
        .base_file_url(f"{config.telegram.base_url}/file/bot{{token}}")
        .rate_limiter(PacedRateLimiter(pacer))
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(post_init)
        .post_stop(stop_delivery)
        .post_shutdown(post_shutdown)
        .build()
    )
    gate = AccessGate(config.telegram, config.limits)
    app.add_handler(TypeHandler(Update, gate.check), group=-1)  # strangers, floods
    register_handlers(app)
    return app


def register_handlers(app: NewswatchApp) -> None:
    updates = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    # /watch, /addfeed, /schedule and /quiet sent alone start a conversation: before the rest.
    for conversation in conversations.conversation_handlers(updates):
        app.add_handler(conversation)
    table = {
        "start": handlers.cmd_start,
        "help": handlers.cmd_help,
        "watch": handlers.cmd_watch,
        "watchlists": handlers.cmd_watchlists,
        "test": preview.cmd_test,
        "status": handlers.cmd_status,
        "unwatch": handlers.cmd_unwatch,
        "feeds": handlers.cmd_feeds,
        "addfeed": handlers.cmd_addfeed,
        "removefeed": handlers.cmd_removefeed,
        "stop": handlers.cmd_stop,
        "timezone": handlers.cmd_timezone,
        "schedule": handlers.cmd_schedule,
        "quiet": handlers.cmd_quiet,
        "mute": handlers.cmd_mute,
        "pause": handlers.cmd_pause,
        "resume": handlers.cmd_resume,
        "digest": handlers.cmd_digest,
        "digest_more": handlers.cmd_digest,
        "channel": handlers.cmd_channel,
        "stats": handlers.cmd_stats,
        "export": handlers.cmd_export,
        "import": handlers.cmd_import,
    }
    for command, callback in table.items():
        app.add_handler(CommandHandler(command, callback, filters=updates))
    forwarded = filters.ChatType.PRIVATE & filters.FORWARDED & ~filters.Document.ALL
    app.add_handler(MessageHandler(forwarded, handlers.on_forward))
    # An OPML import fetches every new feed: it must not hold up other chats' commands.
    documents = filters.Document.ALL & updates
    app.add_handler(MessageHandler(documents, handlers.on_document, block=False))
    app.add_handler(CallbackQueryHandler(buttons.on_watchlist_button, pattern="^wl:"))
    app.add_handler(CallbackQueryHandler(handlers.on_button))
    app.add_handler(ChatMemberHandler(handlers.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    # Keep this last in group 0: it answers the text and commands no handler above took (a
    # conversation waiting for a typed answer must be added before it).
    app.add_handler(MessageHandler(filters.TEXT & updates, handlers.on_unknown))
    app.add_error_handler(handlers.on_error)


ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]
