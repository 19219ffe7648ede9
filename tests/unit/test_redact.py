"""The bot token never reaches a log line or a traceback."""

from __future__ import annotations

import io
import logging

from bot.redact import MASK, install_redaction, redact

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_masks_the_token_and_its_key() -> None:
    text = f"POST /bot{TOKEN}/getMe; key AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    assert redact(text, [TOKEN]) == f"POST /bot{MASK}/getMe; key {MASK}"
    assert redact("nothing secret", [TOKEN]) == "nothing secret"


def test_every_record_of_every_logger_is_redacted_message_args_and_traceback() -> None:
    stream = io.StringIO()
    root = logging.getLogger("redaction-test-root")
    root.propagate = False
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        install_redaction([TOKEN], root)
        child = logging.getLogger("redaction-test-root.telegram.ext.Updater")
        child.error("token %s was rejected", TOKEN)
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            child.exception("polling failed")
        child.warning("url https://api.telegram.org/bot%s/getUpdates", TOKEN, stack_info=True)
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    assert "was rejected" in written and "polling failed" in written and "getUpdates" in written
    assert TOKEN not in written
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in written
    assert written.count(MASK) >= 3  # the message, the exception, the URL
