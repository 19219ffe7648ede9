"""/test's prefilter never leaves out a story that the real matcher keeps: neither the exact
test in Python nor the gate the store runs in SQL on stories with no letter outside ASCII."""

from __future__ import annotations

import string
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchers.match import Matcher
from watchers.model import Analysis, Article
from watchers.nlp import analyse_cheap
from watchers.preview import (
    AllOf,
    AnyOf,
    Contains,
    Gate,
    _irregular_forms,
    _prefilter,
    _Text,
    is_plain,
    preview_query,
    text_gate,
)
from watchers.query import parse_query

WORDS = [
    "embassy", "embassies", "Embassy's", "EMBASSIES", "talks", "talked", "went", "goes", "gone",
    "Russia", "Russia’s", "Russian", "sanctions", "sanctioned", "U.N.", "UN", "U.S.", "us",
    "hoped", "hopes", "Erdoğan", "erdogan", "Café", "cafe", "O'Brien", "O’Brien", "AT&T", "3.5",
    "children", "child", "mice", "said", "the", "«press»", "“quoted”", "pipeline—gas",
    "anti-embassy", "(talks)", "U.S.-led", "wait...embassies", "end..U.N.", "N.A.T.O.", "NATO",
    "émbassy", "x•émbassy", "x.embassy", "Riskiten", "Skitende's", "dying", "died",
]  # fmt: skip
TERMS = [
    "embassy", "talk", "go", "russia", "sanction", "un", "us", "hope", "erdogan", "cafe",
    "o'brien", "at&t", "3.5", "child", "mouse", "say", "press", "gas", "pipeline", "nato",
    "skitende", "skiten", "die", "led",
]  # fmt: skip
PREFIXES = ["embass*", "sanction*", "russ*", "talk*", "caf*", "o'bri*", "chil*"]

term = st.sampled_from(TERMS)
leaf = st.one_of(
    term,
    st.lists(term, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(PREFIXES),
    term.map(lambda w: f"title:{w}"),
)
near = st.tuples(leaf, st.integers(1, 4), leaf).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}")


def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from([" AND ", " OR "]), children).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"
        ),
        st.tuples(children, children).map(lambda t: f"({t[0]} NOT {t[1]})"),
    )


query_text = st.recursive(st.one_of(leaf, near), combine, max_leaves=5)
words = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)
story = st.builds(
    lambda t, s, c: Article(key="k", title=t, summary=s, content=c), words, words, words
)

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def gate_holds(gate: Gate, article: Article) -> bool:
    """What the store's SQL does with a gate: LIKE ignores ASCII case only."""
    if isinstance(gate, Contains):
        texts = [
            t.translate(_ASCII_LOWER) for t in (article.title, article.summary, article.content)
        ]
        return any(gate.needle in t or gate.needle in t.replace(".", "") for t in texts)
    if isinstance(gate, AllOf):
        return all(gate_holds(p, article) for p in gate.parts)
    assert isinstance(gate, AnyOf)
    return any(gate_holds(p, article) for p in gate.parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query_text, story)
def test_the_prefilter_keeps_every_story_the_matcher_keeps(text: str, article: Article) -> None:
    query = parse_query(text)
    matcher = Matcher()
    matcher.add(0, query)
    if not matcher.match(analyse_cheap(article)):
        return
    assert _prefilter(query.root, _irregular_forms())(_Text(article))
    if is_plain(article):
        assert gate_holds(text_gate(query), article)


def test_is_plain_allows_punctuation_but_not_letters_outside_ascii() -> None:
    assert is_plain(Article(key="k", title="“Quoted” — Russia’s «view»…"))
    assert not is_plain(Article(key="k", title="Erdoğan"))
    assert not is_plain(Article(key="k", title="x", content="\u212a"))  # the Kelvin sign folds to k


class _NoRecogniser:
    """An analyser for queries without entity terms: /test never calls it for them."""

    has_entities = False

    def analyse(self, articles: Sequence[Article], *, entities: bool) -> list[Analysis]:
        raise AssertionError("not called for a query without entity terms")

    def add_entities(self, analyses: Sequence[Analysis], spans: object = None) -> list[Analysis]:
        raise AssertionError("not called for a query without entity terms")


def test_stories_past_the_gate_not_read_are_counted_at_the_rate_of_those_read() -> None:
    read = [Article(key=str(i), title="Gas prices" if i % 2 else "Rain") for i in range(10)]
    found = preview_query(parse_query("gas"), read, _NoRecogniser(), scanned=1000, unread=90)
    # half of those read pass the prefilter, all of those match: about 5 + 45 of the 1,000
    assert (found.count, found.scanned, found.complete) == (50, 1000, False)
    assert len(found.items) == 5 and found.items[0].title == "Gas prices"
    exact = preview_query(parse_query("gas"), read, _NoRecogniser())
    assert (exact.count, exact.scanned, exact.complete) == (5, 10, True)
