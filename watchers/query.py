"""The watchlist query language: text -> ``Query`` (a frozen syntax tree), with clear errors.

Pure: no I/O except reading the bundled country table on the first ``GPE:`` term.

Grammar (NOT binds tighter than AND, AND tighter than OR; adjacent terms are joined by AND)::

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*
    unary   := ("NOT" | "-") unary | near
    near    := primary [("NEAR/n" | "ONEAR/n") primary]      both sides single terms
    primary := "(" or_expr ")" | field ":" (leaf | "(" or_expr ")") | leaf
    leaf    := word | word* | "phrase"

See the README (“Watchlist queries”) for the user's guide and ``QUERY_HELP`` for the cheat sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from watchers.countries import find_countries
from watchers.errors import QueryError
from watchers.text import normalise, tokenise

MAX_LENGTH = 500
MAX_TERMS = 50
MAX_DEPTH = 10
MAX_DISTANCE = 100
MIN_PREFIX = 3

TEXT_FIELDS = ("title", "source")
ENTITY_LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "ENTITY")
_FIELD_LIST = ", ".join(f"{f}:" for f in TEXT_FIELDS + ENTITY_LABELS)
_QUOTES = '"“”„'
_OPERATOR_WORDS = frozenset({"and", "or", "not"})

QUERY_HELP = """\
Watchlist queries
  embassy            the word, any case or accent, any inflection (embassies)
  "peace talks"      these words in this order
  sanction*          words starting with sanction (3+ letters before *)
  Russia AND talks   both (AND may be left out: Russia talks)
  Russia OR Ukraine  either
  NOT sport, -sport  leave out articles with the word
  (a OR b) AND c     parentheses group; NOT before AND before OR
  a NEAR/5 b         within 5 words of each other, either order
  a ONEAR/5 b        a, then b within 5 words
Fields
  title:embassy      only in the headline; also title:"..." and title:(a OR b)
  source:reuters     only from feeds whose name or host has the word
Entities (only where the words name such a thing)
  PERSON:Putin  ORG:NATO  GPE:Russia  LOC:Alps  NORP:Kurdish  EVENT:Olympics
  ENTITY:Apple (any kind). GPE:Russia also finds Russian Federation and Russian.
  ORG:Apple does not match apple pie.
Notes
  Operators are in capitals: a lower-case and/or/not is searched as a word.
  Russia does not match Russian: write Russia* or GPE:Russia.
  At most 500 characters, 50 terms, 10 levels of parentheses.
Example
  GPE:Russia AND (embassy OR diplomat*) NOT "football"
"""


class Field(Enum):
    """Where a word or phrase must be: the whole text or the title only."""

    TEXT = "text"
    TITLE = "title"


# ---------------------------------------------------------------------------------------------
# The syntax tree


@dataclass(frozen=True, slots=True)
class Words:
    """A word or a phrase: consecutive tokens whose inflection keys are ``keys``."""

    text: str  # as written, with its field: 'embassy', '"peace talks"', 'title:embassy'
    keys: tuple[str, ...]
    field: Field = Field.TEXT


@dataclass(frozen=True, slots=True)
class Prefix:
    """Any word whose normalised form starts with ``prefix``."""

    text: str
    prefix: str
    field: Field = Field.TEXT


@dataclass(frozen=True, slots=True)
class EntityTerm:
    """Words that are (part of) a named entity labelled ``label`` (any label for ENTITY).

    Exactly one of ``keys`` (a word or phrase) and ``prefix`` is set. ``aliases`` holds other
    names of the same country (for GPE terms naming a country), as key sequences.
    """

    text: str
    label: str
    keys: tuple[str, ...] = ()
    prefix: str = ""
    aliases: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """The article's feed name or host contains these words (normalised) in this order."""

    text: str
    words: tuple[str, ...]


Leaf = Words | Prefix | EntityTerm | Source


@dataclass(frozen=True, slots=True)
class Near:
    """``left`` and ``right`` within ``distance`` words (``ordered``: left comes first)."""

    left: Leaf
    right: Leaf
    distance: int
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Leaf | Near | And | Or | Not


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed watchlist query. ``str(query)`` is its canonical form (parses to the same)."""

    text: str  # as the user wrote it
    root: Node
    warnings: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()  # every positive and negative term, as written, in order
    uses_entities: bool = False

    def __str__(self) -> str:
        return render(self.root)


def leaves(node: Node) -> list[Leaf]:
    """Every leaf of ``node``, left to right."""
    if isinstance(node, And | Or):
        return [leaf for child in node.children for leaf in leaves(child)]
    if isinstance(node, Not):
        return leaves(node.child)
    if isinstance(node, Near):
        return [node.left, node.right]
    return [node]


def render(node: Node, parent: int = 0) -> str:
    """The canonical text of ``node``; ``parent`` is the precedence of the enclosing operator."""
    if isinstance(node, Or):
        text = " OR ".join(render(c, 1) for c in node.children)
        return f"({text})" if parent > 1 else text
    if isinstance(node, And):
        text = " AND ".join(render(c, 2) for c in node.children)
        return f"({text})" if parent > 2 else text
    if isinstance(node, Not):
        return f"NOT {render(node.child, 3)}"
    if isinstance(node, Near):
        op = "ONEAR" if node.ordered else "NEAR"
        return f"{node.left.text} {op}/{node.distance} {node.right.text}"
    return node.text


# ---------------------------------------------------------------------------------------------
# Lexer


class _Kind(Enum):
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    MINUS = "-"
    NEAR = "NEAR"
    WORD = "word"
    PHRASE = "phrase"
    FIELD = "field"
    END = "end"


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: _Kind
    pos: int  # 1-based position of the token's first character
    text: str  # the source text (for a phrase: the words between the quotes)
    number: int = 0  # NEAR distance
    ordered: bool = False  # ONEAR


_NEAR = re.compile(r"(O?NEAR)/(.*)", re.DOTALL)
_FIELD = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_STOP = frozenset(" \t\r\n()" + _QUOTES)


def _lex(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Tok(_Kind.LPAREN if c == "(" else _Kind.RPAREN, i + 1, c))
            i += 1
        elif c in _QUOTES:
            end = i + 1
            while end < n and text[end] not in _QUOTES:
                end += 1
            if end >= n:
                raise QueryError(
                    i + 1,
                    "this quote is never closed",
                    f'Add a closing " after the phrase: {text[i:].strip()}"',
                )
            out.append(_Tok(_Kind.PHRASE, i + 1, text[i + 1 : end]))
            i = end + 1
        else:
            start = i
            while i < n and text[i] not in _STOP:
                i += 1
            _lex_bare(text[start:i], start + 1, text[i] if i < n else "", out)
    out.append(_Tok(_Kind.END, n + 1, ""))
    return out


def _lex_bare(word: str, pos: int, following: str, out: list[_Tok]) -> None:
    """Classify a run of characters without spaces, parentheses or quotes."""
    if word == "-":
        if following and not following.isspace():
            out.append(_Tok(_Kind.MINUS, pos, "-"))  # -(a OR b), -"a phrase"
            return
        raise QueryError(
            pos, "- must be followed directly by the word to leave out", "For example: -sport"
        )
    if word.startswith("-"):
        out.append(_Tok(_Kind.MINUS, pos, "-"))
        _lex_bare(word[1:], pos + 1, following, out)
        return
    if word in ("AND", "OR", "NOT"):
        out.append(_Tok(_Kind(word), pos, word))
        return
    near = _NEAR.fullmatch(word)
    if near or word in ("NEAR", "ONEAR"):
        op = near.group(1) if near else word
        number = near.group(2) if near else ""
        if not (number.isascii() and number.isdigit()):
            raise QueryError(pos, f"{op}/ needs a number of words", f"Write for example {op}/5")
        distance = int(number)
        if not 1 <= distance <= MAX_DISTANCE:
            raise QueryError(
                pos,
                f"{op}/{number}: the distance must be between 1 and {MAX_DISTANCE} words",
                f"Write for example {op}/10",
            )
        out.append(_Tok(_Kind.NEAR, pos, word, distance, op == "ONEAR"))
        return
    field = _FIELD.fullmatch(word)
    if field:
        name = field.group(1)
        canonical = name.upper() if name.upper() in ENTITY_LABELS else name.lower()
        if canonical not in TEXT_FIELDS + ENTITY_LABELS:
            raise QueryError(
                pos,
                f"unknown field {name}:",
                f'Fields are {_FIELD_LIST}; to search for the text itself, quote it: "{word}"',
            )
        out.append(_Tok(_Kind.FIELD, pos, canonical))
        rest = field.group(2)
        if rest:
            _lex_bare(rest, pos + len(name) + 1, following, out)
        elif not following or following.isspace() or following == ")":
            raise QueryError(
                pos,
                f"{name}: needs a term right after it",
                f"For example {name}:word or {name}:(a OR b)",
            )
        return
    out.append(_Tok(_Kind.WORD, pos, word))


# ---------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.depth = 0
        self.count = 0
        self.warnings: list[str] = []

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def advance(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.tok.kind is _Kind.END:
            raise QueryError(
                0, "the query is empty", "Write a word to look for, for example embassy"
            )
        node = self.or_expr(None)
        tok = self.tok
        if tok.kind is _Kind.RPAREN:
            raise QueryError(tok.pos, "there is no ( for this )", "Remove it or add a ( before")
        if tok.kind is not _Kind.END:  # pragma: no cover - every other token starts a term
            raise QueryError(tok.pos, f"unexpected {tok.text}")
        return node

    # The operator levels -------------------------------------------------------------------

    def or_expr(self, field: str | None) -> Node:
        self.expect_term_before()
        children = [self.and_expr(field)]
        while self.tok.kind is _Kind.OR:
            op = self.advance()
            self.expect_term_after(op)
            children.append(self.and_expr(field))
        return _flatten(Or, children)

    def and_expr(self, field: str | None) -> Node:
        children = [self.unary(field)]
        while True:
            tok = self.tok
            if tok.kind is _Kind.AND:
                self.advance()
                self.expect_term_after(tok)
            elif not self.starts_term(tok):
                break
            children.append(self.unary(field))
        return _flatten(And, children)

    def unary(self, field: str | None) -> Node:
        tok = self.tok
        if tok.kind in (_Kind.NOT, _Kind.MINUS):
            self.advance()
            self.expect_term_after(tok)
            return Not(self.unary(field))
        return self.near(field)

    def near(self, field: str | None) -> Node:
        left = self.primary(field)
        tok = self.tok
        if tok.kind is not _Kind.NEAR:
            return left
        self.advance()
        self.expect_term_after(tok)
        right_pos = self.tok.pos
        right = self.primary(field)
        for side, pos in ((left, tok.pos), (right, right_pos)):
            if not isinstance(side, Words | Prefix | EntityTerm):
                what = "source:" if isinstance(side, Source) else "a group or operator"
                raise QueryError(
                    pos,
                    f"{tok.text} joins two terms, phrases, prefixes or entity terms, not {what}",
                    "Use AND instead, or put the NEAR inside the parentheses",
                )
        if self.tok.kind is _Kind.NEAR:
            raise QueryError(
                self.tok.pos,
                f"{self.tok.text} cannot follow another NEAR",
                "Join two NEAR pairs with AND: a NEAR/5 b AND b NEAR/5 c",
            )
        assert isinstance(left, Words | Prefix | EntityTerm)
        assert isinstance(right, Words | Prefix | EntityTerm)
        return Near(left, right, tok.number, tok.ordered)

    def primary(self, field: str | None) -> Node:
        tok = self.tok
        if tok.kind is _Kind.LPAREN:
            return self.group(field)
        if tok.kind is _Kind.FIELD:
            self.advance()
            if field is not None:
                raise QueryError(
                    tok.pos, f"{tok.text}: cannot be used inside {field}:", "Use one field per term"
                )
            if self.tok.kind is _Kind.LPAREN:
                return self.group(tok.text)
            if self.tok.kind in (_Kind.WORD, _Kind.PHRASE):
                return self.leaf(tok.text)
            raise QueryError(tok.pos, f"{tok.text}: needs a term right after it")
        if tok.kind in (_Kind.WORD, _Kind.PHRASE):
            return self.leaf(field)
        raise QueryError(tok.pos, f"{tok.text} needs a term before it")  # pragma: no cover

    def group(self, field: str | None) -> Node:
        open_tok = self.advance()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(
                open_tok.pos,
                f"parentheses are nested more than {MAX_DEPTH} deep",
                "Simplify the query",
            )
        if self.tok.kind is _Kind.RPAREN:
            raise QueryError(open_tok.pos, "empty parentheses", "Put a term between ( and )")
        if self.tok.kind is _Kind.END:
            raise QueryError(
                open_tok.pos, "( needs a term after it", "Add a term after (, and close it with )"
            )
        node = self.or_expr(field)
        if self.toks[self.i].kind is not _Kind.RPAREN:
            raise QueryError(
                open_tok.pos,
                f"missing ) for the ( at position {open_tok.pos}",
                "Add a ) where the group ends",
            )
        self.advance()
        self.depth -= 1
        return node

    # Leaves --------------------------------------------------------------------------------

    def leaf(self, field: str | None) -> Leaf:
        tok = self.advance()
        self.count += 1
        if self.count > MAX_TERMS:
            raise QueryError(
                tok.pos, f"too many terms: at most {MAX_TERMS}", "Split it into several watchlists"
            )
        if tok.kind is _Kind.PHRASE:
            return self.phrase_leaf(tok, field)
        return self.word_leaf(tok, field)

    def phrase_leaf(self, tok: _Tok, field: str | None) -> Leaf:
        inner = tok.text.strip()
        tokens = tokenise(inner)
        if not tokens:
            raise QueryError(tok.pos, "empty phrase", "Put one or more words between the quotes")
        display = f'"{inner}"'
        if field == "source":
            return Source(f"source:{display}", _source_words(inner))
        if field in ENTITY_LABELS:
            return _entity(field, display, tuple(t.key for t in tokens), "")
        keys = tuple(t.key for t in tokens)
        if field == "title":
            return Words(f"title:{display}", keys, Field.TITLE)
        return Words(display, keys)

    def word_leaf(self, tok: _Tok, field: str | None) -> Leaf:
        word = tok.text
        if "*" in word:
            return self.prefix_leaf(tok, field)
        tokens = tokenise(word)
        if not tokens:
            raise QueryError(
                tok.pos, f"{word} has no letters or digits to look for", "Remove it or quote it"
            )
        if word.lower() in _OPERATOR_WORDS and field is None:
            self.warnings.append(
                f"'{word}' at position {tok.pos} is searched as a word; "
                f"for the operator write {word.upper()}"
            )
        display = _display_word(word)
        keys = tuple(t.key for t in tokens)
        if field == "source":
            return Source(f"source:{display}", _source_words(word))
        if field in ENTITY_LABELS:
            return _entity(field, display, keys, "")
        if field == "title":
            return Words(f"title:{display}", keys, Field.TITLE)
        return Words(display, keys)

    def prefix_leaf(self, tok: _Tok, field: str | None) -> Leaf:
        word = tok.text
        star = word.index("*")
        if star != len(word) - 1:
            raise QueryError(
                tok.pos + star,
                "* is allowed only at the end of a word",
                "Write a prefix such as sanction*; other wildcards are not supported",
            )
        prefix = normalise(word[:-1])
        if sum(c.isalnum() for c in prefix) < MIN_PREFIX or not prefix[:1].isalnum():
            raise QueryError(
                tok.pos,
                f"a prefix needs at least {MIN_PREFIX} letters before *",
                f"Make it longer, or search the word itself: {word[:-1]}",
            )
        if field == "source":
            raise QueryError(
                tok.pos, "source: takes a name, not a prefix", "For example source:reuters"
            )
        if field in ENTITY_LABELS:
            return _entity(field, word, (), prefix)
        if field == "title":
            return Prefix(f"title:{word}", prefix, Field.TITLE)
        return Prefix(word, prefix)

    # Error helpers -------------------------------------------------------------------------

    def starts_term(self, tok: _Tok) -> bool:
        return tok.kind in (
            _Kind.WORD,
            _Kind.PHRASE,
            _Kind.FIELD,
            _Kind.LPAREN,
            _Kind.NOT,
            _Kind.MINUS,
        )

    def expect_term_before(self) -> None:
        tok = self.tok
        if tok.kind in (_Kind.AND, _Kind.OR, _Kind.NEAR):
            raise QueryError(tok.pos, f"{tok.text} needs a term before it")
        if tok.kind is _Kind.RPAREN and self.depth == 0:
            raise QueryError(tok.pos, "there is no ( for this )", "Remove it or add a ( before")

    def expect_term_after(self, op: _Tok) -> None:
        nxt = self.tok
        ok = self.starts_term(nxt)
        if op.kind is _Kind.NEAR:
            ok = nxt.kind in (_Kind.WORD, _Kind.PHRASE, _Kind.FIELD)
            if nxt.kind is _Kind.LPAREN or nxt.kind in (_Kind.NOT, _Kind.MINUS):
                raise QueryError(
                    nxt.pos,
                    f"{op.text} joins two terms, phrases, prefixes or entity terms, "
                    "not a group or operator",
                    "Use AND instead, or put the NEAR inside the parentheses",
                )
        if not ok:
            where = "at the end" if nxt.kind is _Kind.END else f"before {nxt.text}"
            raise QueryError(
                op.pos,
                f"{op.text} needs a term after it",
                f"Add a term {where}, or remove {op.text}",
            )


def _flatten(cls: type[And] | type[Or], children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        if isinstance(child, cls):
            flat.extend(child.children)
        else:
            flat.append(child)
    return cls(tuple(flat))


def _display_word(word: str) -> str:
    """How a bare word is shown in the canonical query (quoted when it would not read back)."""
    if word.lower() in _OPERATOR_WORDS or word in ("NEAR", "ONEAR") or word.startswith("-"):
        return f'"{word}"'
    if ":" in word or _NEAR.fullmatch(word):
        return f'"{word}"'
    return word


def _source_words(text: str) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[^\w']+", normalise(text)) if w)


def _entity(label: str, display: str, keys: tuple[str, ...], prefix: str) -> EntityTerm:
    aliases: tuple[tuple[str, ...], ...] = ()
    if label == "GPE" and keys:
        found = find_countries(keys)
        aliases = tuple(dict.fromkeys(a for c in found for a in c.aliases if a != keys))
    return EntityTerm(f"{label}:{display}", label, keys, prefix, aliases)


def _required(node: Node) -> bool:
    """Whether every article that matches ``node`` must contain one of its positive terms."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_required(c) for c in node.children)
    if isinstance(node, Or):
        return all(_required(c) for c in node.children)
    return True


def parse_query(text: str) -> Query:
    """Parse a watchlist query; raise ``QueryError`` (1-based position, message, hint)."""
    if len(text) > MAX_LENGTH:
        raise QueryError(
            MAX_LENGTH + 1,
            f"the query is longer than {MAX_LENGTH} characters",
            "Shorten it or split it into several watchlists",
        )
    parser = _Parser(text)
    root = parser.parse()
    if not _required(root):
        raise QueryError(
            0,
            "this query can only leave articles out: add something to look for",
            f"For example: embassy AND {render(root, 2)}"
            if isinstance(root, Not)
            else "Each part joined by OR needs a word to look for, as in (a OR b) NOT c",
        )
    all_leaves = leaves(root)
    return Query(
        text=text,
        root=root,
        warnings=tuple(parser.warnings),
        terms=tuple(dict.fromkeys(leaf.text for leaf in all_leaves)),
        uses_entities=any(isinstance(leaf, EntityTerm) for leaf in all_leaves),
    )
