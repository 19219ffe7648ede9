from datetime import UTC, datetime, timedelta

from watchers.digest import compose_digests, relative_time
from watchers.model import Article, HitDetail, PendingHit, Quote, Watchlist

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _hit(w: int, a: int, terms: tuple[str, ...], minutes_ago: int, quote: bool = False) -> PendingHit:
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
