"""The PostgreSQL server the storage tests also run on.

The server is expected on every machine that runs the suite (``NEWSWATCH_TEST_POSTGRES_URL``,
by default the local one, database ``test``): a test that needs it and cannot reach it fails,
saying so. On a machine without a server, ``NEWSWATCH_TEST_POSTGRES=off`` skips those tests
instead (never set it in CI: a skip there would hide a failure).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SWITCH = "NEWSWATCH_TEST_POSTGRES"
URL_VARIABLE = "NEWSWATCH_TEST_POSTGRES_URL"


def server_url() -> str:
    """The test server's URL, or a skip when this machine has said it has none."""
    if os.environ.get(SWITCH, "").lower() == "off":
        pytest.skip(f"{SWITCH}=off: the PostgreSQL tests are skipped on this machine")
    return os.environ.get(URL_VARIABLE, DEFAULT_URL)


def schema_url(schema: str) -> str:
    """A storage URL whose connections work in ``schema`` (as a deployment would set it)."""
    url = server_url()
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-c search_path={schema}')}"


def open_test_pool() -> Any:
    """A small pool on the test server, or a failure that says what to do without one."""
    from watchers.errors import StorageError
    from watchers.store_pg import open_pool

    url = server_url()
    try:
        return open_pool(url, size=4, timeout=5)
    except StorageError as e:
        reason = str(e)
    pytest.fail(
        f"{reason}\nThese tests need the PostgreSQL server: start it, point {URL_VARIABLE} "
        f"at one, or on a machine without a server set {SWITCH}=off to skip them.",
        pytrace=False,
    )
