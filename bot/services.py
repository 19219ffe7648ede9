"""What the handlers and jobs share: opened in ``post_init``, closed in ``post_shutdown``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot.config import Config
from bot.metrics import Metrics
from watchers.fetch import Fetcher
from watchers.pipeline import Engine
from watchers.store import Storage


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Services:
    config: Config
    store: Storage
    fetcher: Fetcher
    engine: Engine
    clock: Callable[[], datetime] = utc_now
    metrics: Metrics = field(default_factory=Metrics)
    outbox_ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to wake the delivery loop: something new is in the outbox."""


class BotData:
    """The application's ``bot_data``: holds the services once ``post_init`` has opened them."""

    def __init__(self) -> None:
        self.services: Services | None = None

    def require(self) -> Services:
        if self.services is None:
            raise RuntimeError("newswatch services are not open yet")
        return self.services


Context = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
