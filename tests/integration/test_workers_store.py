"""What worker processes need from storage, on both engines: feed leases, stories matched
through a mark (so a poll cut short is finished by the next), and a watchlist counter that
every change moves. Two connections stand for two processes."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from watchers.model import Article, Chat
from watchers.store import Storage

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
def two(open_store: Callable[[], Storage]) -> Iterator[tuple[Storage, Storage]]:
    a = open_store()
    b = open_store()
    yield a, b
    a.close()
    b.close()


def _feeds(store: Storage, n: int) -> list[int]:
    return [store.add_feed(f"https://n.example/{i}.rss", NOW).id for i in range(n)]


def test_a_feed_is_leased_to_one_worker_until_its_lease_runs_out(
    two: tuple[Storage, Storage],
) -> None:
    a, b = two
    ids = _feeds(a, 3)
    got = a.claim_feeds(ids[:2], "w1", NOW, NOW + LEASE)
    assert [f.id for f in got] == ids[:2]
    # The other worker gets only the feed nobody holds.
    assert [f.id for f in b.claim_feeds(ids, "w2", NOW, NOW + LEASE)] == [ids[2]]
    assert b.claim_feeds(ids, "w2", NOW + LEASE - timedelta(seconds=1), NOW + 2 * LEASE) == []
    # w1 died without releasing: once its lease has run out, another worker takes the feeds.
    later = NOW + LEASE + timedelta(seconds=1)
    assert [f.id for f in b.claim_feeds(ids[:2], "w2", later, later + LEASE)] == ids[:2]


def test_a_released_feed_can_be_claimed_at_once_but_only_by_its_holder_release(
    two: tuple[Storage, Storage],
) -> None:
    a, b = two
    [feed] = _feeds(a, 1)
    assert a.claim_feeds([feed], "w1", NOW, NOW + LEASE)
    b.release_feeds([feed], "w2")  # not w2's lease: it stays
    assert b.claim_feeds([feed], "w2", NOW, NOW + LEASE) == []
    a.release_feeds([feed], "w1")
    assert [f.id for f in b.claim_feeds([feed], "w2", NOW, NOW + LEASE)] == [feed]


def test_a_claimed_feed_is_returned_as_stored_now(two: tuple[Storage, Storage]) -> None:
    """A worker that read the feed list before another worker polled a feed sees the new
    poll time when it claims it, and can tell the feed is no longer due."""
    a, b = two
    [feed] = _feeds(a, 1)
    b.record_poll(feed, NOW + timedelta(minutes=1), etag='"v2"')
    [claimed] = a.claim_feeds([feed], "w1", NOW, NOW + LEASE)
    assert claimed.last_polled_at == NOW + timedelta(minutes=1)
    assert claimed.etag == '"v2"'


def test_concurrent_claims_never_share_a_feed(open_store: Callable[[], Storage]) -> None:
    import threading

    stores = [open_store() for _ in range(4)]
    ids = _feeds(stores[0], 40)
    got: dict[int, list[int]] = {}

    def claim(k: int) -> None:
        got[k] = []
        for _ in range(8):  # the feeds left unclaimed, again and again
            got[k] += [f.id for f in stores[k].claim_feeds(ids, f"w{k}", NOW, NOW + LEASE)]

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for k in got for i in got[k]]
    assert sorted(claimed) == ids  # each feed once, to one worker
    for s in stores:
        s.close()


def test_stories_stored_but_never_matched_are_found_again(two: tuple[Storage, Storage]) -> None:
    a, b = two
    [feed] = _feeds(a, 1)
    first = a.insert_articles(feed, [Article(key="old", title="Old")], NOW)
    a.mark_matched(feed)  # history: nothing to match
    assert a.unmatched_article_ids(feed) == []
    new = a.insert_articles(feed, [Article(key=k, title=k) for k in ("x", "y", "z")], NOW)
    ids = [i for i, _ in new]
    assert b.unmatched_article_ids(feed) == ids
    b.mark_matched(feed, through=ids[0])  # the first batch's hits are committed
    assert a.unmatched_article_ids(feed) == ids[1:]
    a.mark_matched(feed, through=first[0][0])  # never goes back
    assert a.unmatched_article_ids(feed) == ids[1:]
    a.mark_matched(feed)
    assert b.unmatched_article_ids(feed) == []


def test_every_watchlist_change_moves_the_counter_seen_by_every_process(
    two: tuple[Storage, Storage],
) -> None:
    a, b = two
    a.upsert_chat(Chat(1, "private"), NOW)
    seen = [b.watchlists_version()]

    def moved() -> bool:
        now = b.watchlists_version()
        changed = now != seen[-1]
        seen.append(now)
        return changed

    w = a.add_watchlist(1, "Ports", "port strike", NOW)
    assert moved()
    a.add_watchlist(1, "ports", "port OR harbour", NOW)  # the same one, a new query
    assert moved()
    a.set_watchlist_paused(w.id, True)
    assert moved()
    a.set_watchlist_mute(w.id, NOW + timedelta(hours=1))  # muting changes no matching
    assert not moved()
    a.migrate_chat(1, -100)
    assert moved()
    assert a.remove_watchlist(-100, w.id)
    assert moved()
