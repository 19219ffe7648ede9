"""Exact evaluation of queries against analysed articles, and the indexed Matcher."""

from __future__ import annotations

from dataclasses import replace

import pytest

from watchers.match import Matcher, evaluate
from watchers.model import Analysis, Entity, Match
from watchers.query import parse_query
from watchers.text import tokenise


def analysed(
    title: str,
    body: str = "",
    entities: list[tuple[str, str]] | None = None,
    sources: tuple[str, ...] = (),
) -> Analysis:
    """An analysis of title + body; entities are (label, text) found in order in the text."""
    text = f"{title}\n\n{body}" if body else title
    found: list[Entity] | None = None
    if entities is not None:
        found = []
        at = 0
        for label, words in entities:
            start = text.index(words, at)
            found.append(Entity(label, start, start + len(words), words))
            at = start + len(words)
    return Analysis(
        text=text,
        title_end=len(title),
        tokens=tokenise(text),
        entities=None if found is None else tuple(found),
        sources=sources,
    )


def matches(query: str, analysis: Analysis) -> bool:
    return evaluate(parse_query(query), analysis) is not None


ARTICLE = analysed(
    "Erdoğan meets envoys at the embassies",
    "Peace talks resumed on Tuesday. The ministers talked for hours about sanctions, "
    "then met the press.",
    sources=("reuters world news", "feeds.reuters.com"),
)


# Terms -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["Erdogan", "ERDOĞAN", "embassy", "envoy", "talk", "meet", "sanction", "minister", "resume"],
)
def test_terms_match_any_case_accent_and_inflection(query: str) -> None:
    assert matches(query, ARTICLE)


def test_a_plain_term_matches_that_word_only() -> None:
    article = analysed("Russian diplomats expelled")
    assert not matches("Russia", article)
    assert matches("Russia*", article)
    assert matches("Russian", article)
    assert not matches("diplomacy", article)


def test_derivations_are_not_inflections() -> None:
    assert not matches("universe", analysed("The university reopened"))
    assert not matches("nation", analysed("A national holiday"))


def test_phrase_is_consecutive_words_by_inflection_key() -> None:
    assert matches('"peace talks"', ARTICLE)
    assert matches('"peace talk"', ARTICLE)
    assert not matches('"talks peace"', ARTICLE)
    assert not matches('"peace resumed"', ARTICLE)


def test_phrase_does_not_run_from_the_title_into_the_body() -> None:
    assert not matches('"embassies peace"', ARTICLE)


def test_prefix_matches_word_starts() -> None:
    assert matches("sanction*", ARTICLE)
    assert matches("embass*", ARTICLE)
    assert not matches("sanctu*", ARTICLE)


# Operators -------------------------------------------------------------------------------------


def test_and_or_not() -> None:
    assert matches("embassy AND talks", ARTICLE)
    assert matches("embassy talks", ARTICLE)
    assert not matches("embassy AND football", ARTICLE)
    assert matches("football OR embassy", ARTICLE)
    assert not matches("football OR cricket", ARTICLE)
    assert matches("embassy NOT football", ARTICLE)
    assert matches("embassy -football", ARTICLE)
    assert not matches("embassy -talks", ARTICLE)


def test_precedence_decides_the_result() -> None:
    # football OR (cricket AND embassy): false
    assert not matches("football OR cricket AND embassy", ARTICLE)
    # (embassy OR cricket) AND NOT football: true
    assert matches("(embassy OR cricket) NOT football", ARTICLE)
    # embassy AND NOT (talks OR football): false
    assert not matches("embassy -(talks OR football)", ARTICLE)


def test_near_counts_the_words_between() -> None:
    article = analysed("alpha one two beta")
    assert matches("alpha NEAR/2 beta", article)
    assert not matches("alpha NEAR/1 beta", article)
    assert matches("beta NEAR/2 alpha", article)
    assert matches("alpha ONEAR/2 beta", article)
    assert not matches("beta ONEAR/2 alpha", article)
    assert matches("alpha NEAR/1 two", analysed("alpha one two"))
    assert matches("alpha NEAR/1 one", analysed("alpha one"))


def test_near_with_phrases_prefixes_and_fields() -> None:
    assert matches('"peace talks" NEAR/3 Tuesday', ARTICLE)
    assert matches("sanction* ONEAR/3 press", ARTICLE)
    assert not matches("title:embassy NEAR/5 peace", ARTICLE)
    assert matches("title:Erdogan NEAR/3 envoy", ARTICLE)


def test_near_needs_two_different_places() -> None:
    assert not matches("envoy NEAR/3 envoy*", analysed("The envoy left"))
    assert matches("envoy NEAR/3 envoy*", analysed("The envoy met an envoy"))


def test_near_is_linear_on_long_repetitive_text() -> None:
    article = analysed("x", " ".join(["alpha"] * 3000 + ["beta"] * 3000))
    assert matches("alpha NEAR/100 beta", article)
    assert not matches("alpha NEAR/100 gamma", article)


# Fields ----------------------------------------------------------------------------------------


def test_title_field() -> None:
    assert matches("title:embassy", ARTICLE)
    assert not matches("title:talks", ARTICLE)
    assert matches('title:"the embassies"', ARTICLE)
    assert matches("title:(football OR envoy*)", ARTICLE)


def test_source_field_matches_feed_name_or_host() -> None:
    assert matches("source:Reuters", ARTICLE)
    assert matches('source:"world news"', ARTICLE)
    assert matches("source:reuters.com", ARTICLE)
    assert not matches("source:bbc", ARTICLE)
    assert not matches('source:"news world"', ARTICLE)


# Entities --------------------------------------------------------------------------------------


def test_entity_term_needs_an_entity_of_that_type() -> None:
    company = analysed("Apple opens a store", entities=[("ORG", "Apple")])
    dessert = analysed("Grandma's apple pie wins a prize", entities=[])
    assert matches("ORG:Apple", company)
    assert not matches("ORG:Apple", dessert)
    assert matches("apple", dessert)
    assert not matches("GPE:Apple", company)
    assert matches("ENTITY:Apple", company)
    assert not matches("ENTITY:Apple", dessert)


def test_entity_term_matches_part_of_an_entity() -> None:
    article = analysed("Vladimir Putin spoke", entities=[("PERSON", "Vladimir Putin")])
    assert matches("PERSON:Putin", article)
    assert matches('PERSON:"Vladimir Putin"', article)
    assert matches("PERSON:Put*", article)


def test_entity_terms_are_false_without_entities() -> None:
    article = analysed("Vladimir Putin spoke")
    assert not matches("PERSON:Putin", article)
    assert matches("spoke -PERSON:Putin", article)


def test_gpe_matches_other_names_and_demonyms() -> None:
    federation = analysed(
        "The Russian Federation rejected the claim",
        entities=[("GPE", "The Russian Federation")],
    )
    embassy = analysed(
        "The Russian embassy in Berlin", entities=[("NORP", "Russian"), ("GPE", "Berlin")]
    )
    plain = analysed("Russia's envoy", entities=[("GPE", "Russia")])
    for article in (federation, embassy, plain):
        assert matches("GPE:Russia", article)
    assert evaluate(parse_query("GPE:Russia"), embassy) == (("GPE:Russia",), ((4, 11),))
    assert not matches("GPE:Russia", analysed("the russian embassy", entities=[]))


def test_a_country_name_standing_alone_needs_no_model() -> None:
    # Decided by the text: matches with no entities at all, and NER is not needed.
    for text in ("Talks in Russia ended", "The Russian embassy", "U.S. officials met"):
        assert matches("GPE:Russia OR GPE:US", analysed(text))
    m = Matcher()
    m.add(1, parse_query("GPE:Russia"))
    assert not m.needs_entities(analysed("Talks in Russia ended"))
    # Next to other capitalised words it is up to the model: "Russia Today" is a channel.
    assert not matches("GPE:Russia", analysed("Watching Russia Today tonight"))
    assert m.needs_entities(analysed("Watching Russia Today tonight"))
    assert not matches("GPE:US", analysed("Officials in Latin America met", entities=[]))


def test_a_person_after_a_title_or_quote_needs_no_model() -> None:
    m = Matcher()
    m.add(1, parse_query("PERSON:Zakharova"))
    quoted = analysed("News", "“We will respond,” Zakharova said.")
    assert matches("PERSON:Zakharova", quoted)
    assert not m.needs_entities(quoted)
    weak = analysed("News", "Zakharova told reporters nothing.")
    assert not matches("PERSON:Zakharova", weak)  # a weak cue needs the model's view
    assert m.needs_entities(weak)
    assert matches("PERSON:Zakharova", replace(weak, entities=()))


def test_gpe_short_forms() -> None:
    article = analysed(
        "U.S. President Joe Biden spoke",
        "Officials of the United States and Americans abroad.",
        entities=[
            ("GPE", "U.S."),
            ("PERSON", "Joe Biden"),
            ("GPE", "the United States"),
            ("NORP", "Americans"),
        ],
    )
    found = evaluate(parse_query("GPE:America"), article)
    assert found is not None
    assert len(found[1]) == 3
    assert matches('GPE:"United States"', article)
    assert matches("GPE:US", article)


def test_gpe_alias_inside_another_place_does_not_count() -> None:
    article = analysed("Officials in Latin America met", entities=[("LOC", "Latin America")])
    assert not matches("GPE:US", article)
    korea = analysed("North Korea fired a missile", entities=[("GPE", "North Korea")])
    assert not matches('GPE:"South Korea"', korea)
    assert matches('GPE:"North Korea"', korea)


def test_gpe_of_a_city() -> None:
    article = analysed("Talks in Moscow", entities=[("GPE", "Moscow")])
    assert matches("GPE:Moscow", article)
    assert not matches("LOC:Moscow", article)


def test_person_after_a_quote_although_the_model_says_org() -> None:
    # The small model labels Zakharova ORG in this sentence.
    article = analysed(
        "Moscow responds",
        "“We will respond to any such steps,” Zakharova said.",
        entities=[("GPE", "Moscow"), ("ORG", "Zakharova")],
    )
    assert matches("PERSON:Zakharova", article)
    assert matches("ORG:Zakharova", article)


@pytest.mark.parametrize(
    "body",
    [
        "The decision was a mistake, said Zakharova.",
        "Foreign Ministry spokeswoman Maria Zakharova rejected it.",
        "Zakharova told reporters: “We will respond.”",
        "President Zakharova arrived.",
    ],
)
def test_person_in_a_persons_position_without_an_entity(body: str) -> None:
    assert matches("PERSON:Zakharova", analysed("News", body, entities=[]))


@pytest.mark.parametrize(
    ("name", "body", "entities"),
    [
        ("Apple", "Apple said it would open a store.", [("ORG", "Apple")]),
        ("Russia", "Russia said it would respond.", [("GPE", "Russia")]),
        ("Zakharova", "the zakharova said nothing.", []),
        ("Zakharova", "Shares of Zakharova rose.", []),
    ],
)
def test_person_heuristic_needs_a_persons_position(
    name: str, body: str, entities: list[tuple[str, str]]
) -> None:
    assert not matches(f"PERSON:{name}", analysed("News", body, entities=entities))


# What a match reports --------------------------------------------------------------------------


def test_match_reports_terms_as_written_and_spans() -> None:
    found = evaluate(parse_query("Embassies AND (talks OR football) -cricket"), ARTICLE)
    assert found is not None
    terms, spans = found
    assert terms == ("Embassies", "talks")
    text = ARTICLE.text
    assert [text[a:b] for a, b in spans] == ["embassies", "talks", "talked"]


def test_or_reports_every_matching_branch_and_not_reports_nothing() -> None:
    found = evaluate(parse_query("(embassy OR envoy OR football) NOT cricket"), ARTICLE)
    assert found is not None
    assert found[0] == ("embassy", "envoy")


def test_near_reports_both_sides() -> None:
    found = evaluate(parse_query("peace NEAR/2 resume"), ARTICLE)
    assert found is not None
    assert found[0] == ("peace", "resume")
    assert [ARTICLE.text[a:b] for a, b in found[1]] == ["Peace", "resumed"]


def test_source_term_has_no_span() -> None:
    assert evaluate(parse_query("source:reuters"), ARTICLE) == (("source:reuters",), ())


# The Matcher -----------------------------------------------------------------------------------


def test_matcher_add_remove_len_and_match() -> None:
    m = Matcher()
    m.add(3, parse_query("embassy AND talks"))
    m.add(1, parse_query("football OR sanction*"))
    m.add(2, parse_query("cricket"))
    assert len(m) == 3
    assert m.match(ARTICLE) == [
        Match(
            1,
            ("sanction*",),
            ((ARTICLE.text.index("sanctions"), ARTICLE.text.index("sanctions") + 9),),
        ),
        Match(3, ("embassy", "talks"), evaluate(parse_query("embassy AND talks"), ARTICLE)[1]),  # type: ignore[index]
    ]
    assert 2 not in m.candidates(ARTICLE)
    m.remove(3)
    m.remove(42)  # unknown ids are ignored
    assert len(m) == 2
    assert [x.watchlist_id for x in m.match(ARTICLE)] == [1]


def test_matcher_replaces_a_query_with_the_same_id() -> None:
    m = Matcher()
    m.add(1, parse_query("cricket"))
    m.add(1, parse_query("embassy"))
    assert len(m) == 1
    assert m.candidates(ARTICLE) == {1}


def test_candidates_come_from_the_rarest_required_term() -> None:
    m = Matcher()
    m.add(1, parse_query("the AND embassy"))
    m.add(2, parse_query("the AND sputnik"))
    assert m.candidates(analysed("the embassy")) == {1}
    assert m.candidates(analysed("the sputnik")) == {2}
    assert m.candidates(analysed("the news")) == set()


def test_candidates_from_prefixes_sources_and_entity_aliases() -> None:
    m = Matcher()
    m.add(1, parse_query("sanction*"))
    m.add(2, parse_query("source:reuters"))
    m.add(3, parse_query("GPE:Russia"))
    m.add(4, parse_query("sanctuary*"))
    assert m.candidates(ARTICLE) == {1, 2}
    assert m.candidates(analysed("A Russian envoy")) == {3}


def test_needs_entities_only_when_the_result_depends_on_them() -> None:
    m = Matcher()
    m.add(1, parse_query("PERSON:Putin AND sanctions"))
    m.add(2, parse_query("embassy OR ORG:NATO"))
    m.add(3, parse_query("talks"))
    # sanctions present, "putin" absent: PERSON:Putin is false whatever the entities
    assert not m.needs_entities(analysed("New sanctions"))
    # "putin" and sanctions present: depends on whether Putin is a person here
    assert m.needs_entities(analysed("Putin faces sanctions"))
    # embassy present: query 2 is true whatever NATO is
    assert not m.needs_entities(analysed("NATO embassy"))
    assert m.needs_entities(analysed("NATO talks"))
    assert not m.needs_entities(analysed("talks"))
    # entities already there: nothing to run
    assert not m.needs_entities(analysed("Putin faces sanctions", entities=[]))


def test_match_treats_entity_terms_as_false_until_entities_are_filled() -> None:
    m = Matcher()
    m.add(1, parse_query("PERSON:Putin AND sanctions"))
    m.add(2, parse_query("sanctions -PERSON:Putin"))
    bare = analysed("Putin faces sanctions")
    assert [x.watchlist_id for x in m.match(bare)] == [2]
    assert m.needs_entities(bare)
    full = replace(bare, entities=(Entity("PERSON", 0, 5, "Putin"),))
    assert [x.watchlist_id for x in m.match(full)] == [1]


def test_index_survives_many_adds_and_removes() -> None:
    m = Matcher()
    for i in range(200):
        m.add(i, parse_query(f"word{i} OR shared*"))
    for i in range(0, 200, 2):
        m.remove(i)
    assert len(m) == 100
    assert m.candidates(analysed("shared")) == set(range(1, 200, 2))
    for i in range(1, 200, 2):
        m.remove(i)
    assert m.candidates(analysed("shared word3")) == set()


def test_person_mislabelled_as_a_place_with_a_title() -> None:
    # The small model labels Scholz GPE here.
    article = analysed(
        "Aid", "Chancellor Scholz said Germany would send more aid.",
        entities=[("GPE", "Scholz"), ("GPE", "Germany")],
    )  # fmt: skip
    assert matches("PERSON:Scholz", article)


def test_a_country_is_never_taken_for_a_person() -> None:
    article = analysed("News", "“We will respond,” Russia said.", entities=[("GPE", "Russia")])
    assert not matches("PERSON:Russia", article)


def test_acronyms_are_never_taken_for_persons() -> None:
    article = analysed("Oil", "“Output will rise,” OPEC said.", entities=[("ORG", "OPEC")])
    assert not matches("PERSON:OPEC", article)


def test_prefix_lookups_see_queries_added_later() -> None:
    m = Matcher()
    m.add(1, parse_query("sanction*"))
    assert m.candidates(ARTICLE) == {1}
    m.add(2, parse_query("sanct*"))
    assert m.candidates(ARTICLE) == {1, 2}
    m.remove(1)
    assert m.candidates(ARTICLE) == {2}


@pytest.mark.timeout(20)  # a hang guard, not a speed target: timings live in bench/
def test_title_case_text_does_not_hang() -> None:
    article = analysed("X", " ".join(["Zakharova"] * 20_000) + " said.", entities=[])
    assert matches("PERSON:Zakharova AND GPE:Russia* OR said", article)


def test_watchlists_sharing_terms_match_like_each_alone() -> None:
    texts = [
        "embassy",
        "embassy OR envoy",
        "embassy AND talks -cricket",
        "(embassy OR football) AND talk*",
        "embassy NEAR/3 envoy",
        "title:embassy OR embassy",
        "(embassy AND envoy) OR cricket",
        "embassy OR embassy",
        "source:reuters AND embassy",
    ]
    queries = {i: parse_query(t) for i, t in enumerate(texts)}
    m = Matcher()
    for i, q in queries.items():
        m.add(i, q)

    def expected() -> list[Match]:
        out = []
        for i in sorted(queries):
            found = evaluate(queries[i], ARTICLE)
            if found is not None:
                out.append(Match(i, *found))
        return out

    assert m.match(ARTICLE) == expected()
    assert len(m.match(ARTICLE)) == len(texts)
    for i in (0, 2, 4):
        m.remove(i)
        del queries[i]
    m.add(1, parse_query("envoy"))
    queries[1] = parse_query("envoy")
    assert m.match(ARTICLE) == expected()
    for i in list(queries):
        m.remove(i)
    m.add(0, parse_query("embassy -envoy"))
    assert m.match(ARTICLE) == []


def test_a_word_without_prefix_queries_is_looked_up_again_after_an_add() -> None:
    m = Matcher()
    m.add(1, parse_query("sanction*"))
    article = analysed("Embargo talks")
    assert m.candidates(article) == set()
    m.add(2, parse_query("embarg*"))
    assert m.candidates(article) == {2}
    assert [x.watchlist_id for x in m.match(article)] == [2]
