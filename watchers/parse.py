"""The feedparser adapter: feed bytes -> ``FeedInfo`` and plain-text ``Article`` objects.

Anyone can add a feed, so parsing is bounded before feedparser sees the bytes:

* feedparser only ever gets an in-memory stream, never a URL or a path;
* a DOCTYPE's internal subset (where entities are declared) is removed, and a prolog that still
  declares entities is refused, so no entity is ever expanded (no "billion laughs", no 100 kB
  entity repeated a million times, no external entities);
* the document is cut after ``max_entries`` entries, and after the last entry that ends within
  ``max_parse_bytes``: feedparser's strict parser and its fallback (which reparses everything)
  then work on a bounded input. Feeds list the newest entries first, so a monitor loses nothing.

JSON Feed (versions 1 and 1.1) is read too.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import html.entities
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
import lxml.etree  # type: ignore[import-untyped, unused-ignore]

from watchers.errors import ParseError
from watchers.model import Article
from watchers.schedule import feed_update_period

logger = logging.getLogger(__name__)

MAX_PARSE_BYTES = 1_500_000
"""How much of a feed is handed to feedparser (whole entries only, at least one entry)."""

_TITLE_LIMIT = 1000  # characters
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=1)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_HTML_ROOTS = frozenset({"html", "head", "body"})

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")  # what str.split() splits on, the separators below included
_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_ENTITY_NAME = re.compile(rb"<!ENTITY\s+([A-Za-z_][\w.:-]*)")  # general entities, not "% name"
_MARKUP = re.compile(
    rb"<!\[CDATA\[|<!--|</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>|<[A-Za-z_]", re.IGNORECASE
)
_MARKUP_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]", re.IGNORECASE)
_TAG_START = re.compile(rb"<!\[CDATA\[|<!--|<\?|<(/?)([A-Za-z_][\w:.-]*)")
_TAG_REST = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*>""")
# Every "&" but the five XML references: a named reference, a numeric one, or a bare "&".
_AMPERSAND = re.compile(
    rb"&(?!(?:lt|gt|amp|quot|apos);)(?:([A-Za-z][A-Za-z0-9]*);|(#[0-9]{1,8};|#[xX][0-9a-fA-F]{1,8};))?"
)
_DECLARES_ENTITY = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
_DTD_TOKEN = re.compile(rb"[\"'\[>]")
_SUBSET_TOKEN = re.compile(rb"[\"']|<!--|\]")
_SUBSET_CLOSE = re.compile(rb"\s*>")
_XML_ENCODING = re.compile(r"""^(<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")
_ENTITY_LIKE = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")

# Elements whose text is not part of the readable text, and elements that end a paragraph.
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "iframe", "object"})
_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt"),
        *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary"),
        *("table", "td", "th", "tr", "ul"),
    }
)
_PARAGRAPH = "\x1e"  # separators while converting; control characters are removed beforehand
_LINE = "\x1f"


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What the feed says about itself."""

    title: str
    link: str | None = None
    subtitle: str = ""
    version: str = ""  # "rss20", "atom10", "rss10", "json11", ... ("" if unknown)
    truncated: bool = False  # entries were left out to stay within the limits
    update_period: timedelta | None = None  # how often it says it changes (<ttl>, sy:updatePeriod)


def parse_feed(
    content: bytes,
    url: str,
    *,
    source: str | None = None,
    max_entries: int = 500,
    content_type: str | None = None,
    now: datetime | None = None,
    max_parse_bytes: int = MAX_PARSE_BYTES,
) -> tuple[FeedInfo, list[Article]]:
    """Read RSS, Atom, RDF or JSON Feed ``content`` fetched from ``url``.

    ``source`` is the display name for the articles (else the feed's title, else its host).
    Dates later than ``now`` (default: the current time) plus a day are treated as absent.
    Raises ``ParseError`` when the bytes are not a feed.
    """
    now = now or datetime.now(UTC)
    data, transcoded = _ascii_compatible(content, url)
    if not data:
        raise ParseError(url, "the feed is empty")
    if data[:1] in (b"{", b"["):
        return _parse_json_feed(data, url, source, max_entries, now)
    if b"\x00" in data[:1024]:
        raise ParseError(url, "this is not a feed (it looks like binary data)")

    data, root_start, declared = _neutralise_prolog(data, url)
    root = _ROOT_NAME.match(data, root_start) if root_start >= 0 else None
    if root is None:
        raise ParseError(url, "this does not look like a feed")
    root_name = root.group(1)
    local_root = root_name.rsplit(b":", 1)[-1].decode("ascii", "replace").lower()
    if local_root in _HTML_ROOTS:
        raise ParseError(url, "this is an HTML page, not a feed")
    data, truncated = _bound_document(data, root_start, max_entries, max_parse_bytes)
    data = _rewrite_references(data, declared)

    parsed = feedparser.parse(
        io.BytesIO(data),
        # No base URL: feedparser would resolve guids against it, and a guid must not change
        # when the feed moves. Links are resolved below; xml:base still applies.
        response_headers={"content-type": _feedparser_content_type(content_type, transcoded)},
        sanitize_html=False,  # the text is taken out of the markup below; nothing is rendered
        resolve_relative_uris=False,
    )
    entries = _get(parsed, "entries") or []
    version = str(_get(parsed, "version") or "")
    if _get(parsed, "bozo"):
        logger.debug(
            "feed is not well-formed url=%s version=%s error=%s",
            url,
            version,
            _get(parsed, "bozo_exception"),
        )
    if not version and not entries:
        if local_root in _FEED_ROOTS:
            raise ParseError(url, "the feed is too broken to read")
        raise ParseError(url, f"this is XML, but not an RSS or Atom feed (it is a <{local_root}>)")

    feed = _get(parsed, "feed") or {}
    info = FeedInfo(
        title=_shorten(_detail_text(feed, "title"), _TITLE_LIMIT),
        link=_absolute_link(url, _get(feed, "link")),
        subtitle=_detail_text(feed, "subtitle"),
        version=version,
        truncated=truncated or len(entries) > max_entries,
        update_period=feed_update_period(
            _text_or_none(_get(feed, "ttl")),
            _text_or_none(_get(feed, "sy_updateperiod")),
            _text_or_none(_get(feed, "sy_updatefrequency")),
        ),
    )
    name = source or info.title or _host(url)
    articles = [
        _article_from_entry(entry, url, name, now)
        for entry in entries[:max_entries]
        if isinstance(entry, Mapping)
    ]
    logger.debug(
        "parsed feed url=%s version=%s entries=%d truncated=%s",
        url,
        version,
        len(articles),
        info.truncated,
    )
    return info, articles


def dedup_key(guid: str | None, link: str | None, title: str, published: datetime | None) -> str:
    """The stable key of an entry within its feed: its guid, else its link, else a hash."""
    if guid:
        return "guid:" + guid
    if link:
        return "link:" + canonical_link(link)
    stamp = published.isoformat() if published else ""
    return "hash:" + hashlib.sha256(f"{title}\n{stamp}".encode()).hexdigest()


def canonical_link(link: str) -> str:
    """Lower-case scheme and host, no fragment, no tracking parameters; the rest as it was."""
    parts = urlsplit(link)
    host = parts.netloc.lower()
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and not _is_tracking_param(pair.split("=", 1)[0])
    ]
    return urlunsplit((parts.scheme.lower(), host, parts.path, "&".join(kept), ""))


# -- entries -------------------------------------------------------------------------------------


def _article(
    url: str,
    source: str,
    guid: str | None,
    link: str | None,
    title: str,
    summary: str,
    content: str,
    published: datetime | None,
) -> Article:
    """An entry of either feed format, with its dedup key."""
    return Article(
        key=dedup_key(guid, link, title, published),
        title=title,
        link=link,
        guid=guid,
        summary=summary,
        published=published,
        source=source,
        source_host=_host(url),
        content=content,
    )


def _article_from_entry(entry: Mapping[str, Any], url: str, source: str, now: datetime) -> Article:
    contents = [part for part in _get(entry, "content") or () if isinstance(part, Mapping)]
    title = _detail_text(entry, "title")
    # feedparser copies content into "summary" (without "summary_detail") when there is none
    fallback_type = _get(contents[0], "type") if contents else "text/plain"
    summary = _detail_text(entry, "summary", fallback_type)
    content = ""
    for part in contents:
        text = _to_text(_get(part, "value"), _get(part, "type"), paragraphs=True)
        if len(text) > len(content):
            content = text
    if len(content) <= len(summary):
        content = ""
    if not title:
        title = _shorten(summary or _collapse(content), 120)
    title = _shorten(title, _TITLE_LIMIT)
    guid = _clean_guid(_get(entry, "id"))
    link = _absolute_link(url, _get(entry, "link"))
    if _get(entry, "guidislink") and guid and not _absolute_link("", guid):
        link = None  # RSS guids are permalinks by default, but this one is no web address
    published = _entry_date(entry, now)
    return _article(url, source, guid, link, title, summary, content, published)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """A plain lookup: feedparser's own ``get`` maps keys and warns about some of them."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else mapping.get(key)


def _entry_date(entry: Mapping[str, Any], now: datetime) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = _get(entry, name)
        if parsed:
            try:
                year, month, day, hour, minute, second = (int(v) for v in parsed[:6])
                when = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
            except (TypeError, ValueError, IndexError):
                continue
            return _plausible(when, now)
    return None


def _plausible(when: datetime, now: datetime) -> datetime | None:
    if when < _EARLIEST or when > now + _FUTURE_SLACK:
        return None
    return when


def _clean_guid(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    guid = _CONTROL.sub("", value).strip()
    return guid[:2000] or None


def _absolute_link(base: str, link: object) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        absolute = urljoin(base, _CONTROL.sub("", link).strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return absolute


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in _TRACKING_PARAMS


# -- text ----------------------------------------------------------------------------------------


def _detail_text(mapping: Mapping[str, Any], name: str, kind: object = "text/plain") -> str:
    detail = _get(mapping, name + "_detail")
    if isinstance(detail, Mapping):
        return _to_text(_get(detail, "value"), _get(detail, "type"), paragraphs=False)
    return _to_text(_get(mapping, name), kind, paragraphs=False)


def _to_text(value: object, kind: object, *, paragraphs: bool) -> str:
    if not isinstance(value, str) or not value:
        return ""
    value = _CONTROL.sub("", value)
    if kind in _HTML_TYPES:
        return html_to_text(value, paragraphs=paragraphs)
    if _ENTITY_LIKE.search(value):  # escaped twice by the feed: "AT&amp;amp;T"
        value = html.unescape(value)
    return _plain_paragraphs(value) if paragraphs else _collapse(value)


def html_to_text(markup: str, *, paragraphs: bool = False) -> str:
    """Readable text of an HTML fragment: markup and scripts dropped, entities decoded,
    whitespace collapsed; paragraphs separated by blank lines when ``paragraphs`` is set."""
    markup = _CONTROL.sub("", markup)
    if "<" not in markup:
        text = html.unescape(markup)
        return _plain_paragraphs(text) if paragraphs else _collapse(text)
    collector = _TextCollector()
    # A parser target gets events and builds no tree: memory stays proportional to the text.
    parser = lxml.etree.HTMLParser(
        target=collector, encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    try:
        parser.feed(f"<div>{markup}</div>".encode())
        parser.close()
    except (lxml.etree.LxmlError, ValueError):
        logger.debug("unparseable HTML chars=%d", len(markup))
    text = collector.text()
    if not paragraphs:
        return _WHITESPACE.sub(" ", text).strip()
    chunks = []
    for chunk in text.split(_PARAGRAPH):
        lines = (_WHITESPACE.sub(" ", line).strip() for line in chunk.split(_LINE))
        joined = "\n".join(line for line in lines if line)
        if joined:
            chunks.append(joined)
    return "\n\n".join(chunks)


class _TextCollector:
    """An lxml parser target that keeps the text and marks paragraph and line breaks."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._skipping = 0  # depth inside an element whose text is not shown (script, style)

    def start(self, tag: str, attrib: object) -> None:
        name = tag.lower() if isinstance(tag, str) else ""
        if self._skipping or name in _SKIPPED:
            self._skipping += 1
        elif name in _BLOCKS:
            self._buffer.write(_PARAGRAPH)
        elif name == "br":
            self._buffer.write(_LINE)

    def end(self, tag: str) -> None:
        if self._skipping:
            self._skipping -= 1
        elif isinstance(tag, str) and tag.lower() in _BLOCKS:
            self._buffer.write(_PARAGRAPH)

    def data(self, text: str) -> None:
        if not self._skipping:
            self._buffer.write(_CONTROL.sub("", text))  # "&#1;" decodes to a control

    def close(self) -> None:
        pass

    def text(self) -> str:
        return self._buffer.getvalue()


def _plain_paragraphs(text: str) -> str:
    chunks = (_collapse(chunk) for chunk in re.split(r"\n\s*\n", text))
    return "\n\n".join(chunk for chunk in chunks if chunk)


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip() + "…"


# -- bounding the input --------------------------------------------------------------------------


def _ascii_compatible(content: bytes, url: str) -> tuple[bytes, bool]:
    """Strip a byte order mark and leading white space; re-encode UTF-16/32 as UTF-8, so that
    the byte-level checks below see the markup. Returns the data and whether it was re-encoded."""
    codec = None
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if content.startswith(bom):
            content = content[len(bom) :]
            codec = name
            break
    else:
        head = content[:4]
        if head == b"\x00\x00\x00<":
            codec = "utf-32-be"
        elif head == b"<\x00\x00\x00":
            codec = "utf-32-le"
        elif head[:2] == b"\x00<":
            codec = "utf-16-be"
        elif head[:2] == b"<\x00":
            codec = "utf-16-le"
        elif head == b"\x4c\x6f\xa7\x94":
            raise ParseError(url, "the feed uses an unsupported encoding (EBCDIC)")
    if codec is None or codec == "utf-8":
        return content.lstrip(b" \t\r\n"), False
    text = content.decode(codec, errors="replace").lstrip(" \t\r\n")
    text = _XML_ENCODING.sub(r"\1\2utf-8\2", text, count=1)
    return text.encode("utf-8"), True


def _neutralise_prolog(data: bytes, url: str) -> tuple[bytes, int, frozenset[bytes]]:
    """Remove DOCTYPE internal subsets before the root element; refuse other entity declarations.

    Returns the data, the offset of the root element (-1 when there is none) and the names of
    the general entities the removed subsets declared.
    """
    declared: set[bytes] = set()
    pos = 0
    while True:
        start = data.find(b"<", pos)
        if start < 0:
            return data, -1, frozenset(declared)
        if data.startswith(b"<?", start):
            end = data.find(b"?>", start + 2)
            pos = end + 2 if end >= 0 else len(data)
        elif data.startswith(b"<!--", start):
            end = data.find(b"-->", start + 4)
            pos = end + 3 if end >= 0 else len(data)
        elif data[start + 1 : start + 9].upper() == b"!DOCTYPE":
            end, has_subset = _doctype_end(data, start, url)
            if has_subset:
                declared.update(_ENTITY_NAME.findall(data, start, end))
                logger.debug("removed a DOCTYPE internal subset url=%s bytes=%d", url, end - start)
                data = data[:start] + data[end:]
                pos = start
            else:
                pos = end
        elif data[start + 1 : start + 2] == b"!":
            end = data.find(b">", start)
            pos = end + 1 if end >= 0 else len(data)
        else:
            break
    if _DECLARES_ENTITY.search(data, 0, start):
        raise ParseError(url, "the feed declares XML entities, which are not allowed")
    return data, start, frozenset(declared)


def _doctype_end(data: bytes, start: int, url: str) -> tuple[int, bool]:
    """The offset just past the DOCTYPE at ``start``, and whether it has an internal subset."""
    malformed = "the feed's document type declaration (DOCTYPE) is malformed"
    pos = start + 9
    while True:
        token = _DTD_TOKEN.search(data, pos)
        if token is None:
            raise ParseError(url, malformed)
        char = token.group()
        if char == b">":
            return token.end(), False
        if char != b"[":
            close = data.find(char, token.end())
            if close < 0:
                raise ParseError(url, malformed)
            pos = close + 1
            continue
        pos = token.end()
        while True:  # inside the internal subset: skip quoted values and comments up to "]"
            inner = _SUBSET_TOKEN.search(data, pos)
            if inner is None:
                raise ParseError(url, malformed)
            found = inner.group()
            if found == b"]":
                closed = _SUBSET_CLOSE.match(data, inner.end())
                if closed is None:
                    raise ParseError(url, malformed)
                return closed.end(), True
            end_mark = b"-->" if found == b"<!--" else found
            close = data.find(end_mark, inner.end())
            if close < 0:
                raise ParseError(url, malformed)
            pos = close + len(end_mark)


def _bound_document(
    data: bytes,
    root_start: int,
    max_entries: int,
    max_bytes: int,
    max_elements: int = 30_000,
    max_references: int = 150_000,
) -> tuple[bytes, bool]:
    """Cut the document after the last whole entry within all the limits (or, when not even
    one entry fits, at the limit) and close the elements left open.

    feedparser spends 10-25 µs on each element, and keeps a small string for each piece of text
    between references, so both are counted as well as bytes.

    Returns the data and whether anything was cut.
    """
    max_bytes = min(max_bytes, _nth(data, b"&", root_start, max_references + 1))
    elements = entries = 0
    kept_end = -1  # the end of the last entry kept
    limit = -1  # where the first limit is reached
    pos = root_start
    while (token := _MARKUP.search(data, pos)) is not None:
        if token.start() >= max_bytes:
            limit = max_bytes
            break
        found = token.group()
        if found.startswith(b"<!"):  # CDATA or a comment: nothing in it counts
            end_mark = b"]]>" if found.startswith(b"<![") else b"-->"
            end = data.find(end_mark, token.end())
            pos = end + len(end_mark) if end >= 0 else len(data)
        elif found.startswith(b"</"):
            if token.end() > max_bytes:
                limit = max_bytes
                break
            entries += 1
            kept_end = pos = token.end()
            if entries == max_entries:
                if _MARKUP_ENTRY_START.search(data, pos):
                    limit = pos
                break
        else:
            elements += 1
            if elements > max_elements:
                limit = token.start()
                break
            pos = token.end()
    if limit < 0:
        if len(data) <= max_bytes:
            return data, False
        limit = max_bytes
    cut = kept_end if kept_end > 0 else _text_boundary(data, root_start, limit)
    prefix = data[:cut]
    prefix, closing = _close_open_elements(prefix, root_start)
    return prefix + closing, True


def _nth(data: bytes, char: bytes, start: int, n: int) -> int:
    """The offset of the ``n``-th ``char`` from ``start`` on, or ``len(data)`` if fewer."""
    if data.count(char, start) < n:
        return len(data)
    pos = start - 1
    for _ in range(n):
        pos = data.find(char, pos + 1)
    return pos


def _text_boundary(data: bytes, start: int, limit: int) -> int:
    """A cut point at or before ``limit`` that splits no character, reference or tag name."""
    window = max(start, limit - 4096)
    best = max(data.rfind(char, window, limit) for char in (b" ", b"\n", b"\t", b">", b";"))
    return best + 1 if best >= 0 else limit


def _close_open_elements(prefix: bytes, start: int) -> tuple[bytes, bytes]:
    """Drop an unfinished tag at the end of ``prefix``; return it and the closing markup."""
    stack: list[bytes] = []
    pos = start
    while (token := _TAG_START.search(prefix, pos)) is not None:
        found = token.group()
        if found in (b"<![CDATA[", b"<!--", b"<?"):
            end_mark = {b"<![CDATA[": b"]]>", b"<!--": b"-->", b"<?": b"?>"}[found]
            end = prefix.find(end_mark, token.end())
            if end < 0:  # cut inside it: finish it
                return prefix, end_mark + _end_tags(stack)
            pos = end + len(end_mark)
            continue
        rest = _TAG_REST.match(prefix, token.end())
        if rest is None:  # cut inside a tag: leave it out
            return prefix[: token.start()], _end_tags(stack)
        pos = rest.end()
        name = token.group(2)
        if token.group(1):
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
        elif not rest.group().endswith(b"/>"):
            stack.append(name)
    return prefix, _end_tags(stack)


def _end_tags(stack: list[bytes]) -> bytes:
    return b"".join(b"</" + name + b">" for name in reversed(stack))


def _rewrite_references(data: bytes, declared: frozenset[bytes]) -> bytes:
    """Make every "&" something a strict XML parser accepts, meaning what a browser would read:
    HTML named references become numeric ones (XML knows only five names), references to
    entities of a removed DOCTYPE subset are dropped, unknown names and bare ampersands are
    escaped, references to characters XML forbids are dropped."""
    out = bytearray()
    view = memoryview(data)
    done = 0
    for match in _AMPERSAND.finditer(data):
        name, number = match.group(1), match.group(2)
        if number is not None:
            if _xml_char(number):
                continue
            replacement = b""
        elif name is None:
            replacement = b"&amp;"
        elif (codepoint := html.entities.name2codepoint.get(name.decode("ascii"))) is not None:
            replacement = b"&#%d;" % codepoint
        elif name in declared:
            replacement = b""
        else:
            replacement = b"&amp;" + name + b";"
        out += view[done : match.start()]
        out += replacement
        done = match.end()
    if not done:
        return data
    out += view[done:]
    return bytes(out)


def _xml_char(number: bytes) -> bool:
    """Whether a character reference (b"#233;", b"#xE9;") names a character XML allows."""
    try:
        code = int(number[2:-1], 16) if number[1:2] in (b"x", b"X") else int(number[1:-1])
    except ValueError:
        return False
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _feedparser_content_type(content_type: str | None, transcoded: bool) -> str:
    """An XML media type for feedparser, keeping a charset the server sent."""
    if not content_type:
        return "application/xml"
    media, _, params = content_type.partition(";")
    if transcoded:
        params = ""
    if "xml" not in media.lower():
        media = "application/xml"
    return f"{media.strip()};{params}" if params.strip() else media.strip()


# -- JSON Feed -----------------------------------------------------------------------------------


def _parse_json_feed(
    data: bytes, url: str, source: str | None, max_entries: int, now: datetime
) -> tuple[FeedInfo, list[Article]]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ParseError(url, "this is not a feed (it looks like broken JSON)") from e
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise ParseError(url, "this is JSON, not a feed")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(url, "this JSON Feed has no list of items")
    info = FeedInfo(
        title=_shorten(_json_text(document.get("title")), _TITLE_LIMIT),
        link=_absolute_link(url, document.get("home_page_url")),
        subtitle=_json_text(document.get("description")),
        version="json" + version.rsplit("/", 1)[-1].replace(".", ""),
        truncated=len(items) > max_entries,
    )
    name = source or info.title or _host(url)
    articles = [
        _article_from_json_item(item, url, name, now) for item in _dicts(items[:max_entries])
    ]
    return info, articles


def _article_from_json_item(
    item: Mapping[str, Any], url: str, source: str, now: datetime
) -> Article:
    content = ""
    if isinstance(item.get("content_html"), str):
        content = html_to_text(item["content_html"], paragraphs=True)
    if isinstance(item.get("content_text"), str) and len(item["content_text"]) > len(content):
        content = _plain_paragraphs(_CONTROL.sub("", item["content_text"]))
    summary = _json_text(item.get("summary"))
    if not summary:
        summary, content = _collapse(content), ""
    if len(content) <= len(summary):
        content = ""
    title = _json_text(item.get("title")) or _shorten(summary, 120)
    title = _shorten(title, _TITLE_LIMIT)
    raw_id = item.get("id")
    guid = _clean_guid(str(raw_id) if isinstance(raw_id, str | int) else None)
    link = _absolute_link(url, item.get("url")) or _absolute_link(url, item.get("external_url"))
    published = None
    for name in ("date_published", "date_modified"):
        when = _iso_date(item.get(name))
        if when is not None:
            published = _plausible(when, now)
            break
    return _article(url, source, guid, link, title, summary, content, published)


def _json_text(value: object) -> str:
    return _collapse(_CONTROL.sub("", value)) if isinstance(value, str) else ""


def _iso_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _dicts(values: Iterable[object]) -> Iterable[Mapping[str, Any]]:
    return (value for value in values if isinstance(value, dict))


_FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"}
)


class _FeedLinkFinder(HTMLParser):
    """Collects ``<link rel="alternate" type="…feed type…" href="…">`` from a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in _FEED_TYPES and values.get("href", "").strip():
            self.hrefs.append(values["href"].strip())


def discover_feeds(page: bytes, url: str, *, limit: int = 5) -> list[str]:
    """The feed addresses a web page announces (feed autodiscovery), absolute, in page order.

    Only the first 512 kB are read: the links live in the page's head.
    """
    finder = _FeedLinkFinder()
    try:
        finder.feed(page[:524_288].decode("utf-8", "replace"))
        finder.close()
    except (ValueError, AssertionError):  # html.parser on hostile markup
        logger.debug("feed discovery stopped on unparseable markup url=%s", url)
    found: list[str] = []
    for href in finder.hrefs:
        absolute = urljoin(url, href)
        if absolute.startswith(("http://", "https://")) and absolute not in found:
            found.append(absolute)
    return found[:limit]
