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


def test_a_few_quoted_words_standing_as_a_paragraph_are_a_heading_not_speech() -> None:
    text = (
        "The shares fell 9% before trading stopped.\n\n"
        "‘No time’\n\n"
        "Analyst Joel Sarin said there was “no time to explain it”."
    )
    assert [(q.text, q.full) for q in extract_quotes(text)] == [
        ("No time", False),
        ("no time to explain it", False),
    ]


def test_a_quoted_sentence_standing_as_a_paragraph_is_still_speech() -> None:
    text = "Coach Lena Ortiz spoke after the game.\n\n“We never gave up.”"
    assert [(q.text, q.full, q.speaker) for q in extract_quotes(text)] == [
        ("We never gave up.", True, "Lena Ortiz")
    ]


def test_the_subject_after_and_is_the_one_who_said() -> None:
    text = (
        "Crews will spend about six weeks in Australia before returning home and Tulle said "
        "more would go.\n\n"
        "“Our people have been standing up for this.”"
    )
    assert speakers(text) == ["Tulle"]


def test_after_a_lead_up_naming_several_the_next_paragraphs_speaker_goes_back() -> None:
    text = (
        "Captain Ravi Menon said he was pleased with the fightback.\n\n"
        "Josh Ingram hit 110 while Tom Leary made a fifty. In reply, Menon scored 80 and Ivan "
        "Kohl hit 58.\n\n"
        "“Very happy with the way the boys played. We were under pressure.”\n\n"
        "“Incredible achievement,” said Menon after the match."
    )
    assert speakers(text) == ["Ravi Menon", "Ravi Menon"]


def test_a_title_written_as_a_name_is_the_person_just_spoken_of() -> None:
    text = (
        "The state will send help to the flooded towns, Owen Marsh said today.\n\n"
        "Rescue crews have worked through the night.\n\n"
        "The Prime Minister said: “The Government will assist.”"
    )
    assert speakers(text) == ["Owen Marsh"]


def test_a_quote_after_said_colon_that_its_paragraph_leaves_open_ends_there() -> None:
    text = (
        "Coach Nadia Pavel said after the match: “The first match is always the hardest. My "
        "players were nervous.\n\n"
        "She added: “We hope to climb this group.”"
    )
    assert [(q.text, q.speaker) for q in extract_quotes(text)] == [
        ("The first match is always the hardest. My players were nervous.", "Nadia Pavel"),
        ("We hope to climb this group.", "Nadia Pavel"),
    ]


def test_the_owner_of_a_place_is_a_person() -> None:
    text = (
        "The shooting happened in Kerry Dunn’s driveway.\n\n"
        "“I ran up to the front window,” he recalled."
    )
    assert speakers(text) == ["Kerry Dunn"]
    text = "It happened in Downing Street.\n\n“I ran to the window,” he recalled."
    assert speakers(text) == [None]


def test_a_reply_introduced_by_to_which_is_a_quote_of_its_own() -> None:
    text = (
        "After the visit, Mayor Tom Reid said to the engineer, “Tell the crew I am grateful, "
        "they worked all night,” to which Ana Ruiz replied: “They lost their own homes.”"
    )
    assert [(q.text, q.speaker) for q in extract_quotes(text)] == [
        ("Tell the crew I am grateful, they worked all night.", "Tom Reid"),
        ("They lost their own homes.", "Ana Ruiz"),
    ]


def test_a_sentence_after_a_closed_quote_that_only_says_who_spoke_attributes_it() -> None:
    text = (
        "Shares in Dunmore Labs fell 11 percent.\n\n"
        "“Our ecosystem is growing. Our financial foundation is solid.” Chief executive Ana Ruiz "
        "said in a statement."
    )
    assert speakers(text) == ["Ana Ruiz"]


def test_a_sentence_after_a_closed_quote_that_reports_more_does_not() -> None:
    text = (
        "Shares in Dunmore Labs fell, Ana Ruiz said.\n\n"
        "“Our ecosystem is growing.” Analyst Tom Reid said profits would rise."
    )
    assert speakers(text) == ["Ana Ruiz"]


def test_a_phrase_quoted_with_no_verb_of_saying_goes_to_the_person_the_sentence_is_about() -> None:
    text = (
        "Shares of the network fell on Friday.\n\n"
        "Analyst Jordan Reese downgraded the shares, noting that “user growth faltered”."
    )
    assert [(q.text, q.full, q.speaker) for q in extract_quotes(text)] == [
        ("user growth faltered", False, "Jordan Reese")
    ]
