"""The indexed Matcher returns exactly what brute-force evaluation of every query returns."""

from __future__ import annotations

import contextlib
import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchers.errors import QueryError
from watchers.match import Matcher, evaluate
from watchers.model import Analysis, Entity, Match
from watchers.query import Query, parse_query
from watchers.text import tokenise

WORDS = [
    "embassy", "embassies", "talks", "talked", "Russia", "Russian", "Putin", "Apple", "apple",
    "sanctions", "sanctioned", "United", "States", "Zakharova", "said", "spokeswoman", "the",
    "Erdoğan", "erdogan", "Federation", "America", "press",
]  # fmt: skip
PREFIXES = ["embass*", "sanction*", "russ*", "talk*", "app*", "zak*"]
LABELS = ["PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "ENTITY"]
SOURCES = ["reuters", "bbc", "world", "news"]

word = st.sampled_from(WORDS)
leaf = st.one_of(
    word,
    st.lists(word, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(PREFIXES),
    st.tuples(st.sampled_from(LABELS), st.one_of(word, st.sampled_from(PREFIXES))).map(
        lambda t: f"{t[0]}:{t[1]}"
    ),
    word.map(lambda w: f"title:{w}"),
    st.sampled_from(SOURCES).map(lambda s: f"source:{s}"),
)
near_leaf = leaf.filter(lambda x: not x.startswith("source:"))
near = st.tuples(near_leaf, st.sampled_from(["NEAR", "ONEAR"]), st.integers(1, 4), near_leaf).map(
    lambda t: f"{t[0]} {t[1]}/{t[2]} {t[3]}"
)


def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from([" AND ", " OR ", " "]), children).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"
        ),
        st.tuples(children, children).map(lambda t: f"({t[0]} NOT {t[1]})"),
        children.map(lambda c: f"(-{c} embassy)"),
    )


query_text = st.recursive(st.one_of(leaf, near), combine, max_leaves=6)


@st.composite
def article(draw: st.DrawFn) -> Analysis:
    title = draw(st.lists(word, min_size=1, max_size=4))
    body = draw(st.lists(word, min_size=0, max_size=25))
    punct = draw(st.lists(st.sampled_from([" ", " ", " ", ", ", ". ", " “", "” "]), min_size=60))
    parts = [w + punct[i] for i, w in enumerate(body)]
    title_text = " ".join(title)
    text = title_text + ("\n\n" + "".join(parts).strip() if body else "")
    tokens = tokenise(text)
    entities: list[Entity] | None = None
    if draw(st.booleans()):
        entities = []
        i = 0
        while i < len(tokens):
            if draw(st.integers(0, 2)) == 0:
                j = min(len(tokens), i + draw(st.integers(1, 3)))
                label = draw(st.sampled_from(LABELS[:-1]))
                start, end = tokens[i].start, tokens[j - 1].end
                entities.append(Entity(label, start, end, text[start:end]))
                i = j
            else:
                i += 1
    sources = tuple(draw(st.lists(st.sampled_from(SOURCES), max_size=2, unique=True)))
    return Analysis(text, len(title_text), tokens, None if entities is None else tuple(entities),
                    sources)  # fmt: skip


def parsed(texts: list[str]) -> list[Query]:
    out = []
    for text in texts:
        with contextlib.suppress(QueryError):  # e.g. a query that can only exclude
            out.append(parse_query(text))
    return out


def brute_force(queries: dict[int, Query], analysis: Analysis) -> list[Match]:
    out = []
    for wid in sorted(queries):
        found = evaluate(queries[wid], analysis)
        if found is not None:
            out.append(Match(wid, found[0], found[1]))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(query_text, min_size=1, max_size=12),
    st.lists(article(), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
def test_index_agrees_with_brute_force(
    texts: list[str], articles: list[Analysis], rnd: random.Random
) -> None:
    queries = dict(enumerate(parsed(texts)))
    matcher = Matcher()
    for wid, q in queries.items():
        matcher.add(wid, q)
    for analysis in articles:
        assert matcher.match(analysis) == brute_force(queries, analysis)
    for wid in rnd.sample(sorted(queries), k=len(queries) // 2):
        matcher.remove(wid)
        del queries[wid]
    assert len(matcher) == len(queries)
    for analysis in articles:
        assert matcher.match(analysis) == brute_force(queries, analysis)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(query_text, min_size=1, max_size=8), article())
def test_skipping_ner_never_changes_the_result(texts: list[str], analysis: Analysis) -> None:
    """When needs_entities says no, matching without entities gives the same watchlists."""
    if analysis.entities is None:
        analysis = replace(analysis, entities=())
    bare = replace(analysis, entities=None)
    matcher = Matcher()
    for wid, q in enumerate(parsed(texts)):
        matcher.add(wid, q)
    if not matcher.needs_entities(bare):
        with_entities = [m.watchlist_id for m in matcher.match(analysis)]
        without = [m.watchlist_id for m in matcher.match(bare)]
        assert with_entities == without


@settings(max_examples=200, deadline=None)
@given(query_text)
def test_canonical_form_is_stable(text: str) -> None:
    for q in parsed([text]):
        again = parse_query(str(q))
        assert again.root == q.root or str(again) == str(q)
        assert str(parse_query(str(again))) == str(again)
