"""A local fake of the Telegram Bot API, served over real HTTP on 127.0.0.1.

python-telegram-bot talks to it exactly as it talks to Telegram::

    with FakeTelegram() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.ptb_base_url)

The server runs in a background thread (standard library only), so it works the same from
synchronous and asynchronous tests. It reproduces the envelopes, status codes and error texts of
the real Bot API for the methods newswatch uses, validates message text the way Telegram does
(see ``telegram_html``), records everything the bot did, plays the user's side (messages,
button presses, blocking the bot) and can inject faults (errors, Telegram's flood limits, slow
calls, dropped connections, answers that come too late,
group migrations).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import math
import re
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.telegram_html import TextRejectedError, check_message_text

__all__ = [
    "ANONYMOUS_ADMIN",
    "BOT_FIRST_NAME",
    "BOT_ID",
    "BOT_USERNAME",
    "DEFAULT_TOKEN",
    "DEFAULT_USER_ID",
    "ApiCall",
    "CallbackAnswer",
    "Document",
    "EditedMessage",
    "FakeTelegram",
    "SentMessage",
]

DEFAULT_TOKEN = "123456:TEST-TOKEN"
BOT_ID = 123456
BOT_FIRST_NAME = "Newswatch"
BOT_USERNAME = "newswatch_test_bot"
DEFAULT_USER_ID = 1001
"""Who writes in groups and presses buttons when no ``user_id`` is given."""

ANONYMOUS_ADMIN: dict[str, Any] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}

MAX_POLL_TIMEOUT = 50.0
_DEFAULT_UPDATE_TYPES = frozenset(
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    ]
)
"""What ``allowed_updates=[]`` means: everything but chat_member and message reactions."""
_ACTIVE_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_API_PATH = re.compile(r"/bot([^/]*)/([^/]*)/?")
_FILE_PATH = re.compile(r"/file/bot([^/]*)/(.+)")
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses larger files [API getFile]
MAX_CAPTION_LENGTH = 1024
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
# Parameters that are strings even when they look like JSON (PTB sends strings unquoted).
_STRING_PARAMS = frozenset(
    [
        "text",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "language_code",
        "description",
        "short_description",
        "caption",
        "title",
        "name",
        "query",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "ip_address",
        "emoji",
        "custom_emoji_id",
        "data",
    ]
)

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_STALE_QUERY = "query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One request the bot made: canonical method name, decoded parameters, HTTP status."""

    method: str
    params: dict[str, Any]
    status: int


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message sendMessage accepted."""

    chat_id: int
    message_id: int
    text: str
    """The ``text`` parameter exactly as sent (markup included)."""
    parse_mode: str | None
    plain_text: str
    """The text after parsing and trimming, as users see it."""
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None
    message_thread_id: int | None
    disable_notification: bool
    link_preview_options: dict[str, Any] | None
    options: dict[str, Any]
    """Every parameter except ``chat_id``, ``text`` and ``parse_mode``."""
    received_at: float = 0.0
    """When the server accepted it (``time.monotonic()``)."""

    @property
    def link_preview_disabled(self) -> bool:
        options = self.link_preview_options or {}
        return bool(options.get("is_disabled") or self.options.get("disable_web_page_preview"))

    @property
    def entity_types(self) -> list[str]:
        return [entity["type"] for entity in self.entities]


@dataclass(frozen=True, slots=True)
class EditedMessage:
    """A successful editMessageText."""

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    plain_text: str
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None
    options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """A successful answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


# --------------------------------------------------------------------------------------------
# internals


class _ApiError(Exception):
    """An error envelope to answer with."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or {}


def _bad_request(detail: str, parameters: dict[str, Any] | None = None) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}", parameters)


@dataclass(slots=True)
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    migrate_to_chat_id: int | None
    chat_id: int | str | None
    remaining: int


@dataclass(slots=True)
class _Delay:
    seconds: float
    remaining: int | None


@dataclass(slots=True)
class _FloodLimit:
    per_second: float
    burst: int
    retry_after: int | None
    buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def take(self, chat_id: int, now: float) -> int | None:
        """Spend one send for ``chat_id``; return seconds to wait if none is left."""
        tokens, stamp = self.buckets.get(chat_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.per_second)
        if tokens >= 1.0:
            self.buckets[chat_id] = (tokens - 1.0, now)
            return None
        self.buckets[chat_id] = (tokens, now)
        if self.retry_after is not None:
            return self.retry_after
        return max(1, math.ceil((1.0 - tokens) / self.per_second))


@dataclass(slots=True)
class _TelegramLimits:
    """Telegram's flood control: a burst then about one message a second per chat, twenty a
    minute per group, thirty in any sliding second overall."""

    overall: int
    group_per_minute: int
    chat: _FloodLimit
    sends: deque[float] = field(default_factory=deque)
    group_sends: dict[int, deque[float]] = field(default_factory=dict)

    def take(self, chat_id: int, now: float) -> int | None:
        """Spend one send for ``chat_id``; return seconds to wait if Telegram would refuse."""
        while self.sends and self.sends[0] <= now - 1.0:
            self.sends.popleft()
        if len(self.sends) >= self.overall:
            return 1
        group = self.group_sends.setdefault(chat_id, deque()) if chat_id < 0 else None
        if group is not None:
            while group and group[0] <= now - 60.0:
                group.popleft()
            if len(group) >= self.group_per_minute:
                return max(1, math.ceil(group[0] + 60.0 - now))
        wait = self.chat.take(chat_id, now)
        if wait is not None:
            return wait
        self.sends.append(now)
        if group is not None:
            group.append(now)
        return None


@dataclass(slots=True)
class _ConnectionFault:
    kind: str  # "drop": close without an answer; "stall": answer after ``seconds``
    method: str
    chat_id: int | None
    after_delivery: bool
    seconds: float
    remaining: int


@dataclass(frozen=True, slots=True)
class Document:
    """A file: one the bot sent with sendDocument, or one a user sent (``user_sends_document``)."""

    chat_id: int
    message_id: int
    file_id: str
    file_name: str
    content: bytes
    mime_type: str
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class _Upload:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    content_type: str

    def __repr__(self) -> str:
        return f"<file {self.filename!r}, {len(self.content)} bytes>"


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    payload: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    raw: bytes | None = None
    """A file download: these bytes instead of the JSON payload."""
    drop: bool = False
    """Close the connection without answering."""
    stall: float = 0.0
    """Seconds to wait before answering."""


class _Params:
    """Request parameters with the conversions Telegram applies."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(float(value)) if isinstance(value, float) else int(str(value).strip())
        except ValueError:
            raise _bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(f"can't parse {name} JSON object") from None
        return value

    def chat_ref(self) -> int | str:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request("chat not found") from None


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if media_type == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise _bad_request("JSON object expected")
        return decoded
    if media_type == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        values: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            filename = part.get_filename()
            if filename is not None:
                content = part.get_payload(decode=True)
                values[name] = _Upload(
                    filename,
                    content if isinstance(content, bytes) else b"",
                    part.get_content_type(),
                )
                continue
            payload = part.get_payload(decode=True)
            raw = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            values[name] = _decode_form_value(name, raw)
        return values
    text = body.decode("utf-8", "replace")
    return {k: _decode_form_value(k, v) for k, v in parse_qsl(text, keep_blank_values=True)}


def _chat_member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    """A ChatMember of the given status with every field python-telegram-bot requires."""
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=False,
            can_manage_video_chats=False,
            can_restrict_members=False,
            can_promote_members=False,
            can_change_info=False,
            can_invite_users=False,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_post_messages=True,
            can_edit_messages=True,
        )
    elif status == "restricted":
        member.update(
            is_member=True,
            until_date=0,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            can_edit_tag=False,
            can_react_to_messages=False,
        )
    elif status == "kicked":
        member["until_date"] = 0
    elif status not in ("member", "left"):
        raise ValueError(f"unknown chat member status {status!r}")
    return member


def _inferred_chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= -1_000_000_000_000 else "group"


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeTelegram, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self.tracking_lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (a cancelled long poll, a closed PTB bot) are normal here;
        # anything else is a bug in the fake and is kept for the tests to see.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError) or self.fake._stopping.is_set():
            return
        with self.fake._lock:
            self.fake.internal_errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add about 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.tracking_lock:
            self.server.connections.add(self.connection)
            self.server.handler_threads.add(threading.current_thread())

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.tracking_lock:
                self.server.connections.discard(self.connection)
                self.server.handler_threads.discard(threading.current_thread())

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "")
        reply = self.server.fake._respond(url.path, url.query, content_type, body)
        if reply.stall:
            self.server.fake._stopping.wait(reply.stall)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.raw is not None:
            data, media_type = reply.raw, "application/octet-stream"
        else:
            data = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8")
            media_type = "application/json"
        self.send_response(reply.status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --------------------------------------------------------------------------------------------
# the fake


class FakeTelegram:
    """A fake Bot API server; see the module docstring."""

    _METHOD_NAMES: ClassVar[tuple[str, ...]] = (
        "getMe",
        "deleteWebhook",
        "getUpdates",
        "sendMessage",
        "editMessageText",
        "answerCallbackQuery",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "getChat",
        "getChatMember",
        "sendDocument",
        "getFile",
    )

    def __init__(self, token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1") -> None:
        self.token = token
        self._host = host
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Condition(threading.RLock())
        self._methods: dict[str, tuple[str, Callable[[_Params], Any]]] = {
            name.lower(): (name, getattr(self, f"_api_{_snake(name)}"))
            for name in self._METHOD_NAMES
        }

        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(10_001)
        self._allowed_updates: frozenset[str] = _DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._polls_waiting = 0

        self._chats: dict[int, dict[str, Any]] = {}
        self._membership: dict[int, str] = {}
        self._user_status: dict[tuple[int, int], str] = {}
        self._migrated: dict[int, int] = {}
        self._message_ids: dict[int, Iterator[int]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._bot_messages: set[tuple[int, int]] = set()
        self._callback_ids = itertools.count(4_200_000_000_001)
        self._open_queries: set[str] = set()

        self._calls: list[ApiCall] = []
        self._sent: list[SentMessage] = []
        self._edits: list[EditedMessage] = []
        self._answers: list[CallbackAnswer] = []
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._files: dict[str, Document] = {}
        self._documents: list[Document] = []
        self.internal_errors: list[str] = []
        """Tracebacks of bugs in the fake itself (answered with 500); should stay empty."""

        self._failures: list[_Failure] = []
        self._delays: dict[str, _Delay] = {}
        self._flood: _FloodLimit | None = None
        self._limits: _TelegramLimits | None = None
        self._faults: list[_ConnectionFault] = []

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already running")
        self._stopping.clear()
        self._server = _Server(self, (self._host, 0))
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end held long polls and close every connection; joins all threads."""
        server, thread = self._server, self._serve_thread
        if server is None or thread is None:
            return
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        server.shutdown()
        thread.join()
        with server.tracking_lock:
            connections = list(server.connections)
            handlers = list(server.handler_threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for handler in handlers:
            handler.join(timeout=5)
        server.server_close()
        self._server = None
        self._serve_thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("FakeTelegram is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def ptb_base_url(self) -> str:
        """What to pass as python-telegram-bot's ``base_url``."""
        return f"{self.base_url}/bot{{token}}"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's User object as getMe returns it."""
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": False,
            "allows_users_to_create_topics": False,
            "can_manage_bots": False,
            "supports_guest_queries": False,
        }

    # -- what the bot did -----------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    @property
    def sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self._sent)

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [message for message in self.sent if message.chat_id == chat_id]

    def received(self) -> dict[int, list[str]]:
        """What each chat received, as its users read it (plain text), in order."""
        chats: dict[int, list[str]] = {}
        for message in self.sent:
            chats.setdefault(message.chat_id, []).append(message.plain_text)
        return chats

    @property
    def flood_refusals(self) -> int:
        """How many calls were answered 429."""
        return sum(1 for call in self.calls if call.status == 429)

    @property
    def edits(self) -> list[EditedMessage]:
        with self._lock:
            return list(self._edits)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        with self._lock:
            return list(self._answers)

    @property
    def commands(self) -> list[dict[str, str]]:
        """Commands registered for the default scope and no language."""
        return self.commands_for()

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        with self._lock:
            key = (_scope_key(scope), language_code)
            return [dict(command) for command in self._commands.get(key, [])]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state of a message (after edits), as the Bot API would show it."""
        with self._lock:
            stored = self._messages.get((chat_id, message_id))
            return copy.deepcopy(stored) if stored is not None else None

    @property
    def active_polls(self) -> int:
        """How many getUpdates requests the server is holding right now."""
        with self._lock:
            return self._polls_waiting

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        *,
        timeout: float = 3.0,  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """Wait until at least ``count`` messages were sent to ``chat_id``; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.sent_to(chat_id)
            if len(messages) >= count:
                return messages
            if time.monotonic() >= deadline:
                raise AssertionError(self._missing_messages(chat_id, count, timeout, messages))
            await asyncio.sleep(0.01)

    def wait_for_messages_sync(
        self, chat_id: int, count: int = 1, *, timeout: float = 3.0
    ) -> list[SentMessage]:
        """``wait_for_messages`` for synchronous code (blocks the calling thread)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                messages = [m for m in self._sent if m.chat_id == chat_id]
                remaining = deadline - time.monotonic()
                if len(messages) >= count:
                    return messages
                if remaining <= 0:
                    raise AssertionError(self._missing_messages(chat_id, count, timeout, messages))
                self._lock.wait(remaining)

    async def wait_for(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float = 3.0,  # noqa: ASYNC109
        what: str = "condition",
    ) -> None:
        """Wait until ``condition()`` is true, e.g. ``lambda: fake.callback_answers``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; "
                    f"calls so far: {[call.method for call in self.calls]}"
                )
            await asyncio.sleep(0.01)

    def _missing_messages(
        self, chat_id: int, count: int, timeout: float, messages: list[SentMessage]
    ) -> str:
        everything = [(m.chat_id, m.plain_text) for m in self.sent]
        failed = [(c.method, c.status) for c in self.calls if c.status != 200]
        return (
            f"expected {count} message(s) to chat {chat_id} within {timeout}s, "
            f"got {len(messages)}: {[m.plain_text for m in messages]!r}; "
            f"all sent messages: {everything!r}; failed calls: {failed!r}"
        )

    # -- the user's side ------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str = "private",
        title: str | None = None,
        first_name: str = "Ann",
        username: str | None = None,
        is_forum: bool = False,
    ) -> dict[str, Any]:
        """Make a chat known to the server (as if someone had written in it); return it."""
        if chat_type not in ("private", "group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {chat_type!r}")
        if (chat_type == "private") != (chat_id > 0):
            raise ValueError("private chats have positive ids, the others negative ones")
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = title or ("News channel" if chat_type == "channel" else "Newsroom")
        if username:
            chat["username"] = username
        if is_forum:
            if chat_type != "supergroup":
                raise ValueError("only supergroups can be forums")
            chat["is_forum"] = True
        with self._lock:
            self._chats[chat_id] = chat
            if chat_id not in self._membership:
                self._membership[chat_id] = "administrator" if chat_type == "channel" else "member"
            return dict(chat)

    def user_sends(
        self,
        text: str,
        *,
        chat_id: int,
        chat_type: str = "private",
        user_id: int | None = None,
        first_name: str = "Ann",
        username: str | None = None,
        chat_title: str | None = None,
        message_thread_id: int | None = None,
        is_forum: bool = False,
    ) -> dict[str, Any]:
        """Queue a ``message`` update from a user; return the update."""
        if user_id is None:
            user_id = chat_id if chat_type == "private" else DEFAULT_USER_ID
        if chat_type == "private" and user_id != chat_id:
            raise ValueError("in a private chat the chat id is the user id")
        chat = self._chat_written_in(
            chat_id, chat_type, chat_title, first_name, is_forum or message_thread_id is not None
        )
        sender: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "en",
        }
        if username:
            sender["username"] = username
        return self._incoming("message", chat, text, sender=sender, thread=message_thread_id)

    def channel_post(self, text: str, *, chat_id: int, title: str | None = None) -> dict[str, Any]:
        """Queue a ``channel_post`` update (no ``from``; ``sender_chat`` is the channel)."""
        chat = self._chat_written_in(chat_id, "channel", title, "Ann", False)
        return self._incoming("channel_post", chat, text, sender_chat=chat)

    def user_forwards_channel_post(
        self, chat_id: int, channel_id: int, text: str = "A post", *, first_name: str = "Ann"
    ) -> dict[str, Any]:
        """Queue a private ``message`` that forwards a post of a (known) channel."""
        with self._lock:
            channel = dict(self._chats[channel_id])
            post_id = self._next_message_id(channel_id)
        update = self.user_sends(text, chat_id=chat_id, first_name=first_name)
        with self._lock:
            for queued in self._updates:
                if queued["update_id"] == update["update_id"]:
                    queued["message"]["forward_origin"] = {
                        "type": "channel",
                        "chat": channel,
                        "message_id": post_id,
                        "date": queued["message"]["date"],
                    }
                    queued["message"]["forward_date"] = queued["message"]["date"]
                    return copy.deepcopy(queued)
        raise RuntimeError("the forwarded message was already fetched")

    def anonymous_admin_sends(
        self,
        text: str,
        *,
        chat_id: int,
        chat_type: str = "supergroup",
        chat_title: str | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a message from an anonymous group admin (``from`` is GroupAnonymousBot)."""
        if chat_type not in ("group", "supergroup"):
            raise ValueError("anonymous admins exist only in groups")
        chat = self._chat_written_in(
            chat_id, chat_type, chat_title, "Ann", message_thread_id is not None
        )
        return self._incoming(
            "message",
            chat,
            text,
            sender=dict(ANONYMOUS_ADMIN),
            sender_chat=chat,
            thread=message_thread_id,
        )

    def user_presses(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ann",
    ) -> str:
        """Queue a ``callback_query`` for a button on a message the bot sent; return its id."""
        with self._lock:
            key = (chat_id, message_id)
            if key not in self._bot_messages:
                raise ValueError(f"the bot sent no message {message_id} to chat {chat_id}")
            chat = self._chats[chat_id]
            if user_id is None:
                user_id = chat_id if chat["type"] == "private" else DEFAULT_USER_ID
            query_id = str(next(self._callback_ids))
            self._open_queries.add(query_id)
            query = {
                "id": query_id,
                "from": {
                    "id": user_id,
                    "is_bot": False,
                    "first_name": first_name,
                    "language_code": "en",
                },
                "message": copy.deepcopy(self._messages[key]),
                "chat_instance": str(abs(chat_id) * 7 + 3),
                "data": data,
            }
            self._enqueue("callback_query", query)
            return query_id

    def chat_member_update(
        self,
        chat_id: int,
        old_status: str,
        new_status: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ann",
        chat_type: str | None = None,
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """Queue a ``my_chat_member`` update about the bot and apply the new status.

        A private chat going ``member`` -> ``kicked`` is the user blocking the bot; sending
        there then fails with 403 until the status goes back to ``member``.
        """
        chat = self._known_or_new_chat(chat_id, chat_type, chat_title)
        if user_id is None:
            user_id = chat_id if chat["type"] == "private" else DEFAULT_USER_ID
        actor = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        bot = {"id": BOT_ID, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}
        payload = {
            "chat": chat,
            "from": actor,
            "date": int(time.time()),
            "old_chat_member": _chat_member(old_status, bot),
            "new_chat_member": _chat_member(new_status, bot),
        }
        with self._lock:
            self._membership[chat_id] = new_status
            return self._enqueue("my_chat_member", payload)

    def _chat_written_in(
        self, chat_id: int, chat_type: str, title: str | None, first_name: str, forum: bool
    ) -> dict[str, Any]:
        """Register the chat of an incoming message, keeping what is already known of it."""
        with self._lock:
            known = self._chats.get(chat_id, {})
            if known.get("type") != chat_type:
                known = {}
            return self.add_chat(
                chat_id,
                chat_type=chat_type,
                title=title or known.get("title"),
                first_name=first_name,
                username=known.get("username"),
                is_forum=chat_type == "supergroup" and (forum or bool(known.get("is_forum"))),
            )

    def _known_or_new_chat(
        self, chat_id: int, chat_type: str | None = None, title: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            known = self._chats.get(chat_id)
            if known is not None and chat_type in (None, known["type"]):
                return dict(known)
        return self.add_chat(
            chat_id, chat_type=chat_type or _inferred_chat_type(chat_id), title=title
        )

    def _incoming(
        self,
        kind: str,
        chat: dict[str, Any],
        text: str,
        *,
        sender: dict[str, Any] | None = None,
        sender_chat: dict[str, Any] | None = None,
        thread: int | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            message: dict[str, Any] = {
                "message_id": self._next_message_id(chat["id"]),
                "date": int(time.time()),
                "chat": chat,
            }
            if sender is not None:
                message["from"] = sender
            if sender_chat is not None:
                message["sender_chat"] = sender_chat
            if thread is not None:
                message["message_thread_id"] = thread
                message["is_topic_message"] = True
            message["text"] = text
            command = _BOT_COMMAND.match(text)
            if command is not None:
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": command.end()}
                ]
            self._messages[(chat["id"], message["message_id"])] = message
            return self._enqueue(kind, message)

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
            self._updates.append(update)
            self._lock.notify_all()
            return copy.deepcopy(update)

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    # -- fault injection ------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        chat_id: int | str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id`` if given) with this
        exact error envelope instead of handling them."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.append(
                _Failure(
                    method.lower(),
                    status,
                    description,
                    retry_after,
                    migrate_to_chat_id,
                    chat_id,
                    times,
                )
            )

    def block(self, chat_id: int) -> None:
        """The user blocks the bot (groups: the bot is kicked); sends then fail with 403."""
        self._known_or_new_chat(chat_id)
        with self._lock:
            self._membership[chat_id] = "kicked"

    def unblock(self, chat_id: int) -> None:
        self._known_or_new_chat(chat_id)
        with self._lock:
            chat_type = self._chats[chat_id]["type"]
            self._membership[chat_id] = "administrator" if chat_type == "channel" else "member"

    def rate_limit(
        self, per_chat_per_second: float = 1.0, burst: int = 3, retry_after: int | None = None
    ) -> None:
        """Enable flood control: each chat gets ``burst`` sends at once, refilled at
        ``per_chat_per_second``; past that, 429 with ``retry_after`` (computed if None)."""
        if per_chat_per_second <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        with self._lock:
            self._flood = _FloodLimit(per_chat_per_second, burst, retry_after)

    def no_rate_limit(self) -> None:
        with self._lock:
            self._flood = None
            self._limits = None

    def telegram_limits(
        self,
        *,
        overall_per_second: int = 30,
        group_per_minute: int = 20,
        per_chat_per_second: float = 1.0,
        burst: int = 10,
    ) -> None:
        """Enforce Telegram's flood limits as a whole: per chat (a short burst, then about one
        a second), per group (twenty in any minute) and overall (thirty in any sliding
        second); past any of them, 429 with ``retry_after``."""
        with self._lock:
            self._flood = None
            self._limits = _TelegramLimits(
                overall_per_second,
                group_per_minute,
                _FloodLimit(per_chat_per_second, burst, None),
            )

    def drop_next(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        after_delivery: bool = False,
        times: int = 1,
    ) -> None:
        """Close the connection of the next ``times`` calls of ``method`` (to ``chat_id`` if
        given) without an answer: before handling them, or ``after_delivery`` (the message
        reached the chat, but the bot never hears so)."""
        self._add_fault(_ConnectionFault("drop", method.lower(), chat_id, after_delivery, 0, times))

    def stall_next(
        self, method: str, seconds: float, *, chat_id: int | None = None, times: int = 1
    ) -> None:
        """Handle the next ``times`` calls of ``method`` (the message is delivered) but answer
        only after ``seconds``: a client with a shorter read timeout gives up on them."""
        self._add_fault(_ConnectionFault("stall", method.lower(), chat_id, True, seconds, times))

    def _add_fault(self, fault: _ConnectionFault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, params: _Params) -> _ConnectionFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method != method:
                    continue
                if fault.chat_id is not None and str(params.values.get("chat_id")) != str(
                    fault.chat_id
                ):
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def delay(self, method: str, seconds: float, *, times: int | None = None) -> None:
        """Make calls of ``method`` wait ``seconds`` before being handled (0 removes it)."""
        with self._lock:
            if seconds <= 0:
                self._delays.pop(method.lower(), None)
            else:
                self._delays[method.lower()] = _Delay(seconds, times)

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group becomes a supergroup: sending to the old id fails with
        ``migrate_to_chat_id``; the new chat is known."""
        if new_chat_id > -1_000_000_000_000:
            raise ValueError("supergroup ids are below -1000000000000")
        old = self._known_or_new_chat(chat_id)
        self.add_chat(new_chat_id, chat_type="supergroup", title=old.get("title"))
        with self._lock:
            self._migrated[chat_id] = new_chat_id

    # -- request handling -----------------------------------------------------------------

    def _respond(self, path: str, query: str, content_type: str, body: bytes) -> _Reply:
        download = _FILE_PATH.fullmatch(path)
        if download is not None:
            return self._download(*download.groups())
        match = _API_PATH.fullmatch(path)
        if match is None:
            return _error_reply(_ApiError(404, "Not Found"))
        token, method = match.groups()
        if token != self.token:
            well_formed = _TOKEN_SHAPE.fullmatch(token) is not None
            detail = "Unauthorized" if well_formed else "Unauthorized: invalid token specified"
            return _error_reply(_ApiError(401, detail))
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        try:
            values = {
                k: _decode_form_value(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
            }
            values.update(_parse_body(content_type, body))
        except (ValueError, _ApiError):
            values = {}
            reply = _error_reply(_bad_request("can't parse request body"))
        else:
            reply = self._call(entry, name, _Params(values))
        with self._lock:
            self._calls.append(ApiCall(name, values, reply.status))
            self._lock.notify_all()
        return reply

    def _call(
        self,
        entry: tuple[str, Callable[[_Params], Any]] | None,
        name: str,
        params: _Params,
    ) -> _Reply:
        if entry is None:
            return _error_reply(_ApiError(404, "Not Found"))
        handler = entry[1]
        self._wait_if_delayed(name.lower())
        fault = self._take_fault(name.lower(), params)
        if fault is not None and not fault.after_delivery:
            return _Reply(0, {}, drop=True)
        try:
            self._raise_injected_failure(name.lower(), params)
            result = handler(params)
        except _ApiError as error:
            reply = _error_reply(error)
        except Exception:
            with self._lock:
                self.internal_errors.append(traceback.format_exc())
            reply = _error_reply(_ApiError(500, "Internal Server Error"))
        else:
            reply = _Reply(200, {"ok": True, "result": result})
        if fault is not None:
            return _Reply(
                reply.status,
                reply.payload,
                reply.headers,
                drop=fault.kind == "drop",
                stall=fault.seconds,
            )
        return reply

    def _wait_if_delayed(self, method: str) -> None:
        with self._lock:
            delay = self._delays.get(method)
            if delay is None:
                return
            if delay.remaining is not None:
                delay.remaining -= 1
                if delay.remaining <= 0:
                    del self._delays[method]
            seconds = delay.seconds
        self._stopping.wait(seconds)

    def _raise_injected_failure(self, method: str, params: _Params) -> None:
        with self._lock:
            for failure in self._failures:
                if failure.method != method:
                    continue
                if failure.chat_id is not None and str(params.values.get("chat_id")) != str(
                    failure.chat_id
                ):
                    continue
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                parameters: dict[str, Any] = {}
                if failure.migrate_to_chat_id is not None:
                    parameters["migrate_to_chat_id"] = failure.migrate_to_chat_id
                if failure.retry_after is not None:
                    parameters["retry_after"] = failure.retry_after
                raise _ApiError(failure.status, failure.description, parameters)

    def _resolve_chat(self, ref: int | str) -> dict[str, Any]:
        """The chat a request addresses, or the error Telegram gives for it."""
        with self._lock:
            if isinstance(ref, str):
                wanted = ref[1:].lower()
                for known in self._chats.values():
                    if str(known.get("username", "")).lower() == wanted:
                        return known
                raise _bad_request("chat not found")
            if ref in self._migrated:
                raise _bad_request(
                    "group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self._migrated[ref]},
                )
            chat = self._chats.get(ref)
            if chat is None:
                raise _bad_request("chat not found")
            return chat

    def _check_can_write(self, chat: dict[str, Any]) -> None:
        status = self._membership.get(chat["id"], "member")
        if status in _ACTIVE_STATUSES:
            return
        if chat["type"] == "private":
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if status == "kicked":
            raise _ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
        raise _ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")

    def _check_flood(self, chat_id: int) -> None:
        if self._limits is not None:
            wait = self._limits.take(chat_id, time.monotonic())
        elif self._flood is not None:
            wait = self._flood.take(chat_id, time.monotonic())
        else:
            return
        if wait is not None:
            raise _ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    @staticmethod
    def _check_reply_markup(markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise _bad_request("BUTTON_DATA_INVALID")

    # -- API methods ----------------------------------------------------------------------

    def _api_get_me(self, params: _Params) -> dict[str, Any]:
        return self.bot_user

    def _api_delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    def _api_get_updates(self, params: _Params) -> list[dict[str, Any]]:
        offset = params.integer("offset")
        limit = min(100, max(1, params.integer("limit") or 100))
        timeout = min(MAX_POLL_TIMEOUT, max(0.0, params.number("timeout") or 0.0))
        allowed = params.json("allowed_updates")
        deadline = time.monotonic() + timeout
        with self._lock:
            self._poll_generation += 1
            generation = self._poll_generation
            self._lock.notify_all()
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) or _DEFAULT_UPDATE_TYPES
            if offset is not None and offset < 0:
                self._updates = self._updates[offset:]
            elif offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._polls_waiting += 1
            try:
                return self._hold_poll(generation, limit, deadline)
            finally:
                self._polls_waiting -= 1

    def _hold_poll(self, generation: int, limit: int, deadline: float) -> list[dict[str, Any]]:
        """Answer a getUpdates (lock held): pending updates, or wait for one until the deadline."""
        while True:
            if self._poll_generation != generation:
                raise _ApiError(409, _CONFLICT_POLL)
            self._updates = [u for u in self._updates if _update_kind(u) in self._allowed_updates]
            if self._updates or self._stopping.is_set():
                return copy.deepcopy(self._updates[:limit])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._lock.wait(remaining)

    def _api_send_message(self, params: _Params) -> dict[str, Any]:
        ref = params.chat_ref()
        raw_text = params.text("text") or ""
        parse_mode = params.text("parse_mode") or None
        try:
            formatted = check_message_text(raw_text, parse_mode)
        except TextRejectedError as rejected:
            raise _bad_request(rejected.description) from None
        markup = params.json("reply_markup")
        self._check_reply_markup(markup)
        thread = params.integer("message_thread_id")
        preview = params.json("link_preview_options")
        with self._lock:
            chat = self._resolve_chat(ref)
            self._check_can_write(chat)
            self._check_flood(chat["id"])
            message: dict[str, Any] = {
                "message_id": self._next_message_id(chat["id"]),
                "from": {
                    "id": BOT_ID,
                    "is_bot": True,
                    "first_name": BOT_FIRST_NAME,
                    "username": BOT_USERNAME,
                },
                "date": int(time.time()),
                "chat": dict(chat),
                "text": formatted.text,
            }
            if formatted.entities:
                message["entities"] = formatted.to_api()
            if thread is not None and chat.get("is_forum"):
                message["message_thread_id"] = thread
                message["is_topic_message"] = True
            if isinstance(preview, dict):
                message["link_preview_options"] = preview
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            if params.flag("protect_content"):
                message["has_protected_content"] = True
            key = (chat["id"], message["message_id"])
            self._messages[key] = message
            self._bot_messages.add(key)
            self._sent.append(
                SentMessage(
                    chat_id=chat["id"],
                    message_id=message["message_id"],
                    text=raw_text,
                    parse_mode=parse_mode,
                    plain_text=formatted.text,
                    entities=tuple(formatted.to_api()),
                    reply_markup=markup if isinstance(markup, dict) else None,
                    message_thread_id=thread,
                    disable_notification=params.flag("disable_notification"),
                    link_preview_options=preview if isinstance(preview, dict) else None,
                    options={
                        k: v
                        for k, v in params.values.items()
                        if k not in ("chat_id", "text", "parse_mode")
                    },
                    received_at=time.monotonic(),
                )
            )
            self._lock.notify_all()
            return copy.deepcopy(message)

    def _api_edit_message_text(self, params: _Params) -> dict[str, Any]:
        if params.has("inline_message_id"):
            raise _bad_request("message to edit not found")
        ref = params.chat_ref()
        message_id = params.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        raw_text = params.text("text") or ""
        parse_mode = params.text("parse_mode") or None
        try:
            formatted = check_message_text(raw_text, parse_mode)
        except TextRejectedError as rejected:
            raise _bad_request(rejected.description) from None
        markup = params.json("reply_markup")
        self._check_reply_markup(markup)
        with self._lock:
            chat = self._resolve_chat(ref)
            self._check_can_write(chat)
            key = (chat["id"], message_id)
            message = self._messages.get(key)
            if message is None:
                raise _bad_request("message to edit not found")
            if key not in self._bot_messages:
                raise _bad_request("message can't be edited")
            entities = formatted.to_api()
            new_markup = (
                markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
            )
            if (
                message.get("text") == formatted.text
                and message.get("entities", []) == entities
                and message.get("reply_markup") == new_markup
            ):
                raise _bad_request(_NOT_MODIFIED)
            self._check_flood(chat["id"])
            message["text"] = formatted.text
            message["edit_date"] = int(time.time())
            if entities:
                message["entities"] = entities
            else:
                message.pop("entities", None)
            if new_markup is not None:
                message["reply_markup"] = new_markup
            else:
                message.pop("reply_markup", None)
            self._edits.append(
                EditedMessage(
                    chat_id=chat["id"],
                    message_id=message_id,
                    text=raw_text,
                    parse_mode=parse_mode,
                    plain_text=formatted.text,
                    entities=tuple(entities),
                    reply_markup=markup if isinstance(markup, dict) else None,
                    options={
                        k: v
                        for k, v in params.values.items()
                        if k not in ("chat_id", "message_id", "text", "parse_mode")
                    },
                )
            )
            self._lock.notify_all()
            return copy.deepcopy(message)

    def _api_answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        with self._lock:
            if query_id not in self._open_queries:
                raise _bad_request(_STALE_QUERY)
            self._open_queries.discard(query_id)
            self._answers.append(
                CallbackAnswer(
                    callback_query_id=query_id,
                    text=params.text("text"),
                    show_alert=params.flag("show_alert"),
                    url=params.text("url"),
                    cache_time=params.integer("cache_time"),
                )
            )
            self._lock.notify_all()
        return True

    def _api_set_my_commands(self, params: _Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("BOT_COMMAND_INVALID")
        cleaned: list[dict[str, str]] = []
        for entry in commands:
            if not isinstance(entry, dict):
                raise _bad_request("BOT_COMMAND_INVALID")
            command = str(entry.get("command", "")).removeprefix("/")
            description = str(entry.get("description", "")).strip()
            if not _COMMAND_NAME.fullmatch(command) or not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_INVALID")
            cleaned.append({"command": command, "description": description})
        key = (_scope_key(params.json("scope")), params.text("language_code") or "")
        with self._lock:
            if cleaned:
                self._commands[key] = cleaned
            else:
                self._commands.pop(key, None)
        return True

    def _api_get_my_commands(self, params: _Params) -> list[dict[str, str]]:
        return self.commands_for(params.json("scope"), params.text("language_code") or "")

    def _api_delete_my_commands(self, params: _Params) -> bool:
        key = (_scope_key(params.json("scope")), params.text("language_code") or "")
        with self._lock:
            self._commands.pop(key, None)
        return True

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for a user in a group (default: ``member``); for
        ``BOT_ID``, the bot's own status there, changed without a ``my_chat_member`` update."""
        _chat_member(status, {})  # validates the status
        with self._lock:
            if user_id == BOT_ID:
                self._membership[chat_id] = status
            else:
                self._user_status[(chat_id, user_id)] = status

    def _api_get_chat_member(self, params: _Params) -> dict[str, Any]:
        chat = self._resolve_chat(params.chat_ref())
        user_id = params.integer("user_id")
        if user_id is None:
            raise _bad_request("invalid user_id specified")
        if user_id == BOT_ID:
            return _chat_member(self._membership.get(chat["id"], "member"), self.bot_user)
        status = self._user_status.get((chat["id"], user_id))
        if status is None:
            status = "creator" if chat["type"] == "private" else "member"
        user = {"id": user_id, "is_bot": False, "first_name": "Ann"}
        return _chat_member(status, user)

    def _api_get_chat(self, params: _Params) -> dict[str, Any]:
        chat = dict(self._resolve_chat(params.chat_ref()))
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    # -- files ----------------------------------------------------------------------------

    @property
    def documents(self) -> list[Document]:
        """Every file the bot sent with sendDocument."""
        with self._lock:
            return list(self._documents)

    def documents_to(self, chat_id: int) -> list[Document]:
        return [document for document in self.documents if document.chat_id == chat_id]

    def user_sends_document(
        self,
        content: bytes,
        file_name: str,
        *,
        chat_id: int,
        chat_type: str = "private",
        user_id: int | None = None,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Queue a ``message`` update carrying a file (the bot reads it with getFile and a
        download); return the update."""
        if user_id is None:
            user_id = chat_id if chat_type == "private" else DEFAULT_USER_ID
        chat = self._chat_written_in(chat_id, chat_type, None, "Ann", False)
        sender = {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": "en"}
        with self._lock:
            message_id = self._next_message_id(chat_id)
            document = self._store_file(chat_id, message_id, file_name, content, mime_type)
            message: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "from": sender,
                "document": self._document_object(document),
            }
            if caption:
                message["caption"] = caption
            self._messages[(chat_id, message_id)] = message
            return self._enqueue("message", message)

    def _store_file(
        self, chat_id: int, message_id: int, file_name: str, content: bytes, mime_type: str
    ) -> Document:
        """Keep a file for getFile (lock held)."""
        file_id = f"BQACAgIAAxkBAAI{len(self._files) + 1:06d}"
        document = Document(chat_id, message_id, file_id, file_name, content, mime_type)
        self._files[file_id] = document
        return document

    @staticmethod
    def _document_object(document: Document) -> dict[str, Any]:
        return {
            "file_id": document.file_id,
            "file_unique_id": "AgAD" + document.file_id[-6:],
            "file_name": document.file_name,
            "mime_type": document.mime_type,
            "file_size": len(document.content),
        }

    def _api_get_file(self, params: _Params) -> dict[str, Any]:
        file_id = params.text("file_id") or ""
        with self._lock:
            document = self._files.get(file_id)
        if document is None:
            raise _bad_request("invalid file_id")
        if len(document.content) > MAX_DOWNLOAD_BYTES:
            raise _bad_request("file is too big")
        return {
            "file_id": document.file_id,
            "file_unique_id": "AgAD" + document.file_id[-6:],
            "file_size": len(document.content),
            "file_path": f"documents/{document.file_id}",
        }

    def _download(self, token: str, file_path: str) -> _Reply:
        """GET /file/bot<token>/<file_path>: the file's bytes (errors as JSON, like the API)."""
        if unquote(token) != self.token:
            return _error_reply(_ApiError(401, "Unauthorized"))
        with self._lock:
            document = self._files.get(unquote(file_path).removeprefix("documents/"))
        if document is None:
            return _error_reply(_ApiError(404, "Not Found"))
        return _Reply(200, {}, raw=document.content)

    def _api_send_document(self, params: _Params) -> dict[str, Any]:
        upload = params.values.get("document")
        caption = params.text("caption")
        parse_mode = params.text("parse_mode") or None
        if caption:
            try:
                check_message_text(caption, parse_mode, max_length=MAX_CAPTION_LENGTH)
            except TextRejectedError as rejected:
                detail = rejected.description.replace(
                    "message is too long", "message caption is too long"
                )
                raise _bad_request(detail) from None
        with self._lock:
            chat = self._resolve_chat(params.chat_ref())
            self._check_can_write(chat)
            if isinstance(upload, _Upload):
                file_name, content, mime_type = upload.filename, upload.content, upload.content_type
            elif isinstance(upload, str) and upload in self._files:
                known = self._files[upload]
                file_name, content, mime_type = known.file_name, known.content, known.mime_type
            else:
                raise _bad_request("there is no document in the request")
            if not content:
                raise _bad_request("file must be non-empty")
            message_id = self._next_message_id(chat["id"])
            document = self._store_file(chat["id"], message_id, file_name, content, mime_type)
            document = Document(
                chat["id"], message_id, document.file_id, file_name, content, mime_type, caption
            )
            self._files[document.file_id] = document
            self._documents.append(document)
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": {
                    "id": BOT_ID,
                    "is_bot": True,
                    "first_name": BOT_FIRST_NAME,
                    "username": BOT_USERNAME,
                },
                "date": int(time.time()),
                "chat": dict(chat),
                "document": self._document_object(document),
            }
            if caption:
                message["caption"] = caption
            key = (chat["id"], message_id)
            self._messages[key] = message
            self._bot_messages.add(key)
            self._lock.notify_all()
            return copy.deepcopy(message)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _scope_key(scope: Any) -> str:
    if not scope:
        scope = {"type": "default"}
    return json.dumps(scope, sort_keys=True)


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _error_reply(error: _ApiError) -> _Reply:
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.status,
        "description": error.description,
    }
    headers: tuple[tuple[str, str], ...] = ()
    if error.parameters:
        payload["parameters"] = dict(error.parameters)
    retry_after = error.parameters.get("retry_after")
    if error.status == 429 and retry_after is not None:
        headers = (("Retry-After", str(retry_after)),)
    return _Reply(error.status, payload, headers)
