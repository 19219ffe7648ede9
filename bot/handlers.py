"""Thin command handlers: parse the arguments, call the engine, render, reply.

Every command answers in plain words, also on bad input. Errors of the engine become messages
in two places only: ``render_query_error`` for a query that does not parse, and ``on_error``, the
application's error handler, for everything else (a ``CommandError`` carries its own words).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from telegram import BotCommand, Update
from telegram.constants import ParseMode

from bot.delivery import queue_digests
from bot.render import split_lines, text_html
from bot.services import Context, Services
from watchers.errors import CommandError, FeedError, NewswatchError, QueryError
from watchers.fetch import validate_feed_url
from watchers.model import Chat, Feed, Watchlist
from watchers.query import QUERY_HELP
from watchers.quotes import shorten
from watchers.schedule import parse_mute, parse_quiet, parse_schedule, parse_timezone
from watchers.text import neutralise_controls

logger = logging.getLogger(__name__)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Subscribe this chat and follow the default feeds"),
    ("watch", "Watch for a query: /watch Russia AND embassy"),
    ("watchlists", "List this chat's watchlists"),
    ("unwatch", "Stop a watchlist: /unwatch 2"),
    ("feeds", "List the feeds this chat follows"),
    ("addfeed", "Follow a feed: /addfeed https://example.com/rss"),
    ("removefeed", "Stop following a feed: /removefeed 3"),
    ("digest", "Send what is waiting now: /digest now"),
    ("schedule", "When digests come: /schedule daily 08:00"),
    ("timezone", "Set this chat's timezone: /timezone Europe/Berlin"),
    ("quiet", "Quiet hours: /quiet 22:00-07:00 (or off)"),
    ("mute", "Mute a watchlist for a while: /mute 1 2h"),
    ("pause", "Pause a watchlist: /pause 1"),
    ("resume", "Resume a paused watchlist: /resume 1"),
    ("help", "How newswatch works; /help query for the query language"),
    ("stop", "Pause all alerts for this chat"),
)

MAX_NAME = 40
PREVIEW_ARTICLES = 100  # stories a new watchlist is tried on, to show what it would catch
PREVIEW_SHOWN = 3
MAX_WATCHLISTS = 100  # per chat
MAX_FEEDS = 200  # per chat


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


async def _reply(update: Update, html: str) -> None:
    message = update.effective_message
    if message is None:
        return
    for part in split_lines(html):
        await message.reply_text(
            part, parse_mode=ParseMode.HTML, do_quote=False, disable_web_page_preview=True
        )


def _chat_of(update: Update) -> Chat:
    chat = update.effective_chat
    if chat is None:
        raise CommandError("This command works in a chat.")
    title = chat.title or chat.full_name or chat.username or ""
    message = update.effective_message
    topic = message.message_thread_id if message and message.is_topic_message else None
    return Chat(chat.id, chat.type, title, thread_id=topic)


def _known_chat(update: Update, services: Services) -> Chat:
    chat = _chat_of(update)
    stored = services.store.get_chat(chat.id)
    if stored is None or not stored.active:
        raise CommandError("This chat isn't subscribed yet. Send /start first.")
    return stored


async def _command(
    update: Update, context: Context, *, usage: str | None = None, admin: bool = True
) -> tuple[Services, Chat, str]:
    """What most commands start with: the admin check (in groups), the subscribed chat and the
    arguments. With ``usage``, an empty argument is answered with it."""
    if admin:
        await _require_admin(update, context)
    services = _services(context)
    chat = _known_chat(update, services)
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
    if feed.last_error:
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


async def cmd_start(update: Update, context: Context) -> None:
    await _require_admin(update, context)
    services = _services(context)
    now = services.clock()
    chat = _chat_of(update)
    store = services.store
    before = store.get_chat(chat.id)
    store.upsert_chat(chat, now)
    if before is None:  # a new chat follows the default feeds; a returning one keeps its own
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
    feeds = store.followed_feeds(chat.id)
    watchlists = store.watchlists(chat.id)
    lines = ["👋 <b>newswatch</b> is on for this chat."]
    if feeds:
        lines.append(f"You follow {len(feeds)} feed{'s' if len(feeds) != 1 else ''} (/feeds).")
    else:
        lines.append("You follow no feeds yet: add one with /addfeed <i>URL</i>.")
    if watchlists:
        lines.append(f"Your {len(watchlists)} watchlist(s) are active again (/watchlists).")
    lines += [
        "",
        "Next, tell me what to watch for:",
        "<code>/watch Russia AND embassy</code>",
        '<code>/watch Talks: PERSON:Putin NEAR/10 "peace talks"</code>',
        "I check your feeds and send a short digest of new matching stories, "
        "with their key quote. /help for more.",
    ]
    await _reply(update, "\n".join(lines))


HELP = """<b>newswatch</b> sends you new stories from your feeds that match your watchlists.

<b>Watchlists</b>
/watch <i>query</i> — e.g. <code>/watch Russia AND embassy</code>
/watch <i>name</i>: <i>query</i> — e.g. <code>/watch Gas: gas OR LNG</code>
/watchlists — list them · /unwatch <i>number or name</i>

<b>Feeds</b>
/feeds — list them · /addfeed <i>URL</i> · /removefeed <i>number or URL</i>

<b>When digests come</b>
/schedule instant · hourly · daily 08:00 · weekly mon 08:00 (for one watchlist: \
<code>/schedule Embassies: daily 08:00</code>)
/timezone Europe/Berlin · /quiet 22:00-07:00 [silent] · /quiet off
/mute <i>watchlist</i> 2h · /pause <i>watchlist</i> · /resume <i>watchlist</i>
/digest now — send what is waiting

<b>Chat</b>
/stop — pause alerts (your settings are kept) · /start — resume

/help query — the query language: AND, OR, NOT, "phrases", prefix*, NEAR/n, title:, \
PERSON:, ORG:, GPE:"""


async def cmd_help(update: Update, context: Context) -> None:
    if _args(update).casefold().startswith("query"):
        await _reply(update, f"<pre>{text_html(QUERY_HELP)}</pre>")
    else:
        await _reply(update, HELP)


def split_name(arg: str) -> tuple[str, str]:
    """``"Gas: gas OR LNG"`` -> ``("Gas", "gas OR LNG")``; ``"PERSON:Putin"`` has no name.

    A name is what stands before the first colon when a space follows that colon.
    """
    head, sep, tail = arg.partition(":")
    if sep and tail[:1].isspace() and head.strip() and not set(head) & set('"()'):
        return head.strip(), tail.strip()
    return "", arg


async def cmd_watch(update: Update, context: Context) -> None:
    services, chat, arg = await _command(
        update,
        context,
        usage=(
            "Tell me what to watch for, e.g. /watch Russia AND embassy "
            "or /watch Embassies: Russia AND embassy"
        ),
    )
    name, query_text = split_name(arg)
    if not query_text:
        raise CommandError("The query after the name is empty.")
    if not name:
        name = query_text if len(query_text) <= MAX_NAME else query_text[: MAX_NAME - 1] + "…"
    existing = services.store.watchlists(chat.id)
    if len(existing) >= MAX_WATCHLISTS and all(
        w.name.casefold() != name.casefold() for w in existing
    ):
        raise CommandError(
            f"This chat has {MAX_WATCHLISTS} watchlists, the most it can have. Remove one with "
            "/unwatch, or combine queries with OR."
        )
    if len(name) > MAX_NAME:
        raise CommandError(f"A watchlist name can have at most {MAX_NAME} characters.")
    try:
        watchlist, query = services.engine.add_watchlist(
            chat.id, name, query_text, services.clock()
        )
    except QueryError as e:
        await _reply(update, render_query_error(query_text, e))
        return
    feeds = services.store.followed_feeds(chat.id)
    replaced = any(w.id == watchlist.id for w in existing)
    lines = [
        f"👀 Watching <b>{text_html(watchlist.name)}</b>: "
        f"<code>{text_html(str(query))}</code>"
        + (" (this replaces its earlier query)" if replaced else ""),
    ]
    lines += [f"Note: {text_html(w)}" for w in query.warnings]
    if not feeds:
        lines.append("You follow no feeds yet: add one with /addfeed <i>URL</i>.")
        await _reply(update, "\n".join(lines))
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
    await _reply(update, "\n".join(lines))


async def cmd_watchlists(update: Update, context: Context) -> None:
    services, chat, _ = await _command(update, context, admin=False)
    items = services.store.watchlists(chat.id)
    if not items:
        await _reply(update, "No watchlists yet. Add one: <code>/watch Russia AND embassy</code>")
        return
    lines = ["<b>Your watchlists</b>"]
    for i, w in enumerate(items, 1):
        name, query = text_html(w.name), text_html(w.query)
        lines.append(f"{i}. <b>{name}</b>: <code>{query}</code>")
    lines.append("Remove one with /unwatch <i>number or name</i>.")
    await _reply(update, "\n".join(lines))


async def cmd_unwatch(update: Update, context: Context) -> None:
    services, chat, arg = await _command(
        update, context, usage="Which one? /unwatch <number or name> (see /watchlists)."
    )
    watchlist = _pick(services.store.watchlists(chat.id), arg)
    services.engine.remove_watchlist(chat.id, watchlist.id)
    await _reply(update, f"Stopped watching <b>{text_html(watchlist.name)}</b>.")


async def cmd_feeds(update: Update, context: Context) -> None:
    services, chat, _ = await _command(update, context, admin=False)
    feeds = services.store.followed_feeds(chat.id)
    if not feeds:
        await _reply(update, "You follow no feeds yet: add one with /addfeed <i>URL</i>.")
        return
    lines = ["<b>Your feeds</b>"] + [_feed_line(i, f) for i, f in enumerate(feeds, 1)]
    lines.append("Stop one with /removefeed <i>number or URL</i>.")
    await _reply(update, "\n".join(lines))


async def cmd_addfeed(update: Update, context: Context) -> None:
    services, chat, arg = await _command(
        update, context, usage="Which feed? /addfeed https://example.com/rss"
    )
    if len(services.store.followed_feeds(chat.id)) >= MAX_FEEDS:
        raise CommandError(
            f"This chat follows {MAX_FEEDS} feeds, the most it can. Remove one with /removefeed."
        )
    try:
        url = validate_feed_url(arg)
        feed, count = await services.engine.follow_new_feed(chat.id, url, services.clock())
    except FeedError as e:
        await _reply(
            update,
            f"I couldn't add that feed: {text_html(e.message)}\n"
            "Check the address, or try the site's RSS or Atom link.",
        )
        return
    items = f" ({count} {'story' if count == 1 else 'stories'} in it now)" if count else ""
    if feed.url != url:
        items += " — the feed that page links to"
    await _reply(
        update,
        f"✅ Following <b>{text_html(feed.title)}</b>{items}. "
        "New stories will be checked against your watchlists.",
    )


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
        feed = next(
            (f for f in feeds if f.url == arg or f.url.rstrip("/") == arg.rstrip("/")), None
        )
        if feed is None:
            raise CommandError("You don't follow that feed. See /feeds.")
    services.store.unfollow(chat.id, feed.id)
    await _reply(update, f"Stopped following <b>{text_html(feed.title)}</b>.")


async def cmd_stop(update: Update, context: Context) -> None:
    await _require_admin(update, context)
    services = _services(context)
    chat = _chat_of(update)
    services.store.set_chat_active(chat.id, False)
    await _reply(
        update,
        "⏸ Alerts are paused for this chat. Your feeds and watchlists are kept: "
        "send /start to resume.",
    )


async def on_error(update: object, context: Context) -> None:
    """The one place where errors become messages."""
    error = context.error
    if isinstance(error, CommandError):
        text = text_html(error.message)
    elif isinstance(error, NewswatchError):
        logger.warning("command failed error=%s", error)
        text = "Sorry, that didn't work: " + text_html(str(error))
    else:
        logger.error("unhandled error in a handler or job", exc_info=error)
        text = "Sorry, something went wrong on my side. Please try again in a minute."
    if isinstance(update, Update):
        try:
            await _reply(update, text)
        except Exception:  # the chat may be gone; the error is logged either way
            logger.warning("could not report an error to the chat", exc_info=True)


# -- when digests come ------------------------------------------------------------------------


async def cmd_timezone(update: Update, context: Context) -> None:
    services, chat, arg = await _command(update, context)
    if not arg:
        await _reply(
            update,
            f"This chat's timezone is <b>{text_html(chat.timezone)}</b>. "
            "Change it with /timezone <i>Europe/Berlin</i>.",
        )
        return
    zone = parse_timezone(arg)
    services.store.set_chat_settings(chat.id, timezone=zone.key)
    now = services.clock().astimezone(zone)
    await _reply(
        update,
        f"🕑 Timezone set to <b>{text_html(zone.key)}</b> (it is {now:%H:%M} there now).",
    )


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
        await _reply(update, "\n".join(lines))
        return
    name, text = split_name(arg)
    if name:
        watchlist = _pick(services.store.watchlists(chat.id), name)
        if text.casefold() in ("default", "chat"):
            services.store.set_watchlist_schedule(watchlist.id, None)
            await _reply(
                update,
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
    await _reply(update, f"📅 Digests for {target}: {when}.")


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
            f"Quiet hours: <b>{text_html(current)}</b>. Set them with "
            "/quiet 22:00-07:00 (alerts wait until the end) or /quiet 22:00-07:00 silent "
            "(alerts come without a sound); /quiet off to end them.",
        )
        return
    quiet = parse_quiet(arg)
    services.store.set_chat_settings(chat.id, quiet=str(quiet) if quiet else "")
    if quiet is None:
        await _reply(update, "🔔 Quiet hours are off.")
        return
    how = "arrive without a sound" if quiet.silent else "wait until they end"
    await _reply(
        update,
        f"🌙 Quiet hours {text_html(str(quiet))} ({text_html(chat.timezone)}): "
        f"instant alerts {how}.",
    )


async def cmd_mute(update: Update, context: Context) -> None:
    services, chat, arg = await _command(update, context)
    target, _, duration = arg.rpartition(" ")
    if not target or not duration:
        raise CommandError(
            "Which watchlist, and for how long? /mute Embassies 2h (or 1d, 30m, off)"
        )
    watchlist = _pick(services.store.watchlists(chat.id), target.strip())
    length = parse_mute(duration)
    now = services.clock()
    if not length:
        services.store.set_watchlist_mute(watchlist.id, None)
        await _reply(update, f"🔔 <b>{text_html(watchlist.name)}</b> is unmuted.")
        return
    services.store.set_watchlist_mute(watchlist.id, now + length)
    await _reply(update, mute_text(watchlist.name, now + length, chat.timezone))


def mute_text(name: str, until: datetime, timezone: str) -> str:
    try:
        local = until.astimezone(parse_timezone(timezone))
    except CommandError:
        local = until
    return (
        f"🔕 <b>{text_html(name)}</b> is muted until {local:%a %H:%M}. "
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
    await _reply(update, text)


async def cmd_pause(update: Update, context: Context) -> None:
    await _set_paused(update, context, True)


async def cmd_resume(update: Update, context: Context) -> None:
    await _set_paused(update, context, False)


async def cmd_digest(update: Update, context: Context) -> None:
    """``/digest now`` and ``/digest more`` (also ``/digest_more``): send what is waiting."""
    services, chat, _ = await _command(update, context)
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
        await _reply(update, "Nothing new is waiting for this chat.")
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
    if action in ("mute", "pause") and message.chat.type in ("group", "supergroup"):
        member = await context.bot.get_chat_member(message.chat.id, query.from_user.id)
        if member.status not in ADMIN_STATUSES:
            await query.answer("Only the group's admins can change this watchlist.")
            return
    if action == "mute":
        until = services.clock() + timedelta(days=1)
        services.store.set_watchlist_mute(watchlist.id, until)
        await query.answer(f"{watchlist.name} is muted for a day.")
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
