"""A real HTTP feed server on 127.0.0.1 for tests, with faults on demand.

It runs the standard library's threading HTTP server in its own thread, so it answers whatever the
test's event loop is doing::

    with FeedServer() as server:
        server.publish("/feed.xml", rss([{"title": "Hello", "guid": "1"}]))
        result = await fetcher.fetch(server.url("/feed.xml"))

Every response is HTTP/1.0 with the connection closed afterwards, so a body without a
Content-Length simply ends when the connection does.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import NamedTuple
from xml.sax.saxutils import escape

_CHUNK = 64 * 1024


class LoggedRequest(NamedTuple):
    """One request the server received; header names are lower-case."""

    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class _Response:
    kind: str  # "content", "redirect", "status", "huge", "gzip_bomb", "close_early"
    body: bytes = b""
    content_type: str = "application/rss+xml"
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    location: str = ""
    size: int = 0


@dataclass
class _Route:
    response: _Response | None = None
    delay: float = 0.0  # seconds before answering
    rate: float | None = None  # body bytes per second
    versions: int = 0
    last_modified: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """An HTTP server publishing feeds at paths; thread-safe; a sync context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._log: list[LoggedRequest] = []
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._started = False

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def close(self) -> None:
        """Stop serving; wake up slow answers; wait for every handler thread to finish."""
        self._stopping.set()
        if self._started:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- what to serve ---------------------------------------------------------------------

    def publish(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "application/rss+xml",
        etag: bool | str = True,
        last_modified: bool | str = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve ``body`` at ``path``. Each publish makes a new ETag and a later Last-Modified.

        ``etag``/``last_modified`` may be given as exact header values, or False to send none.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            route = self._routes.setdefault(path, _Route())
            route.versions += 1
            now = datetime.now(UTC).replace(microsecond=0)
            if route.last_modified is not None and now <= route.last_modified:
                now = route.last_modified + timedelta(seconds=1)
            route.last_modified = now
            if etag is True:
                etag_value: str | None = (
                    f'"v{route.versions}-{hashlib.sha256(data).hexdigest()[:12]}"'
                )
            else:
                etag_value = etag or None
            if last_modified is True:
                modified_value: str | None = format_datetime(now, usegmt=True)
            else:
                modified_value = last_modified or None
            route.extra = dict(headers or {})
            route.response = _Response(
                "content",
                body=data,
                content_type=content_type,
                etag=etag_value,
                last_modified=modified_value,
            )

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        """Answer ``path`` with a redirect to ``to`` (a path or an absolute URL), as given."""
        self._set(path, _Response("redirect", status=status, location=to))

    def status(self, path: str, code: int, *, headers: Mapping[str, str] | None = None) -> None:
        """Answer ``path`` with HTTP status ``code``, ``headers`` (e.g. Retry-After) and a short
        text body."""
        with self._lock:
            route = self._routes.setdefault(path, _Route())
            route.extra = dict(headers or {})
            route.response = _Response(
                "status", status=code, body=b"error\n", content_type="text/plain"
            )

    def huge(self, path: str, n_bytes: int) -> None:
        """Stream ``n_bytes`` of junk at ``path`` without a Content-Length."""
        self._set(path, _Response("huge", size=n_bytes))

    def gzip_bomb(self, path: str, decoded_size: int) -> None:
        """Serve zeros that decode to ``decoded_size`` bytes, gzip-compressed: small on the wire."""
        self._set(path, _Response("gzip_bomb", body=_gzip_zeros(decoded_size)))

    def close_early(self, path: str) -> None:
        """Promise the published body (or 1000 bytes) in Content-Length, send half, then close."""
        with self._lock:
            route = self._routes.setdefault(path, _Route())
            body = route.response.body if route.response and route.response.body else b"x" * 1000
            route.response = _Response("close_early", body=body)

    def slow(self, path: str, seconds: float) -> None:
        """Wait ``seconds`` before answering ``path`` (whatever it serves); 0 to stop."""
        with self._lock:
            self._routes.setdefault(path, _Route()).delay = seconds

    def trickle(self, path: str, bytes_per_second: float) -> None:
        """Send the body of ``path`` at ``bytes_per_second`` (headers come at once)."""
        with self._lock:
            self._routes.setdefault(path, _Route()).rate = bytes_per_second

    def _set(self, path: str, response: _Response) -> None:
        with self._lock:
            self._routes.setdefault(path, _Route()).response = response

    # -- answering (runs in the server's handler threads) ---------------------------------

    def _handle(self, handler: _Handler) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        path = handler.path
        with self._lock:
            self._log.append(LoggedRequest(path, headers))
            route = self._routes.get(path) or self._routes.get(path.split("?", 1)[0])
            route = replace(route, extra=dict(route.extra)) if route is not None else None
        if route is None or route.response is None:
            _send_simple(handler, 404, b"not found\n")
            return
        if route.delay and self._stopping.wait(route.delay):
            return
        response = route.response
        if response.kind == "redirect":
            handler.send_response(response.status)
            handler.send_header("Location", response.location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif response.kind == "status":
            _send_simple(handler, response.status, response.body, route.extra)
        elif response.kind == "huge":
            self._send_huge(handler, response.size)
        elif response.kind == "gzip_bomb":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rss+xml")
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            handler.wfile.write(response.body)
        elif response.kind == "close_early":
            handler.send_response(200)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            handler.wfile.write(response.body[: len(response.body) // 2])
        elif _not_modified(response, headers):
            handler.send_response(304)
            _send_validators(handler, response)
            for name, value in route.extra.items():
                handler.send_header(name, value)
            handler.end_headers()
        else:
            handler.send_response(200)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(response.body)))
            _send_validators(handler, response)
            for name, value in route.extra.items():
                handler.send_header(name, value)
            handler.end_headers()
            self._send_body(handler, response.body, route.rate)

    def _send_body(self, handler: _Handler, body: bytes, rate: float | None) -> None:
        if rate is None:
            handler.wfile.write(body)
            return
        step = max(1, int(rate / 10))
        for start in range(0, len(body), step):
            handler.wfile.write(body[start : start + step])
            handler.wfile.flush()
            if self._stopping.wait(step / rate):
                return

    def _send_huge(self, handler: _Handler, size: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.end_headers()
        junk = b"<!-- junk -->" * (_CHUNK // 13)
        sent = 0
        while sent < size and not self._stopping.is_set():
            piece = junk[: size - sent]
            handler.wfile.write(piece)
            sent += len(piece)


def rss(
    items: Iterable[Mapping[str, object]],
    *,
    title: str = "Test feed",
    link: str = "https://example.com/",
    description: str = "A feed for tests",
    ttl: int | None = None,
) -> str:
    """Build an RSS 2.0 document. Item keys: title, link, guid, description, content (HTML, as
    content:encoded), pub_date (an aware datetime or a ready string), author, categories (list).
    """
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">\n',
        "<channel>\n",
        f"<title>{escape(title)}</title>\n<link>{escape(link)}</link>\n",
        f"<description>{escape(description)}</description>\n",
    ]
    if ttl is not None:  # minutes the feed may be cached
        parts.append(f"<ttl>{ttl}</ttl>\n")
    for item in items:
        parts.append("<item>\n")
        for key, tag in (
            ("title", "title"),
            ("link", "link"),
            ("description", "description"),
            ("author", "author"),
        ):
            if key in item:
                parts.append(f"  <{tag}>{escape(str(item[key]))}</{tag}>\n")
        if "guid" in item:
            permalink = "true" if item.get("guid_is_permalink") else "false"
            guid = escape(str(item["guid"]))
            parts.append(f'  <guid isPermaLink="{permalink}">{guid}</guid>\n')
        if "pub_date" in item:
            date = item["pub_date"]
            text = format_datetime(date, usegmt=True) if isinstance(date, datetime) else str(date)
            parts.append(f"  <pubDate>{escape(text)}</pubDate>\n")
        categories = item.get("categories", ())
        if isinstance(categories, Iterable) and not isinstance(categories, str):
            for category in categories:
                parts.append(f"  <category>{escape(str(category))}</category>\n")
        if "content" in item:
            content = str(item["content"]).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"  <content:encoded><![CDATA[{content}]]></content:encoded>\n")
        parts.append("</item>\n")
    parts.append("</channel>\n</rss>\n")
    return "".join(parts)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the handler threads
    block_on_close = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: FeedServer
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up mid-answer is normal here (size caps, deadlines)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 10  # seconds to wait for a request line from a connected client

    def do_GET(self) -> None:
        # a client giving up mid-answer is expected here (size caps, deadlines)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.server.owner._handle(self)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet; the request log is on the FeedServer


def _send_simple(
    handler: _Handler, code: int, body: bytes, headers: Mapping[str, str] | None = None
) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _send_validators(handler: _Handler, response: _Response) -> None:
    if response.etag is not None:
        handler.send_header("ETag", response.etag)
    if response.last_modified is not None:
        handler.send_header("Last-Modified", response.last_modified)


def _not_modified(response: _Response, headers: Mapping[str, str]) -> bool:
    if "if-none-match" in headers:
        wanted = [tag.strip() for tag in headers["if-none-match"].split(",")]
        return response.etag is not None and ("*" in wanted or response.etag in wanted)
    since = headers.get("if-modified-since")
    if since is None or response.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(response.last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _gzip_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(_CHUNK * 16)
    parts = []
    remaining = size
    while remaining > 0:
        piece = zeros[: min(remaining, len(zeros))]
        parts.append(compressor.compress(piece))
        remaining -= len(piece)
    parts.append(compressor.flush())
    return b"".join(parts)
