from datetime import UTC, datetime, timedelta

from watchers.digest import compose_digests, decide_delivery, relative_time
from watchers.model import Article, Chat, HitDetail, PendingHit, Quote, Watchlist

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _hit(
    w: int, a: int, terms: tuple[str, ...], minutes_ago: int, quote: bool = False
) -> PendingHit:
    quotes = (Quote("We agreed", "Zakharova", 0, 9),) if quote else ()
    return PendingHit(
        watchlist_id=w,
        article_id=a,
        article=Article(
            key=f"k{a}", title=f"Story {a}", published=NOW - timedelta(minutes=minutes_ago)
        ),
        detail=HitDetail(terms=terms, quotes=quotes),
        created_at=NOW,
    )


WATCHLISTS = {
    1: Watchlist(1, 7, "Embassies", "Russia AND embassy", NOW),
    2: Watchlist(2, 7, "Gas", "gas", NOW),
}


def test_one_digest_per_watchlist_ordered_by_relevance_then_time() -> None:
    hits = [
        _hit(1, 10, ("Russia",), 50),
        _hit(1, 11, ("Russia", "embassy"), 40),
        _hit(1, 12, ("Russia",), 5),
        _hit(2, 13, ("gas",), 1),
        _hit(1, 14, ("Russia",), 5, quote=True),
    ]
    out = compose_digests(7, hits, WATCHLISTS)
    assert [c.digest.watchlist_name for c in out] == ["Embassies", "Gas"]
    assert [i.article_id for i in out[0].digest.items] == [11, 14, 12, 10]
    assert out[0].hits == ((1, 11), (1, 14), (1, 12), (1, 10))


def test_items_over_the_limit_stay_pending() -> None:
    hits = [_hit(1, a, ("Russia",), a) for a in range(1, 16)]
    [c] = compose_digests(7, hits, WATCHLISTS, max_items=10)
    assert len(c.digest.items) == 10 and c.more == 5
    assert [i.article_id for i in c.digest.items] == list(range(1, 11))  # newest first


def test_hits_of_removed_watchlists_are_left_out() -> None:
    assert compose_digests(7, [_hit(9, 1, ("x",), 1)], WATCHLISTS) == []


def test_quotes_per_article() -> None:
    hit = _hit(1, 1, ("Russia",), 1, quote=True)
    [c] = compose_digests(7, [hit], WATCHLISTS, quotes_per_article=0)
    assert c.digest.items[0].quotes == ()


def test_relative_time() -> None:
    assert relative_time(None, NOW) == ""
    assert relative_time(NOW - timedelta(seconds=10), NOW) == "just now"
    assert relative_time(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert relative_time(NOW - timedelta(hours=3), NOW) == "3 h ago"
    assert relative_time(NOW - timedelta(days=1, hours=2), NOW) == "yesterday"
    assert relative_time(NOW - timedelta(days=4), NOW) == "4 days ago"


# -- when a digest goes out ---------------------------------------------------------------------


BERLIN = Chat(7, "private", timezone="Europe/Berlin")


def _w(**kw: object) -> Watchlist:
    return Watchlist(1, 7, "Embassies", "x", NOW, **kw)  # type: ignore[arg-type]


def test_instant_by_default() -> None:
    assert decide_delivery(Chat(7, "private"), _w(), NOW).send


def test_paused_and_muted_hold_unless_forced() -> None:
    assert decide_delivery(BERLIN, _w(paused=True), NOW).reason == "paused"
    muted = _w(muted_until=NOW + timedelta(hours=2))
    assert not decide_delivery(BERLIN, muted, NOW).send
    assert decide_delivery(BERLIN, muted, NOW + timedelta(hours=3)).send
    assert decide_delivery(BERLIN, muted, NOW, forced=True).send


def test_daily_digest_in_the_chats_timezone() -> None:
    # 08:00 in Berlin on 24 November is 07:00 UTC.
    w = _w(schedule="daily 08:00", last_digest_at=datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    assert not decide_delivery(BERLIN, w, datetime(2026, 11, 24, 6, 59, tzinfo=UTC)).send
    assert decide_delivery(BERLIN, w, datetime(2026, 11, 24, 7, 0, tzinfo=UTC)).send


def test_chat_schedule_applies_when_the_watchlist_has_none() -> None:
    chat = Chat(7, "private", schedule="hourly")
    w = _w(last_digest_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    assert not decide_delivery(chat, w, datetime(2026, 11, 24, 9, 30, tzinfo=UTC)).send
    assert decide_delivery(chat, w, datetime(2026, 11, 24, 10, 0, tzinfo=UTC)).send


def test_quiet_hours_hold_instant_alerts_or_silence_them() -> None:
    night = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    held = Chat(7, "private", timezone="Europe/Berlin", quiet="22:00-07:00")
    assert decide_delivery(held, _w(), night).reason == "quiet hours"
    assert not decide_delivery(held, _w(), night).send
    assert decide_delivery(held, _w(), datetime(2026, 11, 25, 6, 0, tzinfo=UTC)).send
    silent = Chat(7, "private", timezone="Europe/Berlin", quiet="22:00-07:00 silent")
    decision = decide_delivery(silent, _w(), night)
    assert decision.send and decision.silent


def test_a_broken_stored_schedule_falls_back_to_instant() -> None:
    assert decide_delivery(Chat(7, "private", schedule="sometimes"), _w(), NOW).send
