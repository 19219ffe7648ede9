from pathlib import Path

import pytest

from bot.config import config_from_dict, load_config, parse_duration
from watchers.errors import ConfigError


def test_defaults_when_no_file() -> None:
    config = load_config(None)
    assert config.polling.interval == 900
    assert config.telegram.token_env == "NEWSWATCH_TELEGRAM_TOKEN"
    assert config.telegram.base_url == "https://api.telegram.org"
    assert config.fetch.allow_private_networks is False
    assert config.storage.path == Path.cwd() / "newswatch.db"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1s", 1), (30, 30), (0.5, 0.5), ("1d", 86400)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value, "polling.interval") == seconds


@pytest.mark.parametrize("value", ["15x", "", "fast", -1, 0, True])
def test_bad_durations_name_the_key(value: object) -> None:
    with pytest.raises(ConfigError) as e:
        parse_duration(value, "polling.interval")
    assert e.value.key == "polling.interval"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "nw.toml"
    path.write_text(
        '[storage]\npath = "data/nw.db"\n[[feeds]]\nurl = "feeds/a.xml"\nname = "A"\n'
        '[[feeds]]\nurl = "https://example.org/rss"\n'
    )
    config = load_config(path)
    assert config.storage.path == tmp_path / "conf" / "data" / "nw.db"
    assert config.feeds[0].url == str(tmp_path / "conf" / "feeds" / "a.xml")
    assert config.feeds[0].is_local
    assert config.feeds[1].url == "https://example.org/rss"
    assert not config.feeds[1].is_local


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"polling": {"intervall": "1m"}}, "polling.intervall"),
        ({"telegram": {"token": "123:abc"}}, "telegram.token"),
        ({"storage": {"path": 3}}, "storage.path"),
        ({"fetch": {"allow_private_networks": "yes"}}, "fetch.allow_private_networks"),
        ({"fetch": {"max_bytes": 5}}, "fetch.max_bytes"),
        ({"digest": {"quotes_per_article": 4}}, "digest.quotes_per_article"),
        ({"feeds": [{"name": "x"}]}, "feeds[0].url"),
        ({"feeds": [{"url": "ftp://x/y"}]}, "feeds[0].url"),
        ({"feeds": [{"url": "https://x/y", "colour": "red"}]}, "feeds[0].colour"),
        (
            {"watchlists": [{"name": "a", "query": "x"}, {"name": "A", "query": "y"}]},
            "watchlists[1].name",
        ),
        ({"telegram": {"base_url": "api.telegram.org"}}, "telegram.base_url"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        config_from_dict(data, tmp_path)
    assert e.value.key == key
    assert key in str(e.value)


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nw.toml"
    path.write_text("[polling\ninterval = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_example_config_is_valid() -> None:
    path = Path(__file__).parents[2] / "config.example.toml"
    config = load_config(path)
    assert config.feeds and Path(config.feeds[0].url).is_file()
    assert [w.name for w in config.watchlists] == ["Embassies", "Kremlin"]


@pytest.mark.parametrize(
    "given",
    [
        "https://api.telegram.org",
        "https://api.telegram.org/",
        "https://api.telegram.org/bot",
        "https://api.telegram.org/bot/",
    ],
)
def test_base_url_is_accepted_with_or_without_bot(given: str) -> None:
    config = config_from_dict({"telegram": {"base_url": given}}, Path.cwd())
    assert config.telegram.base_url == "https://api.telegram.org"


@pytest.mark.parametrize(
    "given", ["https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "{token}"]
)
def test_a_token_in_base_url_is_refused_without_echoing_it(given: str) -> None:
    url = given if given.startswith("http") else f"https://api.telegram.org/bot{given}"
    with pytest.raises(ConfigError) as e:
        config_from_dict({"telegram": {"base_url": url}}, Path.cwd())
    assert e.value.key == "telegram.base_url"
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in str(e.value)
    assert "https://api.telegram.org" in e.value.message


def test_a_bad_watchlist_query_names_the_watchlist() -> None:
    data = {
        "watchlists": [
            {"name": "Kremlin", "query": "Putin OR Kremlin"},
            {"name": "Embassies", "query": "Russia AND (embassy"},
        ]
    }
    with pytest.raises(ConfigError) as e:
        config_from_dict(data, Path.cwd())
    assert e.value.key == "watchlists[1].query"
    assert "'Embassies'" in str(e.value)
    assert "position 12" in str(e.value)
