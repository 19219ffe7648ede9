"""The real bot as a process of its own, for tests that kill it: ``python -m
tests.integration.bot_process CONFIG_JSON TOKEN``. It runs ``build_application`` and
``run_polling`` exactly as ``newswatch run`` does, with an analyser that is never needed (the
config has no feeds: the process only delivers what is already in the outbox).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path


class _NoAnalysis:
    """Stands in for spaCy in a process that polls no feeds (loading it takes seconds)."""

    has_entities = False

    def analyse(self, articles: Sequence[object], *, entities: bool) -> list[object]:
        raise AssertionError("this process polls no feeds")

    def add_entities(self, analyses: Sequence[object]) -> list[object]:
        raise AssertionError("this process polls no feeds")


def main(argv: Sequence[str]) -> int:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    from bot.app import ALLOWED_UPDATES, build_application
    from bot.config import config_from_dict

    config_path, token = argv
    data = json.loads(Path(config_path).read_text())
    config = config_from_dict(data, Path(config_path).parent)
    app = build_application(config, token, analyser=_NoAnalysis())  # type: ignore[arg-type]
    app.run_polling(allowed_updates=ALLOWED_UPDATES, poll_interval=0, timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
