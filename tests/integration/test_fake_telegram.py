"""python-telegram-bot, over real HTTP, against the fake Bot API server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.telegram import BOT_ID, BOT_USERNAME, FakeTelegram

USER = 4242
GROUP = -100
SUPERGROUP = -1001234567890


@pytest.fixture(autouse=True)
def _ptb_timedelta_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it, PTB 22 warns (an error under -W error) whenever it builds a RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.ptb_base_url) as client:
        yield client


def _api(fake: FakeTelegram, method: str) -> str:
    return f"{fake.base_url}/bot{fake.token}/{method}"


# -- basics ---------------------------------------------------------------------------------------


async def test_get_me_returns_the_test_bot(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        BOT_ID,
        BOT_USERNAME,
        "Newswatch",
        True,
    )
    assert me.can_join_groups is True
    assert me.api_kwargs == {}  # every field is one PTB knows
    assert [call.method for call in fake.calls] == ["getMe", "getMe"]  # initialize() + ours


async def test_a_wrong_token_is_rejected(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with Bot("123456:WRONG", base_url=fake.ptb_base_url):
            pass


def test_envelopes_status_codes_and_method_names_over_raw_http(fake: FakeTelegram) -> None:
    with httpx.Client() as client:
        unknown = client.post(_api(fake, "sendSticker"))
        assert unknown.status_code == 404
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        assert unknown.headers["content-type"] == "application/json"

        assert client.post(_api(fake, "GETME")).json()["result"]["username"] == BOT_USERNAME
        wrong = client.post(f"{fake.base_url}/bot123456:NOPE/getMe")
        assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")

        missing_chat = client.post(_api(fake, "sendMessage"), data={"chat_id": 5, "text": "x"})
        assert missing_chat.status_code == 400
        assert missing_chat.json() == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: chat not found",
        }


def test_json_and_multipart_bodies_are_accepted_too(fake: FakeTelegram) -> None:
    fake.add_chat(USER)
    with httpx.Client() as client:
        as_json = client.post(
            _api(fake, "sendMessage"),
            json={"chat_id": USER, "text": "<i>json</i>", "parse_mode": "HTML"},
        )
        assert as_json.json()["result"]["entities"] == [
            {"type": "italic", "offset": 0, "length": 4}
        ]
        multipart = client.post(
            _api(fake, "sendMessage"),
            data={"chat_id": str(USER), "text": "123"},
            files={"unused": ("a.txt", b"data")},
        )
        assert multipart.json()["result"]["text"] == "123"
    assert [m.plain_text for m in fake.sent_to(USER)] == ["json", "123"]


# -- sending --------------------------------------------------------------------------------------


async def test_send_message_with_html_is_answered_and_recorded(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.add_chat(USER)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute:7")]])
    message = await bot.send_message(
        USER,
        '<b>Alert</b>: <a href="https://example.com/story">ECB &amp; rates</a> 😀',
        parse_mode="HTML",
        disable_notification=True,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        reply_markup=keyboard,
    )
    assert message.text == "Alert: ECB & rates 😀"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 5),
        ("text_link", 7, 11),
    ]
    assert message.entities[1].url == "https://example.com/story"
    assert message.from_user is not None
    assert message.from_user.id == BOT_ID
    assert message.chat.id == USER
    assert message.reply_markup == keyboard

    [sent] = fake.sent_to(USER)
    assert sent.message_id == message.message_id
    assert sent.text.startswith("<b>Alert</b>")
    assert sent.parse_mode == "HTML"
    assert sent.plain_text == "Alert: ECB & rates 😀"
    assert sent.entity_types == ["bold", "text_link"]
    assert sent.disable_notification is True
    assert sent.link_preview_disabled is True
    assert sent.reply_markup == keyboard.to_dict()
    assert sent.message_thread_id is None


async def test_message_ids_increase_per_chat(fake: FakeTelegram, bot: Bot) -> None:
    fake.user_sends("hello", chat_id=USER)  # takes message id 1 in that chat
    fake.add_chat(GROUP, chat_type="group")
    ids = [(await bot.send_message(chat, "x")).message_id for chat in (USER, USER, GROUP)]
    assert ids == [2, 3, 1]


async def test_topic_messages_keep_their_thread(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(SUPERGROUP, chat_type="supergroup", is_forum=True, title="Desk")
    fake.user_sends("in General", chat_id=SUPERGROUP, chat_type="supergroup")
    general = fake.pending_updates[0]["message"]
    assert "message_thread_id" not in general
    assert general["chat"] == {
        "id": SUPERGROUP,
        "type": "supergroup",
        "title": "Desk",
        "is_forum": True,
    }
    message = await bot.send_message(SUPERGROUP, "in topic", message_thread_id=77)
    assert message.message_thread_id == 77
    assert message.is_topic_message is True
    assert fake.sent[0].message_thread_id == 77


async def test_bad_html_raises_bad_request_with_telegrams_text(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.add_chat(USER)
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, "Prix: 5€ <foo>", parse_mode="HTML")
    # Telegram says: Bad Request: can't parse entities: Unsupported start tag "foo" at byte
    # offset 11; PTB drops the prefix and capitalises.
    assert (
        caught.value.message
        == 'Can\'t parse entities: unsupported start tag "foo" at byte offset 11'
    )
    with pytest.raises(
        BadRequest,
        match=r'^Can\'t parse entities: can\'t find end tag corresponding to start tag "b"$',
    ):
        await bot.send_message(USER, "<b>open", parse_mode="HTML")
    assert fake.sent == []
    assert [call.status for call in fake.calls_to("sendMessage")] == [400, 400]


async def test_callback_data_over_64_bytes_is_refused(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(USER, "menu", reply_markup=too_long)
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 32)]])
    await bot.send_message(USER, "menu", reply_markup=fits)


async def test_text_limits_raise_bad_request(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(USER, "x" * 4097)
    with pytest.raises(BadRequest, match=r"^Text must be non-empty$"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(USER + 1, "hi")
    accepted = await bot.send_message(USER, "😀" * 4096)
    assert accepted.text is not None
    assert len(accepted.text) == 4096


async def test_blocked_user_and_kicked_bot_raise_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    fake.add_chat(SUPERGROUP, chat_type="supergroup")
    fake.block(USER)
    fake.block(SUPERGROUP)
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(USER, "hi")
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was kicked from the supergroup chat$"):
        await bot.send_message(SUPERGROUP, "hi")
    fake.unblock(USER)
    await bot.send_message(USER, "hi again")
    assert [m.plain_text for m in fake.sent] == ["hi again"]


# -- fault injection ------------------------------------------------------------------------------


async def test_fail_next_429_raises_retry_after_once(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    fake.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "first")
    assert caught.value.retry_after == dt.timedelta(seconds=7)
    await bot.send_message(USER, "second")
    assert [m.plain_text for m in fake.sent] == ["second"]


def test_fail_next_sends_exactly_that_envelope_and_header(fake: FakeTelegram) -> None:
    fake.add_chat(USER)
    fake.fail_next(
        "sendmessage",
        status=429,
        description="Too Many Requests: retry after 3",
        retry_after=3,
        chat_id=USER,
        times=2,
    )
    with httpx.Client() as client:
        other = client.post(_api(fake, "sendMessage"), data={"chat_id": -1, "text": "x"})
        assert other.json()["description"] == "Bad Request: chat not found"
        for _ in range(2):
            limited = client.post(_api(fake, "sendMessage"), data={"chat_id": USER, "text": "x"})
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "3"
            assert limited.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
        ok = client.post(_api(fake, "sendMessage"), data={"chat_id": USER, "text": "x"})
        assert ok.status_code == 200


async def test_flood_limit_allows_a_burst_per_chat_then_429(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    fake.add_chat(USER + 1)
    fake.rate_limit(per_chat_per_second=1, burst=2, retry_after=5)
    await bot.send_message(USER, "1")
    await bot.send_message(USER, "2")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "3")
    assert caught.value.retry_after == dt.timedelta(seconds=5)
    assert str(caught.value) == "Flood control exceeded. Retry in 0:00:05"
    await bot.send_message(USER + 1, "other chat")
    fake.no_rate_limit()
    await bot.send_message(USER, "3 again")
    assert [m.plain_text for m in fake.sent_to(USER)] == ["1", "2", "3 again"]


async def test_migrated_group_raises_chat_migrated(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(GROUP, chat_type="group", title="Desk")
    fake.migrate(GROUP, SUPERGROUP)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP, "hi")
    assert caught.value.new_chat_id == SUPERGROUP
    moved = await bot.send_message(caught.value.new_chat_id, "hi")
    assert (moved.chat.type, moved.chat.title) == ("supergroup", "Desk")


async def test_a_delayed_call_times_out_but_is_still_delivered(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.add_chat(USER)
    fake.delay("sendMessage", 0.4, times=1)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "slow", read_timeout=0.1)
    # Like the real server, the message went out although the client gave up waiting.
    [late] = await fake.wait_for_messages(USER, 1, timeout=2)
    assert late.plain_text == "slow"
    await bot.send_message(USER, "fast", read_timeout=0.5)


# -- editing and callbacks ------------------------------------------------------------------------


async def test_edit_message_text_and_its_errors(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    sent = await bot.send_message(USER, "draft")
    edited = await bot.edit_message_text("<b>final</b>", USER, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, type(sent))
    assert edited.text == "final"
    assert edited.edit_date is not None
    assert fake.edits[0].plain_text == "final"
    assert fake.message(USER, sent.message_id) is not None
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text("<b>final</b>", USER, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", USER, 999)


async def test_answer_callback_query_twice_is_refused(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    sent = await bot.send_message(USER, "pick")
    query_id = fake.user_presses(USER, sent.message_id, "pick:1")
    assert await bot.answer_callback_query(query_id, text="Done") is True
    with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
        await bot.answer_callback_query(query_id)
    assert [(a.callback_query_id, a.text) for a in fake.callback_answers] == [(query_id, "Done")]


# -- commands -------------------------------------------------------------------------------------


async def test_set_my_commands_is_recorded_and_bad_commands_are_refused(
    fake: FakeTelegram, bot: Bot
) -> None:
    commands = [BotCommand("start", "Start alerts"), BotCommand("watch", "Add a watchlist")]
    assert await bot.set_my_commands(commands) is True
    assert fake.commands == [
        {"command": "start", "description": "Start alerts"},
        {"command": "watch", "description": "Add a watchlist"},
    ]
    assert await bot.get_my_commands() == tuple(commands)
    for bad in (BotCommand("Watch", "capital"), BotCommand("x" * 33, "long"), BotCommand("ok", "")):
        with pytest.raises(BadRequest, match=r"^Bot_command_invalid$"):
            await bot.set_my_commands([bad])
    with pytest.raises(BadRequest, match=r"^Bot_command_invalid$"):
        await bot.set_my_commands([BotCommand(f"c{i}", "d") for i in range(101)])
    assert len(fake.commands) == 2
    assert await bot.delete_my_commands() is True
    assert fake.commands == []


# -- getUpdates -----------------------------------------------------------------------------------


async def test_get_updates_offset_limit_and_allowed_updates(fake: FakeTelegram, bot: Bot) -> None:
    first = fake.user_sends("one", chat_id=USER)
    fake.user_sends("two", chat_id=USER)
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["one", "two"]
    assert len(await bot.get_updates(limit=1)) == 1  # unconfirmed updates come again
    confirmed = await bot.get_updates(offset=first["update_id"] + 1)
    assert [u.update_id for u in confirmed] == [first["update_id"] + 1]
    assert await bot.get_updates(offset=first["update_id"] + 2) == ()
    assert fake.pending_updates == []

    fake.user_sends("dropped", chat_id=USER)
    sent = await bot.send_message(USER, "menu")
    fake.user_presses(USER, sent.message_id, "open")
    [only] = await bot.get_updates(allowed_updates=["callback_query"])
    assert only.callback_query is not None
    assert only.callback_query.data == "open"

    for text in ("a", "b", "c"):
        fake.user_sends(text, chat_id=USER)
    [last] = await bot.get_updates(offset=-1, allowed_updates=[])
    assert last.message is not None
    assert last.message.text == "c"
    fake.user_sends("d", chat_id=USER)
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert fake.pending_updates == []


async def test_long_poll_waits_for_an_update_or_the_timeout(fake: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dt.timedelta(seconds=0.3)) == ()
    assert 0.25 <= time.monotonic() - started < 1.5

    loop = asyncio.get_running_loop()
    loop.call_later(0.2, lambda: fake.user_sends("late", chat_id=USER))
    started = time.monotonic()
    [update] = await bot.get_updates(timeout=5)
    assert update.message is not None
    assert update.message.text == "late"
    assert time.monotonic() - started < 2


async def test_a_second_poller_terminates_the_older_long_poll(fake: FakeTelegram, bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for(lambda: fake.active_polls == 1, what="the first long poll")
    async with Bot(fake.token, base_url=fake.ptb_base_url) as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict) as caught:
        await older
    assert caught.value.message == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )


async def test_scripted_updates_have_shapes_ptb_accepts(fake: FakeTelegram, bot: Bot) -> None:
    fake.user_sends(
        "/watch@newswatch_test_bot ecb",
        chat_id=SUPERGROUP,
        chat_type="supergroup",
        user_id=7,
        message_thread_id=12,
    )
    fake.channel_post("breaking", chat_id=-1009999999999, title="Wire")
    fake.anonymous_admin_sends("/digest", chat_id=GROUP, chat_type="group")
    fake.chat_member_update(USER, "member", "kicked")
    topic, post, anonymous, blocked = await bot.get_updates()

    assert topic.message is not None
    assert topic.message.is_topic_message is True
    assert topic.message.message_thread_id == 12
    assert topic.message.chat.is_forum is True
    assert topic.message.parse_entities(["bot_command"]) == {
        topic.message.entities[0]: "/watch@newswatch_test_bot"
    }
    assert topic.effective_user is not None
    assert topic.effective_user.id == 7

    assert post.channel_post is not None
    assert post.channel_post.from_user is None
    assert post.channel_post.sender_chat is not None
    assert post.channel_post.sender_chat.title == "Wire"

    assert anonymous.effective_message is not None
    assert anonymous.effective_message.from_user is not None
    assert anonymous.effective_message.from_user.username == "GroupAnonymousBot"
    assert anonymous.effective_message.sender_chat is not None
    assert anonymous.effective_message.sender_chat.id == GROUP

    assert blocked.my_chat_member is not None
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    assert blocked.my_chat_member.new_chat_member.user.id == BOT_ID
    with pytest.raises(Forbidden):
        await bot.send_message(USER, "still there?")

    chat = await bot.get_chat(-1009999999999)
    assert (chat.type, chat.title) == ("channel", "Wire")


# -- a real Application over long polling ---------------------------------------------------------


async def _on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Subscribe", callback_data="sub")]])
    await context.bot.send_message(
        update.effective_chat.id,
        "<b>Welcome</b> to newswatch",
        parse_mode="HTML",
        reply_markup=keyboard,
    )


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Subscribed")
    await query.edit_message_text(f"You chose {query.data}")


async def test_application_handles_commands_and_buttons_over_long_polling(
    fake: FakeTelegram,
) -> None:
    app = Application.builder().token(fake.token).base_url(fake.ptb_base_url).build()
    app.add_handler(CommandHandler("start", _on_start))
    app.add_handler(CallbackQueryHandler(_on_button))
    fake.user_sends("/start", chat_id=USER)
    fake.user_sends("/start@newswatch_test_bot", chat_id=GROUP, chat_type="group")
    fake.user_sends("/start@some_other_bot", chat_id=GROUP, chat_type="group")
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)  # type: ignore[union-attr]

        [welcome] = await fake.wait_for_messages(USER, 1)
        assert welcome.plain_text == "Welcome to newswatch"
        assert welcome.entity_types == ["bold"]
        await fake.wait_for_messages(GROUP, 1)

        fake.user_presses(USER, welcome.message_id, "sub")
        await fake.wait_for(lambda: len(fake.edits) == 1, what="the edit after the button")

        await app.updater.stop()  # type: ignore[union-attr]
        await app.stop()

    assert [a.text for a in fake.callback_answers] == ["Subscribed"]
    assert fake.edits[0].plain_text == "You chose sub"
    assert len(fake.sent_to(GROUP)) == 1  # the command for another bot was ignored
    assert fake.pending_updates == []  # PTB's last getUpdates confirmed everything
    assert [c.method for c in fake.calls[:3]] == ["getMe", "deleteWebhook", "getUpdates"]


# -- helpers and lifecycle ------------------------------------------------------------------------


async def test_wait_for_messages_explains_what_was_sent(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    await bot.send_message(USER, "only one")
    with pytest.raises(AssertionError, match=r"expected 2 message\(s\) to chat 4242.*'only one'"):
        await fake.wait_for_messages(USER, 2, timeout=0.1)


def test_wait_for_messages_sync_wakes_when_a_message_arrives(fake: FakeTelegram) -> None:
    fake.add_chat(USER)

    def send_later() -> None:
        time.sleep(0.1)
        with httpx.Client() as client:
            client.post(_api(fake, "sendMessage"), data={"chat_id": USER, "text": "sync"})

    sender = threading.Thread(target=send_later)
    sender.start()
    try:
        [message] = fake.wait_for_messages_sync(USER, 1, timeout=3)
    finally:
        sender.join()
    assert message.plain_text == "sync"
    with pytest.raises(AssertionError, match="got 1"):
        fake.wait_for_messages_sync(USER, 2, timeout=0.05)


def test_stop_ends_held_polls_and_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    fake = FakeTelegram().start()
    results: list[object] = []

    def poll() -> None:
        with httpx.Client() as client:
            response = client.post(_api(fake, "getUpdates"), data={"timeout": 30})
            results.append(response.json())

    poller = threading.Thread(target=poll)
    poller.start()
    deadline = time.monotonic() + 3
    while fake.active_polls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    poller.join(timeout=3)
    assert time.monotonic() - started < 2
    assert results == [{"ok": True, "result": []}]
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    assert json.loads(json.dumps(fake.calls_to("getUpdates")[0].params)) == {"timeout": 30}
