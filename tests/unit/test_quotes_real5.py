"""Failure classes seen on the third development set of published news (real-dev3), each in
short sentences written for the test."""

from __future__ import annotations

from watchers.quotes import extract_quotes


def speakers(text: str) -> list[str | None]:
    return [q.speaker for q in extract_quotes(text)]


def test_an_acronym_names_the_body_it_was_introduced_for() -> None:
    text = (
        "Crews were sent north on Friday.\n\n"
        "“The fire may reach the highway tonight,” Northern Fire and Rescue Services (NFRS) "
        "said.\n\n"
        "“Leave now if you live near the ridge,” NFRS said."
    )
    assert speakers(text) == ["Northern Fire and Rescue Services"] * 2


def test_an_acronym_the_text_never_spells_out_stays_as_written() -> None:
    text = "“The fire may reach the highway tonight,” NFRS said."
    assert speakers(text) == ["NFRS"]


def test_a_phrase_that_tells_how_is_not_the_speaker() -> None:
    text = (
        "The activist replied on Monday.\n\n"
        "Responding, Tami Okoro, in a tweet wrote: “Let them march in peace. Thanks!”"
    )
    assert speakers(text) == ["Tami Okoro"]
    text = "Tami Okoro, on her radio show said: “Let them march in peace.”"
    assert speakers(text) == ["Tami Okoro"]


def test_a_street_is_never_what_she_stands_for() -> None:
    text = (
        "Shares fell even though the profit beat Wall Street forecasts, after a statement from "
        "chief executive Dana Morrow.\n\n"
        "“I am disappointed with our soup sales,” she said."
    )
    assert speakers(text) == ["Dana Morrow"]
