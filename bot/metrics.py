"""Optional Prometheus metrics: ``[metrics] listen = "127.0.0.1:9464"`` turns them on.

``Metrics`` does nothing (the default, and what ``metrics_from_config`` gives without a
``listen`` address); ``PrometheusMetrics`` counts into its own ``CollectorRegistry`` (never the
process-wide default one) and serves it over HTTP between ``start()`` and ``stop()``.
prometheus-client is imported only when metrics are on, so it stays an optional extra
(``pip install newswatch[metrics]``).

What is measured, all prefixed ``newswatch_``:

- ``polls_total``, ``fetch_errors_total``, ``matches_total``: feeds polled, polls that failed,
  stories that matched a watchlist (one per story and watchlist);
- ``poll_duration_seconds``: one whole poll cycle;
- ``messages_sent_total``, ``rate_limited_total`` (Telegram's 429s),
  ``delivery_duration_seconds``: each send to Telegram, whatever its outcome;
- ``outbox_messages{state=…}``: the outbox, by state (``pending`` is what waits to go out).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from watchers.errors import ConfigError

if TYPE_CHECKING:
    import threading
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

DEFAULT_PORT = 9464
"""The port Prometheus' own list of exporter ports gives newswatch's kind of exporter."""

_PREFIX = "newswatch"
_POLL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def parse_listen(value: str, key: str = "metrics.listen") -> tuple[str, int]:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"``, ``"localhost:0"`` -> host and port.

    Port 0 means any free port (for tests). The host must be given: metrics say how busy the
    instance is and which errors it meets, so where they are served is a decision to write down.
    """
    host, sep, port_text = value.strip().rpartition(":")
    if not sep or not host:
        raise ConfigError(key, f"expected host:port, such as 127.0.0.1:{DEFAULT_PORT}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() for c in host):
        raise ConfigError(key, f"expected host:port, such as 127.0.0.1:{DEFAULT_PORT}")
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise ConfigError(key, "the port must be a whole number from 0 to 65535")
    return host, int(port_text)


class _Result(Protocol):
    """What a delivery ``Sender`` reports about one send (see ``bot.outbox``)."""

    @property
    def outcome(self) -> str: ...
    @property
    def retry_after(self) -> float | None: ...


_R_co = TypeVar("_R_co", bound=_Result, covariant=True)


class _Message(Protocol):
    @property
    def chat_id(self) -> int: ...


_M_contra = TypeVar("_M_contra", bound=_Message, contravariant=True)


class _Sender(Protocol[_M_contra, _R_co]):
    def ready_in(self, chat_id: int) -> float: ...
    async def send(self, message: _M_contra) -> _R_co: ...


class Metrics:
    """Every measuring point the app calls; this one does nothing."""

    enabled = False
    address: tuple[str, int] | None = None
    """Where the endpoint listens, once started (the real port when 0 was asked for)."""

    def start(self) -> tuple[str, int] | None:
        """Start serving the metrics; return the address, None when metrics are off."""
        return None

    def stop(self) -> None:
        """Stop serving (safe to call when not started)."""

    def record_cycle(self, polls: int, errors: int, matches: int, seconds: float) -> None:
        """One poll cycle: feeds polled, of which failed, matches found, its duration."""

    def record_send(self, outcome: str, seconds: float, *, rate_limited: bool) -> None:
        """One send to Telegram: its outcome (``sent``, ``retry`` ...) and duration."""

    def set_outbox(self, counts: Mapping[str, int]) -> None:
        """The outbox's length by state, as ``Storage.outbox_counts`` gives it."""

    def metered(self, sender: _Sender[_M_contra, _R_co]) -> _Sender[_M_contra, _R_co]:
        """``sender``, with each send measured (itself when metrics are off)."""
        return sender


_M = TypeVar("_M", bound=_Message)
_R = TypeVar("_R", bound=_Result)


class _MeteredSender(Generic[_M, _R]):
    """A delivery ``Sender`` that times each send and counts its outcome."""

    def __init__(self, inner: _Sender[_M, _R], metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def ready_in(self, chat_id: int) -> float:
        return self._inner.ready_in(chat_id)

    async def send(self, message: _M) -> _R:
        started = time.perf_counter()
        result = await self._inner.send(message)
        self._metrics.record_send(
            str(result.outcome),
            time.perf_counter() - started,
            rate_limited=result.retry_after is not None,
        )
        return result


class PrometheusMetrics(Metrics):
    """Metrics in a registry of its own, served over HTTP at ``host:port``."""

    enabled = True

    def __init__(self, host: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.host, self.port = host, port
        self.registry = CollectorRegistry(auto_describe=True)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        registry = self.registry

        def counter(name: str, text: str) -> Counter:
            return Counter(f"{_PREFIX}_{name}", text, registry=registry)

        self.polls = counter("polls", "Feeds polled.")
        self.fetch_errors = counter("fetch_errors", "Feed polls that failed.")
        self.matches = counter("matches", "Stories that matched a watchlist.")
        self.messages_sent = counter("messages_sent", "Messages Telegram accepted.")
        self.rate_limited = counter("rate_limited", "Sends Telegram refused with 429.")
        self.poll_duration: Histogram = Histogram(
            f"{_PREFIX}_poll_duration_seconds",
            "Duration of a whole poll cycle.",
            registry=registry,
            buckets=_POLL_BUCKETS,
        )
        self.delivery_duration: Histogram = Histogram(
            f"{_PREFIX}_delivery_duration_seconds",
            "Duration of one send to Telegram, whatever its outcome.",
            registry=registry,
            buckets=_SEND_BUCKETS,
        )
        self.outbox: Gauge = Gauge(
            f"{_PREFIX}_outbox_messages",
            "Messages in the outbox, by state.",
            ["state"],
            registry=registry,
        )

    def start(self) -> tuple[str, int]:
        from prometheus_client import start_http_server

        if self._server is None:
            try:
                self._server, self._thread = start_http_server(
                    self.port, addr=self.host, registry=self.registry
                )
            except OSError as e:
                raise ConfigError(
                    "metrics.listen", f"cannot listen on {self.host}:{self.port}: {e.strerror}"
                ) from e
            host, port = self._server.server_address[:2]
            self.address = (str(host), int(port))
            logger.info("metrics served address=%s:%d", *self.address)
        assert self.address is not None
        return self.address

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self.address = None

    def record_cycle(self, polls: int, errors: int, matches: int, seconds: float) -> None:
        self.polls.inc(polls)
        self.fetch_errors.inc(errors)
        self.matches.inc(matches)
        self.poll_duration.observe(seconds)

    def record_send(self, outcome: str, seconds: float, *, rate_limited: bool) -> None:
        if outcome == "sent":
            self.messages_sent.inc()
        if rate_limited:
            self.rate_limited.inc()
        self.delivery_duration.observe(seconds)

    def set_outbox(self, counts: Mapping[str, int]) -> None:
        for state, count in counts.items():
            self.outbox.labels(state=state).set(count)

    def metered(self, sender: _Sender[_M_contra, _R_co]) -> _Sender[_M_contra, _R_co]:
        return _MeteredSender(sender, self)


def metrics_from_listen(listen: tuple[str, int] | None) -> Metrics:
    """Prometheus metrics at ``listen`` (host, port), or the no-op ``Metrics`` for None."""
    if listen is None:
        return Metrics()
    try:
        return PrometheusMetrics(*listen)
    except ImportError as e:
        raise ConfigError(
            "metrics.listen",
            "metrics need prometheus-client: pip install 'newswatch[metrics]'",
        ) from e
