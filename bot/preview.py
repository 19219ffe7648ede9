"""``/test <query>``: what a query would have caught in the chat's feeds over the last days."""

from __future__ import annotations

import asyncio
from datetime import datetime

from telegram import Update

from bot import handlers
from bot.render import _bold_spans, text_html
from bot.services import Context, Services
from watchers.errors import QueryError
from watchers.preview import PREVIEW_WINDOW, Preview, preview_stored
from watchers.query import Query, parse_query
from watchers.quotes import shorten

TEST_USAGE = (
    "Which query? /test Russia AND embassy shows the stories of the last "
    f"{int(PREVIEW_WINDOW.total_seconds() // 3600)} hours in your feeds that it would have caught."
)
SNIPPET = 160  # characters of a story's text shown under its title


async def run_preview(services: Services, chat_id: int, query: Query, now: datetime) -> Preview:
    """Read the window's stories and try ``query`` on them, off the event loop."""

    return await asyncio.to_thread(
        preview_stored, services.store, chat_id, query, services.engine.analyser, now
    )


def window_text() -> str:
    return f"the last {int(PREVIEW_WINDOW.total_seconds() // 3600)} hours"


def count_text(preview: Preview) -> str:
    """``3 of the 1,204 stories`` (``about 3,100 of ...`` when estimated)."""
    about = "" if preview.complete else "about "
    noun = "story" if preview.scanned == 1 else "stories"
    return f"{about}{preview.count:,} of the {preview.scanned:,} {noun}"


def render_preview(query: Query, preview: Preview) -> str:
    """The count, then up to five stories with the matched words in bold."""
    head = f"🔎 <code>{text_html(shorten(str(query), 200))}</code>\n"
    if not preview.scanned:
        return head + f"Your feeds have no stories from {window_text()} to try it on yet."
    lines = [
        head
        + f"It would have caught {count_text(preview)} from {window_text()} in your feeds"
        + (":" if preview.items else ".")
    ]
    for item in preview.items:
        title = shorten(item.title, 200)
        spans = [s for s in item.title_spans if s[1] <= len(title)]
        line = f"• {_bold_spans(title, spans)}"
        if item.article.source:
            line += f" — <i>{text_html(item.article.source)}</i>"
        if item.snippet and item.snippet_spans:
            snippet = item.snippet[:SNIPPET]
            inside = [s for s in item.snippet_spans if s[1] <= len(snippet)]
            line += (
                f"\n  {_bold_spans(snippet, inside)}{'…' if len(item.snippet) > SNIPPET else ''}"
            )
        lines.append(line)
    if not preview.complete:
        lines.append(
            "So many stories could match that I counted a sample; a narrower query counts exactly."
        )
    return "\n".join(lines)


async def cmd_test(update: Update, context: Context) -> None:
    """``/test <query>``: anyone in the chat may try a query; nothing is changed."""
    services, chat, arg = await handlers._command(update, context, usage=TEST_USAGE, admin=False)
    try:
        query = parse_query(arg)
    except QueryError as e:
        await handlers._reply(update, context, handlers.render_query_error(arg, e))
        return
    preview = await run_preview(services, chat.id, query, services.clock())
    await handlers._reply(update, context, render_preview(query, preview))
