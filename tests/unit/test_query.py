"""The watchlist query language: parsing, canonical form, warnings, errors and limits."""

from __future__ import annotations

import pytest

from watchers.errors import QueryError
from watchers.query import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    QUERY_HELP,
    And,
    EntityTerm,
    Field,
    Near,
    Not,
    Or,
    Prefix,
    Source,
    Words,
    parse_query,
)


def error(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse_query(text)
    return info.value


# Structure and precedence ---------------------------------------------------------------------


def test_a_word_is_a_term_with_its_inflection_key() -> None:
    q = parse_query("Embassies")
    assert q.root == Words("Embassies", ("embassy",))
    assert q.terms == ("Embassies",)
    assert not q.uses_entities
    assert q.warnings == ()


def test_implicit_and_between_adjacent_terms() -> None:
    assert parse_query("Russia embassy").root == parse_query("Russia AND embassy").root
    assert isinstance(parse_query("Russia embassy").root, And)


def test_not_binds_tighter_than_and_and_and_tighter_than_or() -> None:
    root = parse_query("a1 OR b1 AND NOT c1").root
    assert isinstance(root, Or)
    left, right = root.children
    assert left == Words("a1", ("a1",))
    assert isinstance(right, And)
    assert right.children[1] == Not(Words("c1", ("c1",)))
    assert str(parse_query("a1 OR b1 AND NOT c1")) == "a1 OR b1 AND NOT c1"


def test_parentheses_override_precedence() -> None:
    q = parse_query("(a1 OR b1) AND c1")
    assert isinstance(q.root, And)
    assert isinstance(q.root.children[0], Or)
    assert str(q) == "(a1 OR b1) AND c1"


def test_minus_is_not() -> None:
    assert parse_query("embassy -sport").root == parse_query("embassy NOT sport").root
    assert str(parse_query("embassy -(sport OR football)")) == "embassy AND NOT (sport OR football)"
    assert str(parse_query('embassy -"world cup"')) == 'embassy AND NOT "world cup"'


def test_chains_are_flattened() -> None:
    root = parse_query("(a1 AND b1) AND c1 d1").root
    assert isinstance(root, And)
    assert len(root.children) == 4


def test_phrase() -> None:
    q = parse_query('"Peace Talks"')
    assert q.root == Words('"Peace Talks"', ("peace", "talk"))
    assert parse_query("“peace talks”").root == Words('"peace talks"', ("peace", "talk"))


def test_word_with_inner_punctuation_is_a_phrase() -> None:
    assert parse_query("al-Assad").root == Words("al-Assad", ("al", "assad"))


def test_prefix() -> None:
    assert parse_query("Sanction*").root == Prefix("Sanction*", "sanction")


def test_near_and_onear() -> None:
    near = parse_query("Putin NEAR/5 talks").root
    assert near == Near(Words("Putin", ("putin",)), Words("talks", ("talk",)), 5, False)
    onear = parse_query('sanction* ONEAR/10 "central bank"').root
    assert isinstance(onear, Near)
    assert onear.ordered
    assert onear.distance == 10
    assert str(parse_query('sanction* ONEAR/10 "central bank"')) == (
        'sanction* ONEAR/10 "central bank"'
    )


def test_near_binds_tighter_than_not_and_and() -> None:
    root = parse_query("-a1 NEAR/2 b1 c1").root
    assert isinstance(root, And)
    assert isinstance(root.children[0], Not)
    assert isinstance(root.children[0].child, Near)


def test_fields() -> None:
    assert parse_query("title:Embassy").root == Words("title:Embassy", ("embassy",), Field.TITLE)
    assert parse_query('title:"peace talks"').root == Words(
        'title:"peace talks"', ("peace", "talk"), Field.TITLE
    )
    group = parse_query("title:(embassy OR consul*)").root
    assert group == Or(
        (
            Words("title:embassy", ("embassy",), Field.TITLE),
            Prefix("title:consul*", "consul", Field.TITLE),
        )
    )
    assert parse_query("source:Reuters").root == Source("source:Reuters", ("reuters",))
    assert parse_query("source:bbc.co.uk").root == Source("source:bbc.co.uk", ("bbc", "co", "uk"))


def test_entity_terms() -> None:
    q = parse_query('PERSON:Putin OR ORG:"European Union" OR LOC:Alp* OR ENTITY:Apple')
    assert q.uses_entities
    assert q.terms == ("PERSON:Putin", 'ORG:"European Union"', "LOC:Alp*", "ENTITY:Apple")
    person = q.root.children[0]  # type: ignore[union-attr]
    assert person == EntityTerm("PERSON:Putin", "PERSON", ("putin",))
    loc = q.root.children[2]  # type: ignore[union-attr]
    assert loc == EntityTerm("LOC:Alp*", "LOC", (), "alp")


def test_entity_label_case_is_forgiven() -> None:
    assert parse_query("person:Putin").terms == ("PERSON:Putin",)


def test_gpe_country_carries_its_aliases() -> None:
    term = parse_query("GPE:Russia").root
    assert isinstance(term, EntityTerm)
    assert ("russian",) in term.aliases
    assert ("russian", "federation") in term.aliases
    us = parse_query("GPE:US").root
    assert isinstance(us, EntityTerm)
    assert {("unite", "state"), ("america",), ("american",)} <= set(us.aliases)
    city = parse_query("GPE:Moscow").root
    assert isinstance(city, EntityTerm)
    assert city.aliases == ()


def test_entity_field_over_a_group() -> None:
    q = parse_query("PERSON:(Putin OR Lavrov)")
    assert q.terms == ("PERSON:Putin", "PERSON:Lavrov")


def test_canonical_form_reparses_to_itself() -> None:
    for text in [
        "Russia and Ukraine",
        "a1 OR (b1 c1) -d1",
        'title:(x1 OR "y1 z1") source:"BBC News"',
        "GPE:Russia NEAR/3 embass*",
        '"10:30" OR "AND" OR "NEAR/5"',
    ]:
        canonical = str(parse_query(text))
        assert str(parse_query(canonical)) == canonical
        assert parse_query(canonical).warnings == ()


def test_terms_in_query_order_without_repeats() -> None:
    assert parse_query("b1 OR a1 OR b1 -c1").terms == ("b1", "a1", "c1")


# Warnings -------------------------------------------------------------------------------------


def test_lower_case_operator_is_a_word_with_a_warning() -> None:
    q = parse_query("Russia or Ukraine")
    assert q.root == And(
        (Words("Russia", ("russia",)), Words('"or"', ("or",)), Words("Ukraine", ("ukrain",)))
    )
    assert q.warnings == ("'or' at position 8 is searched as a word; for the operator write OR",)
    assert "write AND" in parse_query("Russia and Ukraine").warnings[0]
    assert "write NOT" in parse_query("Russia not Ukraine").warnings[0]


def test_quoted_operator_word_has_no_warning() -> None:
    assert parse_query('Russia "and" Ukraine').warnings == ()


# Errors ---------------------------------------------------------------------------------------


def test_missing_closing_parenthesis() -> None:
    e = error("Russia AND (embassy")
    assert e.message == "missing ) for the ( at position 12"
    assert e.position == 12
    assert e.hint


def test_unmatched_closing_parenthesis() -> None:
    e = error("Russia) embassy")
    assert (e.position, e.message) == (7, "there is no ( for this )")


def test_unknown_field() -> None:
    e = error("embassy foo:bar")
    assert (e.position, e.message) == (9, "unknown field foo:")
    assert e.hint is not None
    assert "title:" in e.hint
    assert '"foo:bar"' in e.hint


def test_empty_phrase() -> None:
    e = error('embassy ""')
    assert (e.position, e.message) == (9, "empty phrase")
    assert e.hint


def test_unbalanced_quote() -> None:
    e = error('embassy "peace talks')
    assert (e.position, e.message) == (9, "this quote is never closed")


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("a1 NEAR/ b1", 4, "NEAR/ needs a number of words"),
        ("a1 NEAR b1", 4, "NEAR/ needs a number of words"),
        ("a1 ONEAR/x b1", 4, "ONEAR/ needs a number of words"),
        ("a1 NEAR/101 b1", 4, "NEAR/101: the distance must be between 1 and 100 words"),
        ("a1 NEAR/0 b1", 4, "NEAR/0: the distance must be between 1 and 100 words"),
    ],
)
def test_near_distance_errors(text: str, position: int, message: str) -> None:
    e = error(text)
    assert (e.position, e.message) == (position, message)


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("embassy AND", 9, "AND needs a term after it"),
        ("AND embassy", 1, "AND needs a term before it"),
        ("embassy OR", 9, "OR needs a term after it"),
        ("OR embassy", 1, "OR needs a term before it"),
        ("embassy OR OR consul", 9, "OR needs a term after it"),
        ("embassy AND OR consul", 9, "AND needs a term after it"),
        ("(embassy OR) consul", 10, "OR needs a term after it"),
        ("embassy NOT", 9, "NOT needs a term after it"),
        ("embassy NEAR/3", 9, "NEAR/3 needs a term after it"),
        ("NEAR/3 embassy", 1, "NEAR/3 needs a term before it"),
        ("gas AND (", 9, "( needs a term after it"),  # the ( is named, not left out
        ("(", 1, "( needs a term after it"),
    ],
)
def test_dangling_operators(text: str, position: int, message: str) -> None:
    e = error(text)
    assert (e.position, e.message) == (position, message)


def test_near_takes_single_terms() -> None:
    e = error("embassy NEAR/3 (consul OR envoy)")
    assert e.position == 16
    assert "NEAR/3 joins two terms" in e.message
    e = error("(a1 b1) NEAR/3 c1")
    assert "joins two terms" in e.message
    e = error("a1 NEAR/3 b1 NEAR/3 c1")
    assert (e.position, e.message) == (14, "NEAR/3 cannot follow another NEAR")
    e = error("a1 NEAR/3 source:bbc")
    assert "not source:" in e.message


def test_prefix_needs_three_letters() -> None:
    e = error("embassy ab*")
    assert (e.position, e.message) == (9, "a prefix needs at least 3 letters before *")
    assert error("*").message == "a prefix needs at least 3 letters before *"


def test_wildcards_elsewhere_are_refused() -> None:
    e = error("sanc*ions")
    assert (e.position, e.message) == (5, "* is allowed only at the end of a word")
    assert error("*tion").message == "* is allowed only at the end of a word"


def test_lone_minus_and_punctuation() -> None:
    assert error("embassy - sport").message.startswith("- must be followed")
    assert error("embassy !!!").message == "!!! has no letters or digits to look for"


def test_field_errors() -> None:
    assert error("title: embassy").message == "title: needs a term right after it"
    assert error("title:(source:bbc)").message == "source: cannot be used inside title:"
    assert error("source:reu*").message == "source: takes a name, not a prefix"


def test_empty_parentheses_and_empty_query() -> None:
    assert error("embassy ()").message == "empty parentheses"
    assert error("   ").message == "the query is empty"


@pytest.mark.parametrize("text", ["NOT sport", "-sport", "-(a1 OR b1)", "embassy OR -sport"])
def test_a_query_that_can_only_exclude_is_refused(text: str) -> None:
    e = error(text)
    assert e.position == 0
    assert "add something to look for" in e.message


# Limits ---------------------------------------------------------------------------------------


def test_length_limit() -> None:
    parse_query("a" * MAX_LENGTH)
    e = error("a" * (MAX_LENGTH + 1))
    assert (e.position, e.message) == (501, "the query is longer than 500 characters")


def test_term_limit() -> None:
    parse_query(" OR ".join(f"w{i}" for i in range(MAX_TERMS)))
    text = " OR ".join(f"w{i}" for i in range(MAX_TERMS + 1))
    e = error(text)
    assert e.message == "too many terms: at most 50"
    assert e.position == text.index("w50") + 1


def test_depth_limit() -> None:
    parse_query("(" * MAX_DEPTH + "a1" + ")" * MAX_DEPTH)
    e = error("(" * (MAX_DEPTH + 1) + "a1" + ")" * (MAX_DEPTH + 1))
    assert (e.position, e.message) == (11, "parentheses are nested more than 10 deep")


def test_error_text_names_the_position_and_hint() -> None:
    e = error("embassy ab*")
    assert str(e).startswith("a prefix needs at least 3 letters before * at position 9.")


def test_help_is_short_and_covers_the_operators() -> None:
    assert len(QUERY_HELP) <= 1500
    for word in ("AND", "OR", "NOT", "NEAR/", "ONEAR/", "title:", "source:", "PERSON:", "GPE:"):
        assert word in QUERY_HELP
