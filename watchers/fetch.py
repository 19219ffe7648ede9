"""The httpx adapter: conditional GET with limits and a guard against server-side request forgery.

``Fetcher.fetch`` follows redirects itself so that every hop is checked. Unless private networks
are allowed, each host is resolved once, every address it resolves to must be public, and the
connection is pinned to one of those checked addresses (httpcore's network backend connects the
host name only to the addresses checked for it), so a second DNS answer cannot point the
connection somewhere else. Connections are kept alive and reused: the pool keys them by host
name, so a TLS connection verified for one name never carries a request for another.

At most ``FetchSettings.per_host`` requests to one host are in flight at once.

Bodies are streamed and decompressed here, not by httpx, so that the size cap applies to decoded
bytes without ever holding more than the cap in memory. One deadline covers the whole fetch: name
resolution, every redirect hop and the body.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpcore
import httpx

from watchers.errors import FetchError
from watchers.model import FetchResult

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``resolver(host, port) -> addresses``: the IP addresses a host name resolves to."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})  # the feed has moved: its stored address follows
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
_STATUS_HINTS = {
    401: "the feed needs a login",
    403: "access is forbidden",
    410: "the feed was removed",
    429: "too many requests, the server asks us to slow down",
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST_PORT = re.compile(r"^[^/?#@:]+:\d+(?:[/?#]|$)")  # "example.com:8080/feed", not a scheme
_MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """Limits and identity of the fetcher."""

    timeout: float = 20.0  # seconds, for the whole fetch including redirects and the body
    max_bytes: int = 5_000_000  # decoded body size
    allow_private_networks: bool = False
    user_agent: str = "newswatch/0.1 (+feed monitor)"
    max_redirects: int = 5
    per_host: int = 2  # requests in flight to one host at once
    keepalive: int = 20  # idle connections kept for reuse


class Fetcher:
    """One httpx client with newswatch's limits. Use ``async with Fetcher() as f`` or ``aclose()``.

    ``resolver`` and ``transport`` are seams for tests: a resolver that answers for made-up host
    names, and an ``httpx.MockTransport`` for a single odd response.
    """

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._settings = settings or FetchSettings()
        self._resolve = resolver or _resolve_host
        self._pins: dict[str, list[IPAddress]] = {}  # host name -> its checked addresses
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}  # host -> (gate, users)
        limits = httpx.Limits(
            max_connections=None, max_keepalive_connections=self._settings.keepalive
        )
        if transport is None and not self._settings.allow_private_networks:
            transport = _pinned_transport(limits, _PinnedNetwork(self._pins, network))
        elif transport is None and network is not None:
            transport = _pinned_transport(limits, network)
        # No proxies from the environment: they would bypass the address check.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._settings.timeout),
            follow_redirects=False,
            trust_env=False,
            limits=limits,
            headers={
                "User-Agent": self._settings.user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport,
        )

    @property
    def settings(self) -> FetchSettings:
        return self._settings

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url``; send ``etag``/``last_modified`` back exactly as received before.

        A 304 is returned as ``FetchResult(status=304)``, carrying the validators the server sent
        with it, or else the ones given here. Everything that goes wrong is a ``FetchError``.
        """
        timeout = self._settings.timeout
        started = time.monotonic()
        host = urlsplit(url).hostname or ""
        gate, users = self._hosts.get(host) or (asyncio.Semaphore(self._settings.per_host), 0)
        self._hosts[host] = (gate, users + 1)
        try:
            async with gate, asyncio.timeout(timeout):
                result = await self._fetch(url, etag, last_modified)
        except TimeoutError as e:
            raise FetchError(url, f"timed out after {timeout:g} s") from e
        finally:
            gate, users = self._hosts[host]
            if users == 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (gate, users - 1)
        logger.debug(
            "fetched url=%s final_url=%s status=%d bytes=%d elapsed=%.3f",
            url,
            result.url,
            result.status,
            len(result.content),
            time.monotonic() - started,
        )
        return result

    def read_local(self, path: str | Path) -> FetchResult:
        """Read a feed file named in the configuration, with the size cap. Blocking: call it
        with ``asyncio.to_thread`` from the event loop."""
        return read_local(path, max_bytes=self._settings.max_bytes)

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        headers: dict[str, str] = {}
        if etag is not None and _sendable(etag):
            headers["If-None-Match"] = etag
        if last_modified is not None and _sendable(last_modified):
            headers["If-Modified-Since"] = last_modified

        current = _parse_url(url, url)
        permanent = True  # every redirect so far was permanent
        for hop in range(self._settings.max_redirects + 1):
            # Only an address every hop of which passed the checks is ever reported as moved_to.
            moved_to = str(current) if hop > 0 and permanent else None
            _check_scheme(url, current, redirected=hop > 0)
            response = await self._send(url, current, headers)
            try:
                status = response.status_code
                if status in _REDIRECT_STATUSES:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError(
                            url, "the server sent a redirect without a Location", status=status
                        )
                    current = _parse_url(url, location, base=current)
                    permanent = permanent and status in _PERMANENT_REDIRECTS
                    logger.debug("redirect url=%s status=%d to=%s", url, status, current)
                    continue
                if status == 304:
                    # A 304 has no body; reading its end leaves the connection reusable.
                    try:
                        await response.aread()
                    except httpx.HTTPError as e:
                        raise FetchError(url, _network_message(e, self._settings.timeout)) from e
                    return FetchResult(
                        url=str(current),
                        status=304,
                        etag=response.headers.get("ETag", etag),
                        last_modified=response.headers.get("Last-Modified", last_modified),
                        content_type=response.headers.get("Content-Type"),
                        moved_to=moved_to,
                        cache_control=response.headers.get("Cache-Control"),
                        retry_after=response.headers.get("Retry-After"),
                    )
                if not 200 <= status < 300:
                    raise FetchError(
                        url,
                        _status_message(response),
                        status=status,
                        retry_after=response.headers.get("Retry-After"),
                    )
                content = await self._read_body(url, response)
                return FetchResult(
                    url=str(current),
                    status=status,
                    content=content,
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                    content_type=response.headers.get("Content-Type"),
                    moved_to=moved_to,
                    cache_control=response.headers.get("Cache-Control"),
                    retry_after=response.headers.get("Retry-After"),
                )
            finally:
                await response.aclose()
        raise FetchError(url, f"too many redirects (more than {self._settings.max_redirects})")

    async def _send(self, url: str, target: httpx.URL, headers: dict[str, str]) -> httpx.Response:
        """Send one GET for ``target``; unless private networks are allowed, its host name is
        checked first and the connection pinned to the checked addresses."""
        if not self._settings.allow_private_networks:
            host = target.raw_host.decode("ascii")  # IDNA-encoded, as DNS, TLS and httpcore use
            self._pins[host] = await self._checked_addresses(url, target)
        return await self._send_one(url, self._client.build_request("GET", target, headers=headers))

    async def _send_one(self, url: str, request: httpx.Request) -> httpx.Response:
        try:
            return await self._client.send(request, stream=True)
        except httpx.HTTPError as e:
            raise FetchError(url, _network_message(e, self._settings.timeout)) from e

    async def _checked_addresses(self, url: str, target: httpx.URL) -> list[IPAddress]:
        """Resolve ``target``'s host; refuse it unless every address is public."""
        addresses = await self._addresses(url, target)
        for address in addresses:
            if not is_public_address(address):
                raise FetchError(url, f"refusing to fetch a private or local address ({address})")
        return addresses

    async def _addresses(self, url: str, target: httpx.URL) -> list[IPAddress]:
        host = target.raw_host.decode("ascii")  # IDNA-encoded, as the connection would use it
        literal = _ip_literal(host)
        if literal is not None:
            return [literal]
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            answers = await self._resolve(host, port)
        except socket.gaierror as e:
            raise FetchError(url, "the name does not resolve") from e
        except OSError as e:
            raise FetchError(url, "could not resolve the name") from e
        addresses: list[IPAddress] = []
        for answer in answers:
            address = _ip_literal(answer.split("%", 1)[0])  # drop an IPv6 scope ("%eth0")
            if address is None:
                raise FetchError(url, f"the name resolved to a bad address ({answer})")
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise FetchError(url, "the name does not resolve")
        return addresses

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        limit = self._settings.max_bytes
        too_big = f"feed is larger than {limit / 1_000_000:g} MB"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(url, too_big, status=response.status_code)
        decoder = _Decoder.for_encoding(url, response.headers.get("Content-Encoding", ""))
        chunks: list[bytes] = []
        size = 0
        try:
            async for raw in response.aiter_raw():
                for chunk in decoder.decode(raw, limit - size):
                    size += len(chunk)
                    if size > limit:
                        raise FetchError(url, too_big, status=response.status_code)
                    chunks.append(chunk)
            for chunk in decoder.finish(limit - size):
                size += len(chunk)
                if size > limit:
                    raise FetchError(url, too_big, status=response.status_code)
                chunks.append(chunk)
        except httpx.HTTPError as e:
            raise FetchError(url, _network_message(e, self._settings.timeout)) from e
        return b"".join(chunks)


class _PinnedNetwork(httpcore.AsyncNetworkBackend):
    """Connects a host name only to the addresses checked for it, trying them in order as a
    browser would; a name not checked is never connected."""

    def __init__(
        self, pins: dict[str, list[IPAddress]], inner: httpcore.AsyncNetworkBackend | None
    ) -> None:
        self._pins = pins
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get(host)
        if not addresses:
            raise httpcore.ConnectError(f"no checked address for {host}")
        for attempt, address in enumerate(addresses, start=1):
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError:
                if attempt == len(addresses):
                    raise
                logger.debug("connect failed host=%s address=%s", host, address)
        raise httpcore.ConnectError(f"no checked address for {host}")  # not reached

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pinned_transport(
    limits: httpx.Limits, network: httpcore.AsyncNetworkBackend
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its connection pool given ``network`` to connect through."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=network,
    )
    return transport


def read_local(path: str | Path, *, max_bytes: int = 5_000_000) -> FetchResult:
    """Read a feed from a local file (a path or a ``file://`` URL); only for feeds listed in the
    configuration file.

    ``fetch`` never reads files: a user must not be able to make the bot read one.
    """
    if isinstance(path, str) and path.startswith("file://"):
        file = Path(url2pathname(urlsplit(path).path))
    else:
        file = Path(path).expanduser()
    try:
        with file.open("rb") as f:
            content = f.read(max_bytes + 1)
    except FileNotFoundError as e:
        raise FetchError(str(path), "the file does not exist") from e
    except IsADirectoryError as e:
        raise FetchError(str(path), "this is a directory, not a file") from e
    except PermissionError as e:
        raise FetchError(str(path), "permission denied") from e
    except OSError as e:
        raise FetchError(str(path), f"could not read the file ({e.strerror or e})") from e
    if len(content) > max_bytes:
        raise FetchError(str(path), f"feed is larger than {max_bytes / 1_000_000:g} MB")
    return FetchResult(url=file.resolve().as_uri(), status=200, content=content)


def validate_feed_url(url: str) -> str:
    """Normalise a feed address typed by a user; raise ``FetchError`` with a plain reason.

    Adds ``https://`` when no scheme is given, accepts ``feed:`` forms, lower-cases the scheme and
    host, drops the fragment. Does not resolve the name: whether the host is public is checked
    when fetching.
    """
    text = url.strip()
    if not text:
        raise FetchError(url, "give a feed address, like https://example.com/feed.xml")
    if len(text) > _MAX_URL_LENGTH:
        raise FetchError(url, "the address is too long")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise FetchError(url, "a web address cannot contain spaces or control characters")
    lowered = text.lower()
    if lowered.startswith("feed://"):
        text = "https://" + text[len("feed://") :]
    elif lowered.startswith("feed:"):
        text = text[len("feed:") :]
    elif text.startswith("//"):
        text = "https:" + text
    if _SCHEME.match(text) and not _HOST_PORT.match(text):
        scheme = text.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise FetchError(url, f"only http and https addresses are supported, not {scheme}:")
        if not text[len(scheme) + 1 :].startswith("//"):
            raise FetchError(url, "this does not look like a web address")
    else:
        text = "https://" + text
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as e:
        raise FetchError(url, "this is not a valid web address") from e
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise FetchError(url, "the address has no host name")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchError(url, "the port number is out of range")
    if parsed.userinfo:
        raise FetchError(url, "addresses with a user name or password are not supported")
    if not _looks_like_host(host):
        raise FetchError(url, f"{host!r} does not look like a web site's name")
    normal = str(parsed.copy_with(fragment=None))
    if not urlsplit(normal).path:
        normal = str(parsed.copy_with(fragment=None, path="/"))
    return normal


def is_public_address(address: IPAddress) -> bool:
    """True when ``address`` is public unicast, also for IPv4 inside IPv6 (mapped, 6to4, ...)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public_address(embedded):
            return False
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def _resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, the way the connection itself would resolve it."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _parse_url(url: str, target: str, *, base: httpx.URL | None = None) -> httpx.URL:
    try:
        return base.join(target) if base is not None else httpx.URL(target)
    except (httpx.InvalidURL, UnicodeError, ValueError) as e:
        if base is not None:
            raise FetchError(url, "the server redirected to an invalid address") from e
        raise FetchError(url, "this is not a valid web address") from e


def _check_scheme(url: str, target: httpx.URL, *, redirected: bool) -> None:
    if target.scheme in ("http", "https") and target.host:
        return
    if redirected:
        raise FetchError(url, f"the server redirected to a non-web address ({target.scheme}:)")
    if not target.scheme:
        raise FetchError(url, "the address has no scheme; use http:// or https://")
    if target.scheme not in ("http", "https"):
        raise FetchError(url, f"only http and https addresses can be fetched, not {target.scheme}:")
    raise FetchError(url, "the address has no host name")


def _sendable(value: str) -> bool:
    """Whether a stored validator can go back in a header (a broken one is dropped, not sent)."""
    return all(c == "\t" or " " <= c != "\x7f" for c in value)


def _ip_literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _looks_like_host(host: str) -> bool:
    if _ip_literal(host) is not None or host == "localhost":
        return True
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and all(
        label and len(label) <= 63 and re.fullmatch(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?", label)
        for label in labels
    )


def _status_message(response: httpx.Response) -> str:
    code = response.status_code
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = response.reason_phrase
    message = f"the server answered {code} {phrase}".rstrip()
    hint = _STATUS_HINTS.get(code)
    return f"{message}: {hint}" if hint else message


def _network_message(error: httpx.HTTPError, timeout: float) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    if isinstance(error, httpx.UnsupportedProtocol):
        return "only http and https addresses can be fetched"
    causes = _causes(error)
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "the name does not resolve"
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return "the site's TLS certificate is not valid"
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "the secure (TLS) connection failed"
    if isinstance(error, httpx.ConnectError):
        return "could not connect"
    if isinstance(error, httpx.RemoteProtocolError):
        text = str(error).lower()
        if "peer closed" in text or "incomplete" in text or "without sending" in text:
            return "the connection was closed before the whole response arrived"
        return "the server sent a malformed response"
    if isinstance(error, httpx.DecodingError):
        return "the server sent a corrupt compressed response"
    if isinstance(error, httpx.ReadError | httpx.WriteError):
        return "the connection broke"
    return f"the request failed ({type(error).__name__})"


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class _Decoder:
    """Content-Encoding decoder that never produces much more than it is allowed to."""

    def __init__(self, url: str, encoding: str) -> None:
        self._url = url
        self._encoding = encoding  # "identity", "gzip" or "deflate"
        self._zlib: zlib._Decompress | None = None

    @classmethod
    def for_encoding(cls, url: str, header: str) -> _Decoder:
        codings = [c.strip().lower() for c in header.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if not codings:
            return cls(url, "identity")
        if codings in (["gzip"], ["x-gzip"]):
            return cls(url, "gzip")
        if codings == ["deflate"]:
            return cls(url, "deflate")
        raise FetchError(url, f"the server used an unsupported compression ({header.strip()})")

    def decode(self, data: bytes, allowed: int) -> list[bytes]:
        """Decode ``data``, stopping once more than ``allowed`` bytes came out (caller raises)."""
        if self._encoding == "identity":
            return [data] if data else []
        if not data:
            return []
        if self._zlib is None:
            self._zlib = self._start(data)
        out: list[bytes] = []
        produced = 0
        try:
            while data:
                chunk = self._zlib.decompress(data, max(allowed - produced, 0) + 1)
                produced += len(chunk)
                if chunk:
                    out.append(chunk)
                if produced > allowed:
                    break
                if self._zlib.eof and self._zlib.unused_data and self._encoding == "gzip":
                    data = self._zlib.unused_data  # another gzip member follows
                    self._zlib = self._start(data)
                else:
                    data = self._zlib.unconsumed_tail
        except zlib.error as e:
            raise FetchError(self._url, "the server sent a corrupt compressed response") from e
        return out

    def finish(self, allowed: int) -> list[bytes]:
        if self._zlib is None:
            return []
        try:
            rest = self._zlib.flush()
        except zlib.error as e:
            raise FetchError(self._url, "the server sent a corrupt compressed response") from e
        return [rest[: allowed + 1]] if rest else []

    def _start(self, data: bytes) -> zlib._Decompress:
        if self._encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # deflate is zlib-wrapped per the standard, but some servers send a raw stream
        wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
