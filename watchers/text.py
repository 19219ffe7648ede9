"""Cheap, pure text normalising shared by queries and articles: tokens, case and accent folding,
inflection keys. No spaCy here: this runs on every article."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

from watchers.model import Token

_WORD = re.compile(r"\w+(?:[.'’&]\w+)*\.?", re.UNICODE)


def normalise(word: str) -> str:
    """Case-fold and strip accents: ``Erdoğan`` -> ``erdogan``."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:  # type: ignore[name-defined]
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def inflection_key(norm: str) -> str:
    """The key that inflected forms of one word share (``embassies`` -> ``embassi``)."""
    return str(_stemmer().stemWord(norm))


def tokenise(text: str) -> tuple[Token, ...]:
    """Split ``text`` into word tokens with character offsets."""
    tokens = []
    for m in _WORD.finditer(text):
        surface = m.group()
        if surface.endswith(".") and surface.count(".") == 1:
            surface = surface[:-1]  # a sentence's full stop, not an abbreviation like "U.S."
        norm = normalise(surface)
        tokens.append(Token(m.start(), m.start() + len(surface), norm, inflection_key(norm)))
    return tuple(tokens)
