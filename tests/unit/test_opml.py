"""OPML import and export: the shapes feed readers export, and files that must be refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from watchers.errors import CommandError
from watchers.opml import (
    MAX_OPML_BYTES,
    OpmlFeed,
    OutlineStatus,
    feed_key,
    parse_opml,
    write_opml,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# A Feedly-style export: OPML 1.0, each feed inside a category outline (text and title both
# set), type="rss", xmlUrl and htmlUrl.
FEEDLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Ann subscriptions in feedly Cloud</title></head>
  <body>
    <outline text="World" title="World">
      <outline type="rss" text="Wire One" title="Wire One"
               xmlUrl="https://wire-one.example/rss" htmlUrl="https://wire-one.example/"/>
      <outline type="rss" text="Daily Two" title="Daily Two"
               xmlUrl="https://daily-two.example/feed.atom" htmlUrl="https://daily-two.example"/>
    </outline>
    <outline text="Markets" title="Markets">
      <outline type="rss" text="Ticker" title="Ticker"
               xmlUrl="http://ticker.example/markets.xml" htmlUrl="http://ticker.example/"/>
    </outline>
  </body>
</opml>
"""

# An Inoreader-style export: a category holding feeds, plus a feed outside any category,
# and a title attribute only where text is missing.
INOREADER = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions from Inoreader</title></head>
  <body>
    <outline text="Europe" title="Europe">
      <outline text="Berlin Desk" title="Berlin Desk" type="rss"
               xmlUrl="https://berlin-desk.example/rss.xml" htmlUrl="https://berlin-desk.example"/>
    </outline>
    <outline title="Loose Feed" type="rss" xmlUrl="https://loose.example/atom"/>
  </body>
</opml>
"""

# A Thunderbird-style export: the account's folder tree nests (a folder inside a folder),
# outlines carry version="RSS" and attributes in Thunderbird's own namespace.
THUNDERBIRD = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0" xmlns:fz="urn:forumzilla:">
  <head>
    <title>Thunderbird OPML Export - Blogs &amp; News Feeds</title>
    <dateCreated>Sun, 01 Mar 2026 12:00:00 GMT</dateCreated>
  </head>
  <body>
    <outline title="Blogs &amp; News Feeds" text="Blogs &amp; News Feeds">
      <outline title="Science" text="Science">
        <outline type="rss" title="Lab Notes" text="Lab Notes" version="RSS"
                 fz:quickMode="false" fz:options="{}"
                 xmlUrl="https://lab-notes.example/feed" htmlUrl="https://lab-notes.example/"/>
      </outline>
      <outline type="rss" title="Town Hall" text="Town Hall" version="RSS"
               xmlUrl="https://town.example/news.rss"/>
    </outline>
  </body>
</opml>
"""


def test_feedly_export_gives_every_feed_with_its_category() -> None:
    document = parse_opml(FEEDLY)
    assert document.title == "Ann subscriptions in feedly Cloud"
    assert [f.url for f in document.feeds] == [
        "https://wire-one.example/rss",
        "https://daily-two.example/feed.atom",
        "http://ticker.example/markets.xml",
    ]
    assert document.feeds[0] == OpmlFeed(
        url="https://wire-one.example/rss",
        title="Wire One",
        html_url="https://wire-one.example/",
        category="World",
    )
    assert document.categories == 2
    assert document.skipped == []


def test_inoreader_export_reads_feeds_inside_and_outside_categories() -> None:
    document = parse_opml(INOREADER)
    assert [(f.title, f.category) for f in document.feeds] == [
        ("Berlin Desk", "Europe"),
        ("Loose Feed", ""),
    ]


def test_thunderbird_export_flattens_nested_folders() -> None:
    document = parse_opml(THUNDERBIRD)
    assert document.title == "Thunderbird OPML Export - Blogs & News Feeds"
    assert [(f.title, f.category) for f in document.feeds] == [
        ("Lab Notes", "Blogs & News Feeds / Science"),
        ("Town Hall", "Blogs & News Feeds"),
    ]
    assert document.categories == 2


def test_each_outline_that_is_not_a_feed_says_why() -> None:
    data = b"""<opml version="2.0"><head/><body>
      <outline text="First" type="rss" xmlUrl="https://one.example/rss"/>
      <outline text="A bookmark" type="link" url="https://site.example/page"/>
      <outline text="Mail feed" type="rss" xmlUrl="mailto:news@site.example"/>
      <outline text="Local" type="rss" xmlUrl="file:///home/ann/feed.xml"/>
      <outline text="Same again" type="rss" xmlUrl="HTTPS://ONE.example:443/rss#top"/>
      <outline text="Just text"/>
    </body></opml>"""
    outlines = parse_opml(data).outlines
    assert [(o.number, o.status) for o in outlines] == [
        (1, OutlineStatus.FEED),
        (2, OutlineStatus.NO_URL),
        (3, OutlineStatus.NOT_HTTP),
        (4, OutlineStatus.NOT_HTTP),
        (5, OutlineStatus.DUPLICATE),
        (6, OutlineStatus.NO_URL),
    ]
    assert "no feed address" in outlines[1].reason and "web page" in outlines[1].reason
    assert "(mailto:)" in outlines[2].reason
    assert "(file:)" in outlines[3].reason
    assert outlines[4].duplicate_of == 1 and "outline 1" in outlines[4].reason
    assert outlines[5].title == "Just text"


def test_attribute_names_in_another_case_and_padded_urls_are_read() -> None:
    data = b"""<opml version="2.0"><body>
      <outline TEXT="Shouting" XMLURL="  https://loud.example/rss  "/>
    </body></opml>"""
    (feed,) = parse_opml(data).feeds
    assert feed.url == "https://loud.example/rss" and feed.title == "Shouting"


def test_a_feed_without_a_name_is_shown_by_its_address() -> None:
    data = b'<opml version="2.0"><body><outline xmlUrl="https://bare.example/rss"/></body></opml>'
    (outline,) = parse_opml(data).outlines
    assert outline.title == "https://bare.example/rss"
    assert outline.feed is not None and outline.feed.title is None


def test_an_opml_with_no_outlines_has_no_feeds() -> None:
    document = parse_opml(b'<opml version="2.0"><head/><body/></opml>')
    assert document.outlines == () and document.feeds == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"<opml><body><outline text='x'></body></opml>", "not well-formed XML (line 1"),
        (b"this is not xml at all", "not well-formed XML"),
        (b"", "empty"),
        (b"<rss version='2.0'><channel/></rss>", "not OPML (its root is <rss>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
    ],
)
def test_a_bad_file_is_one_clear_error(data: bytes, words: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_opml(data)
    assert words in caught.value.message


def test_billion_laughs_is_refused_without_expanding() -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">'
        for i in range(10)
    )
    data = (
        f'<?xml version="1.0"?><!DOCTYPE opml [{entities}]>'
        '<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://x.example/"/>'
        "</body></opml>"
    ).encode()
    with pytest.raises(CommandError) as caught:
        parse_opml(data)
    assert "entities" in caught.value.message and "refuse" in caught.value.message


def test_external_entities_are_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<opml version="2.0"><body><outline text="&x;"/></body></opml>'
    )
    with pytest.raises(CommandError, match="entities"):
        parse_opml(data)


def test_a_huge_file_is_refused_before_parsing() -> None:
    data = b"<opml><body>" + b" " * MAX_OPML_BYTES + b"</body></opml>"
    with pytest.raises(CommandError, match="larger than"):
        parse_opml(data)


def test_export_is_opml_2_that_reads_back_the_same_feeds() -> None:
    feeds = [
        OpmlFeed("https://wire-one.example/rss", "Wire & One <World>"),
        OpmlFeed("https://daily-two.example/feed.atom", None, "https://daily-two.example/"),
    ]
    data = write_opml(feeds, title="newswatch feeds", now=NOW)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b'<opml version="2.0">' in data
    assert b"<dateCreated>Sun, 01 Mar 2026 12:00:00 GMT</dateCreated>" in data
    assert b'type="rss"' in data and b"Wire &amp; One &lt;World&gt;" in data
    document = parse_opml(data)
    assert document.title == "newswatch feeds"
    assert [(f.url, f.title, f.html_url) for f in document.feeds] == [
        ("https://wire-one.example/rss", "Wire & One <World>", None),
        (
            "https://daily-two.example/feed.atom",
            "https://daily-two.example/feed.atom",
            "https://daily-two.example/",
        ),
    ]


def test_every_exported_outline_has_what_feed_readers_require() -> None:
    data = write_opml([OpmlFeed("https://a.example/rss", "A")], title="t", now=NOW)
    root = ET.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert [c.tag for c in root] == ["head", "body"]
    body = root.find("body")
    assert body is not None
    (outline,) = list(body)
    assert outline.attrib == {
        "type": "rss",
        "text": "A",
        "title": "A",
        "xmlUrl": "https://a.example/rss",
    }


def test_feed_key_ignores_case_of_host_default_port_and_fragment() -> None:
    assert feed_key("HTTPS://Example.COM:443/rss#x") == feed_key("https://example.com/rss")
    assert feed_key("http://example.com") == "http://example.com/"
    assert feed_key("https://example.com/RSS") != feed_key("https://example.com/rss")
