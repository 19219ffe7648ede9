"""Guided conversations: ``/watch``, ``/addfeed``, ``/schedule`` and ``/quiet`` sent alone.

Each asks one thing at a time (PTB's ``ConversationHandler``, one conversation per chat and
user, so that in a group only the admin who began answers), checks each answer as it comes and
asks again when it does not read; ``/cancel`` ends it at any step and a silence of
``CONVERSATION_TIMEOUT`` seconds ends it politely. The one-line forms (``/watch gas OR LNG``) are
left to the command handlers, unchanged. Buttons carry ``cv:`` data; a press that no conversation
is waiting for is answered by ``on_stale_step``.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from typing import Any

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import handlers
from bot.preview import count_text, run_preview, window_text
from bot.render import text_html
from bot.services import Context
from watchers.errors import CommandError, FeedError, QueryError
from watchers.query import (
    EntityTerm,
    Near,
    Node,
    Not,
    Prefix,
    Query,
    Source,
    Words,
    parse_query,
)
from watchers.schedule import parse_quiet, parse_schedule
from watchers.text import neutralise_controls

logger = logging.getLogger(__name__)

CONVERSATION_TIMEOUT = 600.0  # seconds of silence after which a conversation ends
QUERY, NAME, HOW_OFTEN, TIME, URL, QUIET = range(6)
END = ConversationHandler.END
TIMES = ("07:00", "08:00", "12:00", "18:00")  # the times offered as buttons for a daily digest
QUIET_CHOICES = ("22:00-07:00", "23:00-07:00", "22:00-07:00 silent")
CANCEL_HINT = "(/cancel to stop)"

_DRAFT = "newswatch-draft"


@dataclass(slots=True)
class _Draft:
    """What a conversation has gathered so far, kept in ``user_data`` for its chat."""

    kind: str  # watch | schedule
    chat_id: int  # the chat it acts on (a channel, when managed from a private chat)
    query: str = ""
    name: str = ""
    suggested: str = ""


def _draft_key(update: Update) -> tuple[str, int]:
    chat = update.effective_chat
    return (_DRAFT, chat.id if chat is not None else 0)


def _draft(update: Update, context: Context) -> _Draft:
    draft = (context.user_data or {}).get(_draft_key(update))
    if not isinstance(draft, _Draft):
        raise CommandError("That conversation has ended; please start again.")
    return draft


def _begin(update: Update, context: Context, draft: _Draft) -> None:
    if context.user_data is not None:
        context.user_data[_draft_key(update)] = draft


def _forget(update: Update, context: Context) -> None:
    if context.user_data is not None:
        context.user_data.pop(_draft_key(update), None)


def _in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in ("group", "supergroup")


async def _say(
    update: Update, context: Context, html: str, markup: Any = None, *, ask: str = ""
) -> None:
    """Answer in the chat. With ``ask`` (a placeholder), the answer box opens for the user who
    is asked (in a group, only for them: the question replies to their message)."""
    message = update.effective_message
    if message is None:
        return
    if ask and markup is None:
        markup = ForceReply(selective=True, input_field_placeholder=ask)
    await message.reply_text(
        handlers._channel_header(update, context) + html,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        do_quote=_in_group(update),
        disable_web_page_preview=True,
    )


async def _pressed(update: Update, text: str | None = None) -> str:
    """Acknowledge a button press; return its data."""
    query = update.callback_query
    if query is None:
        return ""
    await query.answer(text)
    return query.data or ""


async def _replace(update: Update, html: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Show the step's outcome in place of the message whose button was pressed."""
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        await query.message.edit_text(
            html, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
        )


def _text(update: Update) -> str:
    message = update.effective_message
    return neutralise_controls((message.text or "") if message else "").strip()


def _buttons(*rows: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def _time_buttons() -> InlineKeyboardMarkup:
    return _buttons(tuple((t, f"cv:t:{t}") for t in TIMES))


# -- /watch -----------------------------------------------------------------------------------


async def start_watch(update: Update, context: Context) -> int:
    services, chat, _ = await handlers._command(update, context)
    most = services.config.limits.watchlists_per_chat
    if len(services.store.watchlists(chat.id)) >= most:
        raise CommandError(
            f"This chat has {most} watchlists, the most it can have. Remove one with /unwatch, "
            "or combine queries with OR."
        )
    _begin(update, context, _Draft("watch", chat.id))
    await _say(
        update,
        context,
        "👀 What should I watch for? Send me the words, e.g. <code>Russia AND embassy</code> "
        'or <code>PERSON:Putin NEAR/10 "peace talks"</code>. /help query explains the '
        f"language. {CANCEL_HINT}\n"
        "Next time you can do it in one go: <code>/watch Russia AND embassy</code>",
        ask="Russia AND embassy",
    )
    return QUERY


async def got_query(update: Update, context: Context) -> int:
    draft = _draft(update, context)
    services = handlers._services(context)
    text = _text(update)
    try:
        query = parse_query(text)
    except QueryError as e:
        await _say(
            update,
            context,
            handlers.render_query_error(text, e) + f"\nSend the query again. {CANCEL_HINT}",
            ask=text[:64],
        )
        return QUERY
    draft.query = text
    draft.suggested = suggest_name(query, handlers.MAX_NAME)
    preview = await run_preview(services, draft.chat_id, query, services.clock())
    lines = [f"🔎 <code>{text_html(str(query))}</code>"]
    lines += [f"Note: {text_html(w)}" for w in query.warnings]
    if preview.scanned:
        lines.append(
            f"It would have caught {count_text(preview)} from {window_text()} in your feeds "
            "(/test shows them)."
        )
    else:
        lines.append(f"Your feeds have no stories from {window_text()} to try it on yet.")
    lines.append(
        f"What shall I call this watchlist? Send a name, or take “{text_html(draft.suggested)}”."
    )
    await _say(
        update,
        context,
        "\n".join(lines),
        _buttons(((f"Call it “{draft.suggested}”", "cv:name"),)),
    )
    return NAME


def suggest_name(query: Query, most: int) -> str:
    """A name made of the words the query looks for: ``Russia, embassy, diplomat``."""
    words: list[str] = []

    def walk(node: Node) -> None:
        if isinstance(node, Not):
            return
        if isinstance(node, Words | Prefix | EntityTerm | Source):
            word = node.text.split(":", 1)[-1] if ":" in node.text else node.text
            words.append(word.strip('"“”*').strip())
            return
        for child in (node.left, node.right) if isinstance(node, Near) else node.children:
            walk(child)

    walk(query.root)
    name = ""
    for word in dict.fromkeys(w for w in words if w):
        candidate = f"{name}, {word}" if name else word
        if len(candidate) > most:
            break
        name = candidate
    name = name or query.text[: most - 1].strip() + "…"
    return name[:1].upper() + name[1:]


async def got_name(update: Update, context: Context) -> int:
    draft = _draft(update, context)
    services = handlers._services(context)
    if update.callback_query is not None:
        await _pressed(update)
        name = draft.suggested
    else:
        name = " ".join(_text(update).split())
    if not name:
        await _say(update, context, f"Send a name for the watchlist. {CANCEL_HINT}", ask="Name")
        return NAME
    if len(name) > handlers.MAX_NAME:
        await _say(
            update,
            context,
            f"A name can have at most {handlers.MAX_NAME} characters; send a shorter one.",
            ask=name[: handlers.MAX_NAME],
        )
        return NAME
    taken = [
        w for w in services.store.watchlists(draft.chat_id) if w.name.casefold() == name.casefold()
    ]
    if taken:
        await _say(
            update,
            context,
            f"You already have a watchlist called <b>{text_html(taken[0].name)}</b>; send "
            f"another name. {CANCEL_HINT}",
            ask="Another name",
        )
        return NAME
    draft.name = name
    chat = services.store.get_chat(draft.chat_id)
    default = chat.schedule if chat is not None else "instant"
    await _say(
        update,
        context,
        f"How often should <b>{text_html(name)}</b> send its stories?",
        _buttons(
            (("⚡ As they come", "cv:instant"), ("🕐 Hourly", "cv:hourly")),
            (("📅 Daily at…", "cv:daily"), (f"Like the chat ({default})", "cv:chat")),
        ),
    )
    return HOW_OFTEN


async def got_how_often(update: Update, context: Context) -> int:
    draft = _draft(update, context)
    choice = (await _pressed(update)).removeprefix("cv:")
    if choice == "daily":
        await _replace(
            update,
            f"At what time should <b>{text_html(draft.name or 'the digest')}</b> come? Press "
            "one, or send a time like <code>8am</code> or <code>17:30</code>.",
            _time_buttons(),
        )
        return TIME
    return await _finish(update, context, draft, None if choice == "chat" else choice)


async def got_time(update: Update, context: Context) -> int:
    draft = _draft(update, context)
    if update.callback_query is not None:
        when = (await _pressed(update)).removeprefix("cv:t:")
    else:
        when = _text(update)
    try:
        schedule = str(parse_schedule(f"daily {when}"))
    except CommandError as e:
        await _say(update, context, f"{text_html(e.message)} {CANCEL_HINT}", ask="08:00")
        return TIME
    return await _finish(update, context, draft, schedule)


async def _finish(update: Update, context: Context, draft: _Draft, schedule: str | None) -> int:
    if draft.kind == "schedule":
        return await _set_chat_schedule(update, context, draft, schedule or "instant")
    services = handlers._services(context)
    try:
        watchlist, query = services.engine.add_watchlist(
            draft.chat_id, draft.name, draft.query, services.clock()
        )
    except QueryError as e:  # pragma: no cover - the query was checked when it was sent
        raise CommandError(str(e)) from e
    if schedule is not None:
        services.store.set_watchlist_schedule(watchlist.id, schedule)
    _forget(update, context)
    chat = services.store.get_chat(draft.chat_id)
    timezone = chat.timezone if chat is not None else "UTC"
    when = _describe(schedule or (chat.schedule if chat is not None else "instant"), timezone)
    text = (
        f"👀 Watching <b>{text_html(watchlist.name)}</b>: <code>{text_html(str(query))}</code>\n"
        f"📅 Its stories come {when}. /watchlists lists it with buttons to test, pause or mute it."
    )
    if update.callback_query is not None:
        await _replace(update, text)
    else:
        await _say(update, context, text)
    return END


def _describe(schedule: str, timezone: str) -> str:
    if schedule == "instant":
        return "as soon as they are found"
    if schedule == "hourly":
        return "once an hour"
    return f"{text_html(schedule)} ({text_html(timezone)})"


# -- /addfeed ---------------------------------------------------------------------------------


async def start_addfeed(update: Update, context: Context) -> int:
    _, chat, _ = await handlers._command(update, context)
    _begin(update, context, _Draft("addfeed", chat.id))
    await _say(
        update,
        context,
        "📰 Which feed should I follow? Send its address, or a news site's (I look for the "
        f"feed it names). {CANCEL_HINT}\n"
        "Next time you can do it in one go: <code>/addfeed https://example.com/rss</code>",
        ask="https://example.com/rss",
    )
    return URL


async def got_url(update: Update, context: Context) -> int:
    draft = _draft(update, context)
    services = handlers._services(context)
    try:
        reply = await handlers.follow_feed(services, draft.chat_id, _text(update))
    except CommandError:
        _forget(update, context)
        raise
    except FeedError as e:
        await _say(
            update,
            context,
            f"{handlers.feed_error_text(e)}\nSend another address, or the site's RSS or Atom "
            f"link. {CANCEL_HINT}",
            ask="https://example.com/rss",
        )
        return URL
    _forget(update, context)
    await _say(update, context, reply)
    return END


# -- /schedule and /quiet ---------------------------------------------------------------------


async def start_schedule(update: Update, context: Context) -> int:
    _, chat, _ = await handlers._command(update, context)
    _begin(update, context, _Draft("schedule", chat.id))
    await _say(
        update,
        context,
        f"📅 Digests for this chat come {_describe(chat.schedule, chat.timezone)}. "
        f"When should they come? {CANCEL_HINT}\n"
        "(For one watchlist: <code>/schedule Embassies: daily 08:00</code>, or its 📅 button "
        "in /watchlists.)",
        _buttons(
            (("⚡ As they come", "cv:instant"), ("🕐 Hourly", "cv:hourly")),
            (("📅 Daily 08:00", "cv:t:08:00"), ("📅 Daily at…", "cv:daily")),
            (("🗓 Weekly, Monday 08:00", "cv:weekly"),),
        ),
    )
    return HOW_OFTEN


async def schedule_choice(update: Update, context: Context) -> int:
    draft = _draft(update, context)
    data = await _pressed(update)
    if data == "cv:daily":
        await _replace(
            update,
            "At what time should the daily digest come? Press one, or send a time like "
            "<code>8am</code> or <code>17:30</code>.",
            _time_buttons(),
        )
        return TIME
    if data.startswith("cv:t:"):
        schedule = str(parse_schedule(f"daily {data.removeprefix('cv:t:')}"))
    elif data == "cv:weekly":
        schedule = str(parse_schedule("weekly mon 08:00"))
    else:
        schedule = str(parse_schedule(data.removeprefix("cv:")))
    return await _set_chat_schedule(update, context, draft, schedule)


async def _set_chat_schedule(update: Update, context: Context, draft: _Draft, schedule: str) -> int:
    services = handlers._services(context)
    services.store.set_chat_settings(draft.chat_id, schedule=schedule)
    _forget(update, context)
    chat = services.store.get_chat(draft.chat_id)
    text = f"📅 Digests for this chat: {_describe(schedule, chat.timezone if chat else 'UTC')}."
    if update.callback_query is not None:
        await _replace(update, text)
    else:
        await _say(update, context, text)
    return END


async def start_quiet(update: Update, context: Context) -> int:
    _, chat, _ = await handlers._command(update, context)
    _begin(update, context, _Draft("quiet", chat.id))
    now = f"Quiet hours: <b>{text_html(chat.quiet)}</b>" if chat.quiet else "No quiet hours"
    await _say(
        update,
        context,
        f"🌙 {now} ({text_html(chat.timezone)}). During quiet hours alerts wait until they end, "
        f"or with <i>silent</i> come without a sound. Choose: {CANCEL_HINT}",
        _buttons(
            (("🌙 22:00–07:00", "cv:q:0"), ("🌙 23:00–07:00", "cv:q:1")),
            (("🔕 22:00–07:00, silent", "cv:q:2"), ("Other hours…", "cv:q:other")),
            (("🔔 No quiet hours", "cv:q:off"),),
        ),
    )
    return QUIET


async def got_quiet(update: Update, context: Context) -> int:
    draft = _draft(update, context)
    services = handlers._services(context)
    if update.callback_query is not None:
        choice = (await _pressed(update)).removeprefix("cv:q:")
        if choice == "other":
            await _replace(
                update,
                "Send the hours, e.g. <code>22:00-07:00</code> or <code>10pm-7am</code>; add "
                "<code>silent</code> for alerts without a sound.",
            )
            return QUIET
        text = "off" if choice == "off" else QUIET_CHOICES[int(choice)]
    else:
        text = _text(update)
    try:
        quiet = parse_quiet(text)
    except CommandError as e:
        await _say(update, context, f"{text_html(e.message)} {CANCEL_HINT}", ask="22:00-07:00")
        return QUIET
    services.store.set_chat_settings(draft.chat_id, quiet=str(quiet) if quiet else "")
    _forget(update, context)
    chat = services.store.get_chat(draft.chat_id)
    zone = text_html(chat.timezone if chat else "UTC")
    if quiet is None:
        answer = "🔔 No quiet hours: alerts come when they are found."
    else:
        how = "arrive without a sound" if quiet.silent else "wait until they end"
        answer = f"🌙 Quiet hours {text_html(str(quiet))} ({zone}): instant alerts {how}."
    if update.callback_query is not None:
        await _replace(update, answer)
    else:
        await _say(update, context, answer)
    return END


# -- ending -----------------------------------------------------------------------------------


async def cancel(update: Update, context: Context) -> int:
    _forget(update, context)
    await _say(update, context, "Cancelled: nothing was changed.")
    return END


async def timed_out(update: Update, context: Context) -> None:
    _forget(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    message = update.effective_message
    thread = message.message_thread_id if message and message.is_topic_message else None
    await context.bot.send_message(
        chat.id,
        "⌛ I stopped waiting for an answer, so nothing was changed. Send the command again "
        "whenever you like.",
        message_thread_id=thread,
    )


async def on_stale_step(update: Update, context: Context) -> None:
    """A conversation's button pressed when no conversation waits for it (ended, timed out,
    or someone else's)."""
    query = update.callback_query
    if query is not None:
        await query.answer(
            "This question is closed, or it was asked to someone else. Send the command again."
        )


# -- wiring -----------------------------------------------------------------------------------


def _alone(command: str) -> filters.BaseFilter:
    """The command with nothing after it (``/watch``, ``/watch@newswatch_bot``)."""
    return filters.Regex(re.compile(rf"^/{command}(@\w+)?\s*$", re.IGNORECASE))


def conversation_handlers(
    updates: filters.BaseFilter, timeout: float | None = None
) -> list[BaseHandler[Update, Context, Any]]:
    """The conversations, to be registered before the commands' handlers."""
    text = filters.TEXT & ~filters.COMMAND
    fallbacks: list[BaseHandler[Update, Context, Any]] = [CommandHandler("cancel", cancel)]
    timeout_state: list[BaseHandler[Update, Context, Any]] = [TypeHandler(Update, timed_out)]
    specs: list[tuple[str, Any, dict[object, list[BaseHandler[Update, Context, Any]]]]] = [
        (
            "watch",
            start_watch,
            {
                QUERY: [MessageHandler(text, got_query)],
                NAME: [
                    MessageHandler(text, got_name),
                    CallbackQueryHandler(got_name, pattern="^cv:name$"),
                ],
                HOW_OFTEN: [
                    CallbackQueryHandler(got_how_often, pattern="^cv:(instant|hourly|daily|chat)$")
                ],
                TIME: [
                    MessageHandler(text, got_time),
                    CallbackQueryHandler(got_time, pattern="^cv:t:"),
                ],
            },
        ),
        ("addfeed", start_addfeed, {URL: [MessageHandler(text, got_url)]}),
        (
            "schedule",
            start_schedule,
            {
                HOW_OFTEN: [CallbackQueryHandler(schedule_choice, pattern="^cv:")],
                TIME: [
                    MessageHandler(text, got_time),
                    CallbackQueryHandler(got_time, pattern="^cv:t:"),
                ],
            },
        ),
        (
            "quiet",
            start_quiet,
            {
                QUIET: [
                    MessageHandler(text, got_quiet),
                    CallbackQueryHandler(got_quiet, pattern="^cv:q:"),
                ],
            },
        ),
    ]
    out: list[BaseHandler[Update, Context, Any]] = []
    with warnings.catch_warnings():
        # Conversations are per chat and user, with buttons among text answers: that PTB does
        # not track each message separately (its per_message warning) is what is wanted here.
        warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
        for command, entry, states in specs:
            out.append(
                ConversationHandler(
                    entry_points=[
                        CommandHandler(command, entry, filters=updates & _alone(command))
                    ],
                    states={**states, ConversationHandler.TIMEOUT: timeout_state},
                    fallbacks=fallbacks,
                    conversation_timeout=CONVERSATION_TIMEOUT if timeout is None else timeout,
                    name=f"newswatch-{command}",
                )
            )
    out.append(CallbackQueryHandler(on_stale_step, pattern="^cv:"))
    return out
