"""Failure classes seen on the second development set of published news (real-dev2), each in
short sentences written for the test. Entities are given by hand, as a recogniser might tag them."""

from __future__ import annotations

from watchers.model import Entity
from watchers.quotes import extract_quotes


def _entity(text: str, label: str, words: str, nth: int = 0) -> Entity:
    start = -1
    for _ in range(nth + 1):
        start = text.index(words, start + 1)
    return Entity(label, start, start + len(words), words)


def test_an_organisation_tag_on_a_name_the_recogniser_also_reads_as_a_person_is_overruled() -> None:
    text = (
        "A strong India won a first series in Australia on Monday after play in the last Test in "
        "Sydney was abandoned due to rain. It is the first time they have done it since they "
        "began touring Australia in 1950 and skipper Arjun Raman said that he was proud to lead "
        "this group of players who have thrived away from home.\n\n"
        "“Firstly I want to say, I’ve never been more proud of a team than this one. The culture "
        "we’ve built took a year. Only one word to say, I’m proud.”\n\n"
        "Raman thanked the crowd."
    )
    entities = [_entity(text, "ORG", "Arjun Raman"), _entity(text, "PERSON", "Raman", nth=1)]
    [quote] = extract_quotes(text, entities)
    assert quote.speaker == "Arjun Raman"


def test_a_person_tag_inside_a_longer_name_does_not_make_the_name_a_person() -> None:
    text = (
        "Dr Mira Okafor watched the first images arrive.\n\n"
        "They came from the Ansel Hart Space Telescope.\n\n"
        '"The first light was perfect," she said.'
    )
    entities = [
        _entity(text, "PERSON", "Mira Okafor"),
        _entity(text, "PERSON", "Ansel Hart"),
    ]
    [quote] = extract_quotes(text, entities)
    assert quote.speaker == "Mira Okafor"


def test_a_name_inside_the_quote_is_not_who_he_is() -> None:
    text = (
        "Coach Ravi Menon spoke after the win.\n\n"
        '"Dev Arora bowled superbly today and deserved it," he said.'
    )
    for entities in (
        None,
        [_entity(text, "PERSON", "Ravi Menon"), _entity(text, "PERSON", "Dev Arora")],
    ):
        [quote] = extract_quotes(text, entities)
        assert quote.speaker == "Ravi Menon"
