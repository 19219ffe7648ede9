"""The pure core must not pull in adapters or heavy libraries."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("telegram", "httpx", "sqlite3", "spacy")


def test_query_and_match_import_no_adapters() -> None:
    code = (
        "import sys\n"
        "import watchers.match, watchers.query, watchers.text, watchers.countries\n"
        "from watchers.query import parse_query\n"
        "from watchers.match import Matcher, evaluate\n"
        "m = Matcher()\n"
        "m.add(1, parse_query('GPE:Russia AND embassy'))\n"
        f"print(','.join(name for name in {FORBIDDEN!r} if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


PURE = ("quotes", "digest", "schedule", "dedup", "text", "query", "match", "model", "errors")


def test_pure_modules_import_no_adapters() -> None:
    code = (
        "import sys, importlib\n"
        f"for name in {PURE!r}: importlib.import_module('watchers.' + name)\n"
        f"print(','.join(name for name in {FORBIDDEN!r} if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_country_table_is_not_read_at_import() -> None:
    code = (
        "import watchers.countries as c, watchers.match, watchers.query\n"
        "print(c.all_countries.cache_info().currsize)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "0"
