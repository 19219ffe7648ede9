"""Digests and replies as Telegram HTML (and as plain text for the console).

Every string that came from a feed goes through ``html.escape``. Messages are split at item
boundaries so that none exceeds Telegram's 4096 characters; the raw HTML is measured, which is
never shorter than the text Telegram counts after parsing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html import escape

from watchers.digest import relative_time
from watchers.model import Digest, DigestItem, Quote, StoryCopy
from watchers.quotes import shorten
from watchers.text import neutralise_controls

MAX_MESSAGE = 4096
MAX_TITLE = 300
MAX_QUOTE = 280


def text_html(text: str) -> str:
    """Text from outside (a feed, a user) as HTML: escaped, without invisible controls that
    would make the message read differently (a right-to-left override in a headline)."""
    return escape(neutralise_controls(text), quote=False)


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
        out.append(text_html(text[pos:start]))
        out.append(f"<b>{text_html(text[start:end])}</b>")
        pos = end
    out.append(text_html(text[pos:]))
    return "".join(out)


def quote_line(quote: Quote) -> str:
    """``“…” — Speaker`` as plain text."""
    text = shorten(quote.text.strip(), MAX_QUOTE)
    return f"“{text}” — {quote.speaker}" if quote.speaker else f"“{text}”"


def _copy_html(copy: StoryCopy) -> str:
    source = text_html(copy.source)
    link = _safe_link(copy.link)
    return f'<a href="{escape(link)}">{source}</a>' if link else source


def _copy_text(copy: StoryCopy) -> str:
    return f"{copy.source} {copy.link}" if copy.link else copy.source


def render_item_html(item: DigestItem, now: datetime) -> str:
    title = text_html(shorten(item.title.strip() or "(untitled)", MAX_TITLE))
    link = _safe_link(item.link)
    head = f'<b><a href="{escape(link)}">{title}</a></b>' if link else f"<b>{title}</b>"
    meta = " · ".join(x for x in (item.source, relative_time(item.published, now)) if x)
    lines = [head]
    if meta:
        lines.append(text_html(meta))
    if item.matched:
        lines.append("Matched: <i>" + text_html(", ".join(item.matched)) + "</i>")
    if item.watchlists:
        lines.append("Watchlists: <i>" + text_html(", ".join(item.watchlists)) + "</i>")
    if item.quotes:
        for q in item.quotes:
            lines.append(f"<blockquote>{text_html(quote_line(q))}</blockquote>")
    elif item.snippet:
        lines.append(_bold_spans(item.snippet, item.snippet_spans))
    if item.also:
        lines.append("also: " + ", ".join(_copy_html(copy) for copy in item.also))
    return "\n".join(lines)


def render_digest_html(digest: Digest, now: datetime, *, more: int = 0) -> list[str]:
    """The digest as one or more Telegram HTML messages, each under 4096 characters."""
    count = len(digest.items) + more
    noun = "story" if count == 1 else "stories"
    header = f"🔔 <b>{text_html(digest.watchlist_name)}</b> · {count} new {noun}"
    footer = f"+{more} more: /digest_more" if more else ""
    blocks = [render_item_html(item, now) for item in digest.items]
    messages: list[str] = []
    current = header
    for block in blocks:
        candidate = f"{current}\n\n{block}"
        if len(candidate) > MAX_MESSAGE and current != header:
            messages.append(current)
            current = f"🔔 <b>{text_html(digest.watchlist_name)}</b> (cont.)\n\n{block}"
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
        if item.watchlists:
            lines.append(f"  watchlists: {', '.join(item.watchlists)}")
        for q in item.quotes:
            lines.append(f"  {quote_line(q)}")
        if not item.quotes and item.snippet:
            lines.append(f"  {item.snippet}")
        if item.also:
            lines.append(f"  also: {', '.join(_copy_text(copy) for copy in item.also)}")
    if more:
        lines.append(f"\n+{more} more")
    return "\n".join(lines)


_ATOM = re.compile(r"<[^<>]*>|&#?\w+;|\n|[^<&\n]+|.", re.DOTALL)
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


def _closers(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _visible(html: str) -> bool:
    return bool(re.sub(r"<[^<>]*>", "", html).strip())


def _push(stack: list[tuple[str, str]], piece: str) -> list[tuple[str, str]]:
    """The open elements after ``piece``."""
    tag = _TAG_NAME.match(piece) if piece.startswith("<") else None
    if tag is None:
        return stack
    name = tag.group(1).lower()
    if not piece.startswith("</"):
        return stack if piece.endswith("/>") else [*stack, (name, piece)]
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][0] == name:
            return stack[:i]
    return stack


def split_lines(html: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split a reply into messages under ``limit`` characters, at line ends where possible.

    A cut never falls inside a tag or an entity, and never inside an element: tags open at a cut
    are closed at the end of one part and opened again at the start of the next, so each part
    is valid HTML on its own (a ``<pre>`` spanning a cut stays a ``<pre>`` on both sides).
    """
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # open elements: (name, opening tag)
    current = ""  # the part being built, its open tags not yet closed
    line_cut: tuple[int, list[tuple[str, str]]] | None = None  # just before the last newline

    def fits(piece: str) -> bool:
        return len(current) + len(piece) + len(_closers(_push(stack, piece))) <= limit

    def cut(at: int, open_tags: list[tuple[str, str]], skip: int) -> None:
        nonlocal current, line_cut
        head, rest = current[:at], current[at + skip :]
        if _visible(head):
            parts.append(head + _closers(open_tags))
        current = "".join(tag for _, tag in open_tags) + rest
        line_cut = None

    for m in _ATOM.finditer(html):
        atom = m.group()
        text = not atom.startswith(("<", "&"))
        for piece in [atom[i : i + 256] for i in range(0, len(atom), 256)] if text else [atom]:
            if not fits(piece) and line_cut is not None:
                cut(line_cut[0], line_cut[1], 1)
            if not fits(piece):
                if text:
                    free = limit - len(_closers(stack)) - len(current)
                    current, piece = current + piece[: max(free, 0)], piece[max(free, 0) :]
                cut(len(current), stack, 0)
            if piece == "\n":
                line_cut = (len(current), stack)
            current += piece
            stack = _push(stack, piece)
    if _visible(current):
        parts.append(current + _closers(stack))
    return parts


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 feed``, ``2 feeds``, ``0 new stories``: a number and its noun in correct English."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural or noun + 's'}"
