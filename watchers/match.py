"""Evaluate watchlist queries against analysed articles, and an index that makes it scale.

Pure: no I/O (the country table is read once, on the first ``GPE:`` term).

``evaluate(query, analysis)`` is the exact, brute-force evaluation of one query. ``Matcher`` holds
many compiled queries and an inverted index over the terms any match must contain (the approach
of Lucene's Monitor and Elasticsearch's percolator): each query is filed under a set of index
terms such that every article it can match contains at least one of them -- for an AND, the set
of its rarest positive operand; for an OR, the union of its branches' sets; NOT contributes
nothing. An article's words, prefixes and source words select the candidate queries; only those
are evaluated exactly.

Entity terms (``PERSON:Putin``) mostly need named entities in ``Analysis.entities``. A few
occurrences are decided by the text alone, the same with or without the model: a person's name
after a title or next to a quote ("spokeswoman Maria Zakharova", "..., Zakharova said"), a
country's name standing alone ("in Russia", "the Russian embassy"). Every other occurrence of an
entity term is false while ``Analysis.entities`` is None (recognition not run). Callers should
ask ``Matcher.needs_entities(analysis)`` first and run recognition only when it says so: it is
true only when some candidate's result could still change with the entities.

Large sets of watchlists: after loading them, ``gc.collect(); gc.freeze()`` spares the cyclic
garbage collector from walking the long-lived query objects during matching.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeGuard

from watchers.countries import find_countries
from watchers.model import Analysis, Match, Token
from watchers.query import (
    And,
    EntityTerm,
    Field,
    Leaf,
    Near,
    Node,
    Not,
    Or,
    Prefix,
    Query,
    Source,
    Words,
    leaves,
)
from watchers.text import inflection_key
from watchers.text import words_of_text as _words

Span = tuple[int, int]  # token indices [start, end)
CharSpans = tuple[tuple[int, int], ...]  # sorted, distinct character spans

# ---------------------------------------------------------------------------------------------
# Persons the small model misses: a capitalised name in a person's position

_REPORTING = frozenset(
    inflection_key(w)
    for w in _words(
        """say tell add state warn write insist note ask reply explain argue claim announce
    tweet post confirm deny acknowledge admit declare comment respond urge vow stress conclude
    complain recall suggest testify"""
    )
)
_TITLES = frozenset(
    inflection_key(w)
    for w in _words(
        """president minister spokesman spokeswoman spokesperson chancellor secretary
    senator sen rep representative congressman congresswoman governor mayor general gen
    ambassador envoy mr mrs ms dr prof professor judge chief ceo chairman chairwoman chair
    director commander king queen prince princess pope sheikh emir premier leader lawmaker
    colonel col captain capt lieutenant lt sergeant admiral adviser advisor aide analyst
    economist founder candidate deputy councillor mp activist coach lawyer attorney prosecutor
    justice inspector commissioner diplomat official negotiator author winner scorer striker
    forward midfielder defender goalkeeper keeper winger skipper batter batsman bowler opener
    spinner pacer all-rounder teammate veteran rookie manager"""
    )
)
# Words after a team's name in "his Mohun Bagan side": the name is an organisation.
_TEAM_NOUNS = frozenset(inflection_key(w) for w in _words("side team squad club outfit"))
_POSSESSIVES = frozenset(inflection_key(w) for w in _words("his her their its our"))
# Titles after which a name opening a title is an organisation ("Kremlin spokesman Peskov").
_ORG_TITLES = _TITLES | frozenset(inflection_key(w) for w in _words("press"))
# Labels that say the words are not a person (an ORG may be a mislabelled person).
_COUNTRY_LABELS = frozenset({"GPE", "LOC", "NORP"})
_QUOTE_CHARS = frozenset("\"“”'’»«")
_SOURCE_SPLIT = re.compile(r"[^\w']+")


# ---------------------------------------------------------------------------------------------
# An analysed article, prepared for evaluation


@dataclass(slots=True, eq=False)
class _Doc:
    """Lookup tables over one analysis, built once and shared by every query evaluated."""

    analysis: Analysis
    tokens: tuple[Token, ...]
    keys: list[str]
    norms: list[str]
    title_n: int  # tokens [0, title_n) are the title
    key_set: frozenset[str]
    _positions: dict[str, list[int]] | None = None
    _entities: list[tuple[str, int, int]] | None = None  # (label, first token, end token)
    _sources: list[tuple[str, ...]] | None = None
    _vocabulary: list[str] | None = None
    _covering: dict[int, list[tuple[str, int, int]]] = field(default_factory=dict)
    _word_spans: list[tuple[int, int]] | None = None
    memo: dict[Leaf, list[Span]] = field(default_factory=dict)  # costly leaves, shared by queries
    results: dict[_Unit, CharSpans | None] = field(default_factory=dict)  # see ``_unit_result``

    @classmethod
    def of(cls, analysis: Analysis) -> _Doc:
        tokens = analysis.tokens
        title_end = analysis.title_end
        title_n = 0
        for t in tokens:
            if t.start >= title_end:
                break
            title_n += 1
        keys = [t.key for t in tokens]
        return cls(analysis, tokens, keys, [t.norm for t in tokens], title_n, frozenset(keys))

    @property
    def positions(self) -> dict[str, list[int]]:
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for i, key in enumerate(self.keys):
                found = positions.get(key)
                if found is None:
                    positions[key] = [i]
                else:
                    found.append(i)
            self._positions = positions
        return self._positions

    @property
    def vocabulary(self) -> list[str]:
        """The distinct normalised words, sorted."""
        if self._vocabulary is None:
            self._vocabulary = sorted(set(self.norms))
        return self._vocabulary

    @property
    def entities(self) -> list[tuple[str, int, int]] | None:
        """Entities as token ranges (tokens overlapping the entity's characters)."""
        if self._entities is None and self.analysis.entities is not None:
            starts = [t.start for t in self.tokens]
            ends = [t.end for t in self.tokens]
            out = []
            for e in self.analysis.entities:
                first = bisect_right(ends, e.start)  # first token ending after the entity starts
                end = bisect_left(starts, e.end)  # first token starting at/after its end
                if first < end:
                    out.append((e.label, first, end))
            covering: dict[int, list[tuple[str, int, int]]] = {}
            for entity in out:
                for i in range(entity[1], entity[2]):
                    covering.setdefault(i, []).append(entity)
            self._entities = out
            self._covering = covering
        return self._entities

    def covering(self, i: int, j: int) -> list[tuple[str, int, int]]:
        """The entities that cover tokens [i, j) (call after ``entities`` returned a list)."""
        return [e for e in self._covering.get(i, ()) if j <= e[2]]

    @property
    def sources(self) -> list[tuple[str, ...]]:
        if self._sources is None:
            self._sources = [
                tuple(w for w in _SOURCE_SPLIT.split(s) if w) for s in self.analysis.sources
            ]
        return self._sources

    @property
    def word_spans(self) -> list[tuple[int, int]]:
        """Each token's character span."""
        if self._word_spans is None:
            self._word_spans = [(t.start, t.end) for t in self.tokens]
        return self._word_spans

    def span(self, occ: Span) -> tuple[int, int]:
        i, j = occ
        if j - i == 1:
            return self.word_spans[i]
        return self.tokens[i].start, self.tokens[j - 1].end


# ---------------------------------------------------------------------------------------------
# Leaves: where does a term occur (token ranges)


def _words_at(doc: _Doc, keys: tuple[str, ...], title_only: bool = False) -> list[Span]:
    first = doc.positions.get(keys[0])
    if not first:
        return []
    n = len(keys)
    limit = doc.title_n if title_only else len(doc.keys)
    if n == 1:
        return [(p, p + 1) for p in first if p < limit]
    out = []
    all_keys = doc.keys
    title_n = doc.title_n
    for p in first:
        end = p + n
        if end > limit or p < title_n < end:  # past the end, or across the title's end
            continue
        if all(all_keys[p + j] == keys[j] for j in range(1, n)):
            out.append((p, end))
    return out


def _prefix_at(doc: _Doc, prefix: str, title_only: bool = False) -> list[Span]:
    """Words starting with ``prefix``: a binary search in the article's sorted distinct words."""
    vocabulary = doc.vocabulary
    first = bisect_left(vocabulary, prefix)
    last = bisect_left(vocabulary, prefix + "\U0010ffff", first)
    if first == last:
        return []
    words = set(vocabulary[first:last])  # rarely many: scanning beats an index of every word
    norms = doc.norms[: doc.title_n] if title_only else doc.norms
    return [(p, p + 1) for p, norm in enumerate(norms) if norm in words]


def _source_has(doc: _Doc, words: tuple[str, ...]) -> bool:
    n = len(words)
    for source in doc.sources:
        for i in range(len(source) - n + 1):
            if source[i : i + n] == words:
                return True
    return False


def _entity_candidates(doc: _Doc, leaf: EntityTerm) -> list[Span]:
    """Where the entity term's words (or the country's other names) occur, entity or not."""
    occs = _prefix_at(doc, leaf.prefix) if leaf.prefix else _words_at(doc, leaf.keys)
    for alias in leaf.aliases:
        occs.extend(_words_at(doc, alias))
    return occs


def _entity_at(doc: _Doc, leaf: EntityTerm) -> list[Span]:
    """Where the entity term matches. Some occurrences are decided by the text alone (a
    person's name after a title or next to a quote, a country's name standing alone); the
    others need the model's entities and are false while ``Analysis.entities`` is None."""
    occs = _entity_candidates(doc, leaf)
    if not occs:
        return []
    if doc.entities is None:
        out = [occ for occ in occs if _decided_by_text(doc, leaf, occ)]
    else:  # the entities first: they usually decide, and cheaply
        out = [occ for occ in occs if _labelled(doc, leaf, occ) or _decided_by_text(doc, leaf, occ)]
    out.sort()
    return out


def _decided_by_text(doc: _Doc, leaf: EntityTerm, occ: Span) -> bool:
    if leaf.label == "PERSON":
        return _person_cue(doc, occ[0], occ[1]) == _STRONG
    if leaf.label == "ORG":
        return _org_cue(doc, occ[0], occ[1])
    if leaf.aliases:  # a country
        return _stands_alone(doc, occ[0], occ[1])
    return False


def _labelled(doc: _Doc, leaf: EntityTerm, occ: Span) -> bool:
    """Whether the model's entities make the occurrence match (entities must be known)."""
    i, j = occ
    covering = doc.covering(i, j)
    label = leaf.label
    for e_label, a, b in covering:
        if leaf.aliases:
            if e_label in _COUNTRY_LABELS and _names_country(doc, leaf, a, b):
                return True
        elif label in ("ENTITY", e_label):
            return True
    if leaf.aliases and _opens_name(doc, i, j):
        # "U.S. House", "U.S. Geological Survey": the country's own body, unless the model
        # reads the whole name as a person or another place ("Jordan Peterson").
        return not any(e[0] == "PERSON" or e[0] in _COUNTRY_LABELS for e in covering)
    # A weak cue ("Kuleba told ...") counts where the model saw no entity at all.
    return label == "PERSON" and not covering and _person_cue(doc, i, j) == _WEAK


def _opens_name(doc: _Doc, i: int, j: int) -> bool:
    """Whether capitalised tokens [i, j) open a longer capitalised name on their line."""
    n = len(doc.tokens)
    opens = i == 0 or not _joined(doc, i) or doc.keys[i - 1] == "the"
    return (
        opens
        and _capitalised(doc, i)
        and j < n
        and _capitalised(doc, j)
        and _gap(doc, j).strip(" ") == ""
    )


def _org_cue(doc: _Doc, i: int, j: int) -> bool:
    """Whether the text says capitalised tokens [i, j) name an organisation: a team in ``his
    Mohun Bagan side``, or a body that opens a title before a name (``Kremlin spokesman Dmitry
    Peskov``, ``White House Press Secretary Ann Lee``)."""
    if not all(_capitalised(doc, k) for k in range(i, j)):
        return False
    keys, n = doc.keys, len(doc.tokens)
    if i > 0 and keys[i - 1] in _POSSESSIVES and j < n and keys[j] in _TEAM_NOUNS:
        return True
    opens = i == 0 or not _joined(doc, i)
    k = j
    while k < n and k - j < 3 and keys[k] in _ORG_TITLES and _gap(doc, k).strip(" ") == "":
        k += 1
    return (
        opens
        and k > j
        and k < n
        and _capitalised(doc, k)
        and keys[k] not in _ORG_TITLES
        and _gap(doc, k).strip(" ") == ""
        and not find_countries(tuple(keys[i:j]))
        and not any(keys[x] in _ORG_TITLES for x in range(i, j))
    )


def _stands_alone(doc: _Doc, i: int, j: int) -> bool:
    """A capitalised name with no other capitalised word next to it ("in Russia", "the Russian
    embassy"; not "Latin America" or "Russia Today")."""
    if not _capitalised(doc, i):
        return False
    after_the = i > 0 and doc.keys[i - 1] == "the" and (i == 1 or not _joined(doc, i - 1))
    if i > 0 and _joined(doc, i) and not after_the:
        return False
    n = len(doc.tokens)
    return not (j < n and _capitalised(doc, j) and _gap(doc, j).strip(" ") == "")


def _joined(doc: _Doc, i: int) -> bool:
    """Whether token i - 1 is a capitalised word on the same line as token i."""
    return _capitalised(doc, i - 1) and _gap(doc, i).strip(" ") == ""


def _names_country(doc: _Doc, leaf: EntityTerm, a: int, b: int) -> bool:
    """Whether the entity on tokens [a, b) is one of the country's names (not "Latin America")."""
    words = tuple(doc.keys[a:b])
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return words == leaf.keys or words in leaf.aliases


def _capitalised(doc: _Doc, i: int) -> bool:
    return doc.analysis.text[doc.tokens[i].start].isupper()


def _gap(doc: _Doc, i: int) -> str:
    """The characters between token i - 1 and token i."""
    return doc.analysis.text[doc.tokens[i - 1].end : doc.tokens[i].start]


_NO_CUE, _WEAK, _STRONG = 0, 1, 2
_MAX_RUN = 6  # capitalised words looked at on each side of a name ("Foreign Minister Sergei")


def _person_cue(doc: _Doc, i: int, j: int) -> int:
    """How strongly the text says tokens [i, j) name a person, whatever the model thinks.

    Strong: a title before the name ("spokeswoman Maria Zakharova", "President Putin"), or a
    reporting verb next to a quote ("..., Zakharova said"; "..., said Zakharova"; "Zakharova
    said: ..."). Weak: a reporting verb right after the name ("Kuleba told reporters").
    Never for lower-case words, acronyms (NATO, OPEC) or a country's name.
    """
    text = doc.analysis.text
    tokens = doc.tokens
    for k in range(i, j):
        word = text[tokens[k].start : tokens[k].end]
        if not word[0].isupper() or (len(word) > 1 and word.isupper()):
            return _NO_CUE
    keys = doc.keys
    if find_countries(tuple(keys[i:j])):
        return _NO_CUE
    n = len(tokens)
    a, b = i, j  # the run of capitalised words around the name, within one line
    # (at most _MAX_RUN words each way, so that title-case text stays linear)
    while a > 0 and i - a < _MAX_RUN and _joined(doc, a):
        a -= 1
    while b < n and b - j < _MAX_RUN and _capitalised(doc, b) and _gap(doc, b).strip(" ") == "":
        b += 1
    if any(keys[k] in _TITLES for k in range(a, i)) or (
        a > 0 and keys[a - 1] in _TITLES and _gap(doc, a).strip(" ") == ""
    ):
        return _STRONG
    if b < n and keys[b] in _REPORTING and _gap(doc, b).strip(" ") == "":
        quote_before = a > 0 and any(c in _QUOTE_CHARS for c in _gap(doc, a))
        quote_after = b + 1 < n and any(c in _QUOTE_CHARS or c == ":" for c in _gap(doc, b + 1))
        return _STRONG if quote_before or quote_after else _WEAK
    if (
        a > 1
        and keys[a - 1] in _REPORTING
        and _gap(doc, a).strip(" ") == ""
        and any(c in _QUOTE_CHARS or c == "," for c in _gap(doc, a - 1))
    ):
        return _STRONG  # "...,” said Zakharova
    return _NO_CUE


def _leaf_at(doc: _Doc, leaf: Leaf) -> list[Span]:
    if isinstance(leaf, Words):
        return _words_at(doc, leaf.keys, leaf.field is Field.TITLE)
    found = doc.memo.get(leaf)
    if found is None:
        if isinstance(leaf, Prefix):
            found = _prefix_at(doc, leaf.prefix, leaf.field is Field.TITLE)
        elif isinstance(leaf, EntityTerm):
            found = _entity_at(doc, leaf)
        else:
            found = [(-1, -1)] if _source_has(doc, leaf.words) else []
        doc.memo[leaf] = found
    return found


def _near_at(doc: _Doc, node: Near) -> tuple[list[Span], list[Span]]:
    """The occurrences of each side that have a partner on the other side within the distance."""
    left = _leaf_at(doc, node.left)
    if not left:
        return [], []
    right = _leaf_at(doc, node.right)
    if not right:
        return [], []
    right = sorted(right)
    right_starts = [r[0] for r in right]
    by_end = sorted(right, key=lambda r: r[1])
    right_ends = [r[1] for r in by_end]
    d = node.distance
    title_n = doc.title_n  # a pair never spans the title and the body
    used_left: list[Span] = []
    used_right: set[Span] = set()
    for i, j in left:
        # right after left: starts in [j, j + d]
        found = right[bisect_left(right_starts, j) : bisect_right(right_starts, j + d)]
        if not node.ordered:
            # right before left: ends in [i - d, i]
            found = found + by_end[bisect_left(right_ends, i - d) : bisect_right(right_ends, i)]
        if found:
            in_title = i < title_n
            found = [r for r in found if (r[0] < title_n) == in_title]
        if found:
            used_left.append((i, j))
            used_right.update(found)
    return used_left, sorted(used_right)


# ---------------------------------------------------------------------------------------------
# Nodes


def _test(node: Node, doc: _Doc) -> bool:
    """Whether ``node`` matches (short-circuit; reports nothing)."""
    if type(node) is Words:
        if len(node.keys) == 1 and node.field is Field.TEXT:
            return node.keys[0] in doc.key_set
        return bool(_words_at(doc, node.keys, node.field is Field.TITLE))
    if type(node) is And:
        for child in node.children:  # noqa: SIM110 - a plain loop is faster than all(genexpr)
            if not _test(child, doc):
                return False
        return True
    if type(node) is Or:
        for child in node.children:  # noqa: SIM110
            if _test(child, doc):
                return True
        return False
    if type(node) is Not:
        return not _test(node.child, doc)
    if type(node) is Near:
        return bool(_near_at(doc, node)[0])
    assert isinstance(node, Prefix | EntityTerm | Source)
    return bool(_leaf_at(doc, node))


def _collect(node: Node, doc: _Doc, terms: list[str], spans: list[tuple[int, int]]) -> bool:
    """Whether ``node`` matches; if so, add the matching terms and their character spans."""
    if type(node) is Words:
        if len(node.keys) == 1 and node.field is Field.TEXT:
            found = doc.positions.get(node.keys[0])
            if not found:
                return False
            terms.append(node.text)
            word_spans = doc.word_spans
            spans.extend([word_spans[p] for p in found])
            return True
    elif type(node) is And:
        mark_t, mark_s = len(terms), len(spans)
        for child in node.children:
            if not _collect(child, doc, terms, spans):
                del terms[mark_t:], spans[mark_s:]
                return False
        return True
    elif type(node) is Or:
        matched = False
        for child in node.children:
            matched = _collect(child, doc, terms, spans) or matched
        return matched
    elif type(node) is Not:
        return not _test(node.child, doc)
    elif type(node) is Near:
        left, right = _near_at(doc, node)
        if not left:
            return False
        terms.extend((node.left.text, node.right.text))
        spans.extend(doc.span(o) for o in left)
        spans.extend(doc.span(o) for o in right)
        return True
    assert isinstance(node, Words | Prefix | EntityTerm | Source)
    occs = _leaf_at(doc, node)
    if not occs:
        return False
    terms.append(node.text)
    if not isinstance(node, Source):
        spans.extend(doc.span(o) for o in occs)
    return True


def _test_unknown(node: Node, doc: _Doc) -> bool | None:
    """Evaluate without entities (``doc`` has none): None when the result depends on them
    (Kleene logic)."""
    if isinstance(node, And | Or):
        want = isinstance(node, Or)  # the value that decides: True for OR, False for AND
        unknown = False
        for child in node.children:
            value = _test_unknown(child, doc)
            if value is want:
                return want
            if value is None:
                unknown = True
        return None if unknown else not want
    if isinstance(node, Not):
        value = _test_unknown(node.child, doc)
        return None if value is None else not value
    if isinstance(node, Near):
        sides = (node.left, node.right)
        if _test(node, doc):  # true with what the text decides: entities only add occurrences
            return True
        if not any(isinstance(s, EntityTerm) for s in sides):
            return False
        if any(isinstance(s, EntityTerm) and not _entity_candidates(doc, s) for s in sides):
            return False
        if any(not isinstance(s, EntityTerm) and not _leaf_at(doc, s) for s in sides):
            return False
        return None
    if isinstance(node, EntityTerm):
        occs = _entity_candidates(doc, node)
        if not occs:
            return False
        return True if any(_decided_by_text(doc, node, o) for o in occs) else None
    return bool(_leaf_at(doc, node))


def _evaluate_doc(
    query: Query, doc: _Doc
) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]] | None:
    if not _test(query.root, doc):
        return None
    terms: list[str] = []
    spans: list[tuple[int, int]] = []
    _collect(query.root, doc, terms, spans)
    return tuple(dict.fromkeys(terms)), tuple(sorted(set(spans)))


def evaluate(
    query: Query, analysis: Analysis
) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]] | None:
    """Match ``query`` against ``analysis`` exactly: the terms that matched (as written, in query
    order) and their character spans in ``analysis.text``, or None. Terms under NOT are never
    reported. Entity terms are false when ``analysis.entities`` is None."""
    return _evaluate_doc(query, _Doc.of(analysis))


# ---------------------------------------------------------------------------------------------
# Compiled queries: what the Matcher evaluates instead of walking the syntax tree


class _Unit:
    """A distinct positive leaf or NEAR pair of the filed queries. Its result (the sorted
    character spans where it matches, or None) is computed at most once per article and shared
    by every query that contains it."""

    __slots__ = ("count", "key", "node", "texts")

    def __init__(self, node: Leaf | Near) -> None:
        self.node = node
        # The terms it reports, as ``_collect`` would: a NEAR reports both of its sides.
        texts = (node.left.text, node.right.text) if isinstance(node, Near) else (node.text,)
        self.texts: tuple[str, ...] = tuple(dict.fromkeys(texts))
        simple = isinstance(node, Words) and len(node.keys) == 1 and node.field is Field.TEXT
        self.key = node.keys[0] if isinstance(node, Words) and simple else None
        self.count = 0  # queries using it


class _Flat:
    """A query whose matching terms are exactly its true positive units: an AND of units, ORs of
    units and NOTs of units (or one OR of units). It matches when each clause has a true unit
    and every unit of ``negs`` is false."""

    __slots__ = ("clauses", "negs", "units")

    def __init__(
        self, clauses: tuple[tuple[_Unit, ...], ...], negs: tuple[_Unit, ...], units: list[_Unit]
    ) -> None:
        self.clauses = clauses
        self.negs = negs
        self.units = tuple(dict.fromkeys(units))  # positive units, in query order


_Program = _Unit | _Flat | None  # None: evaluate the syntax tree


def _unit_result(doc: _Doc, unit: _Unit) -> CharSpans | None:
    """Where ``unit`` matches in ``doc`` (character spans, sorted), or None; remembered."""
    key = unit.key
    if key is not None:
        found = doc.positions.get(key)
        word_spans = doc.word_spans
        result = tuple([word_spans[p] for p in found]) if found else None
    else:
        node = unit.node
        if isinstance(node, Near):
            left, right = _near_at(doc, node)
            result = tuple(sorted({doc.span(o) for o in left + right})) if left else None
        elif isinstance(node, Source):
            result = () if _leaf_at(doc, node) else None
        else:
            occs = _leaf_at(doc, node)
            result = tuple(sorted({doc.span(o) for o in occs})) if occs else None
    doc.results[unit] = result
    return result


_MISSING = object()


def _flat_match(
    doc: _Doc, program: _Flat
) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]] | None:
    results = doc.results
    for clause in program.clauses:
        for unit in clause:
            r = results.get(unit, _MISSING)
            if r is _MISSING:
                r = _unit_result(doc, unit)
            if r is not None:
                break
        else:
            return None
    for unit in program.negs:
        r = results.get(unit, _MISSING)
        if r is _MISSING:
            r = _unit_result(doc, unit)
        if r is not None:
            return None
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    count = 0
    last: CharSpans = ()
    for unit in program.units:
        r = results.get(unit, _MISSING)
        if r is _MISSING:
            r = _unit_result(doc, unit)
        if r is not None:
            assert isinstance(r, tuple)
            texts.extend(unit.texts)
            spans.extend(r)
            last = r
            count += 1
    if count == 1:
        return tuple(texts), last
    return tuple(dict.fromkeys(texts)), tuple(sorted(set(spans)))


def _is_unit(node: Node) -> TypeGuard[Leaf | Near]:
    return not isinstance(node, And | Or | Not)


def _compile(root: Node, unit_of: Callable[[Leaf | Near], _Unit]) -> _Program:
    """The program for ``root``, or None where only the syntax tree will do."""
    if _is_unit(root):
        return unit_of(root)
    children = root.children if isinstance(root, And) else (root,)
    for child in children:
        if isinstance(child, Or):
            if not all(_is_unit(c) for c in child.children):
                return None
        elif not _is_unit(child.child if isinstance(child, Not) else child):
            return None
    clauses: list[tuple[_Unit, ...]] = []
    negs: list[_Unit] = []
    units: list[_Unit] = []
    for child in children:
        if isinstance(child, Or):
            clause = tuple(unit_of(c) for c in child.children if _is_unit(c))
            clauses.append(clause)
            units.extend(clause)
        elif isinstance(child, Not):
            if _is_unit(child.child):
                negs.append(unit_of(child.child))
        elif _is_unit(child):
            clauses.append((unit_of(child),))
            units.append(clauses[-1][0])
    return _Flat(tuple(clauses), tuple(negs), units)


# ---------------------------------------------------------------------------------------------
# The index

_K, _P, _S = "k", "p", "s"  # index namespaces: word key, prefix (of a norm), source word
IndexTerm = tuple[str, str]

_COMMON = frozenset(
    inflection_key(w)
    for w in _words(
        """the a an and or of to in on for with at by from as is be have do it this that
    not but he she they we you i his her their its our said say says year years new one two
    people government president state states country minister official police week day time
    news report world first last after over more most also will would could can may than
    about into up out who what when which there been other some all any no just only like
    back still since while against under between three four five million billion percent
    told today yesterday monday tuesday wednesday thursday friday saturday sunday"""
    )
)
_PREFIX_HITS_SIZE = 100_000  # words whose prefix matches are remembered
_CACHE_SIZE = 256  # analyses whose candidates are remembered (needs_entities, then match)
_MIN_DOCS = 200  # observed articles before document frequencies are trusted over the prior
_REINDEX_AT = frozenset({256, 4096})  # observed articles after which every query is refiled


@dataclass(slots=True)
class _Entry:
    query: Query
    index_terms: tuple[IndexTerm, ...]
    all_keys: frozenset[str]  # every matching article has all these keys
    any_keys: tuple[frozenset[str], ...]  # ... and one key of each of these sets
    program: _Program = None


@dataclass(slots=True)
class Matcher:
    """Compiled watchlists and their index. Mutable; not thread-safe; no globals.

    ``add``/``remove`` update the index in place. ``observe`` (also called by ``match``) keeps
    the document frequencies of the words the queries use; they decide which term of an AND is
    the rarest (before enough articles were seen, a prior from word length and a list of common
    words does). ``reindex`` files every query again with the current frequencies; it runs by
    itself once after the first 256 and after 4,096 articles.
    """

    _entries: dict[int, _Entry] = field(default_factory=dict)
    _by_key: dict[str, set[int]] = field(default_factory=dict)
    _by_prefix: dict[str, dict[str, set[int]]] = field(default_factory=dict)  # first 3 chars
    _by_source: dict[str, set[int]] = field(default_factory=dict)
    _df: dict[str, int] = field(default_factory=dict)  # articles seen with each query word
    _query_words: dict[str, int] = field(default_factory=dict)  # query word -> queries using it
    _docs: int = 0
    _cache: dict[int, tuple[object, object, frozenset[int]]] = field(default_factory=dict)
    _prefix_hits: dict[str, tuple[int, ...]] = field(default_factory=dict)  # norm -> queries
    _prefix_misses: set[str] = field(default_factory=set)  # norms with no prefix queries
    _units: dict[Leaf | Near, _Unit] = field(default_factory=dict)  # shared by the programs

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, watchlist_id: object) -> bool:
        return watchlist_id in self._entries

    def add(self, watchlist_id: int, query: Query) -> None:
        """Add (or replace) a watchlist's query."""
        if watchlist_id in self._entries:
            self.remove(watchlist_id)
        for key in _leaf_keys(query.root):
            self._query_words[key] = self._query_words.get(key, 0) + 1
        clauses = _requirements(query.root)
        entry = _Entry(
            query,
            (),
            frozenset(k for c in clauses if len(c) == 1 for k in c),
            tuple(dict.fromkeys(c for c in clauses if len(c) > 1)),
            _compile(query.root, self._unit),
        )
        self._entries[watchlist_id] = entry
        self._file(watchlist_id, entry)
        self._cache.clear()
        self._prefix_hits.clear()
        self._prefix_misses.clear()

    def _unit(self, node: Leaf | Near) -> _Unit:
        unit = self._units.get(node)
        if unit is None:
            unit = self._units[node] = _Unit(node)
        unit.count += 1
        return unit

    def _release(self, program: _Program) -> None:
        if program is None:
            return
        if isinstance(program, _Unit):
            units: Iterable[_Unit] = (program,)
        else:
            units = [u for clause in program.clauses for u in clause] + list(program.negs)
        for unit in units:
            unit.count -= 1
            if not unit.count:
                del self._units[unit.node]

    def _file(self, watchlist_id: int, entry: _Entry) -> None:
        terms = self._index_terms(entry.query.root)
        if terms is None:  # pragma: no cover - parse_query refuses such queries
            raise ValueError("a query that can only exclude cannot be indexed")
        entry.index_terms = tuple(dict.fromkeys(t for t, _ in terms))
        for kind, value in entry.index_terms:
            if kind == _K:
                self._by_key.setdefault(value, set()).add(watchlist_id)
            elif kind == _P:
                bucket = self._by_prefix.setdefault(value[:3], {})
                bucket.setdefault(value, set()).add(watchlist_id)
            else:
                self._by_source.setdefault(value, set()).add(watchlist_id)

    def reindex(self) -> None:
        """File every query again, choosing index terms with the current word frequencies."""
        self._by_key.clear()
        self._by_prefix.clear()
        self._by_source.clear()
        for watchlist_id, entry in self._entries.items():
            self._file(watchlist_id, entry)
        self._cache.clear()
        self._prefix_hits.clear()
        self._prefix_misses.clear()

    def remove(self, watchlist_id: int) -> None:
        """Remove a watchlist; unknown ids are ignored."""
        entry = self._entries.pop(watchlist_id, None)
        if entry is None:
            return
        self._release(entry.program)
        for key in _leaf_keys(entry.query.root):
            left = self._query_words[key] - 1
            if left:
                self._query_words[key] = left
            else:
                del self._query_words[key]
                self._df.pop(key, None)
        for kind, value in entry.index_terms:
            if kind == _P:
                bucket = self._by_prefix[value[:3]]
                _discard(bucket, value, watchlist_id)
                if not bucket:
                    del self._by_prefix[value[:3]]
            else:
                _discard(self._by_key if kind == _K else self._by_source, value, watchlist_id)
        self._cache.clear()
        self._prefix_hits.clear()
        self._prefix_misses.clear()

    def query(self, watchlist_id: int) -> Query:
        return self._entries[watchlist_id].query

    # Selecting candidates ------------------------------------------------------------------

    def candidates(self, analysis: Analysis) -> set[int]:
        """The watchlists that may match ``analysis`` (a superset of those that do)."""
        return set(self._candidates(analysis, _Doc.of(analysis)))

    def _candidates(self, analysis: Analysis, doc: _Doc) -> frozenset[int]:
        cached = self._cache.get(id(analysis.tokens))
        if cached is not None and cached[0] is analysis.tokens and cached[1] is analysis.sources:
            return cached[2]
        found: set[int] = set()
        by_key = self._by_key
        for key in by_key.keys() & doc.key_set:  # the intersection runs in C
            found.update(by_key[key])
        if self._by_prefix:
            hits = self._prefix_hits
            misses = self._prefix_misses
            for norm in set(doc.norms).difference(misses):  # the difference runs in C
                hit = hits.get(norm)
                if hit is None:
                    if len(hits) + len(misses) >= _PREFIX_HITS_SIZE:
                        hits.clear()
                        misses.clear()
                    hit = self._prefix_lookup(norm)
                    if not hit:
                        misses.add(norm)
                        continue
                    hits[norm] = hit
                found.update(hit)
        if self._by_source:
            for source in doc.sources:
                for word in source:
                    some = self._by_source.get(word)
                    if some:
                        found.update(some)
        result = frozenset(found)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[id(analysis.tokens)] = (analysis.tokens, analysis.sources, result)
        return result

    def _prefix_lookup(self, norm: str) -> tuple[int, ...]:
        """The queries filed under a prefix of ``norm``."""
        bucket = self._by_prefix.get(norm[:3])
        if not bucket:
            return ()
        found: set[int] = set()
        if len(bucket) <= len(norm):
            for prefix, ids in bucket.items():
                if norm.startswith(prefix):
                    found.update(ids)
        else:
            for end in range(3, len(norm) + 1):
                some = bucket.get(norm[:end])
                if some:
                    found.update(some)
        return tuple(found)

    def needs_entities(self, analysis: Analysis) -> bool:
        """Whether some candidate's result depends on named entities (so run NER first)."""
        if analysis.entities is not None:
            return False
        doc = _Doc.of(analysis)
        entries = self._entries
        key_set = doc.key_set
        for watchlist_id in self._candidates(analysis, doc):
            entry = entries[watchlist_id]
            if (
                entry.query.uses_entities
                and _possible(entry, key_set)
                and _test_unknown(entry.query.root, doc) is None
            ):
                return True
        return False

    def entity_spans(self, analysis: Analysis) -> list[tuple[int, int]]:
        """The character spans where an entity term of a candidate watchlist could occur: the
        only places whose entities can change what ``match`` returns (its matches and their
        spans), so the recogniser need not read the rest of the text."""
        doc = _Doc.of(analysis)
        entries = self._entries
        key_set = doc.key_set
        out: set[tuple[int, int]] = set()
        for watchlist_id in self._candidates(analysis, doc):
            entry = entries[watchlist_id]
            if not entry.query.uses_entities or not _possible(entry, key_set):
                continue
            for leaf in leaves(entry.query.root):
                if isinstance(leaf, EntityTerm):
                    out.update(doc.span(occ) for occ in _entity_candidates(doc, leaf))
        return sorted(out)

    def match(self, analysis: Analysis) -> list[Match]:
        """Every watchlist that matches ``analysis``, sorted by id, with terms and spans."""
        doc = _Doc.of(analysis)
        candidates = self._candidates(analysis, doc)
        self._observe(doc.key_set)
        if not candidates:
            return []
        key_set = doc.key_set
        entries = self._entries
        results = doc.results
        out = []
        for watchlist_id in sorted(candidates):
            entry = entries[watchlist_id]
            if not entry.all_keys <= key_set:
                continue
            if entry.any_keys and any(map(key_set.isdisjoint, entry.any_keys)):
                continue
            program = entry.program
            if type(program) is _Unit:  # one term: its result is the match
                r = results.get(program, _MISSING)
                if r is _MISSING:
                    r = _unit_result(doc, program)
                if r is not None:
                    assert isinstance(r, tuple)
                    out.append(Match(watchlist_id, program.texts, r))
                continue
            if type(program) is _Flat:
                found = _flat_match(doc, program)
                if found is not None:
                    out.append(Match(watchlist_id, found[0], found[1]))
                continue
            terms: list[str] = []
            spans: list[tuple[int, int]] = []
            if _collect(entry.query.root, doc, terms, spans):  # one pass: usually a match
                out.append(
                    Match(
                        watchlist_id,
                        tuple(terms) if len(terms) == 1 else tuple(dict.fromkeys(terms)),
                        tuple(spans) if len(spans) == 1 else tuple(sorted(set(spans))),
                    )
                )
        return out

    # Rarity --------------------------------------------------------------------------------

    def observe(self, analysis: Analysis) -> None:
        """Count the query words in one more article (document frequencies)."""
        self._observe({t.key for t in analysis.tokens})

    def _observe(self, keys: frozenset[str] | set[str]) -> None:
        self._docs += 1
        df = self._df
        query_words = self._query_words
        for key in query_words.keys() & keys:  # the intersection runs in C
            df[key] = df.get(key, 0) + 1
        if self._docs in _REINDEX_AT:
            self.reindex()

    def _cost(self, key: str) -> float:
        if self._docs >= _MIN_DOCS:
            return (self._df.get(key, 0) + 0.5) / self._docs
        if key in _COMMON:
            return 1.0
        return 0.2 / max(1, len(key) - 2)

    def _index_terms(self, node: Node) -> list[tuple[IndexTerm, float]] | None:
        """Index terms such that every match contains one, with their costs; None if none."""
        if isinstance(node, Not):
            return None
        if isinstance(node, And):
            best: list[tuple[IndexTerm, float]] | None = None
            best_cost = 0.0
            for child in node.children:
                terms = self._index_terms(child)
                if terms is None:
                    continue
                cost = sum(c for _, c in terms)
                if best is None or cost < best_cost:
                    best, best_cost = terms, cost
            return best
        if isinstance(node, Or):
            out: list[tuple[IndexTerm, float]] = []
            for child in node.children:
                terms = self._index_terms(child)
                if terms is None:
                    return None
                out.extend(terms)
            return out
        if isinstance(node, Near):
            left = self._index_terms(node.left)
            right = self._index_terms(node.right)
            assert left is not None and right is not None
            return left if sum(c for _, c in left) <= sum(c for _, c in right) else right
        if isinstance(node, Words):
            return [self._rarest(node.keys)]
        if isinstance(node, Prefix):
            return [self._prefix_term(node.prefix)]
        if isinstance(node, EntityTerm):
            if node.prefix:
                return [self._prefix_term(node.prefix)]
            return [self._rarest(words) for words in (node.keys, *node.aliases)]
        return [((_S, max(node.words, key=len)), 0.3)]

    def _rarest(self, keys: Iterable[str]) -> tuple[IndexTerm, float]:
        cost, key = min((self._cost(k), k) for k in keys)
        return (_K, key), cost

    def _prefix_term(self, prefix: str) -> tuple[IndexTerm, float]:
        return (_P, prefix), min(1.0, 2 * 0.2 / max(1, len(prefix) - 2))


def _leaf_keys(node: Node) -> list[str]:
    """Every word key the query's leaves use (their frequencies are worth counting)."""
    out: list[str] = []
    for leaf in leaves(node):
        if isinstance(leaf, Words):
            out.extend(leaf.keys)
        elif isinstance(leaf, EntityTerm):
            out.extend(leaf.keys)
            for alias in leaf.aliases:
                out.extend(alias)
    return list(dict.fromkeys(out))


def _possible(entry: _Entry, key_set: frozenset[str]) -> bool:
    """A cheap necessary condition: the keys every match of the entry contains are there."""
    if not entry.all_keys <= key_set:
        return False
    return all(not clause.isdisjoint(key_set) for clause in entry.any_keys)


def _requirements(node: Node) -> list[frozenset[str]]:
    """Sets of keys such that every matching article has a key of each set."""
    if isinstance(node, Words):
        return [frozenset((k,)) for k in node.keys]
    if isinstance(node, EntityTerm):
        if node.prefix:
            return []
        if not node.aliases:
            return [frozenset((k,)) for k in node.keys]
        return [frozenset(words[0] for words in (node.keys, *node.aliases))]
    if isinstance(node, Near):
        return _requirements(node.left) + _requirements(node.right)
    if isinstance(node, And):
        return [c for child in node.children for c in _requirements(child)]
    if isinstance(node, Or):
        union: set[str] = set()
        for child in node.children:
            clauses = _requirements(child)
            if not clauses:
                return []
            smallest: frozenset[str] = min(clauses, key=len)
            union.update(smallest)
        return [frozenset(union)]
    return []  # Not, Prefix, Source


def _discard(index: dict[str, set[int]], value: str, watchlist_id: int) -> None:
    ids = index.get(value)
    if ids is not None:
        ids.discard(watchlist_id)
        if not ids:
            del index[value]
