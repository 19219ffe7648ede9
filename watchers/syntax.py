"""Attribution by syntax: who a quote's reporting verb says spoke, from a dependency parse.

The rules in ``watchers.quotes`` read speakers from the order of words, which is cheap and runs
on every article. Articles that matched a watchlist are few, so for them the full spaCy pipeline
(tagger, parser, recogniser) is affordable: ``parse_doc`` turns its output into plain frozen data
(``Parse``), and ``speaker_span`` finds, for one quoted passage, the phrase the parse makes the
subject of the verb that governs the quote (``“…,” X said``, ``X told reporters: “…”``), the
object of ``according to``, the agent of a passive, or the subject of the verb a participle
hangs on (``…, stating, “…”``). The phrase is returned as a character span; reading the name out
of it (titles, descriptions, pronouns) stays with the rules, which know those words.

Pure: ``parse_doc`` reads a spaCy ``Doc`` already made; nothing here loads a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from watchers.model import Entity

__all__ = ["Parse", "SyntaxToken", "parse_doc", "speaker_span"]

_SUBJECTS = frozenset({"nsubj", "nsubjpass", "csubj"})
# Dependencies by which a verb outside a quote hangs on the quote's own verb (``“…,” he said``
# parsed the other way round).
_VERB_LINKS = frozenset({"parataxis", "ccomp", "conj", "advcl", "dep", "xcomp"})
# Dependencies by which a participle or a second verb takes its subject from its head.
_INHERITS = frozenset({"conj", "advcl", "xcomp", "pcomp", "acl"})
_NAME_PARTS = frozenset({"compound", "flat", "nmod", "amod", "poss", "case", "nummod"})
_ENDS = frozenset({".", "!", "?", ";"})
_MAX_DISTANCE = 40  # tokens between a quote and the verb that governs it
_ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC", "PRODUCT"})


@dataclass(frozen=True, slots=True)
class SyntaxToken:
    start: int
    end: int
    lower: str
    lemma: str
    pos: str  # universal part of speech: PROPN, NOUN, PRON, VERB ...
    dep: str  # dependency label of the arc to ``head``
    head: int  # index of the head token (itself for a sentence root)
    ent: str  # entity label of the token, or ""


@dataclass(frozen=True, slots=True)
class Parse:
    """A dependency parse of one text, as plain data."""

    tokens: tuple[SyntaxToken, ...]
    entities: tuple[Entity, ...]

    def children(self, i: int) -> list[int]:
        lo, hi = max(0, i - _MAX_DISTANCE * 2), min(len(self.tokens), i + _MAX_DISTANCE * 2)
        return [k for k in range(lo, hi) if k != i and self.tokens[k].head == i]


def parse_doc(doc: Any) -> Parse:
    """A spaCy ``Doc`` (parsed, with entities) as a ``Parse``."""
    tokens = tuple(
        SyntaxToken(
            t.idx,
            t.idx + len(t.text),
            t.text.lower(),
            t.lemma_.lower(),
            t.pos_,
            t.dep_,
            t.head.i,
            t.ent_type_,
        )
        for t in doc
    )
    entities = tuple(
        Entity(e.label_, e.start_char, e.end_char, e.text)
        for e in doc.ents
        if e.label_ in _ENTITY_LABELS
    )
    return Parse(tokens, entities)


def _inside(t: SyntaxToken, spans: Sequence[tuple[int, int]]) -> bool:
    return any(a <= t.start < b for a, b in spans)


def speaker_span(
    parse: Parse,
    quote: tuple[int, int],
    quoted: Sequence[tuple[int, int]],
    reporting: frozenset[str],
) -> tuple[int, int] | None:
    """The character span of the phrase the parse names as the speaker of the quote whose marks
    run from ``quote[0]`` to ``quote[1]`` (exclusive), or None. ``quoted``: every quoted span of
    the text (marks included), whose words are never a speaker; ``reporting``: reporting verbs
    (any inflected form, or the lemma)."""
    toks = parse.tokens
    inside = [k for k, t in enumerate(toks) if quote[0] <= t.start < quote[1]]
    if not inside:
        return None
    first, last = inside[0], inside[-1]
    inner = set(inside)

    def outside(k: int) -> bool:
        return k not in inner and not _inside(toks[k], quoted)

    def is_reporting(k: int) -> bool:
        t = toks[k]
        return t.lower in reporting or t.lemma in reporting

    candidates: list[int] = []
    for k in inside:
        h = toks[k].head
        if h != k and outside(h) and abs(h - first) <= _MAX_DISTANCE + len(inside):
            candidates.append(h)
    lo, hi = max(0, first - _MAX_DISTANCE), min(len(toks), last + _MAX_DISTANCE + 1)
    for k in range(lo, hi):
        t = toks[k]
        if outside(k) and t.head in inner and t.dep in _VERB_LINKS and t.pos in ("VERB", "AUX"):
            candidates.append(k)

    def same_sentence(k: int) -> bool:
        """No sentence end nor paragraph break between the quote and token ``k``."""
        between = range(last + 1, k) if k > last else range(k + 1, first)
        return not any(toks[j].pos == "SPACE" or toks[j].lower in _ENDS for j in between)

    verbs = [k for k in dict.fromkeys(candidates) if is_reporting(k) and same_sentence(k)]
    if not verbs:
        # A reporting verb the parse did not link: right after the quote, or right before it.
        after = range(last + 1, min(len(toks), last + 8))
        before = range(first - 1, max(-1, first - 8), -1)
        for k in (*after, *before):
            if not outside(k) or toks[k].lower in _ENDS or toks[k].pos == "SPACE":
                break
            if is_reporting(k) and toks[k].pos in ("VERB", "AUX"):
                verbs.append(k)
                break
    for v in verbs:
        subject = _subject(parse, v, inner, 0)
        if subject is not None and outside(subject):
            return _phrase(parse, subject, inner)
    return None


def _subject(parse: Parse, v: int, inner: set[int], depth: int) -> int | None:
    toks = parse.tokens
    kids = parse.children(v)
    if toks[v].lower == "according":
        for c in kids:
            if toks[c].lower == "to":
                objects = [g for g in parse.children(c) if toks[g].dep == "pobj"]
                return objects[0] if objects else None
        return None
    for c in kids:
        if toks[c].dep == "agent":
            objects = [g for g in parse.children(c) if toks[g].dep == "pobj"]
            if objects:
                return objects[0]
    for c in kids:
        if toks[c].dep in _SUBJECTS and c not in inner:
            t = toks[c]
            if t.lower in ("who", "that") and toks[v].dep == "relcl":
                return toks[v].head
            return c
    h = toks[v].head
    if (
        depth < 3
        and h != v
        and toks[v].dep in _INHERITS
        and h not in inner
        and not _break_between(parse, h, v)
    ):
        return _subject(parse, h, inner, depth + 1)
    if depth < 3 and toks[v].dep in _INHERITS and h not in inner:
        # Hung on a verb across a paragraph break: the nearest verb before it in its own
        # paragraph that has a subject (``X issued a statement, stating, “…”``).
        for k in range(v - 1, max(-1, v - _MAX_DISTANCE), -1):
            if toks[k].pos == "SPACE" or toks[k].lower in _ENDS:
                break
            if toks[k].pos in ("VERB", "AUX") and k not in inner:
                found = [c for c in parse.children(k) if toks[c].dep in _SUBJECTS]
                if found and found[0] not in inner:
                    return found[0]
    return None


def _break_between(parse: Parse, a: int, b: int) -> bool:
    """Whether a paragraph break lies between tokens ``a`` and ``b``: the parser may hang a
    body's first clause on the headline's verb, which is not the clause's subject."""
    lo, hi = min(a, b), max(a, b)
    return any(parse.tokens[k].pos == "SPACE" for k in range(lo + 1, hi))


def _phrase(parse: Parse, h: int, inner: set[int]) -> tuple[int, int]:
    """The span of the name (or description) headed by token ``h``: its compound words, a
    coordinated name (``A and B``), or the name in apposition to a common noun (``the
    spokesman, X,``); a description after a name is left out."""
    toks = parse.tokens
    kids = parse.children(h)
    head = toks[h]
    if head.pos != "PROPN":
        names = [c for c in kids if toks[c].dep == "appos" and toks[c].pos == "PROPN"]
        if names:
            return _phrase(parse, names[0], inner)
    lo = h
    for c in sorted((c for c in kids if c < h), reverse=True):
        if toks[c].dep in _NAME_PARTS or toks[c].dep == "det":
            lo = min(lo, _left_edge(parse, c))
        else:
            break
    hi = h
    if head.pos == "PROPN":
        for c in kids:
            if c > h and toks[c].dep in ("flat", "compound"):
                hi = max(hi, c)
        conj = [c for c in kids if c > h and toks[c].dep == "conj" and toks[c].pos == "PROPN"]
        if conj:
            hi = max(hi, _phrase_end(parse, conj[-1]))
    else:
        for c in kids:  # "the president of the union": the whole description
            if c > h and toks[c].dep == "prep" and c not in inner:
                hi = max(hi, _phrase_end(parse, c))
    return toks[lo].start, toks[hi].end


def _left_edge(parse: Parse, k: int) -> int:
    lo = k
    for c in parse.children(k):
        if c < lo:
            lo = min(lo, _left_edge(parse, c))
    return lo


def _phrase_end(parse: Parse, k: int) -> int:
    hi = k
    for c in parse.children(k):
        if c > hi and parse.tokens[c].dep not in ("punct", "relcl", "appos", "acl"):
            hi = max(hi, _phrase_end(parse, c))
    return hi
