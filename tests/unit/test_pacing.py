"""The pacer against Telegram's flood limits, and how waiting messages are merged (pure)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.outbox import MERGE_SEPARATOR, backoff, merged_buttons, plan_merges
from bot.pacing import FloodLimits, Pacer
from watchers.model import OutboxMessage, OutboxState


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _run(pacer: Pacer, ticks: Ticks, chats: list[int], seconds: float) -> list[tuple[float, int]]:
    """Send digests round-robin as fast as the pacer allows; return (time, chat) sends."""
    sent: list[tuple[float, int]] = []
    end = ticks.now + seconds
    while ticks.now < end:
        waits = {chat: pacer.wait(chat) for chat in chats}
        ready = [chat for chat, wait in waits.items() if wait <= 0]
        if not ready:
            ticks.now += min(waits.values())
            continue
        for chat in ready:
            if pacer.wait(chat) <= 0:
                pacer.record(chat)
                sent.append((ticks.now, chat))
    return sent


def _most_in_window(times: list[float], window: float) -> int:
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_digests_never_overrun_a_sliding_second() -> None:
    ticks = Ticks()
    pacer = Pacer(clock=ticks)
    sent = _run(pacer, ticks, list(range(1, 1001)), 10.0)
    times = [t for t, _ in sent]
    limits = FloodLimits()
    assert _most_in_window(times, 1.0) <= limits.overall - limits.reserved_for_replies
    assert len(sent) >= 28 * 10  # and the limit is used


def test_a_send_counts_from_its_answer() -> None:
    ticks = Ticks()
    pacer = Pacer(clock=ticks)
    stamp = pacer.record(7)
    ticks.now += 0.5  # the answer came late: Telegram may have seen it just now
    pacer.settle(7, stamp)
    ticks.now += 0.9
    assert pacer.wait(7) > 0  # 1.4 s after the request, but only 0.9 s after the answer
    ticks.now += 0.2
    assert pacer.wait(7) == 0


def test_one_digest_a_second_per_chat_and_twenty_a_minute_per_group() -> None:
    ticks = Ticks()
    pacer = Pacer(clock=ticks)
    sent = _run(pacer, ticks, [7, -100], 120.0)
    per_chat = {chat: [t for t, c in sent if c == chat] for chat in (7, -100)}
    assert _most_in_window(per_chat[7], 1.0) == 1
    assert _most_in_window(per_chat[-100], 60.0) <= 20
    assert len(per_chat[-100]) >= 39  # twenty a minute, used


def test_a_429_holds_that_chat_only() -> None:
    ticks = Ticks()
    pacer = Pacer(clock=ticks)
    pacer.hold(7, 8.0)
    assert pacer.wait(7) == 8.0 and pacer.wait(8) == 0
    ticks.now += 8.0
    assert pacer.wait(7) == 0


def test_replies_may_burst_where_digests_may_not() -> None:
    ticks = Ticks()
    pacer = Pacer(clock=ticks)
    for _ in range(FloodLimits().chat_burst):
        assert pacer.wait(7, reply=True) == 0
        pacer.record(7, reply=True)
    assert pacer.wait(7, reply=True) > 0  # the burst is spent: about one a second again
    assert pacer.wait(7) > 0.9  # and no digest in the same second
    ticks.now += 1.1
    assert pacer.wait(7, reply=True) == 0


def test_a_reply_never_follows_a_digest_within_a_second() -> None:
    ticks = Ticks()
    pacer = Pacer(clock=ticks)
    pacer.record(7)  # a digest just went to chat 7
    assert pacer.wait(7, reply=True) > 0.9  # its reply waits for the chat's second
    assert pacer.wait(8, reply=True) == 0  # other chats are not held up
    ticks.now += 1.02
    assert pacer.wait(7, reply=True) == 0


def test_a_waiting_reply_keeps_an_overall_slot_only_once_its_chat_may_receive() -> None:
    ticks = Ticks()
    limits = FloodLimits()
    pacer = Pacer(limits, clock=ticks)
    for chat in range(100, 100 + limits.overall - limits.reserved_for_replies - 2):
        pacer.record(chat)
    pacer.record(7)  # a digest
    pacer._replies_waiting[7] = 1  # a reply to chat 7 waits for chat 7's second
    assert pacer.wait(8) == 0  # so the last digest slot is not kept for it yet
    ticks.now += 0.5
    pacer._replies_waiting[9] = 1  # a reply to chat 9 may go at once: it takes the slot
    assert pacer.wait(8) > 0


def _message(i: int, text: str, watchlist: int = 1) -> OutboxMessage:
    return OutboxMessage(
        id=i, chat_id=1, text=text, state=OutboxState.PENDING, watchlist_id=watchlist, buttons="b"
    )


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=1, max_value=3000), max_size=30))
def test_merges_keep_order_fit_in_a_message_and_lose_nothing(lengths: list[int]) -> None:
    messages = [_message(i, "x" * n) for i, n in enumerate(lengths)]
    groups = plan_merges(messages, max_length=4096)
    merged = [m.id for group in groups for m in group]
    assert merged == sorted(merged) and len(set(merged)) == len(merged)
    for group in groups:
        assert len(group) >= 2
        assert [m.id for m in group] == list(range(group[0].id, group[0].id + len(group)))
        assert len(MERGE_SEPARATOR.join(m.text for m in group)) <= 4096
    assert Counter(merged) <= Counter(m.id for m in messages)


def test_merged_buttons_only_when_one_watchlist() -> None:
    assert merged_buttons([_message(1, "a"), _message(2, "b")]) == "b"
    assert merged_buttons([_message(1, "a"), _message(2, "b", watchlist=2)]) == ""


def test_backoff_grows_and_is_bounded() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert backoff(30) == 300.0
