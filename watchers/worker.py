"""A worker: one of any number of processes that share the polling through the database.

Each pass reads which feeds are due, then takes them a few at a time: it leases them in the
store (one statement, so two workers never hold one feed), polls them through the engine, and
releases them. The store decides who gets a feed; the schedule decides whether it is still due
(a claimed feed is read again, so one that another worker polled meanwhile is left alone).

A worker killed at any moment loses nothing: its leases run out and another worker takes the
feeds; stories it stored but never matched are matched by the next poll of their feed (the
engine keeps a per-feed mark), and a hit is stored once however often it is found.

Nothing here knows Telegram: the bot process turns the hits into digests and sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchers.pipeline import CycleReport, Engine
from watchers.schedule import FeedState, due_feeds

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # how long a claimed feed stays a worker's without being released
CLAIM = 128  # feeds claimed at once: enough that a slow feed or two do not hold up the rest
IDLE = 1.0  # seconds between looks for due feeds when none is due


def worker_name() -> str:
    """Who holds a lease, as the database shows it: host, process, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    name: str
    lease: timedelta = LEASE
    claim: int = CLAIM
    idle: float = IDLE


@dataclass(slots=True)
class WorkerReport:
    """What one pass did."""

    claimed: int = 0
    polled: int = 0
    new_articles: int = 0
    hits: int = 0
    errors: int = 0

    def add(self, cycle: CycleReport) -> None:
        self.polled += len(cycle.feeds)
        self.new_articles += cycle.new_articles
        self.hits += cycle.hits
        self.errors += sum(1 for f in cycle.feeds if f.error)


class Worker:
    """Polls, with an ``Engine``, the due feeds it can claim; ``clock`` gives the time."""

    def __init__(
        self, engine: Engine, settings: WorkerSettings, clock: Callable[[], datetime]
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    async def run_pass(self) -> WorkerReport:
        """Every feed due now that no other worker holds, polled once, a claim at a time."""
        store, name = self.engine.store, self.settings.name
        report = WorkerReport()
        self.engine.refresh_watchlists()
        due = [f.id for f in self.engine.due_feeds(self.clock())]
        for start in range(0, len(due), self.settings.claim):
            now = self.clock()
            claimed = store.claim_feeds(
                due[start : start + self.settings.claim], name, now, now + self.settings.lease
            )
            if not claimed:
                continue
            report.claimed += len(claimed)
            by_id = {f.id: f for f in claimed}
            still = due_feeds([FeedState.from_feed(f) for f in claimed], now, self.engine.interval)
            try:
                cycle = await asyncio.wait_for(
                    self.engine.run_cycle(now, [by_id[i] for i in still]),
                    self.settings.lease.total_seconds(),
                )
            finally:
                # Not shielded from cancellation: a worker stopped here leaves its leases to
                # run out, which is what a killed worker does too.
                store.release_feeds(list(by_id), name)
            report.add(cycle)
        if report.claimed:
            logger.info(
                "worker pass worker=%s claimed=%d polled=%d new=%d hits=%d errors=%d",
                name,
                report.claimed,
                report.polled,
                report.new_articles,
                report.hits,
                report.errors,
            )
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Passes until ``stop`` is set; a pass that found nothing to do waits a little."""
        while not stop.is_set():
            report = await self.run_pass()
            if not report.claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.idle)
