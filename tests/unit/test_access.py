"""The throttle and the allow-list decide from data and ``now`` alone."""

from bot.access import Throttle, Verdict, is_allowed
from bot.config import TelegramConfig


def test_a_burst_then_the_refill_rate_and_one_warning() -> None:
    throttle = Throttle(burst=3, per_minute=60)  # one a second once the burst is spent
    verdicts = [throttle.check(1, 0.0) for _ in range(6)]
    assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.WARN, Verdict.DROP, Verdict.DROP]
    assert throttle.check(2, 0.0) is Verdict.ALLOW  # another user is not slowed
    assert throttle.check(1, 0.5) is Verdict.DROP
    assert throttle.check(1, 1.01) is Verdict.ALLOW
    assert throttle.check(1, 1.02) is Verdict.WARN  # warned again only after a success


def test_idle_users_are_forgotten_without_changing_decisions() -> None:
    throttle = Throttle(burst=2, per_minute=60)
    for user in range(10_000):
        throttle.check(user, 0.0)
    assert throttle.check(10_001, 100.0) is Verdict.ALLOW
    assert len(throttle._buckets) == 1


def test_an_open_instance_allows_everyone_a_private_one_only_the_listed() -> None:
    assert is_allowed(TelegramConfig(), 5, 5)
    private = TelegramConfig(
        allowed_users=frozenset({1}), allowed_chats=frozenset({-7}), admins=frozenset({2})
    )
    assert is_allowed(private, 1, 1) and is_allowed(private, 2, 2)
    assert is_allowed(private, 3, -7) and is_allowed(private, None, -7)
    assert not is_allowed(private, 3, 3) and not is_allowed(private, None, -8)
