"""The access and quota keys of the config: validated, with defaults written once."""

from pathlib import Path

import pytest

from bot.config import LimitsConfig, config_from_dict
from watchers.errors import ConfigError


def test_allow_lists_admins_and_limits_are_read() -> None:
    config = config_from_dict(
        {
            "telegram": {"allowed_users": [5], "allowed_chats": [-100], "admins": [7]},
            "limits": {"watchlists_per_chat": 3, "commands_per_minute": 12},
        },
        Path.cwd(),
    )
    assert config.telegram.private
    assert config.telegram.allowed_users == {5} and config.telegram.admins == {7}
    assert config.limits.watchlists_per_chat == 3 and config.limits.commands_per_minute == 12
    assert config.limits.feeds_per_chat == LimitsConfig().feeds_per_chat


def test_an_instance_without_allow_lists_is_open() -> None:
    assert not config_from_dict({}, Path.cwd()).telegram.private
    assert not config_from_dict({"telegram": {"admins": [1]}}, Path.cwd()).telegram.private


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"telegram": {"allowed_users": ["@ann"]}}, "telegram.allowed_users"),
        ({"telegram": {"admins": [True]}}, "telegram.admins"),
        ({"telegram": {"allowed_chats": 5}}, "telegram.allowed_chats"),
        ({"limits": {"feeds_per_chat": 0}}, "limits.feeds_per_chat"),
        ({"limits": {"commands_burst": 1.5}}, "limits.commands_burst"),
        ({"limits": {"per_hour": 5}}, "limits.per_hour"),
    ],
)
def test_bad_values_name_their_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data, Path.cwd())
    assert caught.value.key == key
