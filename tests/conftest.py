"""Shared fixtures. Any test that tries to reach beyond this machine fails at once."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_connect = socket.socket.connect


def pytest_configure(config: pytest.Config) -> None:
    # python-telegram-bot 22 warns (an error under -W error) when it builds a RetryAfter unless
    # it is told to use timedelta already; the entry point sets the same.
    os.environ["PTB_TIMEDELTA"] = "true"


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host == "localhost"
        if not local:
            raise OSError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


@pytest.fixture(scope="session")
def analyser() -> Any:
    """The spaCy analyser, loaded once for the whole run (it takes a second or two)."""
    from watchers.nlp import load_analyser

    return load_analyser("en_core_web_sm")


@pytest.fixture
def telegram() -> Iterator[Any]:
    """A fake Bot API server on 127.0.0.1 that real python-telegram-bot talks to."""
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram() as fake:
        yield fake
    assert not fake.internal_errors, fake.internal_errors


@pytest.fixture
def feeds() -> Iterator[Any]:
    """A local HTTP server publishing feeds."""
    from tests.fakes.feeds import FeedServer

    with FeedServer() as server:
        yield server
