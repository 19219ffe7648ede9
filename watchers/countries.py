"""Countries' names, short forms and demonyms, so that ``GPE:Russia`` also finds "Russian
Federation" and a "Russian" embassy.

The table (``data/countries.tsv``, one country a line: code, names, demonyms) is read lazily on
first use and kept; nothing is read at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from watchers.text import tokenise

Words = tuple[str, ...]  # inflection keys of consecutive words


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: str  # the usual English name
    demonym: str  # the usual demonym, as written ("" if none)
    names: tuple[Words, ...]  # every name and short form, as inflection keys
    demonyms: tuple[Words, ...]

    @property
    def aliases(self) -> tuple[Words, ...]:
        return self.names + self.demonyms


def words_of(text: str) -> Words:
    """The inflection keys of the words of ``text`` (how aliases are compared), without a
    leading "the"."""
    words = tuple(t.key for t in tokenise(text))
    return words[1:] if len(words) > 1 and words[0] == "the" else words


def _parse_table(text: str) -> tuple[Country, ...]:
    countries = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, names, demonyms = line.split("\t")
        name_list = names.split("|")
        demonym_list = [d for d in demonyms.split("|") if d]
        countries.append(
            Country(
                code=code,
                name=name_list[0],
                demonym=demonym_list[0] if demonym_list else "",
                names=tuple(dict.fromkeys(w for n in name_list if (w := words_of(n)))),
                demonyms=tuple(dict.fromkeys(w for d in demonym_list if (w := words_of(d)))),
            )
        )
    return tuple(countries)


@lru_cache(maxsize=1)
def all_countries() -> tuple[Country, ...]:
    """Every country in the bundled table (read once, on first use)."""
    table = resources.files("watchers").joinpath("data/countries.tsv")
    return _parse_table(table.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _by_alias() -> dict[Words, tuple[Country, ...]]:
    index: dict[Words, list[Country]] = {}
    for country in all_countries():
        for alias in country.aliases:
            index.setdefault(alias, []).append(country)
    return {alias: tuple(found) for alias, found in index.items()}


def find_countries(words: Words) -> tuple[Country, ...]:
    """The countries that ``words`` (inflection keys) name or describe: ``russian`` -> Russia.

    A leading "the" is ignored. Empty when the words are no country's name or demonym.
    """
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return _by_alias().get(words, ())
