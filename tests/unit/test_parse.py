"""Feed bytes -> FeedInfo and Articles: golden files, dedup keys, refusals, and bounds.

The golden files in tests/data/feeds are an input feed next to ``<name>.expected.json``, which
holds the URL it is parsed as and every field expected of the feed and of each article.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from watchers.errors import ParseError
from watchers.model import Article
from watchers.parse import FeedInfo, canonical_link, dedup_key, html_to_text, parse_feed

DATA = Path(__file__).parent.parent / "data" / "feeds"
ROOT = Path(__file__).parent.parent.parent
NOW = datetime(2025, 6, 1, tzinfo=UTC)
GOLDEN = sorted(p.name.removesuffix(".expected.json") for p in DATA.glob("*.expected.json"))


def feed_input(name: str) -> bytes:
    (path,) = [p for p in DATA.glob(name + ".*") if not p.name.endswith(".expected.json")]
    return path.read_bytes()


def rss(items: str, *, prolog: str = "", channel: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<rss version="2.0"><channel>'
        f"<title>Test</title><link>https://t.example/</link>{channel}{items}</channel></rss>"
    ).encode()


def item(n: int, text: str = "words") -> str:
    return (
        f"<item><title>Item {n}</title><guid>g{n}</guid>"
        f"<link>https://t.example/{n}</link><description>{text}</description></item>"
    )


def article_dict(article: Article) -> dict[str, Any]:
    data = asdict(article)
    data["published"] = article.published.isoformat() if article.published else None
    return data


# -- golden files ------------------------------------------------------------------------------


def test_there_are_golden_files() -> None:
    assert {"rss2", "atom", "rdf", "relative", "entities", "cdata", "nodates", "broken"} <= set(
        GOLDEN
    )


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(name: str) -> None:
    expected = json.loads((DATA / f"{name}.expected.json").read_text(encoding="utf-8"))
    info, articles = parse_feed(feed_input(name), expected["url"], now=NOW)

    for field, value in expected["feed"].items():
        assert getattr(info, field) == value, f"feed.{field}"
    assert len(articles) == len(expected["articles"])
    for index, (article, wanted) in enumerate(zip(articles, expected["articles"], strict=True)):
        got = article_dict(article)
        assert set(wanted) == {f.name for f in fields(Article)}, f"{name}.expected.json is partial"
        for field, value in wanted.items():
            assert got[field] == value, f"articles[{index}].{field}"


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_keys_are_distinct_and_stable(name: str) -> None:
    content = feed_input(name)
    url = json.loads((DATA / f"{name}.expected.json").read_text(encoding="utf-8"))["url"]
    _, first = parse_feed(content, url, now=NOW)
    _, again = parse_feed(content, url, now=datetime(2026, 1, 1, tzinfo=UTC))
    keys = [a.key for a in first]
    assert len(set(keys)) == len(keys)
    assert [a.key for a in again] == keys


def test_source_name_given_by_the_caller_wins() -> None:
    _, articles = parse_feed(feed_input("rss2"), "https://gazette.example/feed.xml", source="HTG")
    assert {a.source for a in articles} == {"HTG"}


def test_source_falls_back_to_the_host() -> None:
    _, (article,) = parse_feed(
        b'<rss version="2.0"><channel><item><title>x</title></item></channel></rss>',
        "https://www.untitled.example:8443/rss",
    )
    assert article.source == article.source_host == "www.untitled.example"


# -- dedup keys ------------------------------------------------------------------------------


def test_keys_survive_what_changes_between_polls() -> None:
    entries = (
        "<item><title>Guid</title><guid>a-1</guid><link>https://t.example/a</link>"
        "<slash:comments>{n}</slash:comments></item>"
        "<item><title>Link</title><link>https://t.example/b?utm_source=x{n}</link>"
        "<description>Viewed {n} times</description></item>"
        "<item><title>Neither</title><pubDate>Mon, 05 May 2025 09:00:00 GMT</pubDate></item>"
    )
    namespaces = ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'

    def poll(n: int, url: str, build: str) -> list[str]:
        body = rss(entries.format(n=n), channel=f"<lastBuildDate>{build}</lastBuildDate>")
        body = body.replace(b'<rss version="2.0">', f'<rss version="2.0"{namespaces}>'.encode())
        _, articles = parse_feed(body, url, now=NOW)
        return [a.key for a in articles]

    first = poll(3, "https://t.example/rss", "Mon, 05 May 2025 10:00:00 GMT")
    later = poll(97, "http://t.example/feed/", "Tue, 06 May 2025 10:00:00 GMT")
    assert first == later
    assert first == [
        "guid:a-1",
        "link:https://t.example/b",
        "hash:" + hashlib.sha256(b"Neither\n2025-05-05T09:00:00+00:00").hexdigest(),
    ]


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        ("HTTPS://News.Example/a/B?x=1#top", "https://news.example/a/B?x=1"),
        (
            "https://n.example/a?utm_source=rss&id=7&UTM_Medium=x&fbclid=F&gclid=G&b=",
            "https://n.example/a?id=7&b=",
        ),
        ("https://n.example/a?utm_source=rss", "https://n.example/a"),
        ("https://n.example/a?z=2&a=1", "https://n.example/a?z=2&a=1"),  # order kept
        ("https://n.example/a?q=caf%C3%A9&utm_term=x", "https://n.example/a?q=caf%C3%A9"),
        ("https://n.example/a?utmost=1", "https://n.example/a?utmost=1"),
    ],
)
def test_canonical_link(link: str, canonical: str) -> None:
    assert canonical_link(link) == canonical


def test_dedup_key_prefers_guid_then_link_then_hash() -> None:
    when = datetime(2025, 5, 1, tzinfo=UTC)
    assert dedup_key("g", "https://x.example/", "T", when) == "guid:g"
    assert dedup_key(None, "https://X.example/#f", "T", when) == "link:https://x.example/"
    assert dedup_key(None, None, "T", when) != dedup_key(None, None, "T", None)
    assert dedup_key(None, None, "T", when) != dedup_key(None, None, "U", when)
    assert dedup_key(None, None, "T", when).startswith("hash:")


# -- text ------------------------------------------------------------------------------------


def test_html_to_text() -> None:
    markup = (
        "<h1>Head</h1><p>One &amp; <b>two</b>&nbsp;three<br>four</p>"
        "<script>var x = '<p>no</p>';</script><style>p{}</style><!-- hidden -->"
        "<ul><li>a</li><li>b</li></ul>&#1;tail"
    )
    assert html_to_text(markup) == "Head One & two three four a b tail"
    assert (
        html_to_text(markup, paragraphs=True) == "Head\n\nOne & two three\nfour\n\na\n\nb\n\ntail"
    )
    assert html_to_text("no markup &lt;here&gt;") == "no markup <here>"
    assert html_to_text("") == ""


def test_long_titles_are_shortened() -> None:
    _, (article,) = parse_feed(
        rss(f"<item><title>{'word ' * 500}</title></item>"), "https://t.example/"
    )
    assert len(article.title) <= 1000
    assert article.title.endswith("…")


# -- what is not a feed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the feed is empty"),
        (b"  \n\t ", "the feed is empty"),
        (
            b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body>Hi</body></html>",
            "this is an HTML page, not a feed",
        ),
        (
            b"<!-- served by x -->\n<html lang='en'><body><p>Hi</p></body></html>",
            "this is an HTML page, not a feed",
        ),
        (
            b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"/>',
            "this is an HTML page, not a feed",
        ),
        (b'{"name": "not a feed"}', "this is JSON, not a feed"),
        (b"[1, 2, 3]", "this is JSON, not a feed"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            "this is not a feed (it looks like broken JSON)",
        ),
        (b"Just some words, no markup at all.", "this does not look like a feed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "this is not a feed (it looks like binary data)"),
        (
            b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>https://t.example/</loc></url></urlset>",
            "this is XML, but not an RSS or Atom feed (it is a <urlset>)",
        ),
        (b"\x4c\x6f\xa7\x94\x93\x40", "the feed uses an unsupported encoding (EBCDIC)"),
    ],
)
def test_not_a_feed(content: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(content, "https://t.example/feed")
    assert caught.value.message == message
    assert caught.value.url == "https://t.example/feed"


def test_an_empty_but_valid_feed_has_no_articles() -> None:
    info, articles = parse_feed(rss(""), "https://t.example/feed")
    assert info == FeedInfo(title="Test", link="https://t.example/", version="rss20")
    assert articles == []


def test_feedparser_is_never_handed_a_path_or_url(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss(item(1, "SECRET-FILE-TEXT")))
    for content in (str(secret).encode(), secret.as_uri().encode()):
        with pytest.raises(ParseError, match="this does not look like a feed"):
            parse_feed(content, "https://t.example/feed")


def test_utf16_feeds_are_read() -> None:
    body = rss(item(1, "caf\u00e9")).decode().replace('encoding="utf-8"', 'encoding="utf-16"')
    for encoded in (codecs.BOM_UTF16_LE + body.encode("utf-16-le"), body.encode("utf-16-be")):
        _, (article,) = parse_feed(
            encoded, "https://t.example/", content_type="text/xml; charset=utf-16"
        )
        assert article.summary == "caf\u00e9"


def test_a_latin1_feed_is_read() -> None:
    body = rss(item(1, "caf\u00e9")).decode().replace('encoding="utf-8"', 'encoding="iso-8859-1"')
    _, (article,) = parse_feed(body.encode("latin-1"), "https://t.example/")
    assert article.summary == "caf\u00e9"


# -- entities and DOCTYPEs -------------------------------------------------------------------


def entity_feed(value: str, uses: int, *, extra_decls: str = "") -> bytes:
    prolog = f'<!DOCTYPE rss [\n{extra_decls}<!ENTITY e "{value}">\n]>\n'
    return rss(item(1, "&e;" * uses).replace("<title>Item 1", "<title>&e; Item 1"), prolog=prolog)


def test_declared_entities_are_never_expanded() -> None:
    info, (article,) = parse_feed(entity_feed("BOOM" * 100, 20), "https://t.example/")
    assert "BOOM" not in article.title + article.summary + article.content
    assert article.title == "Item 1"
    assert info.title == "Test"


def test_html_entities_declared_in_a_doctype_still_read() -> None:
    prolog = '<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY copy "&#169;">]>\n'
    _, (article,) = parse_feed(
        rss(item(1, "a&nbsp;b &copy; c"), prolog=prolog), "https://t.example/"
    )
    assert article.summary == "a b © c"


def test_an_external_entity_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    prolog = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
    _, (article,) = parse_feed(rss(item(1, "[&xxe;]"), prolog=prolog), "https://t.example/")
    assert "TOP-SECRET" not in json.dumps(article_dict(article))
    assert article.summary == "[]"


def test_a_quoted_bracket_does_not_end_the_internal_subset() -> None:
    # "]>" inside a quoted value must not end the subset early and leak declarations.
    body = entity_feed("BOOM" * 100, 20, extra_decls='<!ENTITY trick "]>"><!-- ]> -->')
    _, (article,) = parse_feed(body, "https://t.example/")
    assert "BOOM" not in article.summary


def test_a_doctype_after_a_tricky_comment_is_still_removed() -> None:
    prolog = '<!-- <fake> --><!DOCTYPE rss [<!ENTITY e "BOOM">]>\n'
    _, (article,) = parse_feed(rss(item(1, "&e;&e;"), prolog=prolog), "https://t.example/")
    assert "BOOM" not in article.summary


@pytest.mark.parametrize(
    ("prolog", "message"),
    [
        (
            '<!DOCTYPE rss SYSTEM "x.dtd">\n<!--\n<!ENTITY e "BOOM">\n-->\n',
            "the feed declares XML entities, which are not allowed",
        ),
        (
            '<!DOCTYPE rss [<!ENTITY e "BOOM">\n',
            "the feed's document type declaration (DOCTYPE) is malformed",
        ),
        (
            '<!DOCTYPE rss [<!ENTITY e "BOOM>]>\n',
            "the feed's document type declaration (DOCTYPE) is malformed",
        ),
    ],
)
def test_entity_declarations_outside_a_clean_doctype_are_refused(prolog: str, message: str) -> None:
    body = (
        f'<?xml version="1.0"?>\n{prolog}'.encode()
        + b'<rss version="2.0"><channel><item><title>&e;</title></item></channel></rss>'
    )
    with pytest.raises(ParseError) as caught:
        parse_feed(body, "https://t.example/")
    assert caught.value.message == message


def test_stray_ampersands_and_unknown_references_read_as_text() -> None:
    body = rss(item(1, "Tom & Jerry &zz; caf&eacute; &#1;x &#233;").replace("Item 1", "Q&A"))
    _, (article,) = parse_feed(body, "https://t.example/")
    assert article.title == "Q&A"
    assert article.summary == "Tom & Jerry &zz; café x é"


def test_an_entity_bomb_in_utf16_is_neutralised() -> None:
    body = entity_feed("BOOM" * 100, 20).decode().replace('encoding="utf-8"', 'encoding="utf-16"')
    _, (article,) = parse_feed(codecs.BOM_UTF16_LE + body.encode("utf-16-le"), "https://t.example/")
    assert "BOOM" not in article.summary


# -- bounds ----------------------------------------------------------------------------------


def test_entries_are_capped() -> None:
    info, articles = parse_feed(
        rss("".join(item(n) for n in range(10))), "https://t.example/", max_entries=3
    )
    assert [a.guid for a in articles] == ["g0", "g1", "g2"]
    assert info.truncated


def test_a_large_feed_keeps_whole_entries_within_the_byte_budget() -> None:
    text = "long text " * 1000  # about 10 kB per entry
    body = rss("".join(item(n, text) for n in range(30)))
    info, articles = parse_feed(body, "https://t.example/", max_parse_bytes=100_000)
    assert info.truncated
    assert 5 <= len(articles) < 10
    assert [a.guid for a in articles] == [f"g{n}" for n in range(len(articles))]
    assert all(a.summary == text.strip() for a in articles)


def test_a_single_entry_larger_than_the_budget_is_cut_but_kept() -> None:
    body = rss(item(1, "&lt;p&gt;" + "word " * 100_000 + "&lt;/p&gt;"))
    info, (article,) = parse_feed(body, "https://t.example/", max_parse_bytes=50_000)
    assert info.truncated
    assert article.title == "Item 1"
    assert 40_000 < len(article.summary) <= 50_000
    assert article.summary.startswith("word word")


def test_a_feed_of_countless_elements_is_cut() -> None:
    body = rss("<item><title>x</title>" + "<x:e/>" * 200_000 + "</item>" + item(2))
    info, articles = parse_feed(body, "https://t.example/")
    assert info.truncated
    assert [a.title for a in articles] == ["x"]


# -- time and memory, measured in a fresh process ---------------------------------------------

MEASURE = textwrap.dedent(
    """
    import gc, io, json, resource, sys, time
    from pathlib import Path

    mode, path = sys.argv[1], sys.argv[2]
    if mode == "newswatch":
        from watchers.errors import ParseError
        from watchers.parse import parse_feed

        def run(content):
            try:
                parse_feed(content, "https://bomb.example/feed.xml")
            except ParseError as e:
                return "refused: " + e.message
            return "parsed"
    else:  # feedparser alone, to show that the measurement sees the danger
        import feedparser

        def run(content):
            feedparser.parse(io.BytesIO(content), sanitize_html=False)
            return "parsed"

    run(b'<rss version="2.0"><channel><title>w</title><item><title>a</title>'
        b'<description>&lt;p&gt;b&lt;/p&gt;</description></item></channel></rss>')
    data = Path(path).read_bytes()
    gc.collect()


    def status(key):  # bytes, from the kernel's view of this process
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)


    # ru_maxrss survives exec on Linux (a child starts with its parent's peak), so reset the
    # peak ("5" to clear_refs) and read VmHWM where the kernel allows it.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before, peak = status("VmRSS"), lambda: status("VmHWM")
    except OSError:
        unit = 1 if sys.platform == "darwin" else 1024
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
        before = peak()
    start = time.process_time()  # CPU time: the machine's load does not count
    outcome = run(data)
    seconds = time.process_time() - start
    after = peak()
    print(json.dumps({"outcome": outcome, "seconds": seconds, "extra_mb": (after - before) / 1e6}))
    """
)


def measure(tmp_path: Path, content: bytes, mode: str = "newswatch") -> dict[str, Any]:
    path = tmp_path / "input.xml"
    path.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, mode, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def repeated_entity_bomb() -> bytes:
    """About 1 MB: a 100 kB entity referenced about 300 000 times (30 GB if expanded)."""
    prolog = f'<!DOCTYPE rss [\n<!ENTITY e "{"A" * 100_000}">\n]>\n'
    return rss(item(1, "&e;" * 300_000), prolog=prolog)


def billion_laughs() -> bytes:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    prolog = "<!DOCTYPE rss [\n" + "\n".join(lines) + "\n]>\n"
    return rss(item(1, "&lol9;" * 10).replace("Item 1", "&lol9;"), prolog=prolog)


BOMBS: dict[str, Callable[[], bytes]] = {
    "repeated 100 kB entity": repeated_entity_bomb,
    "billion laughs": billion_laughs,
    "5 MB of nested elements": lambda: rss(item(1, "<a>" * 1_600_000)),
    "5 MB of empty elements": lambda: rss(
        "<item><title>x</title>" + "<e/>" * 1_200_000 + "</item>"
    ),
    "5 MB description": lambda: rss(item(1, "&lt;p&gt;text " * 350_000)),
    "5 MB of entries": lambda: rss("".join(item(n, "words " * 50) for n in range(11_500))),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_hostile_feeds_parse_in_bounded_time_and_memory(tmp_path: Path, name: str) -> None:
    content = BOMBS[name]()
    assert len(content) <= 5_000_000
    result = measure(tmp_path, content)
    assert result["seconds"] < 5, result
    assert result["extra_mb"] < 50, result


def test_the_measurement_sees_an_expanding_parser(tmp_path: Path) -> None:
    # The same harness on feedparser alone, with a small entity bomb (60 MB expanded).
    prolog = f'<!DOCTYPE rss [\n<!ENTITY e "{"A" * 100_000}">\n]>\n'
    result = measure(tmp_path, rss(item(1, "&e;" * 600), prolog=prolog), mode="feedparser")
    assert result["extra_mb"] > 50, result


def test_discover_feeds_reads_a_pages_alternate_links() -> None:
    from watchers.parse import discover_feeds

    page = b"""<!DOCTYPE html><html><head><title>Wire</title>
    <link rel="stylesheet" href="/style.css">
    <link rel="alternate" type="application/rss+xml" title="World" href="/world/rss.xml">
    <LINK REL="Alternate Home" TYPE="application/atom+xml; charset=utf-8" HREF="https://wire.example/atom">
    <link rel="alternate" type="text/html" href="/mobile">
    <link rel="alternate" type="application/rss+xml" href="/world/rss.xml">
    <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    </head><body><a href="/other.xml">not announced</a></body></html>"""
    assert discover_feeds(page, "https://wire.example/news/") == [
        "https://wire.example/world/rss.xml",
        "https://wire.example/atom",
    ]
    assert discover_feeds(b"<html><head></head><body>no feeds</body></html>", "https://a.b/") == []
    assert discover_feeds(b"\x00\xff<link rel=alternate", "https://a.b/") == []
