"""The one error hierarchy of newswatch.

Exceptions carry data; they neither log nor speak to users. The bot (and the CLI) turn them into
messages in one place.
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base of every error newswatch raises on purpose."""


class ConfigError(NewswatchError):
    """The configuration file is missing, malformed, or has a bad or unknown key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)


class FeedError(NewswatchError):
    """Something went wrong with one feed."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(f"{url}: {message}")


class FetchError(FeedError):
    """The feed (or page) could not be fetched: network, HTTP status, size or policy."""

    def __init__(
        self, url: str, message: str, *, status: int | None = None, retry_after: str | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after  # the server's Retry-After header, as sent
        super().__init__(url, message)


class ParseError(FeedError):
    """The bytes could not be read as a feed."""


class QueryError(NewswatchError):
    """A watchlist query is malformed.

    ``position`` is a 1-based character position in the query text (0 when the whole query is
    at fault); ``hint`` suggests a fix where one is known.
    """

    def __init__(self, position: int, message: str, hint: str | None = None) -> None:
        self.position = position
        self.message = message
        self.hint = hint
        says_where = " at position " in message
        text = f"{message} at position {position}" if position and not says_where else message
        super().__init__(f"{text}. {hint}" if hint else text)


class StorageError(NewswatchError):
    """The store could not be opened or migrated, or a write failed."""


class CommandError(NewswatchError):
    """A user's command cannot be carried out; ``message`` says why in plain words."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)
