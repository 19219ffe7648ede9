"""The `newswatch` command as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The shipped example config and feed, copied so the database lands in tmp_path."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    return tmp_path / "config.toml"


def test_console_prints_a_digest_then_only_what_is_new(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--console", "--once", "--config", str(example)]) == 0
    out = capsys.readouterr().out
    assert "== Embassies · 1 new story ==" in out
    assert "US and Russian diplomats agree to restore embassy staffing" in out
    assert "— Maria Zakharova" in out
    assert "== Kremlin · 1 new story ==" in out
    assert "— Dmitry Peskov" in out
    assert "flood" not in out.lower()
    assert (example.parent / "newswatch.db").exists()  # relative to the config file

    assert main(["run", "--console", "--once", "--config", str(example)]) == 0
    out = capsys.readouterr().out
    assert out == "(no new matches: 0 new stories in 1 feed)\n"  # as the README says


def test_console_follows_the_config_it_was_started_with(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = example.parent / "examples"
    second = feeds / "second.xml"
    second.write_text(
        (feeds / "world-news.xml").read_text().replace("wire.example.org", "second.example.org")
    )
    text = example.read_text()
    both = text + f'\n[[feeds]]\nurl = "{second}"\nname = "Second Wire"\nfull_text = "never"\n'
    example.write_text(both)
    assert main(["run", "--console", "--once", "--config", str(example)]) == 0
    assert "Second Wire" in capsys.readouterr().out

    example.write_text(text)  # the second feed is no longer in the config
    second.write_text(second.read_text().replace("embassy staffing", "embassy staffing again"))
    assert main(["run", "--console", "--once", "--config", str(example)]) == 0
    assert capsys.readouterr().out == "(no new matches: 0 new stories in 1 feed)\n"


def test_check_json(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = str(example.parent / "examples" / "world-news.xml")
    assert main(["check", "--json", "--query", "PERSON:Zakharova", feed]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert item["id"] == "wire-2026-11-24-0001"
    assert item["link"].endswith("/embassy-staffing-talks")
    assert item["matched"] == ["PERSON:Zakharova"]
    assert item["quotes"][0]["speaker"] == "Maria Zakharova"
    assert item["quotes"][0]["text"].startswith("We have agreed on the first practical steps")
    assert item["also"] == []


def test_check_refuses_a_bad_query_with_its_position(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--query", "Russia AND (embassy", str(example)]) == 2
    assert "missing ) for the ( at position 12" in capsys.readouterr().err


def test_check_reports_an_unreadable_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("just some notes, not a feed")
    assert main(["check", "--query", "embassy", str(tmp_path / "notes.txt")]) == 1
    assert "notes.txt" in capsys.readouterr().err


def test_run_without_a_token_explains_what_to_do(
    example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NEWSWATCH_TELEGRAM_TOKEN", raising=False)
    assert main(["run", "--config", str(example)]) == 2
    err = capsys.readouterr().err
    assert "NEWSWATCH_TELEGRAM_TOKEN" in err and "--console" in err


def test_a_bad_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text('[polling]\ninterval = "soon"\n')
    assert main(["run", "--console", "--once", "--config", str(tmp_path / "c.toml")]) == 2
    assert "polling.interval" in capsys.readouterr().err


def test_run_with_a_refused_token_or_no_server_says_so(example: Path) -> None:
    """Run as a user does, in its own process (python-telegram-bot owns that event loop)."""
    from tests.fakes.telegram import FakeTelegram

    def run(token: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NEWSWATCH_TELEGRAM_TOKEN": token, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "bot.cli", "-v", "run", "--config", str(example)]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    wrong = "999:WRONGxTOKENxTHATxMUSTxNEVERxSHOW"
    with FakeTelegram() as telegram:
        base_url, token = telegram.base_url, telegram.token
        example.write_text(example.read_text().replace("https://api.telegram.org", base_url))
        refused = run(wrong)
    assert refused.returncode == 2
    assert "Telegram refused the token in NEWSWATCH_TELEGRAM_TOKEN" in refused.stderr
    assert "WRONGxTOKEN" not in refused.stderr  # not in a log line, not in a traceback
    unreachable = run(token)  # the server is gone: nothing listens there now
    assert unreachable.returncode == 2
    assert f"cannot reach the Bot API at {base_url}" in unreachable.stderr


async def test_a_base_url_ending_in_bot_reaches_the_bot_api(tmp_path: Path, telegram: Any) -> None:
    """Many Bot API clients take the address with ``/bot`` at its end: that form works too."""
    from bot.app import build_application
    from bot.config import config_from_dict

    config = config_from_dict({"telegram": {"base_url": f"{telegram.base_url}/bot"}}, tmp_path)
    app = build_application(config, telegram.token)
    async with app.bot:
        me = await app.bot.get_me()
    assert me.username
