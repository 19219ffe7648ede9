"""Keep the bot token out of everything a person reads: log lines, tracebacks, error messages.

python-telegram-bot puts the token in the text of ``InvalidToken`` and in request URLs, and those
reach log records (with their tracebacks) and error messages. ``install_redaction`` puts one
filter on every handler of the root logger, so every record, from any library, is rewritten
before it is written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "<token>"
_MIN_SECRET = 8  # shorter "secrets" would blank out ordinary words


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, and the part of a bot token after its colon, masked."""
    for secret in secrets:
        if len(secret) < _MIN_SECRET:
            continue
        text = text.replace(secret, MASK)
        _, _, key = secret.partition(":")
        if len(key) >= _MIN_SECRET:  # the same key quoted on its own or URL-encoded around it
            text = text.replace(key, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, traceback and stack so no secret is left in them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> None:
    """Mask ``secrets`` in every record that the handlers of ``logger`` (the root) write."""
    target = logger or logging.getLogger()
    wanted = tuple(secrets)
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(wanted))
