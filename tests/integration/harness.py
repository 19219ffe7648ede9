"""Start and stop the real bot against the fake Bot API, as ``run_polling`` would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import ALLOWED_UPDATES, NewswatchApp, build_application
from bot.config import Config, config_from_dict
from tests.fakes.telegram import FakeTelegram
from watchers.nlp import Analyser


def bot_config(
    tmp_path: Path, telegram: FakeTelegram, feeds: list[str], **sections: Mapping[str, Any]
) -> Config:
    data: dict[str, Any] = {
        "telegram": {"base_url": telegram.base_url},
        "storage": {"path": str(tmp_path / "nw.db")},
        "polling": {"interval": "1s"},
        "fetch": {"allow_private_networks": True, "timeout": 5},
        "feeds": [{"url": url, "name": f"Feed {i}"} for i, url in enumerate(feeds, 1)],
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_from_dict(data, tmp_path)


@asynccontextmanager
async def running_bot(
    config: Config, telegram: FakeTelegram, analyser: Analyser, *, poll: bool = True
) -> AsyncIterator[NewswatchApp]:
    app = build_application(config, telegram.token, analyser=analyser, poll=poll)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
