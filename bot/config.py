"""Configuration: one TOML file -> one frozen, validated ``Config``.

Nothing here reads the environment or argv at import time; ``load_config`` is called from the
entry point. Relative paths are relative to the config file, so ``--config`` works from anywhere.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.metrics import parse_listen
from watchers import schedule
from watchers.errors import CommandError, ConfigError, QueryError
from watchers.query import parse_query
from watchers.store import storage_url_problem

DEFAULT_BASE_URL = "https://api.telegram.org"


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token_env: str = "NEWSWATCH_TELEGRAM_TOKEN"
    base_url: str = DEFAULT_BASE_URL
    allowed_users: frozenset[int] = frozenset()  # with allowed_chats: empty = open to all
    allowed_chats: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()  # user ids allowed instance-wide commands (/stats)

    @property
    def private(self) -> bool:
        """Whether only the listed users and chats may use this instance."""
        return bool(self.allowed_users or self.allowed_chats)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    watchlists_per_chat: int = 100
    feeds_per_chat: int = 200
    commands_burst: int = 10  # commands one user may send at once ...
    commands_per_minute: int = 30  # ... and then this many a minute


@dataclass(frozen=True, slots=True)
class StorageConfig:
    path: Path = Path("newswatch.db")
    url: str | None = None  # postgresql://...: PostgreSQL instead of the SQLite file at path
    keep_days: int = 30  # stories older than this lose their text (their keys stay)


@dataclass(frozen=True, slots=True)
class PollingConfig:
    interval: float = 900.0  # seconds
    concurrency: int = 8


@dataclass(frozen=True, slots=True)
class FetchConfig:
    allow_private_networks: bool = False
    timeout: float = 20.0
    max_bytes: int = 5_000_000


@dataclass(frozen=True, slots=True)
class NlpConfig:
    model: str = "en_core_web_sm"


@dataclass(frozen=True, slots=True)
class DigestConfig:
    quotes_per_article: int = 1
    max_items: int = 10


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: tuple[str, int] | None = None  # host and port of the Prometheus endpoint; None: off


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str  # an http(s) URL, or an absolute path to a local file (config only)
    name: str | None = None
    full_text: str = "matched"

    @property
    def is_local(self) -> bool:
        return not self.url.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class WatchlistConfig:
    name: str
    query: str


@dataclass(frozen=True, slots=True)
class Config:
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    polling: PollingConfig = field(default_factory=PollingConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    nlp: NlpConfig = field(default_factory=NlpConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    feeds: tuple[FeedConfig, ...] = ()
    watchlists: tuple[WatchlistConfig, ...] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    source: Path | None = None  # the file this came from


def parse_duration(value: object, key: str) -> float:
    """Seconds from a number or a text such as ``"90s"``, ``"15m"``, ``"2h"``."""
    if not isinstance(value, str | int | float):
        raise ConfigError(key, "expected a duration such as 90s, 15m or 2h")
    try:
        return schedule.parse_duration(value).total_seconds()
    except CommandError as e:
        raise ConfigError(key, e.message) from e


class _Section:
    """Reads one TOML table, remembering which keys were used so unknown ones are errors."""

    def __init__(self, data: object, name: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(name, "expected a table")
        self._data: Mapping[str, Any] = data
        self._name = name
        self._used: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self._name}.{key}" if self._name else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self._used.add(key)
        if key not in self._data:
            return default
        value = self._data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise ConfigError(self._key(key), f"expected {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise ConfigError(self._key(key), f"expected {_kind_name(kinds)}, got {value!r}")
        return value

    def raw(self, key: str, default: Any) -> Any:
        self._used.add(key)
        return self._data.get(key, default)

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise ConfigError(self._key(unknown[0]), "unknown key")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _bot_api_root(value: str) -> str:
    """The Bot API server's address, also when given the way many clients write it: ending in
    ``/bot`` (the token is appended to it there)."""
    url = value.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("telegram.base_url", "must start with http:// or https://")
    if "{token}" in url or re.search(r"/bot\d+:", url):
        raise ConfigError(
            "telegram.base_url",
            f"must not hold the token: give the server's address alone, such as {DEFAULT_BASE_URL}",
        )
    return url.removesuffix("/bot").rstrip("/")


def _ids(section: _Section, key: str) -> frozenset[int]:
    """A list of Telegram ids (users are positive, groups and channels negative)."""
    values = section.get(key, list, [])
    if not all(isinstance(v, int) and not isinstance(v, bool) and v != 0 for v in values):
        raise ConfigError(section._key(key), "expected a list of Telegram ids (whole numbers)")
    return frozenset(values)


def _bounded(section: _Section, key: str, default: int, low: int, high: int) -> int:
    value: int = section.get(key, int, default)
    if not low <= value <= high:
        raise ConfigError(section._key(key), f"must be between {low} and {high}")
    return value


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def config_from_dict(data: Mapping[str, Any], base_dir: Path, source: Path | None = None) -> Config:
    """Validate a parsed TOML document. ``base_dir`` anchors relative paths."""
    top = _Section(data, "")
    sections = {"telegram", "storage", "polling", "fetch", "nlp", "digest", "limits", "metrics"}
    tables = {name: _Section(top.raw(name, {}), name) for name in sections}

    tg = tables["telegram"]
    token_env = tg.get("token_env", str, "NEWSWATCH_TELEGRAM_TOKEN")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env):
        raise ConfigError("telegram.token_env", "must be the name of an environment variable")
    base_url = _bot_api_root(tg.get("base_url", str, DEFAULT_BASE_URL))
    if "token" in tg._data:
        raise ConfigError(
            "telegram.token", "the token never goes in the config file; set token_env instead"
        )
    telegram = TelegramConfig(
        token_env=token_env,
        base_url=base_url,
        allowed_users=_ids(tg, "allowed_users"),
        allowed_chats=_ids(tg, "allowed_chats"),
        admins=_ids(tg, "admins"),
    )

    st = tables["storage"]
    keep_days = st.get("keep_days", int, 30)
    if not 1 <= keep_days <= 3650:
        raise ConfigError("storage.keep_days", "must be between 1 and 3650")
    storage_url = st.get("url", str, None)
    if storage_url is not None and (problem := storage_url_problem(storage_url)) is not None:
        raise ConfigError("storage.url", problem)
    storage = StorageConfig(
        path=_resolve(base_dir, st.get("path", str, "newswatch.db")),
        url=storage_url,
        keep_days=keep_days,
    )

    po = tables["polling"]
    interval = parse_duration(po.raw("interval", "15m"), "polling.interval")
    concurrency = po.get("concurrency", int, 8)
    if not 1 <= concurrency <= 100:
        raise ConfigError("polling.concurrency", "must be between 1 and 100")
    polling = PollingConfig(interval=interval, concurrency=concurrency)

    fe = tables["fetch"]
    max_bytes = fe.get("max_bytes", int, 5_000_000)
    if not 10_000 <= max_bytes <= 100_000_000:
        raise ConfigError("fetch.max_bytes", "must be between 10000 and 100000000")
    fetch = FetchConfig(
        allow_private_networks=fe.get("allow_private_networks", bool, False),
        timeout=parse_duration(fe.raw("timeout", 20), "fetch.timeout"),
        max_bytes=max_bytes,
    )

    nlp = NlpConfig(model=tables["nlp"].get("model", str, "en_core_web_sm"))

    dg = tables["digest"]
    quotes_per_article = dg.get("quotes_per_article", int, 1)
    if not 0 <= quotes_per_article <= 3:
        raise ConfigError("digest.quotes_per_article", "must be between 0 and 3")
    max_items = dg.get("max_items", int, 10)
    if not 1 <= max_items <= 50:
        raise ConfigError("digest.max_items", "must be between 1 and 50")
    digest = DigestConfig(quotes_per_article=quotes_per_article, max_items=max_items)

    li, lim = tables["limits"], LimitsConfig()
    limits = LimitsConfig(
        watchlists_per_chat=_bounded(li, "watchlists_per_chat", lim.watchlists_per_chat, 1, 10_000),
        feeds_per_chat=_bounded(li, "feeds_per_chat", lim.feeds_per_chat, 1, 10_000),
        commands_burst=_bounded(li, "commands_burst", lim.commands_burst, 1, 1000),
        commands_per_minute=_bounded(li, "commands_per_minute", lim.commands_per_minute, 1, 6000),
    )

    listen = tables["metrics"].get("listen", str, None)
    metrics = MetricsConfig(listen=parse_listen(listen) if listen is not None else None)

    feeds = []
    raw_feeds = top.get("feeds", list, [])
    for i, raw in enumerate(raw_feeds):
        sec = _Section(raw, f"feeds[{i}]")
        url = sec.get("url", str, "").strip()
        if not url:
            raise ConfigError(f"feeds[{i}].url", "is required")
        if not url.startswith(("http://", "https://")):
            if "://" in url:
                raise ConfigError(f"feeds[{i}].url", "must be http(s) or a local file path")
            url = str(_resolve(base_dir, url))
        name = sec.get("name", str, None)
        full_text = sec.get("full_text", str, "matched")
        if full_text not in ("matched", "never"):
            raise ConfigError(f"feeds[{i}].full_text", 'must be "matched" or "never"')
        sec.finish()
        feeds.append(FeedConfig(url=url, name=name, full_text=full_text))

    watchlists = []
    names: set[str] = set()
    for i, raw in enumerate(top.get("watchlists", list, [])):
        sec = _Section(raw, f"watchlists[{i}]")
        name = sec.get("name", str, "").strip()
        query = sec.get("query", str, "").strip()
        if not name:
            raise ConfigError(f"watchlists[{i}].name", "is required")
        if not query:
            raise ConfigError(f"watchlists[{i}].query", "is required")
        if name.casefold() in names:
            raise ConfigError(f"watchlists[{i}].name", f"{name!r} is used twice")
        try:
            parse_query(query)
        except QueryError as e:
            raise ConfigError(
                f"watchlists[{i}].query", f"the query of watchlist {name!r} is wrong: {e}"
            ) from e
        names.add(name.casefold())
        sec.finish()
        watchlists.append(WatchlistConfig(name=name, query=query))

    for sec in tables.values():
        sec.finish()
    top.finish()
    return Config(
        telegram=telegram,
        storage=storage,
        polling=polling,
        fetch=fetch,
        nlp=nlp,
        digest=digest,
        limits=limits,
        feeds=tuple(feeds),
        watchlists=tuple(watchlists),
        metrics=metrics,
        source=source,
    )


def load_config(path: Path | None) -> Config:
    """Read and validate the TOML file at ``path``; with None, every default, relative to cwd."""
    if path is None:
        return config_from_dict({}, Path.cwd())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError("", f"cannot read the config file {path}: {e.strerror}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("", f"{path} is not valid TOML: {e}") from e
    return config_from_dict(data, path.resolve().parent, source=path)
