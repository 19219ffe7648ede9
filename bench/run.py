"""How long one console cycle takes, and how much memory `newswatch run` needs.

Generates feeds and watchlists in a temporary directory, then runs the real command-line entry
point in subprocesses:

- ``console_first_cycle``: `newswatch run --console --once` on a fresh store (every entry new);
- ``console_next_cycle``: the same again (nothing new: the steady state of polling);
- ``bot``: `newswatch run` against a local fake Bot API, polling the feeds from a local HTTP
  server every second for a few cycles while a chat has the watchlists.

Prints one JSON object per line: ``mode``, ``feeds``, ``items``, ``watchlists``, ``seconds``,
``peak_rss_mb``.

    python bench/run.py [--feeds 20] [--items 50] [--watchlists 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.feeds import FeedServer, rss  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

WORDS = [
    "minister",
    "talks",
    "embassy",
    "sanctions",
    "election",
    "court",
    "ruling",
    "market",
    "shares",
    "oil",
    "gas",
    "pipeline",
    "ceasefire",
    "summit",
    "parliament",
    "protest",
    "storm",
    "flood",
    "vaccine",
    "trial",
    "merger",
    "bank",
    "rates",
    "inflation",
    "border",
    "refugees",
    "drone",
    "strike",
    "treaty",
    "grain",
    "exports",
    "tariff",
    "budget",
    "strike",
    "union",
    "airline",
]
PLACES = ["Russia", "Ukraine", "France", "Germany", "China", "Brazil", "Kenya", "Japan", "Turkey"]
PEOPLE = ["Zakharova", "Peskov", "Macron", "Scholz", "Lula", "Ruto", "Erdogan", "Kishida"]


SYLLABLES = ("ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "ga", "vu", "zo", "ber", "tin")
FILLER = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in ("", "n", "s", "l")]
TOPICS = WORDS + [f"{w}s{i}" for w in WORDS for i in range(6)]  # a long tail of rarer topics


def _item(rng: random.Random, feed: int, n: int) -> dict[str, object]:
    place, person = rng.choice(PLACES), rng.choice(PEOPLE)
    words = " ".join(rng.choice(TOPICS) if i % 15 == 0 else rng.choice(FILLER) for i in range(60))
    return {
        "title": f"{place} {rng.choice(TOPICS)} {rng.choice(TOPICS)} as {person} speaks",
        "link": f"https://news{feed}.example/{n}",
        "guid": f"f{feed}-{n}",
        "description": f"“We will {rng.choice(WORDS)} the {rng.choice(WORDS)},” {person} said. "
        f"{place} {words}.",
    }


def _watchlists(rng: random.Random, count: int) -> list[tuple[str, str]]:
    out = []
    for i in range(count):
        a, b = rng.sample(TOPICS, 2)
        kind = i % 4
        query = (
            f"{rng.choice(PLACES)} AND {a}"
            if kind == 0
            else f"{a} OR {b}"
            if kind == 1
            else f"PERSON:{rng.choice(PEOPLE)} NEAR/10 {a}"
            if kind == 2
            else f'"{a} {b}" -{rng.choice(WORDS)}'
        )
        out.append((f"w{i}", query))
    return out


def _toml_list(name: str, rows: list[dict[str, str]]) -> str:
    parts = []
    for row in rows:
        parts.append(f"[[{name}]]")
        parts += [f"{k} = {json.dumps(v)}" for k, v in row.items()]
    return "\n".join(parts)


def _measure(
    cmd: list[str], env: dict[str, str], stop_after: float | None = None
) -> dict[str, float]:
    """Run ``cmd``; return its wall time and peak RSS (from the kernel's accounting)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:  # a pipe nobody reads would fill and block the child
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        if stop_after is not None:
            time.sleep(stop_after)
            proc.terminate()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        err = log.read().decode(errors="replace")
    if stop_after is None and proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {err[-2000:]}")
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--watchlists", type=int, default=200)
    parser.add_argument("--bot-seconds", type=float, default=12.0)
    args = parser.parse_args()
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    exe = [sys.executable, "-m", "bot.cli"]
    shape = {"feeds": args.feeds, "items": args.items, "watchlists": args.watchlists}
    watchlists = _watchlists(rng, args.watchlists)

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        feed_rows = []
        for f in range(args.feeds):
            path = base / f"feed{f}.xml"
            items = [_item(rng, f, n) for n in range(args.items)]
            path.write_text(rss(items, title=f"Feed {f}"))
            feed_rows.append({"url": str(path), "full_text": "never"})
        config = base / "console.toml"
        config.write_text(
            f'[storage]\npath = "{base / "console.db"}"\n'
            + _toml_list("feeds", feed_rows)
            + "\n"
            + _toml_list("watchlists", [{"name": n, "query": q} for n, q in watchlists])
        )
        for mode in ("console_first_cycle", "console_next_cycle"):
            result = _measure([*exe, "run", "--console", "--once", "--config", str(config)], env)
            print(json.dumps({"mode": mode, **shape, **result}))

        with FeedServer() as feeds, FakeTelegram() as telegram:
            urls = []
            for f in range(args.feeds):
                feeds.publish(f"/f{f}.xml", rss([_item(rng, f, n) for n in range(args.items)]))
                urls.append(feeds.url(f"/f{f}.xml"))
            config = base / "bot.toml"
            config.write_text(
                f'[telegram]\nbase_url = "{telegram.base_url}"\n'
                f'[storage]\npath = "{base / "bot.db"}"\n'
                '[polling]\ninterval = "1s"\n[fetch]\nallow_private_networks = true\n'
                + _toml_list("feeds", [{"url": u, "full_text": "never"} for u in urls])
            )
            telegram.user_sends("/start", chat_id=1)
            for name, query in watchlists:
                telegram.user_sends(f"/watch {name}: {query}", chat_id=1)

            def publish_more() -> None:
                for f in range(args.feeds):
                    items = [_item(rng, f, n) for n in range(args.items, args.items * 2)]
                    feeds.publish(f"/f{f}.xml", rss(items))

            bot_env = {**env, "NEWSWATCH_TELEGRAM_TOKEN": telegram.token}
            timer = __import__("threading").Timer(args.bot_seconds / 2, publish_more)
            timer.start()
            result = _measure([*exe, "run", "--config", str(config)], bot_env, args.bot_seconds)
            timer.join()
            digests = len(telegram.sent_to(1)) - len(watchlists) - 1
            print(json.dumps({"mode": "bot", **shape, **result, "digests_sent": digests}))


if __name__ == "__main__":
    main()
