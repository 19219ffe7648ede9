from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.render import render_digest_html, render_digest_text
from watchers import dedup
from watchers.dedup import StoryFingerprint, story_fingerprint
from watchers.digest import (
    body_snippet,
    compose_digests,
    decide_delivery,
    relative_time,
    without_headline,
)
from watchers.model import Article, Chat, HitDetail, PendingHit, Quote, StoryCopy, Watchlist

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


def test_one_digest_per_watchlist_newest_first_whatever_the_quotes() -> None:
    hits = [
        _hit(1, 10, ("Russia",), 50),
        _hit(1, 11, ("Russia", "embassy"), 40, quote=True),
        _hit(1, 12, ("Russia",), 5),
        _hit(2, 13, ("gas",), 1),
        _hit(1, 14, ("Russia",), 5, quote=True),
        _hit(1, 15, ("Russia",), 0),
        _hit(1, 16, ("Russia", "embassy"), 5),
    ]
    out = compose_digests(7, hits, WATCHLISTS)
    assert [c.digest.watchlist_name for c in out] == ["Embassies", "Gas"]
    # at the same time: more matched terms first, then the earlier article
    assert [i.article_id for i in out[0].digest.items] == [15, 16, 12, 14, 11, 10]
    assert out[0].hits == ((1, 15), (1, 16), (1, 12), (1, 14), (1, 11), (1, 10))
    ages = render_digest_text(out[0].digest, NOW)
    assert ages.index("just now") < ages.index("5 min ago") < ages.index("40 min ago")


def test_items_over_the_limit_stay_pending() -> None:
    hits = [_hit(1, a, ("Russia",), a) for a in range(1, 16)]
    [c] = compose_digests(7, hits, WATCHLISTS, max_items=10)
    assert len(c.digest.items) == 10 and c.more == 5
    assert [i.article_id for i in c.digest.items] == list(range(1, 11))  # newest first


def _story(
    w: int, a: int, title: str, lead: str, source: str, minutes_ago: int, link: str | None = None
) -> PendingHit:
    link = link if link is not None else f"https://{source.lower().replace(' ', '')}.example/{a}"
    article = Article(
        key=f"k{a}",
        title=title,
        summary=lead,
        link=link,
        source=source,
        published=NOW - timedelta(minutes=minutes_ago),
    )
    return PendingHit(
        watchlist_id=w,
        article_id=a,
        article=article,
        detail=HitDetail(terms=("quake",)),
        created_at=NOW,
        story=story_fingerprint(title, lead, link).to_str(),
    )


QUAKE = "A magnitude {m} earthquake struck off the coast of {p} on Tuesday, the USGS said."


def _quake(a: int, m: str, p: str, source: str = "Quake Wire", minutes_ago: int = 5) -> PendingHit:
    title = f"Magnitude {m} earthquake strikes off {p}'s coast"
    return _story(1, a, title, QUAKE.format(m=m, p=p), source, minutes_ago)


def test_look_alike_stories_from_one_feed_are_each_delivered() -> None:
    hits = [_quake(1, "6.1", "Japan"), _quake(2, "5.8", "Chile"), _quake(3, "6.1", "Indonesia")]
    [c] = compose_digests(7, hits, WATCHLISTS)
    assert [i.article_id for i in c.digest.items] == [1, 2, 3]
    assert all(i.also == () for i in c.digest.items)


def test_every_merged_copy_is_listed_with_its_link() -> None:
    hits = [
        _quake(1, "6.1", "Japan", minutes_ago=3),
        _quake(2, "6.1", "Japan", "Pacific Times", minutes_ago=9),
        _quake(3, "6.1", "Japan", minutes_ago=20),  # the same feed again, under another link
        _story(1, 4, "Magnitude 6.1 earthquake strikes off Japan's coast", "", "Blog", 30, ""),
    ]
    [c] = compose_digests(7, hits, WATCHLISTS)
    [item] = c.digest.items
    assert item.article_id == 1
    assert item.also == (
        StoryCopy("Pacific Times", "https://pacifictimes.example/2", hits[1].article.title),
        StoryCopy("Quake Wire (2)", "https://quakewire.example/3", hits[2].article.title),
        StoryCopy("Blog", "", hits[3].article.title),
    )
    assert c.hits == ((1, 1), (1, 2), (1, 3), (1, 4))
    [html] = render_digest_html(c.digest, NOW)
    assert (
        'also: <a href="https://pacifictimes.example/2">Pacific Times</a>, '
        '<a href="https://quakewire.example/3">Quake Wire (2)</a>, Blog'
    ) in html
    text = render_digest_text(c.digest, NOW)
    assert "also: Pacific Times https://pacifictimes.example/2, Quake Wire (2) https://" in text


def test_copies_of_a_shown_story_past_the_cut_go_with_it() -> None:
    hits = [_hit(1, a, ("Russia",), a) for a in range(1, 13)]
    hits.append(_quake(20, "6.1", "Japan", minutes_ago=0))
    hits.append(_quake(21, "6.1", "Japan", "Pacific Times", minutes_ago=100))
    [c] = compose_digests(7, hits, WATCHLISTS, max_items=10)
    assert [i.article_id for i in c.digest.items] == [20, *range(1, 10)]
    assert c.digest.items[0].also[0].source == "Pacific Times"
    assert (1, 21) in c.hits and (1, 21) not in c.held
    assert c.held == ((1, 10), (1, 11), (1, 12)) and c.more == 3


def test_composing_compares_each_hit_with_the_shown_stories_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    real_same_story = dedup.same_story

    def counting(a: StoryFingerprint, b: StoryFingerprint, **kw: float) -> bool:
        nonlocal calls
        calls += 1
        return real_same_story(a, b, **kw)

    monkeypatch.setattr("watchers.digest.same_story", counting)
    hits = [_hit(1, a, ("Russia",), a) for a in range(1, 1001)]
    [c] = compose_digests(7, hits, WATCHLISTS, max_items=10)
    assert len(c.digest.items) == 10 and len(c.held) == 990 and c.more == 990
    assert calls <= 10 * len(hits)


def test_the_snippet_comes_from_the_body() -> None:
    title = "Russia and Estonia clash over embassy staff"
    body = "Estonia's foreign ministry summoned the Russian ambassador on Tuesday."
    text = f"{title}\n\n{body}"
    # every match in the headline: the body's start
    out, spans = body_snippet(text, len(title), [(0, 6), (36, 43)])
    assert out == body and spans == ()
    # a match in the body too: around it, with its span
    start = text.index("Russian")
    out, spans = body_snippet(text, len(title), [(0, 6), (start, start + 7)])
    assert out == body and [out[a:b] for a, b in spans] == ["Russian"]
    assert body_snippet(title, len(title), [(0, 6)]) == ("", ())


def test_a_stored_snippet_that_repeats_the_headline_loses_it() -> None:
    title = "Russia and Estonia clash over embassy staff"
    stored = f"{title} Estonia's foreign ministry summoned the Russian ambassador."
    at = stored.index("Russian")
    out, spans = without_headline(stored, [(0, 6), (at, at + 7)], title)
    assert out == "Estonia's foreign ministry summoned the Russian ambassador."
    assert [out[a:b] for a, b in spans] == ["Russian"]
    cut = "…Estonia clash over embassy staff The ministry summoned the ambassador…"
    assert without_headline(cut, [], title)[0] == "The ministry summoned the ambassador…"
    assert without_headline(f"{title}…", [], title) == ("", ())
    other = "Russia and Estonia clash over embassy staffing rules, officials say."
    assert without_headline(other, [(0, 6)], title) == (other, ((0, 6),))
    old = PendingHit(
        1,
        1,
        Article(key="k1", title=title),
        HitDetail(("Russia",), snippet=stored, snippet_spans=((0, 6), (at, at + 7))),
        NOW,
    )
    [c] = compose_digests(7, [old], WATCHLISTS)
    assert c.digest.items[0].snippet.startswith("Estonia's foreign ministry")
    [html] = render_digest_html(c.digest, NOW)
    assert html.count(title) == 1  # the headline, once


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


def test_a_story_of_several_watchlists_goes_once_with_the_first_due_digest_naming_all() -> None:
    watchlists = {**WATCHLISTS, 3: Watchlist(3, 7, "Europe", "Europe", NOW)}
    hits = [
        _hit(1, 10, ("Russia",), 5),
        _hit(2, 10, ("gas",), 5),
        _hit(3, 10, ("Europe",), 5),
        _hit(3, 11, ("Europe",), 1),
        _hit(2, 12, ("gas",), 2),
    ]
    # Gas and Europe are due, Embassies is not: Gas (the first due) takes story 10 for all three.
    gas, europe = compose_digests(7, hits, watchlists, due=[2, 3])
    assert [i.article_id for i in gas.digest.items] == [12, 10]
    assert gas.digest.items[1].watchlists == ("Embassies", "Gas", "Europe")
    assert gas.digest.items[0].watchlists == ()  # one watchlist: nothing to name
    assert set(gas.hits) == {(2, 12), (1, 10), (2, 10), (3, 10)}
    assert [i.article_id for i in europe.digest.items] == [11]
    assert "watchlists: Embassies, Gas, Europe" in render_digest_text(gas.digest, NOW)


def test_a_held_story_another_digest_shows_is_no_longer_held_nor_counted() -> None:
    hits = [_hit(1, a, ("Russia",), a) for a in range(1, 4)] + [_hit(2, 3, ("gas",), 3)]
    embassies, gas = compose_digests(7, hits, WATCHLISTS, max_items=2)
    assert embassies.held == () and embassies.more == 0  # story 3 went with Gas, naming both
    assert gas.hits == ((2, 3), (1, 3))
    # A held hit is offered for its own digest only when asked (/digest now).
    held = [replace(_hit(1, 5, ("Russia",), 1), held=True)]
    assert compose_digests(7, held, WATCHLISTS, include_held=False) == []
    [asked] = compose_digests(7, held, WATCHLISTS, include_held=True)
    assert [i.article_id for i in asked.digest.items] == [5]
