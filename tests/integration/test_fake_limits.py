"""The fake Bot API's flood limits and connection faults behave as Telegram's would."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.telegram import FakeTelegram


def _send(client: httpx.Client, fake: FakeTelegram, chat_id: int, timeout: float = 5.0) -> int:
    reply = client.post(
        f"{fake.base_url}/bot{fake.token}/sendMessage",
        data={"chat_id": str(chat_id), "text": "hi"},
        timeout=timeout,
    )
    return reply.status_code


def test_the_thirty_first_message_in_a_second_is_refused(telegram: FakeTelegram) -> None:
    telegram.telegram_limits()
    for chat in range(1, 32):
        telegram.add_chat(chat)
    with httpx.Client() as client:
        statuses = [_send(client, telegram, chat) for chat in range(1, 32)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    assert telegram.flood_refusals == 1
    with httpx.Client() as client:
        reply = client.post(
            f"{telegram.base_url}/bot{telegram.token}/sendMessage",
            data={"chat_id": "1", "text": "hi"},
        )
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "1"
    assert reply.json()["parameters"] == {"retry_after": 1}


def test_a_chat_gets_a_burst_then_about_one_a_second(telegram: FakeTelegram) -> None:
    telegram.telegram_limits(burst=3)
    telegram.add_chat(7)
    with httpx.Client() as client:
        statuses = [_send(client, telegram, 7) for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_a_group_gets_twenty_a_minute(telegram: FakeTelegram) -> None:
    telegram.telegram_limits(burst=100, per_chat_per_second=100)
    telegram.add_chat(-5, chat_type="group")
    with httpx.Client() as client:
        statuses = [_send(client, telegram, -5) for _ in range(21)]
    assert statuses.count(200) == 20 and statuses[-1] == 429


@pytest.mark.parametrize("after_delivery", [False, True])
def test_a_dropped_connection_answers_nothing(telegram: FakeTelegram, after_delivery: bool) -> None:
    telegram.add_chat(8)
    telegram.drop_next("sendMessage", after_delivery=after_delivery)
    with httpx.Client() as client, pytest.raises(httpx.RemoteProtocolError):
        _send(client, telegram, 8)
    assert len(telegram.sent_to(8)) == int(after_delivery)


def test_a_stalled_answer_comes_after_the_message_was_delivered(telegram: FakeTelegram) -> None:
    telegram.add_chat(9)
    telegram.stall_next("sendMessage", 1.0)
    with httpx.Client() as client, pytest.raises(httpx.ReadTimeout):
        _send(client, telegram, 9, timeout=0.3)
    assert len(telegram.sent_to(9)) == 1
    assert telegram.received() == {9: ["hi"]}
