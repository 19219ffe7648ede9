"""The fetcher against a real HTTP server on 127.0.0.1, with real httpx.

Most tests allow private networks (the server is local); the guard tests turn that off and use
an injected resolver or ``httpx.MockTransport`` where a public host is needed.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from pathlib import Path

import httpcore
import httpx
import pytest

from tests.fakes.feeds import FeedServer, rss
from watchers.errors import FetchError
from watchers.fetch import Fetcher, FetchSettings, Resolver, read_local, validate_feed_url

TIMEOUT = 0.5
FEED = rss([{"title": "First", "guid": "1", "link": "https://example.com/1"}])


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    settings = FetchSettings(timeout=TIMEOUT, max_bytes=100_000, allow_private_networks=True)
    async with Fetcher(settings) as f:
        yield f


@pytest.fixture
async def guarded() -> AsyncIterator[Fetcher]:
    async with Fetcher(FetchSettings(timeout=TIMEOUT)) as f:
        yield f


def resolver_for(table: dict[str, Sequence[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


class _Body(httpx.AsyncByteStream):
    """A streamed body, as a real transport gives (MockTransport's ``content=`` is pre-read)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data


# -- conditional GET -------------------------------------------------------------------------


async def test_200_then_304_sends_validators_back_exactly(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.publish("/feed.xml", FEED)

    first = await fetcher.fetch(server.url("/feed.xml"))
    assert first.status == 200
    assert first.content == FEED.encode()
    assert first.content_type == "application/rss+xml"
    assert first.url == server.url("/feed.xml")
    assert first.etag and first.last_modified

    second = await fetcher.fetch(
        server.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified
    )
    assert second.not_modified
    assert second.content == b""
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)

    plain, conditional = server.requests_for("/feed.xml")
    assert "if-none-match" not in plain.headers
    assert "if-modified-since" not in plain.headers
    assert conditional.headers["if-none-match"] == first.etag
    assert conditional.headers["if-modified-since"] == first.last_modified
    assert conditional.headers["user-agent"] == "newswatch/0.1 (+feed monitor)"


async def test_a_new_publish_is_fetched_with_a_new_etag(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.publish("/feed.xml", FEED)
    first = await fetcher.fetch(server.url("/feed.xml"))
    server.publish("/feed.xml", FEED.replace("First", "Second"))

    second = await fetcher.fetch(
        server.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified
    )
    assert second.status == 200
    assert b"Second" in second.content
    assert second.etag != first.etag


async def test_a_weak_etag_goes_back_unchanged(server: FeedServer, fetcher: Fetcher) -> None:
    server.publish("/feed.xml", FEED, etag='W/"abc 1"', last_modified=False)
    first = await fetcher.fetch(server.url("/feed.xml"))
    assert first.etag == 'W/"abc 1"'
    assert first.last_modified is None

    second = await fetcher.fetch(server.url("/feed.xml"), etag=first.etag)
    assert second.not_modified
    assert server.requests[-1].headers["if-none-match"] == 'W/"abc 1"'


async def test_a_corrupt_stored_validator_is_not_sent(server: FeedServer, fetcher: Fetcher) -> None:
    server.publish("/feed.xml", FEED)
    result = await fetcher.fetch(server.url("/feed.xml"), etag='"a"\r\nX-Injected: 1')
    assert result.status == 200
    assert "if-none-match" not in server.requests[-1].headers
    assert "x-injected" not in server.requests[-1].headers


async def test_last_modified_alone_gives_304(server: FeedServer, fetcher: Fetcher) -> None:
    server.publish("/feed.xml", FEED, etag=False)
    first = await fetcher.fetch(server.url("/feed.xml"))
    assert first.etag is None
    second = await fetcher.fetch(server.url("/feed.xml"), last_modified=first.last_modified)
    assert second.not_modified


# -- redirects -------------------------------------------------------------------------------


async def test_redirects_are_followed_and_the_final_url_reported(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.publish("/new.xml", FEED)
    server.redirect("/a", "/b", status=301)
    server.redirect("/b", server.url("/c"), status=302)
    server.redirect("/c", "d", status=307)  # relative to /c
    server.redirect("/d", "/new.xml", status=308)

    result = await fetcher.fetch(server.url("/a"))
    assert result.status == 200
    assert result.url == server.url("/new.xml")
    assert result.content == FEED.encode()
    assert [r.path for r in server.requests] == ["/a", "/b", "/c", "/d", "/new.xml"]


async def test_a_redirect_loop_stops(server: FeedServer, fetcher: Fetcher) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
        await fetcher.fetch(server.url("/a"))
    assert len(server.requests) == 6


async def test_a_redirect_to_a_non_web_scheme_is_refused(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.redirect("/a", "file:///etc/passwd")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/a"))
    assert caught.value.message == "the server redirected to a non-web address (file:)"


# -- status codes and broken servers --------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (404, "the server answered 404 Not Found"),
        (410, "the server answered 410 Gone: the feed was removed"),
        (500, "the server answered 500 Internal Server Error"),
        (403, "the server answered 403 Forbidden: access is forbidden"),
    ],
)
async def test_http_errors_have_plain_messages(
    server: FeedServer, fetcher: Fetcher, code: int, message: str
) -> None:
    server.status("/feed.xml", code)
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.message == message
    assert caught.value.status == code
    assert caught.value.url == server.url("/feed.xml")


async def test_an_unknown_path_is_404(server: FeedServer, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="404 Not Found") as caught:
        await fetcher.fetch(server.url("/nothing"))
    assert caught.value.status == 404


async def test_a_slow_server_times_out(server: FeedServer, fetcher: Fetcher) -> None:
    server.publish("/feed.xml", FEED)
    server.slow("/feed.xml", 5)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.message == "timed out after 0.5 s"
    assert time.monotonic() - started < TIMEOUT + 1


async def test_a_trickling_server_hits_the_overall_deadline(
    server: FeedServer, fetcher: Fetcher
) -> None:
    # Every read gets a few bytes well within the per-read timeout; only a total deadline helps.
    server.publish("/feed.xml", "x" * 4000)
    server.trickle("/feed.xml", 400)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.message == "timed out after 0.5 s"
    assert time.monotonic() - started < TIMEOUT + 1


async def test_a_huge_body_without_length_is_cut_off(server: FeedServer, fetcher: Fetcher) -> None:
    server.huge("/feed.xml", 50_000_000)
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.message == "feed is larger than 0.1 MB"


async def test_a_declared_length_over_the_cap_is_refused_at_once(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.publish("/feed.xml", b"x" * 150_000)
    with pytest.raises(FetchError, match=r"feed is larger than 0\.1 MB"):
        await fetcher.fetch(server.url("/feed.xml"))


async def test_the_cap_counts_decoded_bytes_of_a_gzip_bomb(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.gzip_bomb("/feed.xml", 20_000_000)  # 200 times the cap, 20 kB on the wire
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.message == "feed is larger than 0.1 MB"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ],
)
async def test_compressed_feeds_are_decoded(
    server: FeedServer, fetcher: Fetcher, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    server.publish("/feed.xml", compress(FEED.encode()), headers={"Content-Encoding": encoding})
    result = await fetcher.fetch(server.url("/feed.xml"))
    assert result.content == FEED.encode()
    assert server.requests[-1].headers["accept-encoding"] == "gzip, deflate"


async def test_a_connection_closed_early_is_an_error(server: FeedServer, fetcher: Fetcher) -> None:
    server.publish("/feed.xml", FEED)
    server.close_early("/feed.xml")
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.message == "the connection was closed before the whole response arrived"


async def test_a_closed_port_cannot_connect(fetcher: Fetcher) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert caught.value.message == "could not connect"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


# -- the guard against private addresses ----------------------------------------------------


async def test_private_addresses_are_refused_by_default(
    server: FeedServer, guarded: Fetcher
) -> None:
    server.publish("/feed.xml", FEED)
    with pytest.raises(FetchError) as caught:
        await guarded.fetch(server.url("/feed.xml"))
    assert caught.value.message == "refusing to fetch a private or local address (127.0.0.1)"
    assert server.requests == []


async def test_private_addresses_are_allowed_when_configured(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.publish("/feed.xml", FEED)
    result = await fetcher.fetch(server.url("/feed.xml"))
    assert result.status == 200


@pytest.mark.parametrize(
    "host",
    [
        "localhost",  # resolved: 127.0.0.1 or ::1
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f.1",  # hexadecimal, short form
        "127.1",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::1]",
        "0.0.0.0",
    ],
)
async def test_local_hosts_in_any_spelling_are_refused(
    server: FeedServer, guarded: Fetcher, host: str
) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    with pytest.raises(FetchError, match="refusing to fetch a private or local address"):
        await guarded.fetch(f"http://{host}:{port}/feed.xml")
    assert server.requests == []


async def test_an_octal_address_is_refused(guarded: Fetcher) -> None:
    with pytest.raises(FetchError, match="not a valid web address"):
        await guarded.fetch("http://0177.0.0.1/feed.xml")


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",
        "240.0.0.1",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
    ],
)
async def test_names_resolving_to_private_addresses_are_refused(address: str) -> None:
    resolve = resolver_for({"news.example": [address]})
    async with Fetcher(FetchSettings(timeout=TIMEOUT), resolver=resolve) as f:
        with pytest.raises(FetchError) as caught:
            await f.fetch("https://news.example/feed.xml")
    assert caught.value.message.startswith("refusing to fetch a private or local address (")


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    # A rebinding name may answer with several addresses: every one must be public.
    resolve = resolver_for({"news.example": ["93.184.216.34", "10.0.0.7"]})
    async with Fetcher(FetchSettings(timeout=TIMEOUT), resolver=resolve) as f:
        with pytest.raises(FetchError) as caught:
            await f.fetch("https://news.example/feed.xml")
    assert caught.value.message == "refusing to fetch a private or local address (10.0.0.7)"


class _Network(httpcore.AsyncNetworkBackend):
    """Connections as the fetcher asks for them, recorded; a made-up public address goes to a
    local port instead (none: refused)."""

    def __init__(self, ports: dict[str, int | None]) -> None:
        self.ports = ports
        self.connects: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        local = self.ports.get(host)
        if local is None:
            raise httpcore.ConnectError(f"{host} refused")
        return await self._real.connect_tcp("127.0.0.1", local, timeout)

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


def _port(server: FeedServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


async def test_the_connection_is_pinned_to_the_checked_address(server: FeedServer) -> None:
    server.publish("/feed.xml", FEED, etag='"1"')
    network = _Network({"93.184.216.34": _port(server)})
    resolve = resolver_for({"news.example": ["93.184.216.34"]})
    async with Fetcher(FetchSettings(timeout=TIMEOUT), resolver=resolve, network=network) as f:
        result = await f.fetch("http://news.example:8080/feed.xml")

    assert result.url == "http://news.example:8080/feed.xml"
    assert result.etag == '"1"'
    assert network.connects == [("93.184.216.34", 8080)]
    (request,) = server.requests
    assert request.headers["host"] == "news.example:8080"


async def test_the_next_checked_address_is_tried_when_one_does_not_connect(
    server: FeedServer,
) -> None:
    server.publish("/feed.xml", FEED)
    network = _Network({"93.184.216.34": None, "93.184.216.35": _port(server)})
    resolve = resolver_for({"news.example": ["93.184.216.34", "93.184.216.35"]})
    async with Fetcher(FetchSettings(timeout=TIMEOUT), resolver=resolve, network=network) as f:
        result = await f.fetch("http://news.example/feed.xml")
    assert result.status == 200
    assert network.connects == [("93.184.216.34", 80), ("93.184.216.35", 80)]


async def test_an_international_name_is_pinned_with_its_ascii_form(server: FeedServer) -> None:
    server.publish("/feed.xml", FEED)
    network = _Network({"93.184.216.34": _port(server)})
    resolve = resolver_for({"xn--bcher-kva.example": ["93.184.216.34"]})
    async with Fetcher(FetchSettings(timeout=TIMEOUT), resolver=resolve, network=network) as f:
        await f.fetch("http://bücher.example/feed.xml")
    assert network.connects == [("93.184.216.34", 80)]
    assert server.requests[0].headers["host"] == "xn--bcher-kva.example"


async def test_at_most_two_requests_to_one_host_at_once(server: FeedServer) -> None:
    for n in range(6):
        server.publish(f"/{n}.xml", FEED)
        server.slow(f"/{n}.xml", 0.2)
    settings = FetchSettings(timeout=5, allow_private_networks=True)
    async with Fetcher(settings) as f:
        started = time.monotonic()
        await asyncio.gather(*(f.fetch(server.url(f"/{n}.xml")) for n in range(6)))
        elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 1.5  # three rounds of two, not one round of six


async def test_a_redirect_from_a_public_host_to_a_private_one_is_refused(
    server: FeedServer,
) -> None:
    server.publish("/feed.xml", FEED)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": server.url("/feed.xml")})

    resolve = resolver_for({"news.example": ["93.184.216.34"]})
    async with Fetcher(
        FetchSettings(timeout=TIMEOUT), resolver=resolve, transport=httpx.MockTransport(answer)
    ) as f:
        with pytest.raises(FetchError) as caught:
            await f.fetch("https://news.example/feed.xml")
    assert caught.value.message == "refusing to fetch a private or local address (127.0.0.1)"
    assert caught.value.url == "https://news.example/feed.xml"
    assert server.requests == []


async def test_a_name_that_does_not_resolve() -> None:
    async with Fetcher(FetchSettings(timeout=TIMEOUT), resolver=resolver_for({})) as f:
        with pytest.raises(FetchError) as caught:
            await f.fetch("https://nowhere.example/feed.xml")
    assert caught.value.message == "the name does not resolve"
    assert isinstance(caught.value.__cause__, socket.gaierror)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/feed.xml"])
async def test_non_web_schemes_are_refused(fetcher: Fetcher, guarded: Fetcher, url: str) -> None:
    for f in (fetcher, guarded):
        with pytest.raises(FetchError, match="only http and https addresses can be fetched"):
            await f.fetch(url)


async def test_fetch_never_reads_a_local_path(fetcher: Fetcher, tmp_path: Path) -> None:
    secret = tmp_path / "feed.xml"
    secret.write_text(FEED)
    with pytest.raises(FetchError):
        await fetcher.fetch(str(secret))


# -- local files -----------------------------------------------------------------------------


async def test_read_local_reads_a_configured_file(fetcher: Fetcher, tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(FEED)
    for name in (path, str(path), path.as_uri()):
        result = await asyncio.to_thread(fetcher.read_local, name)
        assert result.status == 200
        assert result.content == FEED.encode()
        assert result.url == path.resolve().as_uri()


def test_read_local_errors(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="the file does not exist"):
        read_local(tmp_path / "missing.xml")
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 101)
    with pytest.raises(FetchError, match=r"feed is larger than 0\.0001 MB"):
        read_local(big, max_bytes=100)


# -- validating what a user typed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("example.com/feed.xml", "https://example.com/feed.xml"),
        ("  HTTPS://Example.COM/Feed.xml#top ", "https://example.com/Feed.xml"),
        ("http://example.com", "http://example.com/"),
        ("example.com:8080/rss?x=1", "https://example.com:8080/rss?x=1"),
        ("feed://example.com/rss", "https://example.com/rss"),
        ("feed:https://example.com/rss", "https://example.com/rss"),
        ("//example.com/rss", "https://example.com/rss"),
        ("https://bücher.example/feed", "https://xn--bcher-kva.example/feed"),
    ],
)
def test_validate_feed_url_normalises(typed: str, normal: str) -> None:
    assert validate_feed_url(typed) == normal


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "give a feed address, like https://example.com/feed.xml"),
        ("javascript:alert(1)", "only http and https addresses are supported, not javascript:"),
        ("file:///etc/passwd", "only http and https addresses are supported, not file:"),
        ("ftp://example.com/feed", "only http and https addresses are supported, not ftp:"),
        ("https://example.com/a feed", "a web address cannot contain spaces"),
        ("hello", "'hello' does not look like a web site's name"),
        ("http://", "the address has no host name"),
        ("https://user:secret@example.com/", "addresses with a user name or password"),
        ("https://example.com:99999/", "the port number is out of range"),
        ("https://" + "a" * 3000 + ".com/", "the address is too long"),
    ],
)
def test_validate_feed_url_refuses_junk(typed: str, message: str) -> None:
    with pytest.raises(FetchError) as caught:
        validate_feed_url(typed)
    assert caught.value.message.startswith(message)
