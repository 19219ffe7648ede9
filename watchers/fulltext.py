"""The trafilatura adapter: an article page's main text, without navigation or comments.

``extract_main_text`` is blocking CPU work; run it with ``asyncio.to_thread``. It never raises:
a page it cannot read simply has no text (None), and the feed's own text is used instead.
"""

from __future__ import annotations

import logging
import re
from configparser import ConfigParser

import trafilatura
from trafilatura.settings import use_config

logger = logging.getLogger(__name__)

MIN_TEXT_CHARS = 200
"""Less text than this is no article (a teaser, a cookie notice, an error page)."""

# trafilatura spends 40-150 µs and tens of kB on each element: pages are trimmed to what an
# article needs before it sees them.
_MAX_TREE_SIZE = 20_000  # elements, checked by trafilatura
_MAX_TAGS = 15_000
_MAX_PAGE_BYTES = 1_000_000  # after scripts, styles and comments are dropped
_DROPPED = re.compile(rb"<(script|style|template|svg)\b|<!--", re.IGNORECASE)
_CLOSING = {
    name: re.compile(rb"</" + name + rb"\s*>", re.IGNORECASE)
    for name in (b"script", b"style", b"template", b"svg")
}
_LINE_BREAK = re.compile(r"\s*\n\s*")
_SPACES = re.compile(r"[^\S\n]+")


def extract_main_text(html: bytes, url: str, *, max_bytes: int = 5_000_000) -> str | None:
    """The main text of the page in ``html`` (fetched from ``url``), as plain text with
    paragraphs separated by blank lines; None when there is no real text.

    Pages larger than ``max_bytes`` are not read (the fetcher applies the same cap).
    """
    if not html.strip():
        return None
    if len(html) > max_bytes:
        logger.debug("page too large for full text url=%s bytes=%d", url, len(html))
        return None
    html = _trim_page(html)
    try:
        text = trafilatura.extract(
            html,
            url=url,
            output_format="txt",
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            include_formatting=False,
            favor_precision=True,
            with_metadata=False,
            deduplicate=False,
            config=_config(),
        )
    except Exception as e:  # a third-party parser on hostile input: any failure means "no text"
        logger.debug("full text extraction failed url=%s error=%r", url, e)
        return None
    if not text:
        return None
    paragraphs = [_SPACES.sub(" ", p).strip() for p in _LINE_BREAK.split(text)]
    result = "\n\n".join(p for p in paragraphs if p)
    if len(result) < MIN_TEXT_CHARS:
        logger.debug("too little text for an article url=%s chars=%d", url, len(result))
        return None
    return result


def _trim_page(html: bytes) -> bytes:
    """Drop scripts, styles, templates, SVG and comments; keep at most ``_MAX_PAGE_BYTES`` and
    ``_MAX_TAGS`` tags of the rest (the article comes early on the pages that matter)."""
    kept = bytearray()
    view = memoryview(html)
    pos = 0
    while (found := _DROPPED.search(html, pos)) is not None and len(kept) <= _MAX_PAGE_BYTES:
        kept += view[pos : found.start()]
        if found.group(1) is None:
            end = html.find(b"-->", found.end())
            pos = end + 3 if end >= 0 else len(html)
        else:
            closing = _CLOSING[found.group(1).lower()].search(html, found.end())
            pos = closing.end() if closing is not None else len(html)
    kept += view[pos : pos + _MAX_PAGE_BYTES + 1]
    page = bytes(kept[:_MAX_PAGE_BYTES])
    tag = -1
    for _ in range(_MAX_TAGS):
        tag = page.find(b"<", tag + 1)
        if tag < 0:
            return page
    return page[:tag]


def _config() -> ConfigParser:
    config: ConfigParser = use_config()
    config.set("DEFAULT", "MAX_TREE_SIZE", str(_MAX_TREE_SIZE))
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(MIN_TEXT_CHARS))
    return config
