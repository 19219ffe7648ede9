"""The real-news quote set: well-formed annotations, a split that covers it, and a scorer that
gives full marks to the annotations themselves and none to an extractor that finds nothing."""

from __future__ import annotations

import json

import pytest

from bench.quotes import REAL, REAL_SPLITS, Article, evaluate_real, load_real, tokens
from watchers.model import Quote


def _articles() -> list[Article]:
    return [a for split in REAL_SPLITS for a in load_real(split)]


def test_split_covers_every_article_once() -> None:
    split = json.loads((REAL / "split.json").read_text(encoding="utf-8"))
    dev, dev2, dev3 = split["real-dev"], split["real-dev2"], split["real-dev3"]
    held = split["real-heldout"]
    files = sorted(p.stem for p in REAL.glob("*.json") if p.name != "split.json")
    assert sorted(dev + dev2 + dev3 + held) == files
    assert len(dev) == 20 and len(dev2) >= 30 and len(dev3) >= 25 and len(held) >= 20


@pytest.mark.parametrize("article", _articles(), ids=lambda a: a.name)
def test_annotations_are_spans_of_the_text(article: Article) -> None:
    words = tokens(article.text)
    assert len(article.quotes) >= 2
    for q in article.quotes:
        assert tokens(q.text) <= words, q.text
    fulls = [i for i, q in enumerate(article.quotes) if q.full]
    assert (article.key is None) == (not fulls)
    assert article.key is None or article.key in fulls


def _annotated(article: Article) -> list[Quote]:
    return [Quote(q.text, q.speaker, i, i + 1, q.full) for i, q in enumerate(article.quotes)]


@pytest.mark.parametrize("split", REAL_SPLITS)
def test_the_annotations_score_full_marks(split: str) -> None:
    articles = load_real(split)
    result = evaluate_real(articles, _annotated)
    assert result["precision"] == result["recall"] == result["speaker_accuracy"] == 1.0
    assert result["recall_90"] == 1.0
    assert result["key_right"] == len(articles)


@pytest.mark.parametrize("split", REAL_SPLITS)
def test_finding_nothing_scores_nothing(split: str) -> None:
    articles = load_real(split)
    result = evaluate_real(articles, lambda _: [])
    assert result["recall"] == result["recall_90"] == 0.0
    # Only an article without any full quote is right to offer none.
    assert result["key_right"] == sum(a.key is None for a in articles)
