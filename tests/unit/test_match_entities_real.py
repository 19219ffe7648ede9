"""Entity evidence seen missing on published news, in sentences written for the test."""

from __future__ import annotations

from tests.unit.test_match import analysed, matches


def test_a_surname_after_a_role_word_is_a_person() -> None:
    assert matches("PERSON:Gill", analysed("Match report", "The match-winner Gill struck twice."))
    assert not matches("PERSON:Gill", analysed("Match report", "Gill Street was closed."))


def test_a_club_in_his_side_is_an_organisation() -> None:
    text = "He scored twice for his Harbour Rovers side on Friday."
    assert matches('ORG:"Harbour Rovers"', analysed("Match report", text))
    assert not matches('ORG:"Harbour Rovers"', analysed("Report", "Harbour Rovers is a song."))


def test_an_organisation_opening_a_title_is_one() -> None:
    assert matches("ORG:Kremlin", analysed("News", "Kremlin Press Secretary Ivan Orlov spoke."))
    assert matches(
        'ORG:"Lakeside Council"', analysed("News", "Lakeside Council leader Ann Lee spoke.")
    )
    assert not matches("ORG:President", analysed("News", "President Ann Lee spoke."))
    # A nationality before a title is not an organisation.
    assert not matches("ORG:French", analysed("News", "French President Ann Lee spoke."))


def test_a_country_opening_a_longer_name_counts_for_gpe() -> None:
    survey = analysed(
        "News", "The U.S. Geological Survey said.", entities=[("ORG", "U.S. Geological Survey")]
    )
    assert matches("GPE:US", survey)
    house = analysed("News", "The U.S. House voted.", entities=[("GPE", "U.S."), ("ORG", "House")])
    assert matches("GPE:US", house)
    # Not when the whole name is a person's or another place's.
    person = analysed("News", "Jordan Peterson said.", entities=[("PERSON", "Jordan Peterson")])
    assert not matches("GPE:Jordan", person)
    latin = analysed("News", "Officials in Latin America met", entities=[("LOC", "Latin America")])
    assert not matches("GPE:US", latin)
