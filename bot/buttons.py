"""The buttons under ``/watchlists``: one per watchlist, opening its card, whose buttons test,
pause or resume, mute or unmute, schedule or delete it (after a confirmation).

After each press the card is edited to show the watchlist's new state, its buttons follow it
(Resume after Pause, Unmute after Mute) and a short notice says what happened. Button data is
``wl:<action>:<watchlist id>[:<choice>]`` (well under Telegram's 64 bytes); a press for a
watchlist that is gone, or a message that can no longer be edited, is answered in words.
In groups and channels only admins may change a watchlist; anyone may open and test it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import handlers
from bot.preview import render_preview, run_preview, window_text
from bot.render import text_html
from bot.services import Context, Services
from watchers.errors import CommandError, QueryError
from watchers.model import Chat, Watchlist
from watchers.query import parse_query
from watchers.schedule import is_muted, parse_schedule, parse_timezone

logger = logging.getLogger(__name__)

MUTES = (("1 hour", "1h", timedelta(hours=1)), ("8 hours", "8h", timedelta(hours=8)),
         ("1 day", "1d", timedelta(days=1)))  # fmt: skip
SCHEDULES = (("⚡ As they come", "instant"), ("🕐 Hourly", "hourly"),
             ("📅 Daily 08:00", "daily 08:00"), ("Like the chat", "chat"))  # fmt: skip
PER_ROW = 2  # watchlist buttons per row under /watchlists
MAX_BUTTONS = 100  # Telegram refuses larger keyboards
CHANGES = frozenset("prmuMsSdD")  # the actions that change a watchlist: admins only in groups


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def watchlists_keyboard(items: list[Watchlist]) -> InlineKeyboardMarkup | None:
    """Under the ``/watchlists`` list: a button per watchlist that opens its card."""
    buttons = [
        _button(f"{'⏸ ' if w.paused else ''}{i}. {w.name}"[:60], f"wl:o:{w.id}")
        for i, w in enumerate(items[:MAX_BUTTONS], 1)
    ]
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)])


def _local(moment: datetime, timezone: str, now: datetime) -> str:
    """``09:00`` today, ``Tue 09:00`` on another day, in the chat's timezone."""
    try:
        zone = parse_timezone(timezone)
    except CommandError:  # a zone stored before it was renamed: show UTC
        zone = parse_timezone("UTC")
    local, today = moment.astimezone(zone), now.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == today.date() else f"{local:%a %H:%M}"


def card_text(chat: Chat, watchlist: Watchlist, now: datetime) -> str:
    """A watchlist's card: its name, query and state (as ``/watchlists`` shows it), a line each."""
    lines = [f"<b>{text_html(watchlist.name)}</b>: <code>{text_html(watchlist.query)}</code>"]
    if not watchlist.paused:
        lines.append("▶️ Watching.")
    for state in handlers.watchlist_states(chat, watchlist, now):
        mark, _, words = state.partition(" ")
        lines.append(f"{mark} {words[:1].upper()}{words[1:]}.")
    return "\n".join(lines)


def card_keyboard(watchlist: Watchlist, now: datetime) -> InlineKeyboardMarkup:
    i = watchlist.id
    pause = (
        _button("▶️ Resume", f"wl:r:{i}") if watchlist.paused else _button("⏸ Pause", f"wl:p:{i}")
    )
    mute = (
        _button("🔔 Unmute", f"wl:u:{i}")
        if is_muted(watchlist.muted_until, now)
        else _button("🔕 Mute", f"wl:m:{i}")
    )
    return InlineKeyboardMarkup(
        [
            [_button("🧪 Test", f"wl:t:{i}"), pause],
            [mute, _button("📅 Schedule", f"wl:s:{i}")],
            [_button("🗑 Delete", f"wl:d:{i}")],
        ]
    )


def _mute_keyboard(watchlist: Watchlist) -> InlineKeyboardMarkup:
    i = watchlist.id
    row = [_button(f"🔕 {label}", f"wl:M:{i}:{code}") for label, code, _ in MUTES]
    return InlineKeyboardMarkup([row, [_button("« Back", f"wl:b:{i}")]])


def _schedule_keyboard(watchlist: Watchlist) -> InlineKeyboardMarkup:
    i = watchlist.id
    buttons = [_button(label, f"wl:S:{i}:{code.replace(' ', '_')}") for label, code in SCHEDULES]
    return InlineKeyboardMarkup([buttons[:2], buttons[2:], [_button("« Back", f"wl:b:{i}")]])


def _delete_keyboard(watchlist: Watchlist) -> InlineKeyboardMarkup:
    i = watchlist.id
    return InlineKeyboardMarkup(
        [[_button("🗑 Yes, delete it", f"wl:D:{i}"), _button("Keep it", f"wl:b:{i}")]]
    )


def _owner(services: Services, message: Message, watchlist: Watchlist) -> Chat | None:
    """The watchlist's chat, if the button's message may act on it: the same chat, or the
    private chat that manages it (a channel)."""
    chat_id = message.chat.id
    if watchlist.chat_id != chat_id and services.store.channel_link(chat_id) != watchlist.chat_id:
        return None
    return services.store.get_chat(watchlist.chat_id)


async def on_watchlist_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None:
        return
    services = handlers._services(context)
    _, _, tail = (query.data or "").partition(":")
    action, _, rest = tail.partition(":")
    raw_id, _, choice = rest.partition(":")
    number = handlers.list_number(raw_id)
    watchlist = services.store.get_watchlist(number) if number else None
    message = query.message if isinstance(query.message, Message) else None
    chat = _owner(services, message, watchlist) if watchlist and message else None
    if watchlist is None or message is None or chat is None:
        await query.answer("That watchlist no longer exists: see /watchlists.", show_alert=True)
        return
    where = message.chat
    if (
        action in CHANGES
        and where.type != "private"
        and not await handlers._is_admin_of(context, where.id, query.from_user.id)
    ):
        kind = "channel" if where.type == "channel" else "group"
        await query.answer(f"Only the {kind}'s admins can change this watchlist.")
        return
    now = services.clock()
    toast: str | None = None
    markup: InlineKeyboardMarkup | None = None
    if action == "t":
        await query.answer(f"Trying it on {window_text()}…")
        await _send_test(update, context, services, chat, watchlist, now)
        return
    if action == "p":
        services.engine.set_paused(watchlist.id, True)
        toast = f"{watchlist.name} is paused."
    elif action == "r":
        services.engine.set_paused(watchlist.id, False)
        toast = f"{watchlist.name} is watching again."
    elif action == "m":
        markup = _mute_keyboard(watchlist)
    elif action == "M":
        length = next((d for _, code, d in MUTES if code == choice), MUTES[-1][2])
        services.store.set_watchlist_mute(watchlist.id, now + length)
        toast = f"Muted until {_local(now + length, chat.timezone, now)}."
    elif action == "u":
        services.store.set_watchlist_mute(watchlist.id, None)
        toast = f"{watchlist.name} is unmuted."
    elif action == "s":
        markup = _schedule_keyboard(watchlist)
    elif action == "S":
        code = choice.replace("_", " ")
        schedule = None if code == "chat" else str(parse_schedule(code))
        services.store.set_watchlist_schedule(watchlist.id, schedule)
        toast = f"Digests: {schedule}." if schedule else "Digests follow the chat's schedule."
    elif action == "d":
        markup = _delete_keyboard(watchlist)
    elif action == "D":
        services.engine.remove_watchlist(watchlist.chat_id, watchlist.id)
        await query.answer(f"{watchlist.name} is deleted.")
        header = handlers._channel_header(update, context)
        await _edit(message, f"{header}🗑 <b>{text_html(watchlist.name)}</b> is deleted.", None)
        return
    elif action not in ("o", "b"):
        await query.answer("That button is from an older version; see /watchlists.")
        return
    current = services.store.get_watchlist(watchlist.id) or watchlist
    await query.answer(toast)
    text = handlers._channel_header(update, context) + card_text(chat, current, now)
    if action == "d":
        text += "\nDelete it? Its waiting stories go too."
    markup = markup or card_keyboard(current, now)
    if action == "o":
        await _send_card(update, context, text, markup)
    else:
        await _edit(message, text, markup)


async def _edit(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await message.edit_text(
            text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
        )
    except TelegramError as e:  # too old to edit, or deleted: the notice already said it
        logger.info("could not edit a watchlist card chat=%d error=%s", message.chat.id, e)


async def _send_card(
    update: Update, context: Context, text: str, markup: InlineKeyboardMarkup
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    message = update.effective_message
    thread = message.message_thread_id if message and message.is_topic_message else None
    await context.bot.send_message(
        chat.id,
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        message_thread_id=thread,
        disable_web_page_preview=True,
    )


async def _send_test(
    update: Update,
    context: Context,
    services: Services,
    chat: Chat,
    watchlist: Watchlist,
    now: datetime,
) -> None:
    try:
        query = parse_query(watchlist.query)
    except QueryError as e:
        text = handlers.render_query_error(watchlist.query, e)
    else:
        text = render_preview(query, await run_preview(services, chat.id, query, now))
    text = handlers._channel_header(update, context) + text
    where = update.effective_chat
    if where is not None:
        await context.bot.send_message(
            where.id, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True
        )
