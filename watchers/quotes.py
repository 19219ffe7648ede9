"""Direct quotations and their speakers, found in a plain text from the text's own evidence.

Pure: no I/O and no NLP library. Named entities from a statistical model may be passed in as a
hint, but everything works without them, because the small models often mislabel people.

How it works, in order:

1. **Quoted passages.** One linear scan pairs double quote marks (curly, straight, guillemets)
   within a paragraph. A passage left open at the end of a paragraph continues only if the next
   paragraph opens with a quote mark (the custom for quotes running over several paragraphs);
   otherwise the unbalanced mark is dropped. Single marks delimit quotes only in paragraphs with
   no double marks (headlines, house styles that quote with single marks), and a mark with a
   letter right after it is an apostrophe, so nested quotes and apostrophes (don’t, the
   ministry’s) cannot unbalance anything.
2. **What is a quote.** A single word without sentence punctuation is a scare quote and a short
   passage in title case is a title; neither is a quote. A passage that starts with a capital
   and is a sentence of its own (it ends with sentence punctuation, opens the sentence, or
   follows a colon) is *full*; anything else is *partial*.
3. **Attribution.** For a full quote, the clause after it (``“…,” Peskov said``, ``“…,” said
   Marcus Webb, who …``, ``“…,” according to …``), else the clause before it (``X said: “…”``),
   else the context: the previous sentence of the paragraph (``… he smiled. “…”``) or the
   speaker who ended the previous paragraph. A partial quote takes the subject of a reporting
   verb in its own sentence. A full quote, an attribution sentence and another full quote in one
   paragraph are one split quote; its parts are joined with the comma before the attribution
   turned into a full stop (``“The trouble,” she says, “is that …”`` joins without the comma).
4. **Speakers.** The subject of the reporting verb is read from comma-separated parts
   (appositives, relative clauses, ages and participle phrases are told apart), titles before a
   name (hyphenated ones too: ``Vice-Chancellor``, ``Ex-President``) and honours after it
   (``Prosecutor``, ``KC``) are dropped, and a name found at the head of a phrase wins over a
   description. Surnames resolve to the full name seen in the text; ``he``/``she`` and bare
   descriptions (``the judge``, ``the 31-year-old``) resolve to the person who was the subject
   of the nearest earlier sentence (for ``he``/``she``, one whose gender, when the text shows
   it by ``Mr``/``Ms`` or by an earlier he/she/his/her of which that person was the only
   possible antecedent, agrees: the subject by position, also after an opening description
   such as ``The researcher, X,``, or of a reporting verb before the pronoun, as in ``At the
   centre, X, 71, said she``; a pronoun in the person's own sentence outweighs one in the
   sentence after; a plural such as ``the negotiations`` is nobody); ``the company``/``they``
   to the latest organisation (never to a body of another kind, such as a ministry, for ``the
   company``, nor to a lone name not known to be a body);
   ``the diplomat`` to an earlier ``a … diplomat …`` when that is closer than any named person,
   and ``the party figure`` to an earlier ``a … figure …`` that mentions the party; ``a judge``
   (in ``by a judge who said``) to the person named next with that title (``Judge Alun Rees``).
   A name is an organisation by its words (``Group``, ``Bank``) or by its context (``the company
   Zipcar Mobility``, ``The developer, X,``, ``X, which …``, ``X said it …`` when X is never
   called by a surname, ``X Y have …``), and then its first or last word alone (``Ferncliff``,
   ``Albion``) stands for it when no other organisation or person shares that word; ``for``
   after a body's word joins a name as ``of`` does (``Institute for Fiscal Studies``); ``the
   watchdog group SafeLine`` is the name. Descriptions with no name (``the civil protection
   agency``, ``a senior official involved in the talks``, ``a diplomat who asked not to be
   named``, before or after the verb, ``a former Halvorsen engineer who …``, ``a nurse in Marlow
   who …``) are the speaker as written, without a parenthesis set off by commas; such a
   description beats a person named later in its own sentence. A quote that nobody is said to
   speak has no speaker.

Every step is a linear scan or a bounded look around one quote, so time grows linearly with the
text; there is no regular expression that can backtrack catastrophically.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from watchers.countries import find_countries, words_of
from watchers.model import Entity, Quote
from watchers.syntax import Parse, speaker_span

__all__ = ["choose_key_quotes", "extract_quotes", "shorten", "snippet"]

ELLIPSIS = "…"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- word lists --------------------------------------------------------------------------------

_REPORTING = _words(
    """
    said says say told tells tell added adds wrote writes warned warns stated argued argues
    insisted insists noted explained explains claimed announced announces replied replies
    responded responds answered asked asks declared declares conceded concedes admitted admits
    acknowledged acknowledges continued continues recalled recalls remarked observed observes
    suggested suggests predicted predicts cautioned cautions urged urges tweeted posted laughed
    smiled joked jokes shrugged sighed shouted cried called described describes chanted vowed
    pledged promised complained complains confirmed confirms denied denies countered agreed agrees
    stressed stresses emphasised emphasized emphasises emphasizes maintained maintains reiterated
    reiterates estimated wondered wonders quipped boasted retorted exclaimed whispered reported
    testified alleged alleges accused accuses blamed blames praised praises welcomed welcomes
    dismissed dismisses criticised criticized condemned condemns cited quoted according
    asserted asserts clarified clarifies affirmed affirms contended contends commented comments
    elaborated questioned recounted disclosed revealed reveals
    """
)
# The base forms of reporting verbs, as a parser's lemmas give them.
_LEMMAS = _words(
    """
    say tell add write warn state argue insist note explain claim announce reply respond answer
    ask declare concede admit acknowledge continue recall remark observe suggest predict caution
    urge tweet post laugh smile joke shrug sigh shout cry describe chant vow pledge promise
    complain confirm deny counter agree stress emphasise emphasize maintain reiterate estimate
    wonder quip boast retort exclaim whisper report testify allege assert clarify elucidate
    affirm contend stress announce comment
    """
)
# Reporting verbs whose "it" is an object ("called it a sad day"), not a clause's subject.
_OBJECT_VERBS = _words(
    """
    called described describes praised praises dismissed dismisses criticised criticized
    condemned condemns welcomed welcomes blamed blames denied denies accused accuses cited quoted
    """
)
# Reporting verbs with no subject of their own ("…, adding that …").
_PARTICIPLES = _words(
    """
    adding saying telling writing noting arguing insisting warning explaining claiming describing
    calling citing urging stressing asking speaking
    """
)
# Verbs that attribute a question, whose speaker is not the one answering.
_ASKING = _words("asked asks wondered wonders questioned")
_PERSON_PRONOUNS = _words("he she")
# Pronouns and titles that tell a person's gender ("Mr Cole", "her letters").
_GENDERED = {"he": "he", "him": "he", "his": "he", "himself": "he"} | {
    "she": "she",
    "her": "she",
    "hers": "she",
    "herself": "she",
}
_GENDER_TITLES = {"mr": "he", "sir": "he", "lord": "he"} | {
    "mrs": "she",
    "ms": "she",
    "miss": "she",
    "dame": "she",
    "lady": "she",
}
# A plural verb right after a name of two words or more: a club or a company in British usage
# ("Northgate Albion have signed"), never one person.
_PLURAL_VERBS = _words("have are were")
_PASSIVE = _words("was were is are been being be")  # before a participle with "by" its agent
_GROUP_PRONOUNS = _words("they it")
_RELATIVES = _words("who which that whom whose")
_CONJUNCTIONS = _words(
    "and but or while as although though because when whereas since so yet after before if"
)
# Conjunctions that open a clause of their own (``and`` and ``or`` also join names).
_SUBORDINATORS = _CONJUNCTIONS - _words("and or")
_DETERMINERS = _words(
    "the a an one another its his her their our my your some two three several many this that"
)
_INDEFINITE = _words("a an one another")
# A capitalised run right after these is a thing, not a person ("her first Grand Slam").
_NOT_BEFORE_PERSON = _words("the a an her his their its our my your this that these those first")
_PREPOSITIONS = _words(
    """
    of at for from with in on to by near about outside inside into after before during over under
    across behind among between via per than like within without around against toward towards
    """
)
_PLACE_PREPOSITIONS = _words(
    "in at near outside inside into across around throughout towards toward from to via"
)
# Words between a subject and its verb ("Peskov later said", "she has told").
_SKIPPABLE = _words(
    """
    also later then further previously earlier separately recently once again has had have would
    will was is were are had did does do could should may might must only even still reportedly
    publicly privately today yesterday tonight
    """
)
# Capitalised only because they open a sentence (or a headline); never part of a name.
_STOP = _words(
    """
    the a an in on at but and or if as for with by from to of after before when while asked
    speaking according this that these those it he she they we i his her its their our my your
    some many most one another not no every each all both so then still yet also meanwhile
    however earlier later last next nobody everybody somebody there here what who why how where
    since until despite although though because during under over among between thanks like
    unlike only even just now today yesterday tonight instead indeed overall further moreover
    whoever whatever such other others more less few several mr mrs ms dr prof
    """
)
# Plural nouns that open sentences as speakers ("Officials said"); never names.
_COMMON_SUBJECTS = _words(
    """
    officials critics analysts experts police witnesses residents sources doctors scientists
    researchers investors economists traders authorities lawyers prosecutors campaigners activists
    protesters protestors organisers organizers observers diplomats officers leaders ministers
    lawmakers legislators regulators executives employees workers farmers fans supporters
    opponents voters locals parents teachers students survivors families relatives neighbours
    neighbors rescuers firefighters paramedics medics soldiers troops rebels militants insurgents
    commentators pollsters bankers brokers strategists staff others engineers officers judges
    """
)
_CALENDAR = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december
    """
)
_TITLE_SMALL = _words("a an the of and or in on at to for by with from as but nor vs")
# After a name and not part of it: generations, and (in capitals) honours and offices.
_SUFFIXES = _words("jr sr ii iii iv")
_POST_NOMINALS = _words("kc qc sc mp mep msp obe mbe cbe")
_NAME_PREFIXES = _words("al el bin ben ibn abu ad as ash at az ul")
_PARTICLES = _words("de van von der den da di du del della la le bin ibn al ter dos das")
# Titles and roles that come before a name and are not part of it.
_TITLES = _words(
    """
    president vice prime minister chancellor secretary justice judge dr dr. mr mr. mrs mrs. ms ms.
    mx mx. miss professor prof prof. councillor councilor senator sen sen. rep rep. representative
    governor gov gov. mayor general gen gen. colonel col col. captain capt capt. lieutenant lt lt.
    sergeant sgt sgt. sir dame lord lady king queen prince princess pope archbishop bishop cardinal
    rabbi imam rev rev. reverend father chief ambassador commissioner chairman chairwoman chair
    director inspector sheriff attorney deputy speaker spokesman spokeswoman spokesperson coach
    manager officer executive ceo premier emir sheikh superintendent detective constable commander
    admiral marshal striker midfielder defender goalkeeper captain state defence defense
    exchequer affairs prosecutor coroner magistrate solicitor barrister counsel advocate
    headteacher headmaster headmistress principal treasurer chairperson founder co-founder
    referee umpire skipper winger forward trainer doctor nurse surgeon leader majority minority
    whip former justices judges senators juror jurors mla mlas mp mps cm supt dsp analyst resident
    """
)
# Written things a body speaks through: "the Harlow Capital note said" is Harlow Capital.
_DOCUMENTS = _words("note report statement letter release memo filing notice study survey")
# Titles that name the same role: "the skipper" is the person named "captain".
_SAME_ROLE = {"skipper": "captain", "captain": "skipper", "boss": "manager", "manager": "boss"}
# Words that make a capitalised name an organisation (or a place), not a person.
_ORG_WORDS = _words(
    """
    ministry department office bank group capital partners securities investors research
    university college school institute hospital council commission committee chamber court union
    association federation party agency authority board company corporation corp inc ltd plc llc
    co holdings bio foundation trust fund society club airlines airways motors technologies
    systems services media news times post network organisation organization police army navy
    force government parliament senate congress assembly cabinet commerce co-operative
    cooperative operators industries international centre center service forum alliance coalition
    movement museum library church nations republic kingdom states command reserve exchange
    agency league frontier breeze associates coast union management advisers advisors consulting
    labs energy power pharma pharmaceuticals insurance kremlin pentagon vatican élysée elysee
    bundestag knesset duma treasury fed telescope observatory satellite spacecraft
    """
)
# Head nouns of a bare description that stands for an organisation ("the company said").
_ORG_NOUNS = _words(
    """
    company group firm fund bank union agency ministry government council commission regulator
    court party club airline carrier operator team department committee association organisation
    organization campaign charity insurer lender manufacturer maker retailer developer designer
    board authority institute university hospital army military police embassy chamber
    co-operative cooperative federation league network broadcaster newspaper website service
    startup chipmaker automaker carmaker supplier platform coalition alliance business
    corporation conglomerate utility exchange watchdog administration office cabinet parliament
    senate congress
    """
)
# Lower-case words that never continue a description ("a spokesperson for Veltrix declined").
_NP_STOP = _words(
    """
    who which that whose whom was is were are has had have be been will would could should can
    may might must did does do declined refused said says told added wrote when while as because
    although but and or if
    """
)
# Prefixes that make a compound title of a title ("Vice-Chancellor", "Ex-President").
_TITLE_PREFIXES = _words("vice pro ex co")
_ABBREVIATIONS = _words(
    "dr mr mrs ms mx prof st gen sen rep gov col capt lt sgt rev jr sr no vs etc inc ltd co corp mt"
    " supt"
)

_OPENERS = "“„«"
_CLOSERS = "”»"
_MARK_RE = re.compile('[“”„«»"]')
_SINGLE_MARK_RE = re.compile("[‘’']")
_TOKEN_RE = re.compile(
    r"(?:Dr|Mr|Mrs|Ms|Mx|Prof|Gen|Sen|Rep|Gov|Col|Capt|Lt|Sgt|Rev|St|Jr|Sr)\.(?=\s)"
    r"|[A-Z]\.(?=\s+[A-Z][a-z])"
    r"|\w+(?:['’\-]\w+)*"
    r"|[^\w\s]"
)
_QUESTION_RE = re.compile(r"\?\s*[”\"»]([^“”\"«»]*)")  # a closed question and what follows
_DOUBLED_RE = re.compile(r"''|``")  # ''…'' and ``…'': a double quote made of two single marks
_SENTENCE_END_RE = re.compile(r"[.?!…]+")
_PARAGRAPH_RE = re.compile(r"\n\s*")
_WS_RE = re.compile(r"\s*")
_SPACES_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"\w+")
_TRAILING_CLOSERS = "”\"’')]»"
_TERMINAL = ".?!…"

# Bounds on every look around one quote, so that time stays linear in the text.
_MAX_CLAUSE = 60  # tokens scanned back from a quote for its attribution
_MAX_AFTER = 40  # tokens scanned after a quote for its attribution
_MAX_SENTENCES = 8  # sentences scanned back to resolve a pronoun or description
_MAX_ANTECEDENT = 400  # tokens scanned back for "a … diplomat" when resolving "the diplomat"
_MAX_PARAGRAPHS = 12  # paragraphs one quotation may run over
_MAX_DESC_HEAD = 11  # tokens of a description's noun phrase before its "who"
_MAX_DESC_CLAUSE = 12  # tokens of the clause after that "who"
_MAX_ITEMS = 100  # names or speakers looked at to resolve one pronoun or description
_MIN_FULL_WORDS = 4  # words a lower-case quote after a bare verb needs to count as speech
_MAX_CROSSHEAD_WORDS = 6  # words of a quoted heading standing as its own paragraph
_MAX_NAME_WORDS = 4  # words of a name alone after "and" that may be the subject of a verb
_MIN_TYPO_SURNAME = 6  # letters a surname needs before a one-letter misspelling of it is read


# -- data --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    start: int
    end: int
    word: str
    lower: str
    quote: int  # index of the quoted passage the token is inside, or -1

    @property
    def is_word(self) -> bool:
        return self.word[0].isalnum() or self.word[0] == "_"

    @property
    def is_cap(self) -> bool:
        if self.word[0].isupper():
            return True
        prefix, _, rest = self.word.partition("-")  # al-Assad, el-Sisi
        return prefix in _NAME_PREFIXES and rest[:1].isupper()

    @property
    def possessive(self) -> bool:
        return self.word.endswith(("'s", "’s")) and len(self.word) > 2


@dataclass(frozen=True, slots=True)
class _Passage:
    """A double-quoted passage: the content spans of its parts (one per paragraph)."""

    parts: tuple[tuple[int, int], ...]
    open_mark: int
    close_mark: int

    @property
    def start(self) -> int:
        return self.parts[0][0]

    @property
    def end(self) -> int:
        return self.parts[-1][1]


class _RefKind(StrEnum):
    NAME = "name"  # Dmitry Peskov, Peskov, Harbour Peak Capital
    PRONOUN = "pronoun"  # he, she, they, it
    DESC = "desc"  # the judge, a senior official, the civil protection agency


class _Mentioned(StrEnum):
    PERSON = "person"
    ORG = "org"
    PRONOUN = "pronoun"  # he or she


@dataclass(frozen=True, slots=True)
class _Ref:
    """Who a phrase points at, before resolution."""

    kind: _RefKind
    text: str
    pos: int
    org: bool = False  # for names: known to be an organisation
    person: bool = False  # for names: known to be a person


@dataclass(frozen=True, slots=True)
class _Mention:
    pos: int
    sent: int
    name: str  # the canonical name, or the pronoun
    kind: _Mentioned
    possessive: bool = False


@dataclass(frozen=True, slots=True)
class _Actor:
    """The subject of a reporting verb outside quotes."""

    pos: int
    sent: int
    ref: _Ref


@dataclass(frozen=True, slots=True)
class _Doc:
    text: str
    toks: tuple[_Tok, ...]
    tok_starts: tuple[int, ...]
    passages: tuple[_Passage, ...]
    sent_starts: tuple[int, ...]
    para_starts: tuple[int, ...]
    headline_end: int
    lower_words: frozenset[str]
    word_index: dict[str, tuple[int, ...]] = field(default_factory=dict)  # word -> tokens
    surnames: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    mentions: tuple[_Mention, ...] = ()
    mention_pos: tuple[int, ...] = ()
    actors: tuple[_Actor, ...] = ()
    actor_pos: tuple[int, ...] = ()
    person_hint: tuple[tuple[int, int], ...] = ()
    place_hint: tuple[tuple[int, int], ...] = ()
    org_hint: tuple[tuple[int, int], ...] = ()  # organisations and nationalities tagged so
    person_words: frozenset[str] = frozenset()  # the last word of every name tagged a person
    org_names: frozenset[str] = frozenset()  # names found to be organisations by their context
    # a first or last word an organisation goes by on its own ("Ferncliff") -> its full name
    org_short: dict[str, str] = field(default_factory=dict)
    genders: dict[str, str] = field(default_factory=dict)  # person -> "he" or "she"
    # a first name that only one full name in the text has ("Maya") -> that name's surname
    first_names: dict[str, str] = field(default_factory=dict)
    # title word -> (position, full name) of people named with it ("Judge Alun Rees")
    titled: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)

    def sent_of(self, pos: int) -> int:
        return bisect_right(self.sent_starts, pos) - 1

    def starts_sentence(self, pos: int) -> bool:
        k = bisect_left(self.sent_starts, pos)
        return k < len(self.sent_starts) and self.sent_starts[k] == pos

    def para_of(self, pos: int) -> int:
        return bisect_right(self.para_starts, pos) - 1

    def tok_at(self, pos: int) -> int:
        """Index of the first token starting at or after ``pos``."""
        return bisect_left(self.tok_starts, pos)


@dataclass(frozen=True, slots=True)
class _Found:
    """A quote before merging and resolution."""

    passage: int
    full: bool
    speaker: _Ref | None
    after: bool  # attributed by the clause after it
    attribution_end: int  # where that clause ends (its sentence end), or -1


# -- quoted passages ---------------------------------------------------------------------------


def _double_role(text: str, i: int, is_open: bool) -> bool | None:
    """Whether the double mark at ``i`` opens (True) or closes (False) a passage."""
    ch = text[i]
    if ch in _OPENERS:
        return True
    if ch in _CLOSERS:
        return False
    prev = text[i - 1] if i > 0 else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if (prev.isspace() or prev in "([{—–-/:") and not nxt.isspace():
        return True
    if not prev.isspace() and (nxt.isspace() or nxt in ",.;:!?)]}—–-…"):
        return False
    return not is_open


def _single_role(text: str, i: int, is_open: bool) -> bool | None:
    """Like ``_double_role`` for single marks; None for an apostrophe (don’t, the parents’)."""
    prev = text[i - 1] if i > 0 else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if text[i] == "‘":
        return None if nxt.isspace() else True
    if nxt.isalnum():
        opens = text[i] == "'" and (prev.isspace() or prev in "([{—–-/:")
        return True if opens else None
    return None if prev.isspace() else False


def _find_passages(text: str) -> list[_Passage]:
    """Double-quoted passages; single-quoted ones only in paragraphs with no double marks
    (headlines, and house styles that quote with single marks)."""
    doubles = [m.start() for m in _MARK_RE.finditer(text)]
    out = _scan(text, doubles, _double_role)
    para_starts = [0] + [m.end() for m in _PARAGRAPH_RE.finditer(text)]
    with_doubles = {bisect_right(para_starts, i) for i in doubles}
    singles = [
        m.start()
        for m in _SINGLE_MARK_RE.finditer(text)
        if bisect_right(para_starts, m.start()) not in with_doubles
    ]
    if singles:
        out = sorted(out + _scan(text, singles, _single_role), key=lambda p: p.open_mark)
    return out


def _scan(
    text: str, marks: Sequence[int], role: Callable[[str, int, bool], bool | None]
) -> list[_Passage]:
    out: list[_Passage] = []
    parts: list[tuple[int, int]] = []
    start = -1  # content start of the part being read, -1 when no passage is open
    first_mark = -1
    for n, i in enumerate(marks):
        if start >= 0:
            newline = text.find("\n", start, i)
            if newline >= 0:
                # The passage ran past its paragraph: it goes on only if the next paragraph
                # opens with a quote mark.
                resumes = (
                    _WS_RE.match(text, newline).end() == i  # type: ignore[union-attr]
                    and role(text, i, False) is True
                    and len(parts) < _MAX_PARAGRAPHS
                    and _reads_as_sentences(text, parts[0][0] if parts else start, newline)
                    and not _asked_question(text, i)
                )
                if resumes:
                    parts.append((start, newline))
                    start = i + 1
                    continue
                introduced = text[:first_mark].rstrip().endswith(":") and not parts
                ends = text[:newline].rstrip()[-1:] in _TERMINAL
                if (_asked_question(text, i) or (introduced and ends)) and _reads_as_sentences(
                    text, start, newline
                ):
                    # The answer ends where the question begins, and a quote introduced by
                    # ``said:`` that its paragraph ends with a full stop and the next does not
                    # go on (``He added: “…``): the paragraph end closes it.
                    parts.append((start, newline))
                    stripped = [
                        p for p in (_strip_span(text, a, b) for a, b in parts) if p[0] < p[1]
                    ]
                    out.append(_Passage(tuple(stripped), first_mark, newline))
                parts, start = [], -1
        opens = role(text, i, start >= 0)
        if opens is None:
            continue
        if opens and start >= 0 and _stray_opener(text, marks, n, start):
            parts.append((start, i))  # the passage goes on without the stray mark
            start = i + 1
            continue
        if opens:
            parts, start, first_mark = [], i + 1, i
        elif start >= 0:
            parts.append((start, i))
            stripped = [p for p in (_strip_span(text, a, b) for a, b in parts) if p[0] < p[1]]
            if stripped:
                out.append(_Passage(tuple(stripped), first_mark, i))
            parts, start = [], -1
    last_paragraph = start >= 0 and "\n" not in text[start:].rstrip()
    if start >= 0 and (parts or last_paragraph) and _reads_as_sentences(text, start, len(text)):
        # A quote (over one paragraph or several) that the text ends before closing (an
        # excerpt, a feed's cut body): it runs to the end.
        parts.append((start, len(text)))
        stripped = [p for p in (_strip_span(text, a, b) for a, b in parts) if p[0] < p[1]]
        out.append(_Passage(tuple(stripped), first_mark, len(text)))
    return out


def _stray_opener(text: str, marks: Sequence[int], n: int, start: int) -> bool:
    """Whether the opening mark ``marks[n]``, met inside a passage open since ``start`` in the
    same paragraph, is a slip (``“We talk. “Nothing has changed,” he said``): the passage so
    far ends a sentence and the paragraph holds one mark after it, which then closes the
    passage as a whole."""
    i = marks[n]
    end = text.find("\n", i)
    end = len(text) if end < 0 else end
    after = bisect_left(marks, end, n + 1) - (n + 1)
    a, b = _strip_span(text, start, i)
    return after == 1 and a < b and text[b - 1] in _TERMINAL and "\n" not in text[start:i]


def _asked_question(text: str, i: int) -> bool:
    """Whether the paragraph opening with the quote mark at ``i`` is a question someone else
    asks (``“Will he resign?” a reporter asked.``): it does not go on with the quote before it."""
    end = text.find("\n", i)
    m = _QUESTION_RE.search(text, i, len(text) if end < 0 else end)
    return m is not None and any(w in _ASKING for w in _WORD_RE.findall(m.group(1).lower())[:6])


def _reads_as_sentences(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` starts with a capital and ends a sentence: only such a passage may
    run on into the next paragraph (an unclosed ``“a disgrace`` may not)."""
    a, b = _strip_span(text, a, b)
    return a < b and text[a].isupper() and text[b - 1] in _TERMINAL


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _doubled_marks(text: str) -> str:
    """``text`` with each doubled single mark (``''…,'' she said``) written as one double mark
    and a space, the mark on the side of the quoted words, so that every offset stays put."""
    if "''" not in text and "``" not in text:
        return text
    chars = list(text)
    for m in _DOUBLED_RE.finditer(text):
        i = m.start()
        before = text[i - 1] if i > 0 else " "
        after = text[i + 2] if i + 2 < len(text) else " "
        opening = m.group() == "``" or (
            (before.isspace() or before in "([—–-") and not after.isspace()
        )
        chars[i], chars[i + 1] = (" ", '"') if opening else ('"', " ")
    return "".join(chars)


# -- sentences and tokens ----------------------------------------------------------------------


def _sentence_starts(text: str, passages: Sequence[_Passage]) -> list[int]:
    starts = {0}
    for m in _PARAGRAPH_RE.finditer(text):
        starts.add(m.end())
    part_starts: list[int] = []
    part_ends: list[int] = []
    for passage in passages:
        for a, b in passage.parts:
            part_starts.append(a)
            part_ends.append(b)
    n = len(text)
    for m in _SENTENCE_END_RE.finditer(text):
        p = m.end()
        k = bisect_right(part_starts, m.start()) - 1
        if k >= 0 and m.start() < part_ends[k]:
            if p < part_ends[k]:
                continue  # a sentence inside a quote: the quote is one piece of its sentence
            p = part_ends[k]
        while p < n and text[p] in _TRAILING_CLOSERS:
            p += 1
        q = p
        while q < n and text[q] in " \t":
            q += 1
        if q == p or q >= n:
            continue
        c = text[q]
        if not (c.isupper() or c.isdigit() or c in _OPENERS or c in "\"‘'"):
            continue
        if m.group() == "." and _is_abbreviation(text, m.start()):
            continue
        starts.add(q)
    return sorted(starts)


def _is_abbreviation(text: str, dot: int) -> bool:
    a = dot
    while a > 0 and text[a - 1].isalpha():
        a -= 1
    word = text[a:dot]
    return (len(word) == 1 and word.isupper()) or word.lower() in _ABBREVIATIONS


def _tokenise(text: str, passages: Sequence[_Passage]) -> list[_Tok]:
    spans = sorted((a, b, i) for i, p in enumerate(passages) for a, b in p.parts)
    out: list[_Tok] = []
    k = 0
    for m in _TOKEN_RE.finditer(text):
        s = m.start()
        while k < len(spans) and spans[k][1] <= s:
            k += 1
        inside = spans[k][2] if k < len(spans) and spans[k][0] <= s else -1
        out.append(_Tok(s, m.end(), m.group(), m.group().lower(), inside))
    return out


def _headline_end(text: str) -> int:
    """Where a leading headline ends (a first line followed by a blank line), else 0."""
    first = text.find("\n")
    if first < 0 or first > 300:
        return 0
    if not text[first:].startswith(("\n\n", "\n \n")) or text[:first].rstrip().endswith("."):
        return 0
    return first


# -- names -------------------------------------------------------------------------------------


def _is_org_name(words: Sequence[str]) -> bool:
    return any(w.lower() in _ORG_WORDS for w in words)


def _is_suffix(word: str) -> bool:
    word = word.rstrip(".")
    return word.lower() in _SUFFIXES or (word.isupper() and word.lower() in _POST_NOMINALS)


def _is_title(word: str) -> bool:
    """A title before a name, hyphenated ones included (``Vice-Chancellor``,
    ``Pro-Vice-Chancellor``, ``Ex-President``): every part a title or a title's prefix, the
    last a title."""
    low = word.rstrip(".").lower()
    if low in _TITLES or word.lower() in _TITLES:
        return True
    parts = low.split("-")
    return (
        len(parts) > 1
        and parts[-1] in _TITLES
        and all(w in _TITLES or w in _TITLE_PREFIXES for w in parts[:-1])
    )


def _strip_title(words: list[str]) -> list[str]:
    """Drop leading stop words and any titles before a name ("Swiss Foreign Minister ..."),
    and a generational suffix after it ("Jr")."""
    while len(words) > 1 and _is_suffix(words[-1]):
        words = words[:-1]
    while words and (words[0].lower() in _STOP or words[0].lower() in _CALENDAR):
        words = words[1:]
    last_title = -1
    for i, w in enumerate(words[:-1]):
        if _is_title(w):
            last_title = i
    rest = words[last_title + 1 :]
    if last_title >= 0 and rest and rest[0] == "of":
        return []  # "Deputy Minister of Internal Affairs": a title, the name is elsewhere
    if last_title >= 0 and not _is_org_name(rest):
        return rest
    return words


def _is_country(words: Sequence[str]) -> bool:
    """``Egypt``, ``the United States``: a country's name is never a person's."""
    return bool(find_countries(words_of(" ".join(words))))


def _name_key(words: Sequence[str]) -> str:
    """What a later surname-only mention looks like: ``Peskov``, ``Vries``, ``Assad``."""
    key = words[-1].removesuffix("'s").removesuffix("’s")
    prefix, _, rest = key.partition("-")
    return rest if prefix.lower() in _NAME_PREFIXES and rest[:1].isupper() else key


def _is_surname_only(words: Sequence[str]) -> bool:
    caps = [w for w in words if w.lower() not in _PARTICLES]
    return len(caps) == 1


def _links_name(before: _Tok, t: _Tok) -> bool:
    """Whether the lower-case ``t`` joins two parts of one name: ``of`` after a body or a title
    (``Chamber of Commerce``, ``Secretary of State``), ``for`` after a body (``Institute for
    Fiscal Studies``)."""
    if t.lower == "of":
        return before.lower in _ORG_WORDS or _is_title(before.word)
    return t.lower == "for" and before.is_cap and before.lower in _ORG_WORDS


def _cap_runs(
    doc_toks: Sequence[_Tok], lo: int, hi: int, breaks: frozenset[int]
) -> list[tuple[int, int]]:
    """Token ranges of capitalised runs in ``toks[lo:hi]`` (names, with particles and "of"),
    never across a sentence start (a position in ``breaks``)."""
    runs: list[tuple[int, int]] = []
    i = lo
    while i < hi:
        t = doc_toks[i]
        starts_run = t.is_word and (
            t.is_cap or (t.lower in _PARTICLES and i + 1 < hi and doc_toks[i + 1].is_cap)
        )
        if not starts_run or t.quote >= 0:
            i += 1
            continue
        j = i
        while j < hi:
            u = doc_toks[j]
            if u.quote >= 0 or not u.is_word or (j > i and u.start in breaks):
                break
            if u.is_cap:
                j += 1
                if u.possessive:
                    break
                continue
            nxt_cap = j + 1 < hi and doc_toks[j + 1].is_cap and doc_toks[j + 1].quote < 0
            joins = u.lower in _PARTICLES or (j > i and _links_name(doc_toks[j - 1], u))
            if joins and nxt_cap:
                j += 1
                continue
            break
        if j > i:
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


# -- building the document ---------------------------------------------------------------------


def _analyse(text: str, entities: Sequence[Entity] | None) -> _Doc:
    passages = _find_passages(text)
    toks = _tokenise(text, passages)
    sent_starts = _sentence_starts(text, passages)
    para_starts = [0] + [m.end() for m in _PARAGRAPH_RE.finditer(text)]
    lower_words = frozenset(t.word for t in toks if t.is_word and t.word[0].islower())
    word_index: dict[str, list[int]] = {}
    for k, t in enumerate(toks):
        if t.is_word and t.quote < 0:
            word_index.setdefault(t.lower, []).append(k)
    person_hint: list[tuple[int, int]] = []
    place_hint: list[tuple[int, int]] = []
    org_hint: list[tuple[int, int]] = []
    person_words: set[str] = set()
    for e in entities or ():
        if e.label == "PERSON":
            person_hint.append((e.start, e.end))
            if e.text.split():
                person_words.add(_name_key(e.text.split()))
        elif e.label in ("GPE", "LOC", "FAC"):
            place_hint.append((e.start, e.end))
        elif e.label in ("ORG", "NORP"):
            org_hint.append((e.start, e.end))
    doc = _Doc(
        text=text,
        toks=tuple(toks),
        tok_starts=tuple(t.start for t in toks),
        passages=tuple(passages),
        sent_starts=tuple(sent_starts),
        para_starts=tuple(para_starts),
        headline_end=_headline_end(text),
        lower_words=lower_words,
        word_index={w: tuple(ks) for w, ks in word_index.items()},
        person_hint=tuple(sorted(person_hint)),
        place_hint=tuple(sorted(place_hint)),
        org_hint=tuple(sorted(org_hint)),
        person_words=frozenset(person_words),
    )
    doc = _with_mentions(doc)
    return _with_actors(doc)


def _covered(spans: Sequence[tuple[int, int]], a: int, b: int) -> bool:
    k = bisect_right(spans, (a, 1 << 62)) - 1
    return k >= 0 and spans[k][0] <= a and b <= spans[k][1]


def _overlaps(spans: Sequence[tuple[int, int]], a: int, b: int) -> bool:
    k = bisect_right(spans, (b, 0)) - 1
    return k >= 0 and spans[k][1] > a


def _person_tagged(doc: _Doc, a: int, last: int, b: int) -> bool:
    """Whether the recogniser tags the name at ``a``..``b`` (last word at ``last``) a person:
    a person's span that stops before the name's last word is a name inside a longer name
    (``James Webb`` in ``James Webb Space Telescope``), which is no person."""
    k = bisect_right(doc.person_hint, (b, 0)) - 1
    return k >= 0 and doc.person_hint[k][1] > max(a, last)


def _org_tagged(doc: _Doc, a: int, b: int, words: Sequence[str]) -> bool:
    """Whether the recogniser tags the name at ``a``..``b`` an organisation, unless it tags the
    name's last word a person elsewhere in the text (``Virat Kohli`` taken for a body once,
    ``Kohli`` for a person later): a surname the recogniser also reads as a person's is one."""
    return _covered(doc.org_hint, a, b) and _name_key(list(words)) not in doc.person_words


def _appositive_org(doc: _Doc, i: int, j: int) -> bool:
    """``X, the company …`` or ``the developer, X,``: a name standing for an organisation."""
    toks = doc.toks
    if j + 1 < len(toks) and toks[j].word == "," and toks[j + 1].lower in _DETERMINERS:
        for n in range(j + 2, min(j + 6, len(toks))):
            t = toks[n]
            if t.lower in _ORG_NOUNS and not t.is_cap:
                # "X, the company …", but not "X, the union leader, …" (a person) nor "X, a
                # University of Y astronomer" (the body's own name, not the head noun).
                return not (n + 1 < len(toks) and _continues_noun(toks[n + 1]))
            if not t.is_word or t.lower in _PREPOSITIONS:
                break  # "X, an epidemiologist at the University": the head came first
    if i >= 2 and toks[i - 1].word == "," and toks[i - 2].lower in _ORG_NOUNS:
        # The body's noun heads a description that opens its clause: "The developer, X," and
        # not "Outside court, X,", "At the county court, X" or "The fund manager, X,".
        for d in range(i - 3, max(-1, i - 7), -1):
            t = toks[d]
            if not t.is_word or t.lower in _PREPOSITIONS:
                return False
            if t.lower in _DETERMINERS:
                return d == 0 or not toks[d - 1].is_word or doc.starts_sentence(t.start)
    return False


def _org_by_context(doc: _Doc, i: int, j: int, words: Sequence[str], titled: bool) -> bool:
    """A name with no organisation word that its context shows to be one: a company noun right
    before it (``the ride-hailing company Zipcar Mobility``), ``which`` after it, or ``X said
    it …`` when no later sentence calls X by its last name alone, as it would a person."""
    toks = doc.toks
    prev = toks[i - 1] if i > 0 else None
    noun_before = prev is not None and prev.quote < 0 and prev.word[0].islower()
    if noun_before and not titled and prev is not None and prev.lower in _ORG_NOUNS:
        return True
    if j + 1 < len(toks) and toks[j].word == "," and toks[j + 1].lower == "which":
        return True
    if len(words) < 2:
        return False
    if (
        j < len(toks)
        and toks[j].lower in _PLURAL_VERBS
        and not toks[j - 1].possessive
        and (prev is None or prev.lower not in ("and", "&", ","))
    ):
        return True
    k = j
    while k < len(toks) and k < j + 4 and _skippable(toks[k]):
        k += 1
    said_it = (
        k + 1 < len(toks)
        and toks[k].lower in _REPORTING
        and toks[k].lower not in _PARTICIPLES
        and toks[k].lower not in _OBJECT_VERBS
        and toks[k + 1].lower in ("it", "its")
    )
    if not said_it or _overlaps(doc.person_hint, toks[i].start, toks[j - 1].end):
        return False
    last, before_last = words[-1].lower(), words[-2].lower()
    for form in (last, last + "'s", last + "’s"):
        for n in doc.word_index.get(form, ())[:_MAX_ITEMS]:
            if n > j and toks[n].is_cap and toks[n - 1].lower != before_last:
                return False  # "Lind said" after "Marta Lind said it": a person
    return True


def _with_mentions(doc: _Doc) -> _Doc:
    toks = doc.toks
    runs = _cap_runs(toks, 0, len(toks), frozenset(doc.sent_starts))
    full_names: list[tuple[int, str]] = []
    by_title: dict[str, list[tuple[int, str]]] = {}
    # (first token, end token, name words, kind); kind None for a single word, which is a
    # person only if it is the surname of a full name found in the text.
    candidates: list[tuple[int, int, list[str], _Mentioned | None]] = []
    for i, j in runs:
        words = [t.word for t in toks[i:j]]
        if toks[j - 1].possessive:
            words[-1] = _name_key(words)
        possessive_inside = [k for k, t in enumerate(toks[i : j - 1]) if t.possessive]
        if possessive_inside:
            words = words[possessive_inside[-1] + 1 :]
        start = toks[j - len(words)].start if words else toks[i].start
        stripped = _strip_title(words)
        titles = _titles_before(toks, i, words, stripped)
        titled, words = len(stripped) < len(words), stripped
        if not words:
            continue
        org = (
            _is_org_name(words)
            or _appositive_org(doc, i, j)
            or _org_by_context(doc, i, j, words, titled)
        )
        prev = toks[i - 1].lower if i > 0 else ""
        hinted = _person_tagged(doc, start, toks[j - 1].start, toks[j - 1].end)
        placed = _covered(doc.place_hint, start, toks[j - 1].end) or _is_country(words)
        # A title before the name ("spokesperson X") overrules an organisation tag on it.
        org = org or (_org_tagged(doc, start, toks[j - 1].end, words) and not (hinted or titles))
        if org:
            candidates.append((i, j, words, _Mentioned.ORG))
            continue
        owner = toks[j - 1].possessive and j - i >= 2  # "in Kerry Dunn's driveway"
        if (prev in _PLACE_PREPOSITIONS or prev in _NOT_BEFORE_PERSON) and not (titled or owner):
            continue  # "in Bath", "the Hilton"; but "this Mr Hale" is a person
        if (placed or words[-1].lower() in _PLACE_HEADS) and not hinted:
            continue  # a place: "Wall Street forecasts"
        if words[0].lower() in _PARTICLES and words[0][0].isupper():
            words = [words[0].lower(), *words[1:]]
        multi = not _is_surname_only(words)
        if multi and toks[i].start >= doc.headline_end and words[0].lower() not in _PARTICLES:
            full_names.append((start, " ".join(words)))
            for title in titles:
                by_title.setdefault(title, []).append((start, " ".join(words)))
        candidates.append((i, j, words, _Mentioned.PERSON if (multi or hinted) else None))
    surnames: dict[str, list[tuple[int, str]]] = {}
    for pos, name in full_names:
        surnames.setdefault(_name_key(name.split()), []).append((pos, name))
    org_names = frozenset(" ".join(w) for _, _, w, kind in candidates if kind is _Mentioned.ORG)
    doc = replace(
        doc,
        surnames={k: tuple(v) for k, v in surnames.items()},
        first_names=_first_names(doc, full_names, surnames),
        org_names=org_names,
        org_short=_short_forms(doc, org_names, surnames),
        titled={k: tuple(v) for k, v in by_title.items()},
    )
    mentions: list[_Mention] = []
    for i, j, words, kind in candidates:
        pos = toks[i].start
        if kind is None and len(words) == 1 and words[0] in doc.org_short:
            kind, words = _Mentioned.ORG, doc.org_short[words[0]].split()
        if kind is None:
            if _surname_key(doc, _name_key(words)) is None:
                continue
            kind = _Mentioned.PERSON
        name = " ".join(words) if kind is _Mentioned.ORG else _canonical(doc, words, pos)
        mentions.append(
            _Mention(pos, doc.sent_of(pos), name, kind, possessive=toks[j - 1].possessive)
        )
    for t in toks:
        if t.quote < 0 and t.lower in _PERSON_PRONOUNS:
            mentions.append(_Mention(t.start, doc.sent_of(t.start), t.lower, _Mentioned.PRONOUN))
    mentions.sort(key=lambda m: m.pos)
    return replace(doc, mentions=tuple(mentions), mention_pos=tuple(m.pos for m in mentions))


def _first_names(
    doc: _Doc, full_names: Sequence[tuple[int, str]], surnames: dict[str, list[tuple[int, str]]]
) -> dict[str, str]:
    """A first name that may stand for a person alone (``Maya`` for ``Maya Lindqvist``): the
    first word of a full name that no other person in the text shares, that is nobody's
    surname and that the text never writes in lower case; mapped to that person's surname."""
    out: dict[str, str] = {}
    clashes: set[str] = set()
    for _, name in full_names:
        words = name.split()
        first, key = words[0], _name_key(words)
        if (
            len(first) < 3
            or not first[:1].isupper()
            or first.lower() in doc.lower_words
            or first.lower() in _STOP
            or first.endswith(".")
            or first in surnames
            or _is_title(first)
        ):
            continue
        if out.get(first, key) != key:
            clashes.add(first)
        out[first] = key
    return {w: k for w, k in out.items() if w not in clashes}


def _short_forms(
    doc: _Doc, org_names: frozenset[str], surnames: dict[str, list[tuple[int, str]]]
) -> dict[str, str]:
    """The first or last word of an organisation's name that may stand for it alone
    (``Ferncliff`` for ``Ferncliff Labs``, ``Albion`` for ``Northgate Albion``): not a word
    for a kind of body, a title, a common word or a person's surname, and shared by no other
    organisation."""
    out: dict[str, str] = {}
    clashes: set[str] = set()
    for name in sorted(org_names):
        words = name.split()
        if len(words) < 2:
            continue
        for w in {words[0], words[-1]}:
            low = w.lower()
            if (
                not w[:1].isupper()
                or low in _ORG_WORDS
                or _is_title(w)
                or low in _STOP
                or low in _PARTICLES
                or low in doc.lower_words
                or w in surnames
            ):
                continue
            if out.get(w, name) != name:
                clashes.add(w)
            out[w] = name
    return {w: n for w, n in out.items() if w not in clashes}


def _opens_sentence(doc: _Doc, m: _Mention) -> bool:
    """Whether a name is its sentence's subject by position: only capitalised words and titles
    before it (``Party leader Anna Berg``), or a short description set off by a comma (``Her
    neighbour, Gary Pruitt,``), not ``Asked about Berg``."""
    start = doc.sent_starts[m.sent]
    k = doc.tok_at(m.pos) - 1
    if k >= 1 and doc.toks[k].word == "," and _appositive_opening(doc, start, k):
        return True
    while k >= 0 and doc.toks[k].start >= start:
        t = doc.toks[k]
        if not (t.is_word and (t.is_cap or _is_title(t.word))):
            return False
        k -= 1
    return True


def _appositive_opening(doc: _Doc, start: int, comma: int) -> bool:
    """Whether the tokens from ``start`` to the comma at ``comma`` are a short description that
    opens the sentence: a determiner and a few lower-case words (``The researcher``)."""
    lo = doc.tok_at(start)
    words = doc.toks[lo:comma]
    return (
        1 < len(words) <= 4
        and words[0].lower in _DETERMINERS
        and all(t.is_word and t.quote < 0 and t.word[0].islower() for t in words[1:])
        and all(t.lower not in _REPORTING and t.lower not in _PREPOSITIONS for t in words[1:])
    )


def _genders(doc: _Doc) -> dict[str, str]:
    """The gender of the people named, from a title before a name (``Ms``, ``Mr``) or from the
    first he/she/his/her of a sentence whose only person named before it is its subject, or, if
    it names nobody before the pronoun, the subject and only person of the sentence before."""
    votes: dict[str, dict[str, int]] = {}
    for m in doc.mentions:
        if m.kind is _Mentioned.PERSON:
            title = doc.toks[doc.tok_at(m.pos)].lower.rstrip(".")
            if title in _GENDER_TITLES:
                g = _GENDER_TITLES[title]
                votes.setdefault(m.name, {}).setdefault(g, 0)
                votes[m.name][g] += 5
    done: set[int] = set()
    looked_back: set[int] = set()
    for t in doc.toks:
        if t.quote >= 0 or t.lower not in _GENDERED:
            continue
        sent = doc.sent_of(t.start)
        if sent in done:
            continue
        lo = bisect_left(doc.mention_pos, doc.sent_starts[sent])
        hi = bisect_left(doc.mention_pos, t.start)
        before = doc.mentions[max(lo, hi - _MAX_ITEMS) : hi]
        if before:
            done.add(sent)
        else:
            # A pronoun before anyone in its sentence ("Her neighbour, Gary Pruitt, … his"):
            # the sentence before, once; a later pronoun may still follow a name of its own.
            if sent in looked_back:
                continue
            looked_back.add(sent)
        # A pronoun in the person's own sentence outweighs one in the sentence after it.
        weight = 2 if before else 1
        if not before and sent > 0:
            lo = bisect_left(doc.mention_pos, doc.sent_starts[sent - 1])
            before = doc.mentions[max(lo, hi - _MAX_ITEMS) : hi]
        people = [m for m in before if m.kind is not _Mentioned.ORG]
        if not people or len({m.name for m in people}) > 1:
            continue
        if people[0].kind is _Mentioned.PERSON and (
            _opens_sentence(doc, people[0]) or _speaks_before(doc, people[0], t.start)
        ):
            g = _GENDERED[t.lower]
            votes.setdefault(people[0].name, {}).setdefault(g, 0)
            votes[people[0].name][g] += weight
    out: dict[str, str] = {}
    for name, v in votes.items():
        he, she = v.get("he", 0), v.get("she", 0)
        if he != she:
            out[name] = "he" if he > she else "she"
    return out


def _speaks_before(doc: _Doc, m: _Mention, pos: int) -> bool:
    """Whether the person named at ``m`` is, in that sentence, the subject of a reporting verb
    that comes before ``pos`` (``The researcher, Dr Priya Raman, said she``, ``At the centre,
    Maureen Tate, 71, said she``): the subject by grammar where it is not by position."""
    first = bisect_left(doc.actor_pos, m.pos)
    end = doc.tok_at(pos)
    for a in range(first, min(len(doc.actors), first + _MAX_ITEMS)):
        actor = doc.actors[a]
        if actor.pos >= pos:
            break
        if actor.sent != m.sent:
            break
        ref = actor.ref
        if (
            ref.kind is _RefKind.NAME
            and not ref.org
            and _canonical(doc, ref.text.split(), ref.pos) == m.name
        ):
            # The verb: the first reporting word after the subject, before the pronoun.
            k = doc.tok_at(ref.pos)
            stop = min(end, k + _MAX_CLAUSE)
            while k < stop and doc.toks[k].lower not in _REPORTING:
                k += 1
            return k < stop
    return False


def _agrees(doc: _Doc, name: str, pronoun: str) -> bool:
    """Whether ``he``/``she`` may point at ``name`` (no pronoun, or gender unknown: yes)."""
    gender = doc.genders.get(name)
    return not pronoun or gender is None or gender == pronoun


def _titles_before(
    toks: Sequence[_Tok], i: int, words: Sequence[str], stripped: Sequence[str]
) -> list[str]:
    """The titles a name was given: dropped from its run (``Judge`` in ``Judge Alun Rees``) or
    written in lower case just before it (``coach Ellen Marsh``)."""
    out = []
    if stripped:
        for w in words:
            if w == stripped[0]:
                break
            if _is_title(w):
                out.append(w.rstrip(".").lower())
    prev = toks[i - 1] if i > 0 else None
    if prev is not None and prev.quote < 0 and prev.word[0].islower() and _is_title(prev.word):
        out.append(prev.lower)
    return out


def _with_actors(doc: _Doc) -> _Doc:
    actors: list[_Actor] = []
    for k, t in enumerate(doc.toks):
        if t.quote >= 0 or t.lower not in _REPORTING:
            continue
        ref = _subject_of_verb(doc, k, _clause_start(doc, k))
        if ref is not None:
            actors.append(_Actor(ref.pos, doc.sent_of(ref.pos), ref))
    actors.sort(key=lambda a: a.pos)
    doc = replace(doc, actors=tuple(actors), actor_pos=tuple(a.pos for a in actors))
    return replace(doc, genders=_genders(doc))


def _canonical(doc: _Doc, words: Sequence[str], pos: int) -> str:
    """The full name a surname (or a full name) stands for: the nearest earlier full name with
    that surname, else the first later one, else the words as they are."""
    name = " ".join(words)
    if not _is_surname_only(words):
        return name
    key = _surname_key(doc, _name_key(words))
    found = doc.surnames.get(key, ()) if key is not None else ()
    k = bisect_right(found, (pos, "\U0010ffff"))
    if k > 0:
        return found[k - 1][1]
    return found[0][1] if found else name


def _surname_key(doc: _Doc, key: str) -> str | None:
    """The surname of a full name in the text that ``key`` is: itself, or, for a surname the
    text misspells once (``Morrision`` after ``David Morrison``), the one surname of that
    length or more that differs from it by one letter added, dropped or changed."""
    if key in doc.surnames:
        return key
    if key in doc.first_names:
        return doc.first_names[key]
    if len(key) < _MIN_TYPO_SURNAME - 1 or not key[:1].isupper():
        return None
    near = [
        k
        for k in list(doc.surnames)[:_MAX_ITEMS]
        if k[0] == key[0]
        and (_swapped(key, k) or (len(key) >= _MIN_TYPO_SURNAME and _one_edit(key, k)))
    ]
    return near[0] if len(near) == 1 else None


def _swapped(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with two neighbouring letters swapped (``Reike`` for ``Rieke``):
    a slip of the keys read even in a surname too short for other misspellings."""
    diff = [k for k in range(len(a)) if len(a) == len(b) and a[k] != b[k]]
    if len(diff) != 2 or diff[1] != diff[0] + 1:
        return False
    return a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one letter added, dropped or changed."""
    if a == b or abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < _MIN_TYPO_SURNAME - 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


# -- phrases -----------------------------------------------------------------------------------


def _clause_start(doc: _Doc, k: int) -> int:
    """First token of the clause that ends before token ``k`` (sentence start, quote, colon)."""
    sent_start = doc.sent_starts[doc.sent_of(doc.toks[k].start)]
    lo = max(0, k - _MAX_CLAUSE)
    i = k
    while i > lo:
        t = doc.toks[i - 1]
        if t.start < sent_start or t.quote >= 0 or t.word in ":;" or t.word in '“”"«»„':
            break
        i -= 1
    return i


def _split_parts(toks: Sequence[_Tok]) -> list[list[_Tok]]:
    parts: list[list[_Tok]] = [[]]
    for t in toks:
        if t.word in (",", "—", "–", "(", ")"):
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _non_subject(part: Sequence[_Tok]) -> bool:
    """Parts that cannot be the speaker: clauses, ages, participle phrases."""
    if not part:
        return True
    w = part[0].lower
    if w in _RELATIVES and len(part) > 1:
        return True
    if w in _CONJUNCTIONS or w in _PARTICIPLES or w in _PREPOSITIONS:
        return True
    if w[0].isdigit():
        return True
    return (w.endswith("ing") or w.endswith("ed")) and not part[0].is_cap


def _phrase_ref(doc: _Doc, part: Sequence[_Tok], subject: bool) -> _Ref | None:
    """What one comma-free phrase refers to: a name, a pronoun or a description."""
    toks = [t for t in part if t.word not in ".'’:;"]
    if not toks:
        return None
    if len(toks) >= 2 and toks[-1].lower in _DOCUMENTS and toks[-2].is_cap and not subject:
        # "according to the Harlow Capital note": the body that wrote it.
        ref = _phrase_ref(doc, toks[:-1], subject)
        if ref is not None and ref.kind is _RefKind.NAME:
            return replace(ref, org=True, person=False)
    # Clauses inside the phrase: the subject follows the last relative word, the object of an
    # inverted attribution comes before the first one.
    rel = [k for k, t in enumerate(toks) if t.lower in _RELATIVES]
    if rel and _describes_subject(toks, rel[0]):
        # "A diplomat who asked not to be named said" (or "said a diplomat who asked not to be
        # named"): one description, as written.
        text = _SPACES_RE.sub(" ", doc.text[toks[0].start : toks[-1].end])
        return _Ref(_RefKind.DESC, text[0].lower() + text[1:], toks[0].start)
    if rel:
        if subject:
            tail = toks[rel[-1] + 1 :]
            if tail:
                toks = tail
            elif toks[rel[-1]].lower in ("who", "which"):
                return None  # the caller looks at the antecedent
            else:
                toks = toks[: rel[-1]]
        else:
            toks = toks[: rel[0]]
    if subject:
        # "… but drew applause when he said": the subject follows the last subordinating word.
        subs = [k for k, t in enumerate(toks) if k > 0 and t.lower in _SUBORDINATORS]
        if subs and subs[-1] + 1 < len(toks):
            nxt = toks[subs[-1] + 1]
            if nxt.word[0].islower() and nxt.lower.endswith("ing"):
                # "X while addressing reporters said": a clause with no subject of its own.
                toks = toks[: subs[-1]]
            else:
                toks = toks[subs[-1] + 1 :]
    while toks and toks[0].lower in _CONJUNCTIONS:
        toks = toks[1:]
    while toks and toks[-1].lower in _SKIPPABLE:
        toks = toks[:-1]
    if not toks:
        return None
    if len(toks) == 1 and toks[0].lower in _PERSON_PRONOUNS | _GROUP_PRONOUNS:
        return _Ref(_RefKind.PRONOUN, toks[0].lower, toks[0].start)
    if subject and len(toks) > 8:
        # A long clause: keep the noun phrase nearest the verb.
        dets = [k for k, t in enumerate(toks) if t.lower in _DETERMINERS and k >= len(toks) - 8]
        toks = toks[dets[0] :] if dets else toks[-4:]
    # The head is what comes before the first preposition (keeping "Chamber of Commerce").
    cut = len(toks)
    for k, t in enumerate(toks):
        if k > 0 and t.lower in _PREPOSITIONS and t.word[0].islower():
            joined = _links_name(toks[k - 1], t) and k + 1 < len(toks) and toks[k + 1].is_cap
            if not joined:
                cut = k
                break
    head = toks[:cut]
    det = head[0].lower if head and head[0].lower in _DETERMINERS else ""
    # A capitalised run ending the head is a name.
    k = len(head)
    while k > 0:
        t = head[k - 1]
        if t.is_word and (t.is_cap or (t.lower in _PARTICLES and k < len(head))):
            if t.possessive and k < len(head):
                break
            k -= 1
            continue
        if k < len(head) and k >= 2 and _links_name(head[k - 2], t):
            k -= 1
            continue
        break
    run = [t.word for t in head[k:]]
    if run and k == 0 and det == "" and run[0].lower() in _DETERMINERS:
        run = run[1:]
    words = _strip_title(list(run))
    pair = _coordinated(head, k, words)
    if pair is not None:
        return _Ref(_RefKind.NAME, pair[0], pair[1], person=True)
    if words:
        sentence_initial = doc.starts_sentence(head[k].start)
        single = _is_surname_only(words)
        common = single and (
            words[0].lower() in doc.lower_words
            or words[0].lower() in _COMMON_SUBJECTS
            or (sentence_initial and k == 0 and cut < len(toks))
        )
        # "the watchdog group SafeLine": a body named after its kind.
        kind_before = k >= 2 and head[k - 1].word[0].islower() and head[k - 1].lower in _ORG_NOUNS
        if single and words[0] in doc.org_short and not common:
            words, kind_before = doc.org_short[words[0]].split(), True
        bare = det == "the" and single and not _is_org_name(words) and not kind_before
        if not bare and not common:
            if single and words[0].lower() in _PARTICLES:
                words = [words[0].lower(), *words[1:]]
            org = kind_before or _is_org_name(words) or " ".join(words) in doc.org_names
            person = not org and (
                not single
                or _surname_key(doc, _name_key(words)) is not None
                or _overlaps(doc.person_hint, head[k].start, head[-1].end)
            )
            return _Ref(_RefKind.NAME, " ".join(words), head[k].start, org=org, person=person)
    # A description: the phrase as written, its first word lower-cased if it is not a name.
    while len(toks) > 1 and toks[-1].lower in _PREPOSITIONS:
        toks = toks[:-1]  # "protesters outside"
    start = toks[0].start
    end = toks[-1].end
    text = _SPACES_RE.sub(" ", doc.text[start:end])
    first = toks[0]
    if first.is_cap and (
        first.lower in _DETERMINERS
        or first.lower in doc.lower_words
        or first.lower in _COMMON_SUBJECTS
    ):
        text = text[0].lower() + text[1:]
    return _Ref(_RefKind.DESC, text, start)


def _coordinated(head: Sequence[_Tok], k: int, words: Sequence[str]) -> tuple[str, int] | None:
    """``Justices Anna Berg and Paul Kent``: two full names joined by ``and`` speak together
    (the text and the start of the pair), when neither is an organisation's name."""
    if k < 3 or head[k - 1].lower != "and" or len(words) < 2 or _is_org_name(words):
        return None
    m = k - 1
    while m > 0 and head[m - 1].is_word and head[m - 1].is_cap:
        m -= 1
    first = _strip_title([t.word for t in head[m : k - 1]])
    if len(first) < 2 or _is_org_name(first):
        return None
    start = head[k - 1 - len(first)].start
    return " ".join([*first, "and", *words]), start


def _describes_subject(toks: Sequence[_Tok], r: int) -> bool:
    """Whether the relative word at ``r`` opens a clause describing the noun phrase before it
    that is itself the subject (``a diplomat who asked not to be named``), and not one whose
    subject follows (``the plan that the minister``)."""
    # The noun phrase and the clause are bounded each on its own, so that a long head (``a
    # manager at the Kestrel Line shipping company``) still keeps a short clause after it.
    if not (0 < r <= _MAX_DESC_HEAD and r < len(toks) - 1 and toks[0].lower in _INDEFINITE):
        return False
    if len(toks) - r - 1 > _MAX_DESC_CLAUSE:
        return False
    if toks[r].lower not in ("who", "that"):
        return False
    if toks[r - 1].is_cap and not _place_before(toks, r - 1):
        # "a lawyer for Anna Berg who …" may describe Anna Berg; "a former Halvorsen engineer who"
        # and "a nurse in Marlow who" (a lower-case noun, or a place) describe the speaker.
        return False
    nxt = toks[r + 1]
    return (
        nxt.word[0].islower()
        and nxt.lower not in _DETERMINERS
        and nxt.lower not in _PERSON_PRONOUNS | _GROUP_PRONOUNS
        and nxt.lower not in _COMMON_SUBJECTS
        and nxt.lower not in ("we", "i", "you")
    )


def _place_before(toks: Sequence[_Tok], k: int) -> bool:
    """Whether the capitalised run ending at ``k`` follows a preposition of place (``a nurse
    in Marlow``): a place, not a person the clause after it could describe."""
    while k > 0 and toks[k].is_cap:
        k -= 1
    return k > 0 and toks[k].lower in _PLACE_PREPOSITIONS


def _antecedent_np(doc: _Doc, part: Sequence[_Tok]) -> _Ref | None:
    """``… infuriated the visiting fans, who chanted``: the noun phrase before ``who``."""
    start = 0
    for k, t in enumerate(part):
        if (
            t.lower in _RELATIVES
            or t.lower in _REPORTING
            or (
                t.word[0].islower()
                and t.lower.endswith("ed")
                and not _participle_phrase(part, k)  # "an agent involved in the talks"
            )
        ):
            start = k + 1
    dets = [k for k, t in enumerate(part[start:], start) if t.lower in _DETERMINERS]
    if not dets:
        return None
    return _phrase_ref(doc, part[dets[0] :], subject=True)


def _np_before(doc: _Doc, toks: Sequence[_Tok]) -> _Ref | None:
    """The short noun phrase that ends ``toks`` and opens with a determiner (``a judge``,
    ``the former minister``), or None."""
    for d in range(len(toks) - 1, max(-1, len(toks) - 5), -1):
        t = toks[d]
        if t.lower in _DETERMINERS:
            return _phrase_ref(doc, toks[d:], subject=True) if d < len(toks) - 1 else None
        if not t.is_word or t.quote >= 0 or t.lower in _PREPOSITIONS or t.lower in _NP_STOP:
            return None
    return None


def _skippable(t: _Tok) -> bool:
    """Auxiliaries and adverbs between a subject and its verb ("she later said")."""
    return t.lower in _SKIPPABLE or (t.lower.endswith("ly") and t.word[0].islower())


def _subject_of_verb(doc: _Doc, k: int, lo: int) -> _Ref | None:
    """The subject before the reporting verb at token ``k`` (clause from token ``lo``)."""
    toks = doc.toks
    if k > 0 and toks[k - 1].lower == "to":
        return None  # "declined to say"
    if toks[k].lower in _PARTICIPLES or toks[k].lower == "according":
        return None
    j = k
    while j > lo and _skippable(toks[j - 1]):
        j -= 1
    span = list(toks[lo:j])
    if not span:
        return None
    if doc.starts_sentence(toks[k].start):
        return None
    span = _last_clause(span)
    parts = _split_parts(span)
    which = [n for n, t in enumerate(parts[-1][:2]) if t.lower == "which"]
    if which and len(parts[-1]) > which[0] + 1:
        # "to which the official replied": the subject follows the relative word.
        parts[-1] = parts[-1][which[0] + 1 :]
    elif parts[-1] and len(parts) >= 2 and parts[-1][0].lower in _PREPOSITIONS:
        # "Adeyanju, in a tweet wrote:": the phrase tells how; the subject comes before it.
        parts = parts[:-1]
    if parts[-1]:
        ref = _phrase_ref(doc, parts[-1], subject=True)
        if ref is None and parts[-1][-1].lower in ("who", "which"):
            # "… by a judge who said": the noun phrase right before the relative word.
            ref = _np_before(doc, parts[-1][:-1])
            if ref is None and len(parts) > 1:
                return _antecedent_np(doc, parts[-2])
            return ref
        if ref is not None and len(parts[-1]) == 1 and parts[-1][0].lower in _RELATIVES:
            return None
        return ref
    # "X, <appositive or clause>, said"
    parts = parts[:-1]
    if len(parts) < 2:
        return _phrase_ref(doc, parts[0], subject=True) if parts and parts[0] else None
    last, before = parts[-1], parts[-2]
    if _non_subject(last):
        if len(parts) >= 3 and _non_subject(before):
            before = parts[-3]
        return _phrase_ref(doc, before, subject=True) if before else None
    ref_last = _phrase_ref(doc, last, subject=True)
    ref_before = _phrase_ref(doc, before, subject=True) if before else None
    if ref_last is not None and ref_last.kind is _RefKind.NAME:
        if ref_before is not None and ref_before.kind is _RefKind.NAME and not ref_before.org:
            return ref_before
        if (
            len(parts) >= 3
            and not ref_last.person
            and ref_before is not None
            and ref_before.kind is _RefKind.DESC
            and before[-1].lower in _ORG_NOUNS
        ):
            # "X, chief economist at the world's largest fund, Y Associates, said": Y names
            # the body the description ends with; X speaks.
            first = _phrase_ref(doc, parts[-3], subject=True) if parts[-3] else None
            if first is not None and first.kind is _RefKind.NAME and not first.org:
                return first
        return ref_last
    if ref_before is not None:
        return ref_before
    return ref_last


def _last_clause(span: Sequence[_Tok]) -> list[_Tok]:
    """The clause right before a reporting verb when ``and``/``but`` joins it to a clause of
    the writer's (``… will spend six weeks there and Tulle said``): from the conjunction on,
    when a name or a pronoun alone follows it and a lower-case word ends the clause before."""
    for c in range(len(span) - 2, 2, -1):
        if span[c].lower not in ("and", "but"):
            continue
        before, rest = span[c - 1], span[c + 1 :]
        if before.is_cap or not before.is_word or len(rest) > _MAX_NAME_WORDS:
            return list(span)
        if all(t.is_cap for t in rest) or (len(rest) == 1 and rest[0].lower in _PERSON_PRONOUNS):
            return list(rest)
        return list(span)
    return list(span)


def _verb_after(part: Sequence[_Tok]) -> int:
    """Where a noun phrase in ``part`` ends at a lower-case reporting verb of its own or a
    subordinating word (before any relative word), else the part's length."""
    for n, t in enumerate(part):
        if t.lower in _RELATIVES:
            break
        if n > 0 and t.is_word and t.word[0].islower() and t.lower in _REPORTING | _SUBORDINATORS:
            return n  # "said the coach as he left": the clause after "as" is not the speaker's
    return len(part)


def _object_of_verb(doc: _Doc, k: int, hi: int) -> _Ref | None:
    """The speaker after an inverted verb: ``said Marcus Webb, who …``, ``according to X``."""
    toks = doc.toks
    lo = k + 1
    if toks[k].lower == "according" and lo < hi and toks[lo].lower == "to":
        lo += 1
    parts = [p for p in _split_parts(toks[lo:hi]) if p][:4]
    if not parts or _non_subject(parts[0]):
        return None
    # "said X said at a briefing": the object ends where a verb of its own begins (not one in
    # a relative clause: "said a diplomat who asked not to be named").
    parts = [p[: _verb_after(p)] for p in parts]
    valid = [p for p in parts[:3] if not _non_subject(p)][:2]
    refs = [_phrase_ref(doc, p, subject=False) for p in valid]
    for ref in refs:
        if ref is not None and ref.kind is not _RefKind.DESC:
            return ref
    return refs[0] if refs else None


def _opens_clause(doc: _Doc, m: _Mention, first: _Mention) -> bool:
    """Whether ``m``, a person other than ``first``, opens a clause of its own after a
    subordinating word (``X did this while Y did that``): a second subject ``she`` may mean."""
    k = doc.tok_at(m.pos)
    return (
        m.kind is _Mentioned.PERSON
        and m.name != first.name
        and k > 0
        and doc.toks[k - 1].lower in _SUBORDINATORS
    )


# -- resolution --------------------------------------------------------------------------------


def _resolve(doc: _Doc, ref: _Ref | None, depth: int = 0) -> str | None:
    if ref is None:
        return None
    if ref.kind is _RefKind.NAME:
        name = _canonical(doc, ref.text.split(), ref.pos)
        return _spelt_out(doc.text, name) or name
    if ref.kind is _RefKind.PRONOUN:
        if ref.text in _PERSON_PRONOUNS:
            found = _person_before(doc, ref.pos, depth, ref.text)
            return found[1] if found else None
        org = _org_before(doc, ref.pos, 3)
        return org[1] if org else None
    return _resolve_description(doc, ref, depth)


_ACRONYM_RE = re.compile(r"[A-Z]{2,8}")
_NAME_WORD_RE = re.compile(r"[A-Z][\w'’.&-]*|of|and|for|the|on|de|&")


def _spelt_out(text: str, acronym: str) -> str | None:
    """The name an acronym was introduced for, ``Queensland Fire and Emergency Services
    (QFES)``, when the text spells it out so: its capitalised words' initials are the acronym."""
    if not _ACRONYM_RE.fullmatch(acronym):
        return None
    for m in re.finditer(rf"\(\s*{acronym}\s*\)", text):
        words = text[: m.start()].split()
        for k in range(len(words) - 1, max(len(words) - 12, -1), -1):
            if not _NAME_WORD_RE.fullmatch(words[k]):
                break
            if not words[k][:1].isupper():
                continue
            name = words[k:]
            if "".join(w[0] for w in name if w[:1].isupper()) == acronym:
                return " ".join(name)
    return None


def _person_before(doc: _Doc, pos: int, depth: int, pronoun: str = "") -> tuple[int, str] | None:
    """The person a ``he``/``she`` at ``pos`` most likely means: the subject of a reporting verb
    in the nearest earlier sentence that has one, else that sentence's first named person; for
    a ``pronoun``, only people whose known gender agrees with it."""
    if depth > 4:
        return None
    sent = doc.sent_of(pos)
    a_hi = bisect_left(doc.actor_pos, pos)
    m_hi = bisect_left(doc.mention_pos, pos)
    a_i, m_i = a_hi - 1, m_hi - 1
    # The first person of a sentence that names several and reports nobody: kept in case no
    # earlier sentence reports someone ("X did this while Y did that. She said:").
    ambiguous: tuple[int, str] | None = None
    for s in range(sent, max(-1, sent - _MAX_SENTENCES - 1), -1):
        actors: list[_Actor] = []
        while a_i >= 0 and doc.actors[a_i].sent >= s and a_i > a_hi - _MAX_ITEMS:
            if doc.actors[a_i].sent == s:
                actors.append(doc.actors[a_i])
            a_i -= 1
        if s < sent:
            # In an earlier sentence the subject of its first reporting verb, the main clause's,
            # comes first ("X said the judge denied …": X), not one inside what it reported.
            actors.reverse()
        for actor in actors:  # nearest first
            ref = actor.ref
            if (
                ref.kind is _RefKind.NAME
                and not ref.org
                and (ref.person or _is_surname_only(ref.text.split()))
                and not _not_person(doc, ref)
            ):
                name = _canonical(doc, ref.text.split(), ref.pos)
                if _agrees(doc, name, pronoun):
                    return actor.pos, name
                continue
            if ref.kind is _RefKind.PRONOUN and ref.text in _PERSON_PRONOUNS:
                if pronoun and ref.text != pronoun:
                    continue
                return _person_before(doc, ref.pos, depth + 1, pronoun)
            if (
                ref.kind is _RefKind.DESC
                and _is_bare(ref)
                and not _is_org_noun(ref)
                and not _is_plural(ref.text.split()[-1])  # "the negotiations" is nobody
            ):
                described = _resolve_description(doc, ref, depth + 1)
                if described is not None and _agrees(doc, described, pronoun):
                    return actor.pos, described
        mentions: list[_Mention] = []
        while m_i >= 0 and doc.mentions[m_i].sent >= s and m_i > m_hi - _MAX_ITEMS:
            if doc.mentions[m_i].sent == s:
                mentions.append(doc.mentions[m_i])
            m_i -= 1
        mentions.reverse()
        people = [
            m
            for m in mentions
            if (
                m.kind is _Mentioned.PERSON
                and _agrees(doc, m.name, pronoun)
                and doc.toks[doc.tok_at(m.pos)].quote < 0  # a name inside a quote is spoken of
            )
            or (m.kind is _Mentioned.PRONOUN and (not pronoun or m.name == pronoun))
        ]
        if people and ambiguous is None:
            plain = [m for m in people if not m.possessive] or people
            first = plain[0]
            if first.kind is _Mentioned.PRONOUN:
                return _person_before(doc, first.pos, depth + 1, pronoun)
            if not pronoun or not any(_opens_clause(doc, m, first) for m in plain):
                return first.pos, first.name
            ambiguous = first.pos, first.name
    return ambiguous


# Last words of a place's name ("Wall Street", "Downing Street"): never a person's.
_PLACE_HEADS = _words("street road avenue lane square boulevard bridge river valley")


def _not_person(doc: _Doc, ref: _Ref) -> bool:
    """A name that the text (or the recogniser) shows to be a place, a country, a nationality
    or an organisation: never what ``he`` or ``she`` stands for."""
    if ref.person and _overlaps(doc.person_hint, ref.pos, ref.pos + len(ref.text)):
        return False
    end = ref.pos + len(ref.text)
    return (
        _is_country(ref.text.split())
        or ref.text.split()[-1].lower() in _PLACE_HEADS
        or _overlaps(doc.place_hint, ref.pos, end)
        or (
            _overlaps(doc.org_hint, ref.pos, end)
            and _name_key(ref.text.split()) not in doc.person_words
        )
        or ref.text in doc.org_names
    )


def _org_before(doc: _Doc, pos: int, sentences: int, head: str = "") -> tuple[int, str] | None:
    """The organisation meant at ``pos``: one whose name contains ``head`` ("the ministry" and
    "Foreign Ministry"), else the latest organisation quoted as a speaker, else the latest
    organisation named; with a ``head``, never one named as another kind of body."""
    sent = doc.sent_of(pos)
    named: list[tuple[int, str]] = []
    hi = bisect_left(doc.mention_pos, pos)
    i = hi - 1
    while i >= 0 and doc.mentions[i].sent >= sent - sentences and i > hi - _MAX_ITEMS:
        m = doc.mentions[i]
        if m.kind is _Mentioned.ORG:
            named.append((m.pos, m.name))
        i -= 1
    speaking: list[tuple[int, str]] = []
    hi = bisect_left(doc.actor_pos, pos)
    i = hi - 1
    while i >= 0 and doc.actors[i].sent >= sent - sentences and i > hi - _MAX_ITEMS:
        ref = doc.actors[i].ref
        known = ref.org or ref.text in doc.org_names
        # With a head noun ("the council"), a lone name not known to be a body ("Hale said")
        # is more likely a person whose first name the text never gave.
        if ref.kind is _RefKind.NAME and not ref.person and (known or not head):
            speaking.append((doc.actors[i].pos, ref.text))
        i -= 1
    if head:
        for found in sorted(named + speaking, reverse=True):
            if head in found[1].lower().split():
                return found
        # A body of another kind ("Transport Ministry", "Information Commissioner’s Office")
        # is not what "the company" means.
        speaking = [f for f in speaking if not _other_body(f[1], head)]
        named = [f for f in named if not _other_body(f[1], head)]
    if speaking:
        return speaking[0]
    if named:
        return named[0]
    return None


def _other_body(name: str, head: str) -> bool:
    last = name.split()[-1].lower()
    return last in _ORG_NOUNS and last != head


def _is_bare(ref: _Ref) -> bool:
    words = ref.text.split()
    return len(words) == 2 and words[0].lower() == "the"


def _is_plural(word: str) -> bool:
    """A plural noun by its ending (``negotiations``, ``parents``; not ``boss``, ``virus``)."""
    w = word.lower()
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is"))


def _is_org_noun(ref: _Ref) -> bool:
    return ref.text.split()[-1].lower() in _ORG_NOUNS


def _modified_head(ref: _Ref) -> tuple[str, str] | None:
    """``the party figure``: a lower-case modifier and the head noun of a short description."""
    words = ref.text.split()
    if len(words) != 3 or words[0].lower() != "the":
        return None
    if not all(w.isalpha() and w.islower() for w in words[1:]):
        return None
    return words[1], words[2]


def _capitalised_role(ref: _Ref) -> bool:
    """``the Prime Minister``, ``the Foreign Secretary``: a title written as a name."""
    words = ref.text.split()
    if not 3 <= len(words) <= 4 or words[0].lower() != "the":
        return False
    if not all(w.isalpha() and w[0].isupper() for w in words[1:]):
        return False
    return _is_title(words[-1]) and words[-1].lower() not in _ORG_NOUNS


def _named_later(doc: _Doc, ref: _Ref) -> str | None:
    """``a judge`` (or ``a senior judge``) introduced before being named: the first person named
    afterwards with that title (``Judge Alun Rees``), within a few sentences."""
    words = ref.text.split()
    if not 2 <= len(words) <= 3 or words[0].lower() not in ("a", "an"):
        return None
    if not all(w.isalpha() and w.islower() for w in words[1:]):
        return None
    found = doc.titled.get(words[-1], ())
    k = bisect_right(found, (ref.pos, "\U0010ffff"))
    if k == len(found):
        return None
    pos, name = found[k]
    if doc.sent_of(pos) - doc.sent_of(ref.pos) > _MAX_SENTENCES:
        return None
    return name


def _role_holder(doc: _Doc, ref: _Ref, depth: int) -> str | None:
    """``the president`` or ``the president of the union``: the person the text named with
    that title (``President Ana Ruiz``, ``union president Ana Ruiz``), the nearest before, else
    the first after; for ``the <title> of …`` that nobody was named with, the person the
    sentences before speak of (as for ``the judge``)."""
    words = ref.text.split()
    if len(words) < 2 or words[0].lower() != "the":
        return None
    cut = next((k for k, w in enumerate(words) if k > 0 and w.lower() in _PREPOSITIONS), None)
    head = words[(cut or len(words)) - 1].lower()
    if not _is_title(head) or head in _ORG_NOUNS or _is_plural(head):
        return None
    found = doc.titled.get(head, ()) or doc.titled.get(_SAME_ROLE.get(head, ""), ())
    if found:
        k = bisect_right(found, (ref.pos, "\U0010ffff"))
        return found[k - 1][1] if k > 0 else found[0][1]
    if cut is None or len(words) == 2:
        return None  # a bare "the judge": the caller's rules
    person = _person_before(doc, ref.pos, depth + 1)
    return person[1] if person is not None else None


def _resolve_description(doc: _Doc, ref: _Ref, depth: int) -> str | None:
    named_later = _named_later(doc, ref)
    if named_later is not None:
        return named_later
    role = _role_holder(doc, ref, depth)
    if role is not None:
        return role
    modified = _modified_head(ref)
    if modified is not None:
        # "the party figure" for "a senior figure in Mallory's party": the same head, and the
        # modifier found in the earlier description.
        modifier, head = modified
        found = _indefinite_before(doc, head, ref.pos, modifier, body=head in _ORG_NOUNS)
        if found is None and _is_title(head) and head not in _ORG_NOUNS:
            # "the head coach" when no coach was introduced: the person just spoken of.
            found = _person_before(doc, ref.pos, depth + 1)
        return found[1] if found is not None else ref.text
    if _capitalised_role(ref):
        # "The Prime Minister said:" with no name after it: the person just spoken of.
        found = _person_before(doc, ref.pos, depth + 1)
        return found[1] if found is not None else ref.text
    if not _is_bare(ref):
        return ref.text
    word = ref.text.split()[-1]
    head = word.lower()
    if word[0].isupper() and head in _ORG_WORDS:
        return ref.text  # "the Kremlin", "the Pentagon"
    capitals = "".join(c for c in word if c.isupper())
    if len(capitals) >= 2:
        # "the MoD": an abbreviation, for the one body whose capitals spell it, else as written.
        bodies = [
            n
            for n in sorted(doc.org_names)[:_MAX_ITEMS]
            if "".join(w[0] for w in n.split() if w[:1].isupper()) == capitals
        ]
        return bodies[0] if len(bodies) == 1 else word
    antecedent = _indefinite_before(doc, head, ref.pos, body=_is_org_noun(ref))
    if _is_org_noun(ref):
        named = _org_before(doc, ref.pos, _MAX_SENTENCES, head)
    else:
        named = _person_before(doc, ref.pos, depth + 1)
    # The description wins over a person named later in its own sentence, who is more likely
    # the subject of what was reported ("An agent …, said Hale had asked"), and over one who
    # is only spoken of when the description was the subject of a reporting verb ("A police
    # officer said …" and later "said the officer", with a victim named in between).
    if antecedent is not None and (
        named is None
        or antecedent[0] > named[0]
        or doc.sent_of(antecedent[0]) == doc.sent_of(named[0])
        or (_is_actor(doc, antecedent[0]) and not _is_actor(doc, named[0]))
    ):
        return antecedent[1]
    if named is not None:
        return named[1]
    return ref.text


def _is_actor(doc: _Doc, pos: int) -> bool:
    """Whether the phrase at ``pos`` is the subject of a reporting verb."""
    a = bisect_left(doc.actor_pos, pos)
    return a < len(doc.actor_pos) and doc.actor_pos[a] == pos


def _indefinite_before(
    doc: _Doc, head: str, pos: int, modifier: str = "", body: bool = False
) -> tuple[int, str] | None:
    """``a Western diplomat familiar with the talks`` for ``the diplomat``; with a
    ``modifier``, only a description that contains it (``the party figure``). For a ``body``
    (``the council``) the word must head its phrase: ``a council treasurer`` is a person."""
    toks = doc.toks
    hi = doc.tok_at(pos)
    places = doc.word_index.get(head, ())
    for n in range(bisect_left(places, hi) - 1, -1, -1):
        k = places[n]
        if k <= hi - _MAX_ANTECEDENT or n < bisect_left(places, hi) - _MAX_ITEMS:
            break
        d = k - 1
        while d >= max(0, k - 4) and toks[d].is_word and toks[d].lower not in _INDEFINITE:
            d -= 1
        if d < 0 or toks[d].lower not in _INDEFINITE or d < k - 4:
            continue
        if body and k + 1 < len(toks) and _continues_noun(toks[k + 1]):
            continue
        # The subject of a reporting verb: the description as read up to that verb (the
        # longest, for "A diplomat who asked not to be named said").
        a = bisect_left(doc.actor_pos, toks[d].start)
        best: _Ref | None = None
        while a < len(doc.actors) and doc.actor_pos[a] == toks[d].start:
            ref = doc.actors[a].ref
            if ref.kind is _RefKind.DESC and head in ref.text.lower().split():
                best = ref if best is None or len(ref.text) > len(best.text) else best
            a += 1
        if best is not None:
            if modifier and modifier not in _plain_words(best.text):
                continue
            return best.pos, best.text
        end = k + 1
        while end < len(toks) and end < k + 8:
            t = toks[end]
            if not t.is_word or t.quote >= 0 or t.lower in _NP_STOP or t.lower in _REPORTING:
                break
            if t.word[0].islower() and t.lower.endswith("ed") and not _participle_phrase(toks, end):
                break
            end += 1
        text = _SPACES_RE.sub(" ", doc.text[toks[d].start : toks[end - 1].end])
        if modifier and modifier not in _plain_words(text):
            continue
        return toks[d].start, text[0].lower() + text[1:]
    return None


def _continues_noun(t: _Tok) -> bool:
    """Whether ``t`` goes on with the noun phrase, so the word before it is not its head."""
    return (
        t.is_word
        and t.quote < 0
        and t.word[0].islower()
        and t.lower not in _PREPOSITIONS
        and t.lower not in _NP_STOP
        and t.lower not in _REPORTING
    )


def _plain_words(text: str) -> frozenset[str]:
    """The lower-case words of ``text`` without possessive endings."""
    return frozenset(
        w.removesuffix("'s").removesuffix("’s") for w in _TOKEN_RE.findall(text.lower())
    )


def _participle_phrase(toks: Sequence[_Tok], k: int) -> bool:
    """``involved in``, ``briefed on``: a past participle with its preposition, which goes on
    describing the noun before it (where ``declined to`` or ``visited the site`` would not)."""
    nxt = toks[k + 1] if k + 1 < len(toks) else None
    return nxt is not None and nxt.quote < 0 and nxt.lower in _PREPOSITIONS and nxt.lower != "to"


# -- attribution -------------------------------------------------------------------------------


def _sentence_bounds(doc: _Doc, pos: int) -> tuple[int, int]:
    s = doc.sent_of(pos)
    end = doc.sent_starts[s + 1] if s + 1 < len(doc.sent_starts) else len(doc.text)
    return doc.sent_starts[s], end


def _after_attribution(doc: _Doc, passage: _Passage) -> tuple[_Ref | None, int]:
    """The attribution right after a quote, and where its sentence ends (-1 if none)."""
    toks = doc.toks
    lo = doc.tok_at(passage.close_mark + 1)
    _, sent_end = _sentence_bounds(doc, passage.close_mark)
    if (
        lo < len(toks)
        and doc.text[passage.start : passage.end].rstrip()[-1:] in _TERMINAL
        and doc.starts_sentence(toks[lo].start)
        and doc.para_of(toks[lo].start) == doc.para_of(passage.close_mark)
    ):
        # “… in his hand?” Mr Crook said.: a question ends the sentence, not the attribution
        # (and a full stop, when the sentence after only says who spoke: see below).
        _, sent_end = _sentence_bounds(doc, toks[lo].start)
    hi = lo
    while hi < len(toks) and hi < lo + _MAX_AFTER and toks[hi].start < sent_end:
        if toks[hi].quote >= 0 or toks[hi].word in '“"«„':
            break
        hi += 1
    content = doc.text[passage.start : passage.end]
    first = toks[lo] if lo < hi else None
    if first is None:
        return None, -1
    open_ended = content[-1] in ",?!—–-" or first.word == "," or first.word[0].islower()
    if not open_ended and content[-1] in _TERMINAL and not _bare_attribution(toks, lo, hi):
        return None, -1
    lead = [t.lower for t in toks[lo : min(hi, lo + 3)] if t.word != ","]
    if lead[:1] == ["which"] or lead[:2] == ["to", "which"]:
        # “…,” to which the official replied: “…”: the clause reports the next quote.
        return None, -1
    for k in range(lo, min(hi, lo + 12)):
        t = toks[k]
        if t.lower not in _REPORTING or t.lower in _PARTICIPLES:
            continue
        if t.lower == "according" and not (k + 1 < hi and toks[k + 1].lower == "to"):
            continue
        before = [u for u in toks[lo:k] if u.word != ","]
        if before and t.lower != "according":
            ref = _subject_of_verb(doc, k, lo + (1 if toks[lo].word == "," else 0))
        else:
            ref = _object_of_verb(doc, k, hi)
        if ref is not None:
            end = toks[hi - 1].end if hi > lo else passage.close_mark + 1
            return ref, end
    return None, -1


def _bare_attribution(toks: Sequence[_Tok], lo: int, hi: int) -> bool:
    """A sentence after a closed quote that only says who said it: ``“… solid.” The company
    said in a press release.`` (a reporting verb within its first words, then at most a
    phrase that tells where or how)."""
    words = [t for t in toks[lo:hi] if t.is_word]
    for n, t in enumerate(words[: _MAX_NAME_WORDS + 1]):
        if t.lower in _REPORTING and t.lower not in _PARTICIPLES and n > 0:
            rest = words[n + 1 :]
            return not rest or (rest[0].lower in _PREPOSITIONS and rest[0].lower != "to")
    return False


def _before_attribution(doc: _Doc, pos: int, lo_pos: int) -> _Ref | None:
    """The subject of the reporting verb nearest before ``pos`` (from ``lo_pos``) that has one:
    ``Peskov told reporters that the talks were “…”``, ``she said, adding that … “…”``."""
    toks = doc.toks
    hi = doc.tok_at(pos)
    lo = max(doc.tok_at(lo_pos), hi - _MAX_CLAUSE)
    for k in range(hi - 1, lo - 1, -1):
        t = toks[k]
        if t.quote >= 0 or t.lower not in _REPORTING or t.lower in _PARTICIPLES:
            continue
        if k + 1 < hi and toks[k + 1].lower == "by" and k > 0 and toks[k - 1].lower in _PASSIVE:
            # "the audience was told by X:": the speaker is the agent.
            agent = _object_of_verb(doc, k + 1, hi)
            if agent is not None:
                return agent
        start = k
        while start > lo and toks[start - 1].quote < 0 and toks[start - 1].word not in ':;“”"«»„':
            start -= 1
        ref = _subject_of_verb(doc, k, start)
        if ref is not None:
            return ref
    return None


def _is_title_case(content: str, embedded: bool) -> bool:
    """A short passage in title case: a book, a show, a slogan's name. In mid-sentence it may
    carry the sentence's punctuation (“State of the Union.”)."""
    if embedded:
        content = content.rstrip(".,")
    words = _WORD_RE.findall(content)
    if len(words) < 2 or len(words) > 8 or content[-1] in _TERMINAL + ",":
        return False
    first = words[0][0]
    return (first.isupper() or first.isdigit()) and all(
        w[0].isupper() or w in _TITLE_SMALL for w in words[1:]
    )


def _classify(doc: _Doc, index: int) -> _Found | None:
    p = doc.passages[index]
    text = doc.text
    content = " ".join(text[a:b] for a, b in p.parts)
    words = _WORD_RE.findall(content)
    if not words:
        return None
    if len(words) == 1 and content[-1] not in _TERMINAL + ",":
        return None  # a scare quote
    sent_start, _ = _sentence_bounds(doc, p.open_mark)
    before = text[sent_start : p.open_mark].strip()
    if _is_title_case(content, bool(before) and not before.endswith(":")):
        return None  # a title
    first_alpha = next((c for c in content if c.isalnum()), "")
    upper = first_alpha.isupper() or first_alpha.isdigit()
    ends = _ends_sentence(doc, p)
    # After a colon, a quote followed by more words of its sentence is a phrase of it (a
    # headline's ``X: 'A phrase' ahead``).
    colon = before.endswith(":") and (ends or content[-1] in _TERMINAL)
    full = upper and (content[-1] in _TERMINAL + "," or not before or colon)
    if not before and content[-1] in _TERMINAL + "," and _opens_paragraph(doc, p.open_mark):
        full = True  # a paragraph of speech, whatever its first letter ("… we were asked.")
    if full and not before and _crosshead(doc, p, content, len(words)):
        full = False
    verb = doc.tok_at(p.open_mark) - (2 if before.endswith(",") else 1)
    if (
        len(words) == 1
        and before
        and not before.endswith((":", ","))
        and (verb < 0 or doc.toks[verb].lower not in _REPORTING)
    ):
        return None  # a name in quote marks in mid-sentence: ``the journal “Nature,”``
    headline = p.open_mark < doc.headline_end and not before.endswith(":")
    if headline or (verb >= 0 and doc.toks[verb].lower == "that"):
        # A headline quoting someone (but not ``Name: ‘…’``), and ``said in a note that
        # “…”``: built into the writer's own sentence.
        full = False
    if verb >= 0 and doc.toks[verb].lower in _REPORTING and doc.toks[verb].quote < 0:
        # ``he said, “…”`` and ``he said “… .”``: speech, whatever its first letter, when it is
        # a sentence that ends the writer's one.
        if before.endswith(","):
            full = upper or (content[-1] in _TERMINAL and ends)
        elif content[-1] in _TERMINAL and ends and len(words) >= _MIN_FULL_WORDS:
            full = True
    after_ref, attribution_end = _after_attribution(doc, p) if full else (None, -1)
    if after_ref is not None:
        return _Found(index, True, after_ref, True, attribution_end)
    if before:
        ref = _before_attribution(doc, p.open_mark, sent_start)
        if ref is None and before.endswith(":"):
            ref = _label(doc, sent_start, p.open_mark)
        if ref is None and not full:
            ref = _partial_fallback(doc, p) or _sentence_person(doc, sent_start, p.open_mark)
        return _Found(index, full, ref, False, -1)
    if full:
        return _Found(index, True, None, False, -1)
    return _Found(index, False, _partial_fallback(doc, p), False, -1)


def _crosshead(doc: _Doc, p: _Passage, content: str, n_words: int) -> bool:
    """A paragraph that is only a few words in quote marks with no end to their sentence
    (``‘No time’`` between two paragraphs): a heading that borrows words, not speech."""
    if len(p.parts) != 1 or p.close_mark < 0 or content.rstrip()[-1:] in _TERMINAL + ",":
        return False
    if n_words > _MAX_CROSSHEAD_WORDS or not _opens_paragraph(doc, p.open_mark):
        return False
    rest = doc.text[p.close_mark + 1 :].split("\n", 1)[0]
    return not rest.strip()


def _opens_paragraph(doc: _Doc, pos: int) -> bool:
    """Whether only spaces come between the start of its paragraph and ``pos``."""
    start = doc.para_starts[doc.para_of(pos)]
    return not doc.text[start:pos].strip()


def _ends_sentence(doc: _Doc, p: _Passage) -> bool:
    """Whether nothing but punctuation follows the quote's closing mark in its sentence."""
    _, end = _sentence_bounds(doc, p.close_mark)
    return not _WORD_RE.search(doc.text, p.close_mark + 1, end)


def _label(doc: _Doc, start: int, mark: int) -> _Ref | None:
    """``Zelensky: ‘We will not give up’`` (a headline convention): a bare name and a colon."""
    toks = [t for t in doc.toks[doc.tok_at(start) : doc.tok_at(mark)] if t.word != ":"]
    if not toks or len(toks) > 4 or not all(t.is_cap or t.lower in _PARTICLES for t in toks):
        return None
    ref = _phrase_ref(doc, toks, subject=True)
    return ref if ref is not None and ref.kind is _RefKind.NAME else None


def _partial_fallback(doc: _Doc, p: _Passage) -> _Ref | None:
    """A partial quote with no verb before it: ``“a fantasy”, Lang said``."""
    toks = doc.toks
    lo = doc.tok_at(p.close_mark + 1)
    _, sent_end = _sentence_bounds(doc, p.close_mark)
    for k in range(lo, min(len(toks), lo + 6)):
        t = toks[k]
        if t.start >= sent_end or t.quote >= 0:
            break
        if t.lower in _REPORTING and t.lower not in _PARTICIPLES:
            before = [u for u in toks[lo:k] if u.word != ","]
            if before:
                return _subject_of_verb(doc, k, lo)
            return _object_of_verb(doc, k, min(len(toks), k + 12))
    return None


def _sentence_person(doc: _Doc, lo: int, hi: int) -> _Ref | None:
    """The person the writer's sentence is about, for a phrase it quotes with no verb of
    saying (``Rohan downgraded the shares, noting that “…”``): the first one it names before
    the quote."""
    m_lo, m_hi = bisect_left(doc.mention_pos, lo), bisect_left(doc.mention_pos, hi)
    for m in doc.mentions[m_lo:m_hi]:
        if m.kind is _Mentioned.PERSON and doc.toks[doc.tok_at(m.pos)].quote < 0:
            return _Ref(_RefKind.NAME, m.name, m.pos, person=True)
    return None


@dataclass(frozen=True, slots=True)
class _SameAs:
    """The same speaker as the quote at this index."""

    index: int


def _context_speaker(
    doc: _Doc, p: _Passage, found: Sequence[_Found], i: int
) -> _Ref | _SameAs | None:
    """A full quote with no attribution in its sentence: the previous sentence of its paragraph,
    or the speaker who ended the previous paragraph."""
    sent = doc.sent_of(p.open_mark)
    para = doc.para_of(p.open_mark)
    if sent == 0:
        return None
    prev_start = doc.sent_starts[sent - 1]
    prev_end = doc.sent_starts[sent]
    if doc.para_of(prev_start) != para:
        # The quote opens a paragraph: it continues the quote that closed the previous one.
        if i > 0 and doc.para_of(doc.passages[found[i - 1].passage].close_mark) == para - 1:
            prev = found[i - 1]
            close = doc.passages[prev.passage].close_mark
            rest = doc.text[close + 1 : doc.para_starts[para]]
            if prev.full and len(_WORD_RE.findall(rest)) <= 20:
                return _SameAs(i - 1)
        ref = _paragraph_before(doc, para, found, i)
        if ref is not None and _names_several_reports_none(doc, para - 1):
            # A lead-up that names several people and reports none of them (a match report):
            # the speaker named by the quote paragraph right after goes back to this one.
            ref = _next_speaker(doc, found, i, para) or ref
        if ref is None and i > 0 and found[i - 1].full:
            # A paragraph of scene-setting that names nobody between two quote paragraphs: the
            # speaker of the quote before goes on.
            close = doc.passages[found[i - 1].passage].close_mark
            between = doc.para_starts[para - 1] if para > 0 else 0
            if doc.para_of(close) == para - 2 and not _names_anyone(doc, between, p.open_mark):
                return _SameAs(i - 1)
        return ref
    # A quote in the previous sentence: the same speaker goes on.
    if i > 0 and doc.passages[found[i - 1].passage].close_mark >= prev_start and found[i - 1].full:
        return _SameAs(i - 1)
    ref = _before_attribution(doc, prev_end, prev_start)
    if ref is not None:
        return ref
    hi = bisect_left(doc.mention_pos, prev_end)
    lo = bisect_left(doc.mention_pos, prev_start)
    people = [m for m in doc.mentions[lo:hi] if m.kind is not _Mentioned.ORG and not m.possessive]
    if people:
        m = people[0]
        if m.kind is _Mentioned.PRONOUN:
            return _Ref(_RefKind.PRONOUN, m.name, m.pos)
        return _Ref(_RefKind.NAME, m.name, m.pos, person=True)
    return None


def _names_several_reports_none(doc: _Doc, para: int) -> bool:
    lo = doc.para_starts[para]
    hi = doc.para_starts[para + 1] if para + 1 < len(doc.para_starts) else len(doc.text)
    if bisect_left(doc.actor_pos, lo) < bisect_left(doc.actor_pos, hi):
        return False
    m_lo, m_hi = bisect_left(doc.mention_pos, lo), bisect_left(doc.mention_pos, hi)
    people = {m.name for m in doc.mentions[m_lo:m_hi] if m.kind is _Mentioned.PERSON}
    return len(people) >= 2


def _next_speaker(doc: _Doc, found: Sequence[_Found], i: int, para: int) -> _Ref | None:
    """The speaker of the next quote when it opens the next paragraph and its attribution
    follows it (``“…,” said X.``)."""
    if i + 1 >= len(found):
        return None
    nxt = found[i + 1]
    q = doc.passages[nxt.passage]
    if not (nxt.after and doc.para_of(q.open_mark) == para + 1):
        return None
    return nxt.speaker if _opens_paragraph(doc, q.open_mark) else None


def _names_anyone(doc: _Doc, lo: int, hi: int) -> bool:
    """Whether a person, a pronoun or an organisation is mentioned between ``lo`` and ``hi``,
    or a reporting verb's subject stands there."""
    m_lo, m_hi = bisect_left(doc.mention_pos, lo), bisect_left(doc.mention_pos, hi)
    a_lo, a_hi = bisect_left(doc.actor_pos, lo), bisect_left(doc.actor_pos, hi)
    return m_lo < m_hi or a_lo < a_hi


def _paragraph_before(doc: _Doc, para: int, found: Sequence[_Found], i: int) -> _Ref | None:
    """A quote standing as a paragraph of its own after a paragraph with no quote that leads
    up to it (``For X, the process has helped.`` then ``“…”``): the subject of that paragraph's
    last reporting verb, else the first person it names."""
    if para == 0:
        return None
    lo, hi = doc.para_starts[para - 1], doc.para_starts[para]
    if lo < doc.headline_end or (i > 0 and doc.passages[found[i - 1].passage].close_mark >= lo):
        return None
    ref = _before_attribution(doc, hi, lo)
    if ref is not None:
        return ref
    initials = _initials_label(doc, lo, hi)
    if initials is not None:
        return initials
    m_lo, m_hi = bisect_left(doc.mention_pos, lo), bisect_left(doc.mention_pos, hi)
    people = [
        m for m in doc.mentions[m_lo:m_hi] if m.kind is _Mentioned.PERSON and not m.possessive
    ]
    return _Ref(_RefKind.NAME, people[0].name, people[0].pos, person=True) if people else None


def _initials_label(doc: _Doc, lo: int, hi: int) -> _Ref | None:
    """``JF, outlet:`` as the label of an interview's question: initials that only one full
    name in the text has, opening a short paragraph that ends with a colon."""
    label = doc.text[lo:hi].strip()
    words = _WORD_RE.findall(label)
    if not label.endswith(":") or not words or len(words) > 4:
        return None
    first = words[0]
    if not (2 <= len(first) <= 3 and first.isalpha() and first.isupper()):
        return None
    names = {
        name
        for found in list(doc.surnames.values())[:_MAX_ITEMS]
        for _, name in found
        if "".join(w[0] for w in name.split() if w[:1].isupper()) == first
    }
    if len(names) != 1:
        return None
    return _Ref(_RefKind.NAME, names.pop(), lo, person=True)


# -- merging and output ------------------------------------------------------------------------


def _merges(doc: _Doc, a: _Found, b: _Found) -> bool:
    """A split quote: ``“…,” she said. “…”`` in one paragraph. A piece with an attribution of
    its own (``“…,” he warned. “…,” Name said.``) stands alone, even for the same speaker: a
    quote is joined only across the one attribution that interrupts it."""
    if not (a.full and a.after and a.attribution_end >= 0):
        return False
    pa, pb = doc.passages[a.passage], doc.passages[b.passage]
    if not b.full:
        # “The problem,” he said, “is that nobody listens.”
        first = next((c for c in doc.text[pb.start : pb.end] if c.isalpha()), "")
        if not (first.islower() and doc.text[a.attribution_end - 1] == ","):
            return False
    if doc.para_of(pa.close_mark) != doc.para_of(pb.open_mark):
        return False
    gap = doc.text[a.attribution_end : pb.open_mark]
    if "\n" in gap:
        return False
    if gap.strip(" \t.,"):
        # A scare quote dropped inside the attribution (``said X, who has a “neutral” rating on
        # the shares. “…”``) cut it short: the next quote must open the sentence after it.
        dropped = b.passage > a.passage + 1
        next_sentence = doc.sent_of(pb.open_mark) == doc.sent_of(a.attribution_end - 1) + 1
        if not (dropped and next_sentence and doc.starts_sentence(pb.open_mark)):
            return False
    return not b.after  # a quote with its own attribution stands alone


def _part_text(doc: _Doc, p: _Passage) -> str:
    return " ".join(_SPACES_RE.sub(" ", doc.text[a:b]).strip() for a, b in p.parts)


def _finish(text: str, full: bool) -> str:
    text = text.strip()
    if not full:
        return text.rstrip(",;:").rstrip()
    if text.endswith((",", ";", ":", "—", "–")):
        text = text[:-1].rstrip()
    if text and text[-1] not in _TERMINAL and text[-1] not in "'’\"”)":
        text += "."
    return text


def extract_quotes(
    text: str, entities: Sequence[Entity] | None = None, parse: Parse | None = None
) -> list[Quote]:
    """Every direct quotation in ``text``, in order of appearance, with its speaker.

    ``entities`` (named entities with character offsets into ``text``) are only a hint: people
    tagged PERSON count as people, places tagged GPE/LOC/FAC are not taken for people.
    ``parse`` (a dependency parse of ``text``, see ``watchers.syntax``): the speaker is then the
    subject the parse gives the quote's reporting verb, where it gives one; its entities serve
    when ``entities`` is None.
    """
    if not text or not (_MARK_RE.search(text) or _SINGLE_MARK_RE.search(text)):
        return []
    text = _doubled_marks(text)
    if entities is None and parse is not None:
        entities = parse.entities
    doc = _analyse(text, entities)
    found: list[_Found] = []
    for i in range(len(doc.passages)):
        f = _classify(doc, i)
        if f is not None:
            found.append(f)
    if parse is not None:
        found = [_with_syntax(doc, parse, f) for f in found]
    # Speakers from context, then resolution.
    speakers: list[str | None] = []
    for i, f in enumerate(found):
        ref: _Ref | _SameAs | None = f.speaker
        if ref is None and f.full and not _has_frame(doc, doc.passages[f.passage]):
            ref = _context_speaker(doc, doc.passages[f.passage], found, i)
        if isinstance(ref, _SameAs):
            speakers.append(speakers[ref.index])
        else:
            speakers.append(_resolve(doc, ref))
    # Merge split quotes.
    out: list[Quote] = []
    i = 0
    while i < len(found):
        f = found[i]
        p = doc.passages[f.passage]
        pieces = [_part_text(doc, p)]
        end = p.end
        j = i
        while j + 1 < len(found) and _merges(doc, found[j], found[j + 1]):
            j += 1
            q = doc.passages[found[j].passage]
            nxt = _part_text(doc, q)
            if nxt[:1].islower():
                pieces[-1] = pieces[-1].rstrip().rstrip(",")
            else:
                pieces[-1] = _finish(pieces[-1], True)
            pieces.append(nxt)
            end = q.end
        joined = _finish(" ".join(pieces), f.full)
        out.append(Quote(joined, speakers[i], p.start, end, f.full or j > i))
        i = j + 1
    return out


def _with_syntax(doc: _Doc, parse: Parse, f: _Found) -> _Found:
    """``f`` with the speaker the parse gives its reporting verb where the rules found none.
    (Letting the parse overrule a body the rules found loses more than it wins: bodies do speak
    through statements.)"""
    if f.speaker is not None:
        return f
    p = doc.passages[f.passage]
    quoted = [(q.open_mark, q.close_mark + 1) for q in doc.passages]
    span = speaker_span(parse, (p.open_mark, p.close_mark + 1), quoted, _REPORTING | _LEMMAS)
    if span is None:
        return f
    part = [t for t in doc.toks[doc.tok_at(span[0]) : doc.tok_at(span[1])] if t.quote < 0]
    ref = _phrase_ref(doc, part, subject=True)
    if ref is None:
        return f
    return replace(f, speaker=ref)


def _has_frame(doc: _Doc, p: _Passage) -> bool:
    """Whether the quote's own sentence has words before it (``A sign read: “…”``)."""
    sent_start, _ = _sentence_bounds(doc, p.open_mark)
    return bool(doc.text[sent_start : p.open_mark].strip())


# -- choosing, shortening, snippets ------------------------------------------------------------


def _distance(quote: Quote, spans: Sequence[tuple[int, int]]) -> int:
    if not spans:
        return 0
    best = -1
    for a, b in spans:
        if b < quote.start:
            d = quote.start - b
        elif a > quote.end:
            d = a - quote.end
        else:
            d = 0
        best = d if best < 0 else min(best, d)
    return best


def choose_key_quotes(
    quotes: Sequence[Quote], match_spans: Sequence[tuple[int, int]], n: int = 1
) -> list[Quote]:
    """The ``n`` best quotes, best first: full quotes with a named speaker, then other full
    quotes, then partial quotes (with a speaker before without); within each, the closest to
    the matched spans (character distance), then the earliest."""

    def key(q: Quote) -> tuple[int, int, int]:
        tier = (0 if q.full else 2) + (0 if q.speaker else 1)
        return tier, _distance(q, match_spans), q.start

    if n <= 0:
        return []
    return sorted(quotes, key=key)[:n]


def shorten(text: str, limit: int = 280) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, ending with "…"."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    room = limit - 1
    cut = text.rfind(" ", 0, room + 1)
    if cut < room // 2:
        cut = room  # no space near the limit: cut the word
    head = text[:cut].rstrip(" ,;:.-–—")
    return (head or text[:room]) + ELLIPSIS


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] == " ":
        a += 1
    while b > a and text[b - 1] == " ":
        b -= 1
    return a, b


def snippet(
    text: str, spans: Sequence[tuple[int, int]], width: int = 200
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A one-line snippet of at most ``width`` characters around the first matched span.

    Whitespace runs (newlines included) become one space; "…" marks a cut at either end. The
    matched spans that lie wholly inside the snippet come back as offsets into it.
    """
    # Work on a window around the first match only: cost stays independent of the article's
    # length (this runs once per matched article and watchlist).
    valid = sorted((a, b) for a, b in spans if 0 <= a < b <= len(text))
    first_start, first_end = valid[0] if valid else (0, 0)
    lo = max(0, first_start - 2 * width)
    hi = min(len(text), first_end + 3 * width)
    cut_left, cut_right = lo > 0, hi < len(text)
    text = text[lo:hi]
    spans = [(a - lo, b - lo) for a, b in valid if lo <= a and b <= hi]
    flat_chars: list[str] = []
    index = [0] * (len(text) + 1)  # original offset -> offset in the flattened text
    space = False
    for i, c in enumerate(text):
        index[i] = len(flat_chars)
        if c.isspace():
            if flat_chars and not space:
                flat_chars.append(" ")
            space = True
        else:
            flat_chars.append(c)
            space = False
    index[len(text)] = len(flat_chars)
    flat = "".join(flat_chars).rstrip()
    n = len(flat)
    mapped = sorted(
        (min(index[a], n), min(index[b], n)) for a, b in spans if 0 <= a < b <= len(text)
    )
    mapped = [_trim(flat, a, b) for a, b in mapped]
    mapped = [(a, b) for a, b in mapped if a < b]
    if n <= width and not (cut_left or cut_right):
        return flat, tuple(mapped)
    if not mapped or width < 3:
        return shorten(flat + (ELLIPSIS if cut_right else ""), width), ()
    a, b = mapped[0]
    room = max(width - 2, 1)  # two ellipses at most
    start = max(0, a - max(0, room - (b - a)) // 3)
    if start > 0:
        sp = flat.rfind(" ", 0, start + 1)
        start = sp + 1 if sp >= 0 and a - (sp + 1) < room else start
    end = min(n, start + room)
    if end < n:
        sp = flat.rfind(" ", start, end + 1)
        if sp > b:
            end = sp
    body = flat[start:end].strip()
    offset = start + (len(flat[start:end]) - len(flat[start:end].lstrip()))
    prefix = ELLIPSIS if start > 0 or cut_left else ""
    suffix = ELLIPSIS if end < n or cut_right else ""
    out = prefix + body + suffix
    shift = len(prefix) - offset
    inside = tuple(
        (x + shift, y + shift) for x, y in mapped if x >= offset and y <= offset + len(body)
    )
    return out, inside
