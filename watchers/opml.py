"""OPML subscription lists: read the feeds out of one, and write one for a list of feeds.

Pure: bytes in, data out, no I/O. Reading goes through defusedxml, so entity expansion
("billion laughs") and external entities are refused; a file that cannot be read raises
``CommandError`` with one plain sentence, and then nothing in it is used.

What a feed reader exports (Feedly, Inoreader, Thunderbird and the OPML 2.0 spec's own
"subscription list" convention): a ``<body>`` of ``<outline>`` elements, each feed one with
``xmlUrl`` (the feed), ``text`` (its name; some write ``title`` too or instead), optionally
``htmlUrl`` (the site) and ``type="rss"`` (also for Atom feeds). Categories are outlines without
``xmlUrl`` that hold the feed outlines; they may nest. newswatch has no categories, so they are
flattened: each feed keeps its category path only for the report.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit, urlunsplit

import defusedxml
from defusedxml.ElementTree import fromstring as read_xml_safely

from watchers.errors import CommandError

__all__ = [
    "MAX_OPML_BYTES",
    "MAX_OUTLINES",
    "OpmlDocument",
    "OpmlFeed",
    "Outline",
    "OutlineStatus",
    "feed_key",
    "parse_opml",
    "write_opml",
]

MAX_OPML_BYTES = 2_000_000
"""The largest OPML file read: thousands of feeds fit in far less."""

MAX_OUTLINES = 5_000
"""At most this many outlines are read from one file."""

_MAX_DEPTH = 20  # categories nested deeper than this are a broken (or hostile) file
_CATEGORY_SEPARATOR = " / "


class OutlineStatus(enum.Enum):
    """What became of one ``<outline>`` of an imported file."""

    FEED = "feed"  # a feed to follow
    NO_URL = "no_url"  # neither a feed (no xmlUrl) nor a category (no outlines inside)
    NOT_HTTP = "not_http"  # xmlUrl is not an http(s) address
    DUPLICATE = "duplicate"  # the same feed as an earlier outline of the file


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """A feed as OPML carries it: its address, and optionally its name and its site."""

    url: str
    title: str | None = None
    html_url: str | None = None
    category: str = ""  # the category path it was filed under, "News / World"; "" for none


@dataclass(frozen=True, slots=True)
class Outline:
    """One outline of an imported file and its outcome. ``number`` counts the outlines that are
    not categories, from 1, in document order; ``reason`` says in plain words why one was
    skipped."""

    number: int
    status: OutlineStatus
    title: str
    feed: OpmlFeed | None = None
    reason: str = ""
    duplicate_of: int | None = None  # the number of the earlier outline with the same feed


@dataclass(frozen=True, slots=True)
class OpmlDocument:
    """What an OPML file holds: its title and every outline's outcome, in document order."""

    title: str
    outlines: tuple[Outline, ...]
    categories: int = 0  # how many categories were flattened

    @property
    def feeds(self) -> list[OpmlFeed]:
        return [o.feed for o in self.outlines if o.feed is not None]

    @property
    def skipped(self) -> list[Outline]:
        return [o for o in self.outlines if o.status is not OutlineStatus.FEED]


def feed_key(url: str) -> str:
    """The form of a feed address two outlines are compared by: scheme and host lower-cased,
    default port and fragment dropped, an empty path made ``/``."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _attribute(element: ET.Element, name: str) -> str:
    """An attribute by name in any case (``xmlUrl``, ``xmlurl``, ``XMLURL`` are all seen), with
    surrounding white space removed; "" when absent."""
    value = element.get(name)
    if value is None:
        wanted = name.casefold()
        value = next((v for k, v in element.attrib.items() if k.casefold() == wanted), "")
    return " ".join(value.split())


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _read_xml(data: bytes) -> ET.Element:
    if len(data) > MAX_OPML_BYTES:
        raise CommandError(
            f"That file is larger than {MAX_OPML_BYTES // 1_000_000} MB; "
            "an OPML list of feeds is much smaller."
        )
    if not data.strip():
        raise CommandError("That file is empty.")
    try:
        root: ET.Element = read_xml_safely(data, forbid_dtd=False, forbid_entities=True)
    except defusedxml.DTDForbidden as e:  # pragma: no cover - DTDs are allowed above
        raise CommandError("That file declares a DTD, which I don't read.") from e
    except defusedxml.EntitiesForbidden as e:
        raise CommandError(
            "That file defines XML entities, which I refuse to expand (a file can use them to "
            "blow up to gigabytes). Export the list again from your feed reader."
        ) from e
    except defusedxml.DefusedXmlException as e:
        raise CommandError(f"That file uses XML features I refuse to read: {e}.") from e
    except ET.ParseError as e:
        line, column = e.position
        raise CommandError(
            f"That file is not well-formed XML (line {line}, column {column + 1}), so I "
            "imported nothing from it."
        ) from e
    return root


def _local(tag: str) -> str:
    """A tag without its namespace: ``{ns}opml`` -> ``opml``."""
    return tag.rsplit("}", 1)[-1]


def parse_opml(data: bytes) -> OpmlDocument:
    """Every outline of an OPML file and what became of it; raise ``CommandError`` for a file
    that is not OPML at all (then none of it may be used)."""
    root = _read_xml(data)
    if _local(root.tag).casefold() != "opml":
        raise CommandError(
            f"That file is XML, but not OPML (its root is <{_local(root.tag)}>, not <opml>)."
        )
    body = next((c for c in root if _local(c.tag).casefold() == "body"), None)
    if body is None:
        raise CommandError("That OPML file has no <body>, so there are no feeds in it.")
    head = next((c for c in root if _local(c.tag).casefold() == "head"), None)
    title_element = None
    if head is not None:
        title_element = next((c for c in head if _local(c.tag).casefold() == "title"), None)
    title = " ".join((title_element.text or "").split()) if title_element is not None else ""

    outlines: list[Outline] = []
    seen: dict[str, int] = {}
    categories = 0

    def visit(element: ET.Element, path: tuple[str, ...]) -> None:
        nonlocal categories
        for child in element:
            if _local(child.tag).casefold() != "outline":
                continue
            if len(outlines) >= MAX_OUTLINES:
                raise CommandError(
                    f"That file has more than {MAX_OUTLINES} outlines; split it into smaller files."
                )
            name = _attribute(child, "text") or _attribute(child, "title")
            url = _attribute(child, "xmlUrl")
            has_children = any(_local(c.tag).casefold() == "outline" for c in child)
            if not url and has_children:
                if len(path) >= _MAX_DEPTH:
                    raise CommandError(
                        f"That file nests categories more than {_MAX_DEPTH} deep; "
                        "I imported nothing from it."
                    )
                categories += 1
                visit(child, (*path, name or "(untitled)"))
                continue
            outlines.append(_outline(len(outlines) + 1, child, name, url, path, seen))
            if has_children:  # a feed holding outlines: odd, but read them too
                visit(child, (*path, name or url))

    visit(body, ())
    return OpmlDocument(title=title, outlines=tuple(outlines), categories=categories)


def _outline(
    number: int,
    element: ET.Element,
    name: str,
    url: str,
    path: tuple[str, ...],
    seen: dict[str, int],
) -> Outline:
    shown = name or url or "(untitled)"
    if not url:
        link = _attribute(element, "htmlUrl") or _attribute(element, "url")
        reason = "it has no feed address (xmlUrl)"
        if link:
            reason += ", only a link to a web page"
        return Outline(number, OutlineStatus.NO_URL, shown, reason=reason)
    if not _http_url(url):
        scheme = urlsplit(url).scheme if ":" in url else ""
        reason = (
            f"its address is not an http(s) address ({scheme}:)"
            if scheme
            else "its address is not a web address"
        )
        return Outline(number, OutlineStatus.NOT_HTTP, shown, reason=reason)
    key = feed_key(url)
    if key in seen:
        return Outline(
            number,
            OutlineStatus.DUPLICATE,
            shown,
            reason=f"the same feed as outline {seen[key]}",
            duplicate_of=seen[key],
        )
    seen[key] = number
    html_url = _attribute(element, "htmlUrl")
    feed = OpmlFeed(
        url=url,
        title=name or None,
        html_url=html_url if _http_url(html_url) else None,
        category=_CATEGORY_SEPARATOR.join(path),
    )
    return Outline(number, OutlineStatus.FEED, shown, feed=feed)


def write_opml(feeds: Iterable[OpmlFeed], *, title: str, now: datetime) -> bytes:
    """An OPML 2.0 subscription list of ``feeds`` (UTF-8, with an XML declaration).

    Each feed is ``<outline type="rss" text=… title=… xmlUrl=… [htmlUrl=…]/>``: ``text`` is
    what OPML 2.0 requires of every outline, ``title`` is what some readers show, and
    ``type="rss"`` with ``xmlUrl`` is what Feedly, Inoreader and Thunderbird look for (Atom
    feeds included). No categories: every feed sits directly in ``<body>``.
    """
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now.astimezone(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = feed.title or feed.url
        attributes = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url}
        if feed.html_url:
            attributes["htmlUrl"] = feed.html_url
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
