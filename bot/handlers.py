"""Thin command handlers: parse the arguments, call the engine, render, reply.

Every command answers in plain words, also on bad input. Errors of the engine become messages
in two places only: ``render_query_error`` for a query that does not parse, and ``on_error``, the
application's error handler, for everything else (a ``CommandError`` carries its own words).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from telegram import BotCommand, InlineKeyboardMarkup, Message, MessageOriginChannel, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import buttons, transfer
from bot.delivery import queue_digests
from bot.render import counted, split_lines, text_html
from bot.services import Context, Services
from bot.status import render_status
from watchers.errors import CommandError, FeedError, NewswatchError, QueryError
from watchers.fetch import validate_feed_url
from watchers.model import Chat, Feed, PendingHit, Watchlist
from watchers.query import QUERY_HELP, parse_query
from watchers.quotes import shorten
from watchers.schedule import (
    DEFAULT_MUTE,
    is_fixed_offset,
    is_muted,
    parse_mute,
    parse_quiet,
    parse_schedule,
    parse_timezone,
    zone_name,
    zones_at_offset,
)
from watchers.text import neutralise_controls

logger = logging.getLogger(__name__)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Subscribe this chat and follow the default feeds"),
    ("watch", "Watch for a query: /watch Russia AND embassy"),
    ("test", "Try a query on the last 3 days of stories: /test gas OR LNG"),
    ("watchlists", "List this chat's watchlists and their state"),
    ("status", "Feeds, watchlists and what is waiting, on one page"),
    ("unwatch", "Stop a watchlist: /unwatch 2"),
    ("feeds", "List the feeds this chat follows"),
    ("addfeed", "Follow a feed: /addfeed https://example.com/rss"),
    ("removefeed", "Stop following a feed: /removefeed 3"),
    ("digest", "Send what is waiting now: /digest now"),
    ("schedule", "When digests come: /schedule daily 08:00"),
    ("timezone", "Set this chat's timezone: /timezone Europe/Berlin"),
    ("quiet", "Quiet hours: /quiet 10pm-7am (or off)"),
    ("mute", "Mute a watchlist for a day, or a while: /mute 1 2h"),
    ("pause", "Pause a watchlist: /pause 1"),
    ("resume", "Resume a paused watchlist: /resume 1"),
    ("channel", "Manage a channel from this chat: /channel @name (or off)"),
    ("export", "Send this chat's feeds (OPML) and settings (JSON) as files"),
    ("import", "Restore settings: answer the file from /export with /import"),
    ("help", "How newswatch works; /help query, /help digest, /help feeds"),
    ("stop", "Pause all alerts for this chat"),
)

MAX_NAME = 40
PREVIEW_ARTICLES = 100  # stories a new watchlist is tried on, to show what it would catch
PREVIEW_SHOWN = 3


def bot_commands() -> list[BotCommand]:
    return [BotCommand(c, d) for c, d in COMMANDS]


def _services(context: Context) -> Services:
    return context.bot_data.require()


def _args(update: Update) -> str:
    """The text after the command, with the command (and any @botname) removed."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    _, _, rest = text.partition(" ")
    if "\n" in text and (not rest or text.index("\n") < text.index(" ")):
        _, _, rest = text.partition("\n")
    return neutralise_controls(rest).strip()


async def _reply(
    update: Update, context: Context, html: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Answer in the chat (in parts if long); ``markup`` goes under the last part."""
    message = update.effective_message
    if message is None:
        return
    parts = split_lines(_channel_header(update, context) + html)
    for i, part in enumerate(parts, 1):
        await message.reply_text(
            part,
            parse_mode=ParseMode.HTML,
            do_quote=False,
            disable_web_page_preview=True,
            reply_markup=markup if i == len(parts) else None,
        )


def _chat_of(update: Update) -> Chat:
    chat = update.effective_chat
    if chat is None:
        raise CommandError("This command works in a chat.")
    title = chat.title or chat.full_name or chat.username or ""
    message = update.effective_message
    topic = message.message_thread_id if message and message.is_topic_message else None
    return Chat(chat.id, chat.type, title, thread_id=topic)


def _channel_header(update: Update, context: Context) -> str:
    """In a private chat that manages a channel, every reply starts by naming the channel."""
    chat, services = update.effective_chat, context.bot_data.services
    if chat is None or chat.type != "private" or services is None:
        return ""
    channel_id = services.store.channel_link(chat.id)
    if channel_id is None:
        return ""
    channel = services.store.get_chat(channel_id)
    title = channel.title if channel is not None and channel.title else str(channel_id)
    return f"📢 <b>{text_html(title)}</b> (/channel off to leave)\n"


async def _acting_chat(update: Update, context: Context, services: Services) -> Chat:
    """The chat a command acts on: this one, or the channel this private chat manages (whose
    admin the user must still be)."""
    chat = _chat_of(update)
    if chat.kind != "private":
        return chat
    channel_id = services.store.channel_link(chat.id)
    if channel_id is None:
        return chat
    channel = services.store.get_chat(channel_id)
    if channel is None:
        services.store.set_channel_link(chat.id, None, services.clock())
        raise CommandError("The channel this chat managed is gone; commands act here again.")
    user = update.effective_user
    if user is None or not await _is_admin_of(context, channel.id, user.id):
        raise CommandError(
            f"You are no longer an admin of {channel.title or 'that channel'}. "
            "Send /channel off to manage this chat again."
        )
    return channel


async def _is_admin_of(context: Context, chat_id: int, user_id: int) -> bool:
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as e:
        logger.info("admin check failed chat=%d error=%s", chat_id, e)
        return False
    return member.status in ADMIN_STATUSES


async def _known_chat(update: Update, context: Context, services: Services) -> Chat:
    chat = await _acting_chat(update, context, services)
    stored = services.store.get_chat(chat.id)
    if stored is None:
        raise CommandError("This chat isn't subscribed yet. Send /start first.")
    if not stored.active:
        raise CommandError(PAUSED_TEXT)
    return stored


PAUSED_TEXT = (
    "⏸ Alerts are paused for this chat (after /stop, or while I was blocked or removed). "
    "Send /start to resume: your feeds and watchlists are kept."
)


async def _command(
    update: Update, context: Context, *, usage: str | None = None, admin: bool = True
) -> tuple[Services, Chat, str]:
    """What most commands start with: the admin check (in groups), the subscribed chat and the
    arguments. With ``usage``, an empty argument is answered with it."""
    if admin:
        await _require_admin(update, context)
    services = _services(context)
    chat = await _known_chat(update, context, services)
    arg = _args(update)
    if usage is not None and not arg:
        raise CommandError(usage)
    return services, chat, arg


ADMIN_STATUSES = ("creator", "administrator")


async def _require_admin(update: Update, context: Context) -> None:
    """In groups, only admins change what newswatch does; anyone may read and ask for help."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or chat.type not in ("group", "supergroup"):
        return  # private chats; and in channels only admins can post
    if message is not None and message.sender_chat is not None:
        if message.sender_chat.id == chat.id:
            return  # an anonymous admin, posting as the group
        raise CommandError("Only the group's admins can change newswatch here.")
    user = update.effective_user
    if user is None:
        raise CommandError("Only the group's admins can change newswatch here.")
    member = await context.bot.get_chat_member(chat.id, user.id)
    if member.status not in ADMIN_STATUSES:
        raise CommandError("Only the group's admins can change newswatch here.")


QUERY_WINDOW = 60  # characters of a query shown around the place of an error


def query_window(query: str, position: int) -> tuple[str, int]:
    """At most ``QUERY_WINDOW`` characters of ``query`` around the 1-based ``position`` (with
    "…" where it was cut, line breaks shown as spaces), and the caret's 0-based column in it."""
    flat = "".join(" " if c.isspace() else c for c in query)
    index = position - 1
    start = max(0, min(index - QUERY_WINDOW // 2, len(flat) - QUERY_WINDOW))
    end = min(len(flat), start + QUERY_WINDOW)
    shown = ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")
    return shown, index - start + (1 if start else 0)


def render_query_error(query: str, error: QueryError) -> str:
    lines = [f"I couldn't read that query: {text_html(shorten(error.message, 200))}."]
    if 0 < error.position <= len(query) + 1:
        shown, column = query_window(query, error.position)
        lines.append(f"<pre>{text_html(shown)}\n{' ' * column}^</pre>")
    if error.hint:
        lines.append(text_html(shorten(error.hint, 200)))
    lines.append("See /help query for the query language.")
    return "\n".join(lines)


def _feed_line(i: int, feed: Feed) -> str:
    line = f"{i}. <b>{text_html(feed.title)}</b>"
    if feed.name:
        line += f"\n   {text_html(feed.url)}"
    if feed.gone_at is not None:
        line += "\n   ⛔ gone: the site removed this feed, so it is no longer checked"
    elif feed.last_error:
        line += f"\n   ⚠️ last poll failed: {text_html(feed.last_error)}"
    return line


ECHO = 60  # at most this much of a user's argument is quoted back


def _echo(arg: str) -> str:
    return shorten(arg, ECHO)


def list_number(arg: str) -> int | None:
    """The number of an item in a list the user was shown (``/unwatch 2``), or None when
    ``arg`` is not written with the digits 0-9 (``²``, ``١`` and ``2.0`` are not numbers here,
    though ``str.isdigit`` or ``int`` accept some). A number too long to be an index is 0."""
    if not (arg.isascii() and arg.isdigit()):
        return None
    return int(arg) if len(arg) <= 9 else 0


def _find(items: list[Watchlist], arg: str) -> Watchlist | None:
    """The watchlist ``arg`` names (by list number or name), or None."""
    n = list_number(arg)
    if n is not None:
        return items[n - 1] if 1 <= n <= len(items) else None
    return next((w for w in items if w.name.casefold() == arg.casefold()), None)


def _pick(items: list[Watchlist], arg: str) -> Watchlist:
    n = list_number(arg)
    if n is not None:
        if 1 <= n <= len(items):
            return items[n - 1]
        raise CommandError(f"There is no watchlist number {_echo(arg)}. See /watchlists.")
    for w in items:
        if w.name.casefold() == arg.casefold():
            return w
    raise CommandError(f"There is no watchlist called “{_echo(arg)}”. See /watchlists.")


# -- commands ---------------------------------------------------------------------------------


def _subscribe(services: Services, chat: Chat, before: Chat | None, now: datetime) -> None:
    """Make ``chat`` active; a new chat follows the default feeds, a returning one keeps its
    own."""
    store = services.store
    store.upsert_chat(chat, now)
    if before is None:
        for feed_config in services.config.feeds:
            feed = store.add_feed(
                feed_config.url, now, name=feed_config.name, full_text=feed_config.full_text
            )
            store.follow(chat.id, feed.id, now)
    elif not before.active:
        # What its feeds published while the chat was paused is history, unless another chat
        # kept them polled (then it is already stored as seen).
        for feed in store.followed_feeds(chat.id):
            if store.followers(feed.id) == [chat.id]:
                store.mark_needs_baseline(feed.id)


async def cmd_start(update: Update, context: Context) -> None:
    await _require_admin(update, context)
    services = _services(context)
    now = services.clock()
    chat = await _acting_chat(update, context, services)
    store = services.store
    before = store.get_chat(chat.id)
    _subscribe(services, chat, before, now)
    feeds = store.followed_feeds(chat.id)
    watchlists = store.watchlists(chat.id)
    has = f"{counted(len(watchlists), 'watchlist')}, {counted(len(feeds), 'feed')}"
    if before is not None and watchlists:
        # A returning chat (after /stop, a block, or a second /start) is told what it has.
        greeting = "👋 Welcome back" if not before.active else "👋 newswatch is already on"
        lines = [
            f"{greeting}: {has}. Alerts are on for this chat.",
            "/status shows everything; /watchlists and /feeds list them.",
        ]
        if not feeds:
            lines.append("You follow no feeds: add one with /addfeed <i>URL</i>.")
        await _reply(update, context, "\n".join(lines))
        return
    lines = ["👋 <b>newswatch</b> is on for this chat."]
    if feeds:
        lines.append(f"You follow {counted(len(feeds), 'feed')} (/feeds).")
    else:
        lines.append("You follow no feeds yet: add one with /addfeed <i>URL</i>.")
    lines += [
        "",
        "Next, tell me what to watch for:",
        "<code>/watch Russia AND embassy</code>",
        '<code>/watch Talks: PERSON:Putin NEAR/10 "peace talks"</code>',
        "I check your feeds and send a short digest of new matching stories, "
        "with their key quote. /help for more.",
    ]
    await _reply(update, context, "\n".join(lines))


HELP = """<b>newswatch</b> sends you new stories from your feeds that match your watchlists.

/watch <i>query</i> — watch for stories, e.g. <code>/watch Russia AND embassy</code>
/watchlists — your watchlists and their state · /unwatch <i>number or name</i>
/feeds — the feeds you follow · /addfeed <i>URL</i>
/status — feeds, watchlists, and what is waiting
/stop — pause alerts (your settings are kept) · /start — resume

More, with examples to copy:
/help query — how to write a query
/help digest — when and how stories come
/help feeds — feeds, files and channels"""

HELP_QUERY_EXAMPLES = """<b>Examples</b> (tap one to copy it)
<code>/watch Russia AND embassy</code>
<code>/watch Gas: gas OR LNG</code> — a name, a colon, then the query
<code>/watch Talks: PERSON:Putin NEAR/10 "peace talks"</code>
<code>/watch Strikes: title:strike* NOT football</code>
A name on the first line and the query on the next works too.
<code>/test gas OR LNG</code> — the recent stories a query would have caught.
/watch again with the same name replaces its query; /unwatch <i>name</i> removes it."""

HELP_DIGEST = """<b>When stories come</b>
Instant alerts by default; a digest per watchlist otherwise. Examples to copy:
<code>/schedule daily 8am</code> · <code>/schedule weekly mon 08:00</code> · \
<code>/schedule hourly</code> · <code>/schedule instant</code>
<code>/schedule Embassies: daily 18:00</code> — for one watchlist \
(<code>/schedule Embassies: default</code> to follow the chat's)
<code>/timezone Europe/Berlin</code> — times are on your clock (UTC+2 works, without DST)
<code>/quiet 10pm-7am</code> — alerts wait until the end · \
<code>/quiet 22:00-07:00 silent</code> — they come without a sound · <code>/quiet off</code>
<code>/mute Embassies</code> — for a day · <code>/mute Embassies 2h</code> · \
<code>/mute Embassies off</code>
<code>/pause Embassies</code> · <code>/resume Embassies</code> — stop looking, start again
<code>/digest now</code> — send what is waiting · <code>/digest more</code> — the rest of a \
long digest
/status shows each watchlist's state and when what is waiting goes."""

HELP_FEEDS = """<b>Feeds</b>
<code>/addfeed https://example.com/rss</code> — a feed, or a web page that links to one
/feeds — the list, with any feed that keeps failing · <code>/removefeed 2</code>
Send me an OPML file (from any feed reader) to follow its feeds.
<code>/export</code> — your feeds (OPML) and settings (JSON) as files; answer the settings \
file with <code>/import</code> to restore them.
<b>Groups and channels</b>
In a group, an admin sends /start there; everyone may read, only admins change things.
For a channel, make me an admin who can post, then in a private chat: \
<code>/channel @yourchannel</code> (or forward me one of its posts); \
<code>/channel off</code> to manage your own chat again."""

HELP_PAGES: dict[str, str] = {
    "query": f"<pre>{text_html(QUERY_HELP)}</pre>\n{HELP_QUERY_EXAMPLES}",
    "digest": HELP_DIGEST,
    "feeds": HELP_FEEDS,
}
"""``/help <page>``; a page is found by the start of its name (``/help q``, ``/help Digests``)."""


async def cmd_help(update: Update, context: Context) -> None:
    words = _args(update).casefold().split()
    if not words:
        await _reply(update, context, HELP)
        return
    key = words[0]
    page = next(
        (page for name, page in HELP_PAGES.items() if name.startswith(key) or key.startswith(name)),
        None,
    )
    if page is None:
        pages = ", ".join(f"/help {name}" for name in HELP_PAGES)
        page = f"There is no help page “{text_html(_echo(key))}”. The pages are {pages}."
    await _reply(update, context, page)


UNKNOWN_TEXT = (
    "I don't know /{command}. /help lists what I can do, e.g. "
    "<code>/watch Russia AND embassy</code>."
)
PLAIN_TEXT = (
    "I work with commands: e.g. <code>/watch Russia AND embassy</code> to get new stories "
    "about that from your feeds. /help lists them all; /status shows how things stand."
)


async def on_unknown(update: Update, context: Context) -> None:
    """A command nothing else took, or plain text in a private chat: a short answer pointing
    at /help. In groups only a command addressed to this bot (``/foo@thisbot``) is answered,
    never the members' chatter; in channels (posts are public) nothing is."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or chat.type == "channel" or not message.text:
        return
    text = message.text
    if not text.startswith("/"):
        if chat.type == "private":
            await _reply(update, context, PLAIN_TEXT)
        return
    head = text[1:].split(maxsplit=1)
    command, _, addressee = (head[0] if head else "").partition("@")
    me = context.bot.username or ""
    if chat.type != "private" and addressee.casefold() != me.casefold():
        return
    await _reply(update, context, UNKNOWN_TEXT.format(command=text_html(_echo(command))))


def split_name(arg: str) -> tuple[str, str]:
    """``"Gas: gas OR LNG"`` -> ``("Gas", "gas OR LNG")``; ``"PERSON:Putin"`` has no name.

    A name is what stands before the first colon when a space (or nothing: ``"Gas:"`` names
    an empty query) follows that colon.
    """
    head, sep, tail = arg.partition(":")
    if sep and (not tail or tail[:1].isspace()) and head.strip() and not set(head) & set('"()'):
        return head.strip(), tail.strip()
    return "", arg


def split_watch(arg: str) -> tuple[str, str]:
    """The name and the query of ``/watch``'s argument; the name is "" when none is given.

    ``Name: query`` names it, as everywhere. A message of several lines without that colon on
    its first line is read as a name on the first line and the query below it::

        /watch Embassies
        Russia AND embassy

    A name never holds a line break: its spaces and line breaks are collapsed to one space.
    """
    name, query = split_name(arg)
    if "\n" in name:  # the colon was further down: part of the query (``PERSON: x``)
        name, query = "", arg
    if not name and "\n" in arg:
        first, _, rest = arg.partition("\n")
        if rest.strip():
            name, query = first, rest.strip()
    return " ".join(name.split()), query


async def cmd_watch(update: Update, context: Context) -> None:
    services, chat, arg = await _command(
        update,
        context,
        usage=(
            "Tell me what to watch for, e.g. /watch Russia AND embassy "
            "or /watch Embassies: Russia AND embassy (/help query shows how to write one)."
        ),
    )
    name, query_text = split_watch(arg)
    if not query_text:
        raise CommandError(
            f"The query is empty: write what to watch for after the name, e.g. "
            f"/watch {_echo(name)}: Russia AND embassy."
        )
    if not name:
        flat = " ".join(query_text.split())
        name = flat if len(flat) <= MAX_NAME else flat[: MAX_NAME - 1] + "…"
    existing = services.store.watchlists(chat.id)
    most = services.config.limits.watchlists_per_chat
    if len(existing) >= most and all(w.name.casefold() != name.casefold() for w in existing):
        raise CommandError(
            f"This chat has {most} watchlist{'s' if most != 1 else ''}, the most it can have. "
            "Remove one with /unwatch, or combine queries with OR."
        )
    if len(name) > MAX_NAME:
        raise CommandError(f"A watchlist name can have at most {MAX_NAME} characters.")
    try:
        watchlist, query = services.engine.add_watchlist(
            chat.id, name, query_text, services.clock()
        )
    except QueryError as e:
        await _reply(update, context, render_query_error(query_text, e))
        return
    feeds = services.store.followed_feeds(chat.id)
    replaced = any(w.id == watchlist.id for w in existing)
    lines = [
        f"👀 Watching <b>{text_html(watchlist.name)}</b>: "
        f"<code>{text_html(str(query))}</code>"
        + (" (this replaces its earlier query)" if replaced else ""),
    ]
    lines += [f"Note: {text_html(w)}" for w in query.warnings]
    twin = _same_query(existing, watchlist, str(query))
    if twin is not None:
        lines.append(
            f"Note: your watchlist <b>{text_html(twin.name)}</b> has the same query, so matching "
            f"stories come twice. /unwatch {text_html(twin.name)} if you meant to rename it."
        )
    if not feeds:
        lines.append("You follow no feeds yet: add one with /addfeed <i>URL</i>.")
        await _reply(update, context, "\n".join(lines))
        return
    lines.append(
        f"I'll send new matching stories from your {len(feeds)} feed"
        f"{'s' if len(feeds) != 1 else ''}. Stories already published count as history."
    )
    recent = services.store.recent_articles(chat.id, PREVIEW_ARTICLES)
    if recent:
        found = await asyncio.to_thread(services.engine.preview, query, recent)
        lines.append(
            f"For a feel of it: {len(found)} of the latest {len(recent)} stories in your feeds "
            "would have matched" + (":" if found else ".")
        )
        for article in found[:PREVIEW_SHOWN]:
            lines.append(f"• {text_html(shorten(article.title, 120))}")
    await _reply(update, context, "\n".join(lines))


def _same_query(existing: list[Watchlist], new: Watchlist, query: str) -> Watchlist | None:
    """Another watchlist whose query reads the same as ``query`` once parsed, if any."""
    for w in existing:
        if w.id == new.id:
            continue
        try:
            if str(parse_query(w.query)).casefold() == query.casefold():
                return w
        except QueryError:
            continue
    return None


async def cmd_status(update: Update, context: Context) -> None:
    """Everything about this chat on one page; for a paused chat too (it says so)."""
    services = _services(context)
    chat = await _acting_chat(update, context, services)
    store = services.store
    stored = store.get_chat(chat.id)
    if stored is None:
        raise CommandError("This chat isn't subscribed yet. Send /start first.")
    watchlists = store.watchlists(chat.id)
    waiting = _count_stories(store.pending_hits(chat.id))
    everything = _count_stories(store.pending_hits(chat.id, include_held=True))
    held = sum(everything.values()) - sum(waiting.values())
    text = render_status(
        stored,
        store.followed_feeds(chat.id),
        watchlists,
        waiting,
        held,
        interval=services.engine.interval,
        now=services.clock(),
    )
    await _reply(update, context, text)


def _count_stories(hits: list[PendingHit]) -> dict[int, int]:
    """Stories per watchlist (one story from several feeds counts once)."""
    stories: dict[int, set[str]] = {}
    for hit in hits:
        stories.setdefault(hit.watchlist_id, set()).add(hit.story or f"#{hit.article_id}")
    return {watchlist_id: len(found) for watchlist_id, found in stories.items()}


async def cmd_watchlists(update: Update, context: Context) -> None:
    services, chat, _ = await _command(update, context, admin=False)
    items = services.store.watchlists(chat.id)
    if not items:
        await _reply(
            update, context, "No watchlists yet. Add one: <code>/watch Russia AND embassy</code>"
        )
        return
    now = services.clock()
    lines = ["<b>Your watchlists</b>"]
    for i, w in enumerate(items, 1):
        name, query = text_html(w.name), text_html(w.query)
        lines.append(f"{i}. <b>{name}</b>: <code>{query}</code>")
        lines.append(f"   {watchlist_state(chat, w, now)}")
    lines.append("Remove one with /unwatch <i>number or name</i>; /status shows what is waiting.")
    await _reply(update, context, "\n".join(lines), buttons.watchlists_keyboard(items))


def watchlist_state(chat: Chat, watchlist: Watchlist, now: datetime) -> str:
    """``watchlist_states`` on one line (``/watchlists``)."""
    return " · ".join(watchlist_states(chat, watchlist, now))


def watchlist_states(chat: Chat, watchlist: Watchlist, now: datetime) -> list[str]:
    """``⏸ paused`` / ``🔕 muted until Tue 14:30`` / the digests' schedule, as HTML: what a
    user needs to know to understand why a story came, or did not (``/watchlists`` and the
    watchlist's card)."""
    states: list[str] = []
    if watchlist.paused:
        states.append(f"⏸ paused (/resume {text_html(watchlist.name)})")
    if is_muted(watchlist.muted_until, now) and watchlist.muted_until is not None:
        states.append(f"🔕 muted until {local_time(watchlist.muted_until, chat.timezone)}")
    own = watchlist.schedule is not None
    when = _describe_schedule(watchlist.schedule or chat.schedule, chat.timezone)
    states.append(f"📅 {when}" + ("" if own else " (the chat's schedule)"))
    return states


async def cmd_unwatch(update: Update, context: Context) -> None:
    services, chat, arg = await _command(
        update, context, usage="Which one? /unwatch <number or name> (see /watchlists)."
    )
    watchlist = _pick(services.store.watchlists(chat.id), arg)
    services.engine.remove_watchlist(chat.id, watchlist.id)
    await _reply(update, context, f"Stopped watching <b>{text_html(watchlist.name)}</b>.")


async def cmd_feeds(update: Update, context: Context) -> None:
    services, chat, _ = await _command(update, context, admin=False)
    feeds = services.store.followed_feeds(chat.id)
    if not feeds:
        await _reply(update, context, "You follow no feeds yet: add one with /addfeed <i>URL</i>.")
        return
    lines = ["<b>Your feeds</b>"] + [_feed_line(i, f) for i, f in enumerate(feeds, 1)]
    lines.append("Stop one with /removefeed <i>number or URL</i>.")
    await _reply(update, context, "\n".join(lines))


async def cmd_addfeed(update: Update, context: Context) -> None:
    services, chat, arg = await _command(
        update,
        context,
        usage="Which feed? Send its address, e.g. /addfeed https://example.com/rss (a web page "
        "that links to its feed works too).",
    )
    try:
        text = await follow_feed(services, chat.id, arg)
    except FeedError as e:
        text = f"{feed_error_text(e)}\nCheck the address, or try the site's RSS or Atom link."
    await _reply(update, context, text)


async def follow_feed(services: Services, chat_id: int, address: str) -> str:
    """Follow the feed at ``address`` (or the one a page there links to) for a chat, and say
    what happened (``/addfeed`` and its conversation). Raises ``CommandError`` when the chat
    follows all the feeds it may, ``FeedError`` when there is no feed to follow there."""
    most = services.config.limits.feeds_per_chat
    followed = services.store.followed_feeds(chat_id)
    already = _followed_feed(followed, address)
    if already is not None:
        return _already_following(already)
    if len(followed) >= most:
        raise CommandError(
            f"This chat follows {most} feed{'s' if most != 1 else ''}, the most it can. "
            "Remove one with /removefeed."
        )
    url = validate_feed_url(address)
    feed, count = await services.engine.follow_new_feed(chat_id, url, services.clock())
    if any(f.id == feed.id for f in followed):  # the page led to a feed already followed
        return _already_following(feed)
    items = f" ({counted(count, 'story', 'stories')} in it now)" if count else ""
    if feed.url != url:
        items += " — the feed that page links to"
    return (
        f"✅ Following <b>{text_html(feed.title)}</b>{items}. "
        "New stories will be checked against your watchlists."
    )


def feed_error_text(error: FeedError) -> str:
    """Why a feed could not be added, as a sentence."""
    why = error.message.rstrip(" :")
    return f"I couldn't add that feed: {text_html(as_sentence(why, capital=False))}"


def _followed_feed(feeds: list[Feed], url: str) -> Feed | None:
    """The feed among ``feeds`` at ``url`` (a trailing slash aside), or None."""
    return next((f for f in feeds if f.url.rstrip("/") == url.rstrip("/")), None)


def _already_following(feed: Feed) -> str:
    return f"You already follow <b>{text_html(feed.title)}</b>. /feeds lists your feeds."


async def cmd_removefeed(update: Update, context: Context) -> None:
    services, chat, arg = await _command(
        update, context, usage="Which one? /removefeed <number or URL> (see /feeds)."
    )
    feeds = services.store.followed_feeds(chat.id)
    feed: Feed | None = None
    n = list_number(arg)
    if n is not None:
        if not 1 <= n <= len(feeds):
            raise CommandError(f"There is no feed number {_echo(arg)}. See /feeds.")
        feed = feeds[n - 1]
    else:
        feed = _followed_feed(feeds, arg)
        if feed is None:
            raise CommandError("You don't follow that feed. See /feeds.")
    services.store.unfollow(chat.id, feed.id)
    await _reply(update, context, f"Stopped following <b>{text_html(feed.title)}</b>.")


async def cmd_stop(update: Update, context: Context) -> None:
    await _require_admin(update, context)
    services = _services(context)
    chat = await _acting_chat(update, context, services)
    services.store.set_chat_active(chat.id, False)
    await _reply(
        update,
        context,
        "⏸ Alerts are paused for this chat. Your feeds and watchlists are kept: "
        "send /start to resume.",
    )


def as_sentence(text: str, *, capital: bool = True) -> str:
    """The engine's clauses (``quiet hours must start and end at different times; use …``) as a
    sentence a person would write: a capital letter first (unless the clause ends a sentence
    begun before it), a full stop (or ? or !) last."""
    text = text.strip()
    if not text:
        return text
    if capital and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!", "…")) else text + "."


async def on_error(update: object, context: Context) -> None:
    """The one place where errors become messages."""
    error = context.error
    if isinstance(error, CommandError):
        text = text_html(as_sentence(error.message))
    elif isinstance(error, NewswatchError):
        logger.warning("command failed error=%s", error)
        text = text_html(as_sentence(f"Sorry, that didn't work: {error}"))
    else:
        logger.error("unhandled error in a handler or job", exc_info=error)
        text = "Sorry, something went wrong on my side. Please try again in a minute."
    if isinstance(update, Update):
        try:
            await _reply(update, context, text)
        except Exception:  # the chat may be gone; the error is logged either way
            logger.warning("could not report an error to the chat", exc_info=True)


# -- when digests come ------------------------------------------------------------------------


async def cmd_timezone(update: Update, context: Context) -> None:
    services, chat, arg = await _command(update, context)
    if not arg:
        await _reply(
            update,
            context,
            f"This chat's timezone is <b>{text_html(chat.timezone)}</b>. "
            "Change it with /timezone <i>Europe/Berlin</i>.",
        )
        return
    zone = parse_timezone(arg)
    name = zone_name(zone)
    services.store.set_chat_settings(chat.id, timezone=name)
    now = services.clock()
    local = now.astimezone(zone)
    text = f"🕑 Timezone set to <b>{text_html(name)}</b> (it is {local:%H:%M} there now)."
    if is_fixed_offset(zone):
        offset = local.utcoffset()
        cities = zones_at_offset(offset, now) if offset is not None else []
        text += " A fixed offset does not change for daylight saving time"
        text += (
            f": to follow a place's clocks, use its zone, e.g. /timezone {cities[0]}."
            if cities
            else "."
        )
    await _reply(update, context, text)


async def cmd_schedule(update: Update, context: Context) -> None:
    services, chat, arg = await _command(update, context)
    if not arg:
        lines = [f"Digests for this chat: <b>{text_html(chat.schedule)}</b>."]
        for w in services.store.watchlists(chat.id):
            if w.schedule:
                lines.append(f"• {text_html(w.name)}: {text_html(w.schedule)}")
        lines.append(
            "Change it: /schedule instant · hourly · daily 08:00 · weekly mon 08:00, or for one "
            "watchlist: <code>/schedule Embassies: daily 08:00</code> (<code>default</code> "
            "to follow the chat's)."
        )
        await _reply(update, context, "\n".join(lines))
        return
    name, text = split_name(arg)
    if name:
        watchlist = _pick(services.store.watchlists(chat.id), name)
        if text.casefold() in ("default", "chat"):
            services.store.set_watchlist_schedule(watchlist.id, None)
            await _reply(
                update,
                context,
                f"<b>{text_html(watchlist.name)}</b> follows the chat's schedule "
                f"({text_html(chat.schedule)}).",
            )
            return
        schedule = parse_schedule(text)
        services.store.set_watchlist_schedule(watchlist.id, str(schedule))
        target = f"<b>{text_html(watchlist.name)}</b>"
    else:
        schedule = parse_schedule(text)
        services.store.set_chat_settings(chat.id, schedule=str(schedule))
        target = "this chat"
    when = _describe_schedule(str(schedule), chat.timezone)
    await _reply(update, context, f"📅 Digests for {target}: {when}.")


def _describe_schedule(schedule: str, timezone: str) -> str:
    if schedule == "instant":
        return "as soon as stories match"
    if schedule == "hourly":
        return "once an hour"
    return f"{text_html(schedule)} ({text_html(timezone)})"


async def cmd_quiet(update: Update, context: Context) -> None:
    services, chat, arg = await _command(update, context)
    if not arg:
        current = chat.quiet or "none"
        await _reply(
            update,
            context,
            f"Quiet hours: <b>{text_html(current)}</b>. Set them with "
            "/quiet 22:00-07:00 (alerts wait until the end) or /quiet 22:00-07:00 silent "
            "(alerts come without a sound); /quiet off to end them.",
        )
        return
    quiet = parse_quiet(arg)
    services.store.set_chat_settings(chat.id, quiet=str(quiet) if quiet else "")
    if quiet is None:
        await _reply(update, context, "🔔 Quiet hours are off.")
        return
    how = "arrive without a sound" if quiet.silent else "wait until they end"
    await _reply(
        update,
        context,
        f"🌙 Quiet hours {text_html(str(quiet))} ({text_html(chat.timezone)}): "
        f"instant alerts {how}.",
    )


async def cmd_mute(update: Update, context: Context) -> None:
    """``/mute Embassies 2h``; without a duration for a day, as the button under a digest."""
    services, chat, arg = await _command(
        update,
        context,
        usage="Which watchlist, and for how long? /mute Embassies 2h (or 1d, 30m, off); "
        "/mute Embassies alone mutes it for a day.",
    )
    items = services.store.watchlists(chat.id)
    target, _, duration = arg.rpartition(" ")
    whole = _find(items, arg)
    if whole is not None or not target:
        watchlist, length = whole or _pick(items, arg), DEFAULT_MUTE
    else:
        watchlist, length = _pick(items, target.strip()), parse_mute(duration)
    now = services.clock()
    if not length:
        services.store.set_watchlist_mute(watchlist.id, None)
        await _reply(update, context, f"🔔 <b>{text_html(watchlist.name)}</b> is unmuted.")
        return
    services.store.set_watchlist_mute(watchlist.id, now + length)
    await _reply(update, context, mute_text(watchlist.name, now + length, chat.timezone))


def local_time(moment: datetime, timezone: str) -> str:
    """``Tue 14:30``: a moment on the chat's clock (in the coming week, so the day suffices)."""
    try:
        local = moment.astimezone(parse_timezone(timezone))
    except CommandError:
        local = moment
    return f"{local:%a %H:%M}"


def mute_text(name: str, until: datetime, timezone: str) -> str:
    return (
        f"🔕 <b>{text_html(name)}</b> is muted until {local_time(until, timezone)}. "
        "Stories found meanwhile come in one digest after that."
    )


async def _set_paused(update: Update, context: Context, paused: bool) -> None:
    verb = "pause" if paused else "resume"
    services, chat, arg = await _command(
        update, context, usage=f"Which one? /{verb} <number or name> (see /watchlists)."
    )
    watchlist = _pick(services.store.watchlists(chat.id), arg)
    services.engine.set_paused(watchlist.id, paused)
    if paused:
        text = (
            f"⏸ <b>{text_html(watchlist.name)}</b> is paused: it won't look for stories "
            "until you /resume it."
        )
    else:
        text = f"▶️ <b>{text_html(watchlist.name)}</b> is watching again."
    await _reply(update, context, text)


async def cmd_pause(update: Update, context: Context) -> None:
    await _set_paused(update, context, True)


async def cmd_resume(update: Update, context: Context) -> None:
    await _set_paused(update, context, False)


async def cmd_digest(update: Update, context: Context) -> None:
    """``/digest now`` and ``/digest more`` (also ``/digest_more``): send what is waiting."""
    services, chat, arg = await _command(update, context)
    if arg.casefold() not in ("", "now", "more"):
        raise CommandError(
            f"I can't send a digest “{_echo(arg)}”. /digest now sends what is waiting, "
            "/digest more the rest of a long digest; /schedule sets when digests come."
        )
    now = services.clock()
    queued = queue_digests(
        services.store,
        now,
        quotes_per_article=services.config.digest.quotes_per_article,
        max_items=services.config.digest.max_items,
        chat_ids=[chat.id],
        forced=True,
    )
    if not queued:
        await _reply(update, context, "Nothing new is waiting for this chat.")
        return
    services.outbox_ready.set()


# -- buttons under digests, and the bot's own membership ------------------------------------


async def on_button(update: Update, context: Context) -> None:
    """Mute for a day, pause, or show the query of the watchlist under a digest."""
    query = update.callback_query
    if query is None:
        return
    services = _services(context)
    action, _, raw_id = (query.data or "").partition(":")
    message = query.message
    number = list_number(raw_id)
    watchlist = services.store.get_watchlist(number) if number else None
    if watchlist is None or message is None or watchlist.chat_id != message.chat.id:
        await query.answer("That watchlist no longer exists.")
        return
    # In a channel every subscriber sees the buttons: only its admins may use them.
    if (
        action in ("mute", "pause")
        and message.chat.type != "private"
        and not await _is_admin_of(context, message.chat.id, query.from_user.id)
    ):
        where = "channel" if message.chat.type == "channel" else "group"
        await query.answer(f"Only the {where}'s admins can change this watchlist.")
        return
    if action == "mute":
        until = services.clock() + DEFAULT_MUTE
        services.store.set_watchlist_mute(watchlist.id, until)
        chat = services.store.get_chat(watchlist.chat_id)
        when = local_time(until, chat.timezone if chat is not None else "UTC")
        await query.answer(
            f"{watchlist.name} is muted until {when}. /mute {watchlist.name} off ends it."
        )
    elif action == "pause":
        services.engine.set_paused(watchlist.id, True)
        await query.answer(f"{watchlist.name} is paused. /resume {watchlist.name} to restart it.")
    elif action == "query":
        text = f"{watchlist.name}: {watchlist.query}"
        await query.answer(text if len(text) <= 200 else text[:199] + "…", show_alert=True)
    else:
        await query.answer("Unknown button.")


async def on_membership(update: Update, context: Context) -> None:
    """The bot was blocked, removed or re-added: pause or keep the chat, never lose its data."""
    change = update.my_chat_member
    if change is None:
        return
    services = _services(context)
    status, before = change.new_chat_member.status, change.old_chat_member.status
    if status in ("kicked", "left"):
        services.store.set_chat_active(change.chat.id, False)
        logger.info("bot removed from chat chat=%d status=%s", change.chat.id, status)
    elif before in ("left", "kicked") and change.chat.type in ("group", "supergroup"):
        # Just added to a group: say how to begin (never in channels, where posts are public).
        await context.bot.send_message(
            change.chat.id,
            "👋 Hello! I'm <b>newswatch</b>: I send this group short digests of new stories "
            "that match your watchlists, with their key quotes.\nAn admin can send /start to "
            "begin, then e.g. <code>/watch Russia AND embassy</code>. /help for more.",
            parse_mode=ParseMode.HTML,
        )


# -- channels managed from a private chat, and the instance's admins ---------------------------

CHANNEL_USAGE = (
    "To manage a channel from here, make me an admin of it who can post messages, then send "
    "/channel @channelname (or forward me one of its posts). /channel off to manage this chat "
    "again."
)


async def cmd_channel(update: Update, context: Context) -> None:
    """``/channel @name`` links a channel; ``/channel off`` unlinks; ``/channel`` says which."""
    chat = _chat_of(update)
    if chat.kind != "private":
        raise CommandError("Send /channel to me in a private chat.")
    services = _services(context)
    arg = _args(update)
    if arg.casefold() in ("off", "none", "here"):
        linked = services.store.channel_link(chat.id)
        services.store.set_channel_link(chat.id, None, services.clock())
        await _reply(
            update,
            context,
            "Commands act on this chat again." if linked else "Commands act on this chat.",
        )
        return
    if not arg:
        linked = services.store.channel_link(chat.id)
        await _reply(
            update,
            context,
            CHANNEL_USAGE if linked is None else "Commands here act on the channel above.",
        )
        return
    ref: int | str = arg if arg.startswith("@") else (int(arg) if _is_chat_id(arg) else "")
    if not ref:
        raise CommandError(f"“{_echo(arg)}” is not a channel name. {CHANNEL_USAGE}")
    await _link_channel(update, context, ref)


def _is_chat_id(arg: str) -> bool:
    """A channel's id as Telegram shows it: ``-100`` and digits 0-9 (at most 20 of them)."""
    digits = arg[1:]
    return arg.startswith("-") and digits.isascii() and digits.isdigit() and len(digits) <= 20


async def on_forward(update: Update, context: Context) -> None:
    """A post forwarded from a channel into a private chat links that channel."""
    message = update.effective_message
    origin = message.forward_origin if isinstance(message, Message) else None
    if not isinstance(origin, MessageOriginChannel):
        await _reply(update, context, CHANNEL_USAGE)
        return
    await _link_channel(update, context, origin.chat.id)


async def _link_channel(update: Update, context: Context, ref: int | str) -> None:
    """Check that the channel exists, that the bot may post there and that the user is one of
    its admins; then subscribe it (as /start would) and act on it from this private chat."""
    services = _services(context)
    user = update.effective_user
    if user is None:
        raise CommandError("This command works in a private chat.")
    try:
        found = await context.bot.get_chat(ref)
    except TelegramError as e:
        logger.info("channel lookup failed ref=%s error=%s", ref, e)
        raise CommandError(
            "I can't find that channel. Add me to it as an admin first, then try again."
        ) from e
    if found.type != "channel":
        raise CommandError("That is not a channel. In a group, send /start there instead.")
    title = found.title or str(found.id)
    try:
        me = await context.bot.get_chat_member(found.id, context.bot.id)
    except TelegramError as e:
        raise CommandError(f"I'm not a member of {title}: add me as an admin first.") from e
    if me.status != "administrator" or not getattr(me, "can_post_messages", False):
        raise CommandError(f"Make me an admin of {title} who can post messages, then try again.")
    if not await _is_admin_of(context, found.id, user.id):
        raise CommandError(f"Only the admins of {title} can manage newswatch there.")
    now = services.clock()
    channel = Chat(found.id, "channel", title)
    known = services.store.get_chat(found.id)
    if known is None or not known.active:
        _subscribe(services, channel, known, now)
    services.store.set_channel_link(user.id, found.id, now)
    feeds = services.store.followed_feeds(found.id)
    watchlists = services.store.watchlists(found.id)
    await _reply(
        update,
        context,
        f"Commands in this chat now act on the channel <b>{text_html(title)}</b>: it follows "
        f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''} and has {len(watchlists)} "
        f"watchlist{'s' if len(watchlists) != 1 else ''}. Digests are posted in the channel. "
        "Send /channel off to manage this chat again.",
    )


async def cmd_stats(update: Update, context: Context) -> None:
    """Instance-wide numbers, for the users in ``[telegram] admins``."""
    services = _services(context)
    user = update.effective_user
    if user is None or user.id not in services.config.telegram.admins:
        raise CommandError("/stats is for this instance's admins.")
    stats = services.store.instance_stats(services.clock())
    await _reply(
        update,
        context,
        "<b>newswatch</b>\n"
        f"Feeds followed: {stats['feeds']}\n"
        f"Active chats: {stats['chats']}\n"
        f"Outbox waiting: {stats['outbox']}\n"
        f"Stories in the last 24 h: {stats['stories_24h']} ({stats['alerts_24h']} alerts)\n"
        f"Errors in the last hour: {stats['feed_errors_1h']} feeds, "
        f"{stats['send_failures_1h']} sends",
    )


# -- files: OPML import, /export, /import ------------------------------------------------------

MAX_UPLOAD_BYTES = 2_000_000  # the largest file read from a chat (an OPML list is far smaller)
FILE_KINDS_TEXT = (
    "I read OPML files (.opml or .xml, from any feed reader) to follow their feeds, and the "
    "settings file from /export (.json)."
)


async def cmd_export(update: Update, context: Context) -> None:
    """The chat's feeds as OPML and its watchlists and settings as JSON, as two files."""
    services, chat, _ = await _command(update, context, admin=False)
    message = update.effective_message
    if message is None:
        return
    for file in transfer.export_files(services, chat, services.clock()):
        await message.reply_document(
            file.content, filename=file.name, caption=file.caption, do_quote=False
        )


async def cmd_import(update: Update, context: Context) -> None:
    """``/import`` in answer to a settings (or OPML) file."""
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    if replied is None or replied.document is None:
        await _command(update, context)
        raise CommandError(
            "Send me the settings file from /export (newswatch-settings.json) as a file, or "
            "answer that file with /import. An OPML file of feeds can simply be sent."
        )
    await _import_file(update, context, replied)


async def on_document(update: Update, context: Context) -> None:
    """A file sent to the bot: an OPML list of feeds, or a settings file from /export."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    if transfer.file_kind(message.document.file_name) is None and message.chat.type != "private":
        return  # files shared in a group are not all for the bot
    await _import_file(update, context, message)


async def _import_file(update: Update, context: Context, message: Message) -> None:
    document = message.document
    assert document is not None
    services, chat, _ = await _command(update, context)
    kind = transfer.file_kind(document.file_name)
    if kind is None:
        raise CommandError(f"{FILE_KINDS_TEXT} This file is neither.")
    if document.file_size is not None and document.file_size > MAX_UPLOAD_BYTES:
        raise CommandError(
            f"That file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB; {FILE_KINDS_TEXT}"
        )
    try:
        file = await document.get_file()
        data = bytes(await file.download_as_bytearray())
    except TelegramError as e:
        logger.warning("could not download a file chat=%d error=%s", chat.id, e)
        raise CommandError(
            "I couldn't download that file from Telegram; please send it again."
        ) from e
    limits = services.config.limits
    if kind == "opml":
        text = await transfer.import_opml(
            services,
            chat,
            data,
            max_feeds=limits.feeds_per_chat,
            concurrency=services.config.polling.concurrency,
        )
    else:
        text = transfer.import_settings(
            services, chat, data, max_watchlists=limits.watchlists_per_chat, max_name=MAX_NAME
        )
    await _reply(update, context, text)
