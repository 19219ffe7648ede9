"""Prometheus metrics: what a scrape of the real endpoint on 127.0.0.1 shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import config_from_dict
from bot.metrics import Metrics, PrometheusMetrics, metrics_from_listen, parse_listen
from tests.fakes.feeds import FeedServer, rss
from tests.fakes.telegram import FakeTelegram
from tests.integration.harness import bot_config, running_bot
from watchers.errors import ConfigError


@pytest.fixture
def metrics() -> Iterator[PrometheusMetrics]:
    served = PrometheusMetrics("127.0.0.1", 0)
    served.start()
    yield served
    served.stop()


def scrape(metrics: Metrics) -> dict[str, float]:
    assert metrics.address is not None
    host, port = metrics.address
    response = httpx.get(f"http://{host}:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


@dataclass(frozen=True)
class Result:
    outcome: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Message:
    chat_id: int


class ScriptedSender:
    def __init__(self, *results: Result) -> None:
        self.results = list(results)
        self.sent: list[Message] = []

    def ready_in(self, chat_id: int) -> float:
        return 0.25

    async def send(self, message: Message) -> Result:
        self.sent.append(message)
        return self.results.pop(0)


def test_a_scrape_shows_polls_errors_matches_and_the_poll_duration(
    metrics: PrometheusMetrics,
) -> None:
    metrics.record_cycle(polls=3, errors=1, matches=4, seconds=0.2)
    metrics.record_cycle(polls=2, errors=0, matches=1, seconds=3.0)
    values = scrape(metrics)
    assert values["newswatch_polls_total"] == 5
    assert values["newswatch_fetch_errors_total"] == 1
    assert values["newswatch_matches_total"] == 5
    assert values["newswatch_poll_duration_seconds_count"] == 2
    assert values["newswatch_poll_duration_seconds_sum"] == pytest.approx(3.2)
    assert values['newswatch_poll_duration_seconds_bucket{le="0.25"}'] == 1


async def test_sends_are_counted_and_timed_through_the_metered_sender(
    metrics: PrometheusMetrics,
) -> None:
    inner = ScriptedSender(Result("sent"), Result("retry", retry_after=3.0), Result("gone"))
    sender = metrics.metered(inner)
    assert sender.ready_in(5) == 0.25
    outcomes = [(await sender.send(Message(5))).outcome for _ in range(3)]
    assert outcomes == ["sent", "retry", "gone"] and len(inner.sent) == 3
    values = scrape(metrics)
    assert values["newswatch_messages_sent_total"] == 1
    assert values["newswatch_rate_limited_total"] == 1
    assert values["newswatch_delivery_duration_seconds_count"] == 3


def test_the_outbox_length_is_shown_by_state(metrics: PrometheusMetrics) -> None:
    metrics.set_outbox({"pending": 4, "sent": 120, "failed": 1})
    metrics.set_outbox({"pending": 2, "sent": 122, "failed": 1})
    values = scrape(metrics)
    assert values['newswatch_outbox_messages{state="pending"}'] == 2
    assert values['newswatch_outbox_messages{state="sent"}'] == 122


def test_two_instances_do_not_share_counts() -> None:
    first, second = PrometheusMetrics("127.0.0.1", 0), PrometheusMetrics("127.0.0.1", 0)
    first.start()
    second.start()
    try:
        first.record_cycle(polls=7, errors=0, matches=0, seconds=0.1)
        assert scrape(first)["newswatch_polls_total"] == 7
        assert scrape(second)["newswatch_polls_total"] == 0
    finally:
        first.stop()
        second.stop()


def test_stop_closes_the_port() -> None:
    metrics = PrometheusMetrics("127.0.0.1", 0)
    host, port = metrics.start()
    assert metrics.start() == (host, port)  # starting twice serves once
    metrics.stop()
    metrics.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{host}:{port}/metrics", timeout=2)


def test_a_busy_port_is_a_config_error(metrics: PrometheusMetrics) -> None:
    assert metrics.address is not None
    clash = PrometheusMetrics(*metrics.address)
    with pytest.raises(ConfigError) as caught:
        clash.start()
    assert caught.value.key == "metrics.listen" and "cannot listen" in caught.value.message


async def test_without_an_address_metrics_are_off_and_cost_nothing() -> None:
    metrics = metrics_from_listen(None)
    assert type(metrics) is Metrics
    assert metrics.start() is None and metrics.address is None
    metrics.record_cycle(polls=1, errors=0, matches=0, seconds=0.1)
    inner = ScriptedSender(Result("sent"))
    assert metrics.metered(inner) is inner
    metrics.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        (" localhost:0 ", ("localhost", 0)),
        ("[::1]:9464", ("::1", 9464)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [("9464", "host:port"), (":9464", "host:port"), ("[]:1", "host:port"), ("h:port", "port")],
)
def test_bad_listen_addresses(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_listen(text)


def test_the_config_turns_metrics_on_with_an_address(tmp_path: Path) -> None:
    assert config_from_dict({}, tmp_path).metrics.listen is None
    config = config_from_dict({"metrics": {"listen": "127.0.0.1:9464"}}, tmp_path)
    assert config.metrics.listen == ("127.0.0.1", 9464)
    with pytest.raises(ConfigError, match=r"metrics\.listen: expected host:port"):
        config_from_dict({"metrics": {"listen": "9464"}}, tmp_path)
    with pytest.raises(ConfigError, match=r"metrics\.port: unknown key"):
        config_from_dict({"metrics": {"port": 9464}}, tmp_path)


async def test_the_running_bot_counts_its_polls(
    tmp_path: Path, telegram: FakeTelegram, feeds: FeedServer, analyser: Any
) -> None:
    feeds.publish("/a.xml", rss([{"title": "A story", "guid": "a-1"}], title="A"))
    config = bot_config(
        tmp_path, telegram, [feeds.url("/a.xml")], metrics={"listen": "127.0.0.1:0"}
    )
    async with running_bot(config, telegram, analyser) as app:
        metrics = app.bot_data.require().metrics
        assert metrics.address is not None and metrics.address[1] != 0
        telegram.user_sends("/start", chat_id=31)
        await telegram.wait_for_messages(31)
        deadline = time.monotonic() + 15
        values = await asyncio.to_thread(scrape, metrics)
        while values.get("newswatch_polls_total", 0) < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            values = await asyncio.to_thread(scrape, metrics)
        assert values["newswatch_polls_total"] >= 1
        assert values["newswatch_fetch_errors_total"] == 0
        assert values["newswatch_poll_duration_seconds_count"] >= 1
        host, port = metrics.address
    with pytest.raises(httpx.ConnectError):  # stopped with the bot
        await asyncio.to_thread(httpx.get, f"http://{host}:{port}/metrics", timeout=2)
