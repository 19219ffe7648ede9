"""Digests and replies as Telegram HTML (and as plain text for the console).

Every string that came from a feed goes through ``html.escape``. Messages are split at item
boundaries so that none exceeds Telegram's 4096 characters; the raw HTML is measured, which is
never shorter than the text Telegram counts after parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from watchers.digest import relative_time
from watchers.model import Digest, DigestItem, Quote
from watchers.quotes import shorten

MAX_MESSAGE = 4096
MAX_TITLE = 300
MAX_QUOTE = 280


def _safe_link(link: str | None) -> str | None:
    if link and link.startswith(("http://", "https://")) and len(link) <= 2000:
        return link
    return None


def _bold_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos or end > len(text) or start >= end:
            continue
        out.append(escape(text[pos:start], quote=False))
        out.append(f"<b>{escape(text[start:end], quote=False)}</b>")
        pos = end
    out.append(escape(text[pos:], quote=False))
    return "".join(out)


def quote_line(quote: Quote) -> str:
    """``“…” — Speaker`` as plain text."""
    text = shorten(quote.text.strip(), MAX_QUOTE)
    return f"“{text}” — {quote.speaker}" if quote.speaker else f"“{text}”"


def render_item_html(item: DigestItem, now: datetime) -> str:
    title = escape(shorten(item.title.strip() or "(untitled)", MAX_TITLE), quote=False)
    link = _safe_link(item.link)
    head = f'<b><a href="{escape(link)}">{title}</a></b>' if link else f"<b>{title}</b>"
    meta = " · ".join(x for x in (item.source, relative_time(item.published, now)) if x)
    lines = [head]
    if meta:
        lines.append(escape(meta, quote=False))
    if item.matched:
        lines.append("Matched: <i>" + escape(", ".join(item.matched), quote=False) + "</i>")
    if item.quotes:
        for q in item.quotes:
            lines.append(f"<blockquote>{escape(quote_line(q), quote=False)}</blockquote>")
    elif item.snippet:
        lines.append(_bold_spans(item.snippet, item.snippet_spans))
    if item.also:
        lines.append("also: " + escape(", ".join(item.also), quote=False))
    return "\n".join(lines)


def render_digest_html(digest: Digest, now: datetime, *, more: int = 0) -> list[str]:
    """The digest as one or more Telegram HTML messages, each under 4096 characters."""
    count = len(digest.items) + more
    noun = "story" if count == 1 else "stories"
    header = f"🔔 <b>{escape(digest.watchlist_name, quote=False)}</b> · {count} new {noun}"
    footer = f"+{more} more: /digest_more" if more else ""
    blocks = [render_item_html(item, now) for item in digest.items]
    messages: list[str] = []
    current = header
    for block in blocks:
        candidate = f"{current}\n\n{block}"
        if len(candidate) > MAX_MESSAGE and current != header:
            messages.append(current)
            current = f"🔔 <b>{escape(digest.watchlist_name, quote=False)}</b> (cont.)\n\n{block}"
        else:
            current = candidate
    if footer:
        if len(current) + len(footer) + 2 > MAX_MESSAGE:
            messages.append(current)
            current = footer
        else:
            current = f"{current}\n\n{footer}"
    messages.append(current)
    return messages


def render_digest_text(digest: Digest, now: datetime, *, more: int = 0) -> str:
    """The digest as plain text for the terminal."""
    count = len(digest.items) + more
    noun = "story" if count == 1 else "stories"
    lines = [f"== {digest.watchlist_name} · {count} new {noun} =="]
    for item in digest.items:
        lines.append("")
        lines.append(f"* {item.title.strip() or '(untitled)'}")
        if item.link:
            lines.append(f"  {item.link}")
        meta = " · ".join(x for x in (item.source, relative_time(item.published, now)) if x)
        if meta:
            lines.append(f"  {meta}")
        if item.matched:
            lines.append(f"  matched: {', '.join(item.matched)}")
        for q in item.quotes:
            lines.append(f"  {quote_line(q)}")
        if not item.quotes and item.snippet:
            lines.append(f"  {item.snippet}")
        if item.also:
            lines.append(f"  also: {', '.join(item.also)}")
    if more:
        lines.append(f"\n+{more} more")
    return "\n".join(lines)


def split_lines(html: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split a reply at line boundaries into messages under ``limit`` characters.

    Every line of our replies is balanced HTML on its own; a single line longer than the limit
    (never produced by the bot's own texts) is cut hard.
    """
    messages: list[str] = []
    current = ""
    for line in html.split("\n"):
        while len(line) > limit:
            if current:
                messages.append(current)
                current = ""
            messages.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            messages.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        messages.append(current)
    return messages


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 feed``, ``2 feeds``, ``0 new stories``: a number and its noun in correct English."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural or noun + 's'}"
