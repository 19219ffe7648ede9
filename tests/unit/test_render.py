from datetime import UTC, datetime, timedelta

from bot.render import MAX_MESSAGE, render_digest_html, render_digest_text
from watchers.model import Digest, DigestItem, Quote

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _item(i: int = 1, **kw: object) -> DigestItem:
    base: dict[str, object] = {
        "article_id": i,
        "title": f"Diplomats meet <again> & agree #{i}",
        "link": f'https://wire.example/story?id={i}&x="1"',
        "source": "Wire & Co",
        "published": NOW - timedelta(minutes=5),
        "matched": ("Russia", "embassy"),
        "quotes": (Quote("We <agreed> on steps & more", "Zakharova", 0, 10),),
    }
    base.update(kw)
    return DigestItem(**base)  # type: ignore[arg-type]


def _digest(*items: DigestItem) -> Digest:
    return Digest(chat_id=1, watchlist_id=1, watchlist_name="Embassies <R&D>", items=items)


def test_everything_from_a_feed_is_escaped() -> None:
    [html] = render_digest_html(_digest(_item()), NOW)
    assert "Diplomats meet &lt;again&gt; &amp; agree #1" in html
    assert 'href="https://wire.example/story?id=1&amp;x=&quot;1&quot;"' in html
    assert "Embassies &lt;R&amp;D&gt;" in html
    assert "We &lt;agreed&gt; on steps &amp; more" in html
    assert (
        "<"
        not in html.replace("<b>", "")
        .replace("</b>", "")
        .replace("<i>", "")
        .replace("</i>", "")
        .replace("<blockquote>", "")
        .replace("</blockquote>", "")
        .replace("</a>", "")
        .split("<a href=")[0]
    )


def test_item_shows_title_source_time_terms_and_quote_with_speaker() -> None:
    [html] = render_digest_html(_digest(_item()), NOW)
    assert "1 new story" in html
    assert "Wire &amp; Co · 5 min ago" in html
    assert "Matched: <i>Russia, embassy</i>" in html
    assert "<blockquote>“We &lt;agreed&gt; on steps &amp; more” — Zakharova</blockquote>" in html


def test_non_http_links_are_not_linked() -> None:
    [html] = render_digest_html(_digest(_item(link="javascript:alert(1)")), NOW)
    assert "href" not in html
    assert "javascript" not in html


def test_snippet_bolds_matched_words_when_there_is_no_quote() -> None:
    item = _item(quotes=(), snippet="…the Russia <embassy> row…", snippet_spans=((5, 11), (12, 21)))
    [html] = render_digest_html(_digest(item), NOW)
    assert "…the <b>Russia</b> <b>&lt;embassy&gt;</b> row…" in html


def test_long_digests_split_at_item_boundaries_under_the_limit() -> None:
    long_quote = Quote("word " * 60, "Someone", 0, 300)
    items = [_item(i, quotes=(long_quote,)) for i in range(1, 31)]
    messages = render_digest_html(_digest(*items), NOW)
    assert len(messages) > 1
    assert all(len(m) <= MAX_MESSAGE for m in messages)
    joined = "\n".join(messages)
    for i in range(1, 31):  # every item once, none cut in half
        assert joined.count(f"agree #{i}</a>") == 1
    assert messages[1].startswith("🔔 <b>Embassies &lt;R&amp;D&gt;</b> (cont.)")


def test_more_items_are_counted_in_the_header_and_footer() -> None:
    [html] = render_digest_html(_digest(_item()), NOW, more=4)
    assert "5 new stories" in html
    assert html.endswith("+4 more: /digest_more")


def test_console_text_has_no_markup() -> None:
    text = render_digest_text(_digest(_item()), NOW)
    assert "<b>" not in text
    assert "Diplomats meet <again> & agree #1" in text
    assert "“We <agreed> on steps & more” — Zakharova" in text
    assert "matched: Russia, embassy" in text


def test_long_replies_split_at_lines_under_the_limit() -> None:
    from bot.render import split_lines

    lines = [f"{i}. <b>watchlist {i}</b>: <code>{'word ' * 40}</code>" for i in range(100)]
    parts = split_lines("\n".join(lines))
    assert len(parts) > 1 and all(len(p) <= MAX_MESSAGE for p in parts)
    assert "\n".join(parts) == "\n".join(lines)
    assert split_lines("short") == ["short"]
    assert [len(p) for p in split_lines("x" * 5000)] == [4096, 904]
