"""One story, one entry: recognise the same news story published by several feeds.

A story's fingerprint holds its canonical link and the content words of its headline and lead
(inflection keys, hashed). Two stories are the same when their canonical links are equal, or when
their words are near-duplicates:

* text similarity: the Jaccard similarity of the words of headline and lead together;
* headline similarity: the Jaccard similarity of the headline words alone. Headlines are short,
  so this counts only when nothing speaks against it: both headlines have at least
  ``HEADLINE_WORDS`` content words ("Oil prices fall" recurs every week), the text similarity
  reaches ``HEADLINE_FLOOR`` (the same headline over an unrelated lead is not the same story),
  the two are not different pages of one site (sites reuse headlines for recurring columns such as
  "Morning briefing"), and the names in each headline occur in the other story (in "Fed holds
  rates steady" and "ECB holds rates steady" one actor replaces another).

The similarity is the larger of the two, and ``SAME_STORY_THRESHOLD`` decides. Taking the larger
one fits how outlets rewrite wire copy: they keep the headline and write their own lead, or keep
the lead and rewrite the headline. Before comparing, wire tags ("UPDATE 2-", "BREAKING:"), an
outlet's name after the headline (" - Outlet", " | Outlet") and a dateline before the lead
("LONDON, May 22 (Agency) -") are removed, and function words are dropped. A headline word is a
name when it is capitalised there and never written in lower case in the headline or lead.

Stories that state different facts (who, where, how much, when) are different stories however
alike their words: their similarity is 0. A wire's look-alike template stories are the worst case,
since a merged story is a lost alert. A story's figures are its numbers (thousands separators
dropped: ``6.1``, ``1200``, both parts of ``2-1``; ``five`` is ``5``) and its day names; a
headline's marks are its names and figures, and a mark is unmatched when the other story's
headline and lead lack it. Different facts are:

* a figure for a figure: each headline has a figure the other story lacks ("Magnitude 6.1
  earthquake strikes off Japan's coast", "Magnitude 5.2 earthquake strikes off Japan's coast");
* a name for a name: each headline has an unmatched mark, and the headline words other than the
  names are alike (Jaccard ``ALIKE_WORDING`` or more: "Shell profit beats forecasts", "BP profit
  beats forecasts"), or at least half of each headline's marks are unmatched, or each lead has a
  figure the other lacks. A rewrite that calls one actor by another name ("Fed", "US Federal
  Reserve") changes the wording around it and keeps the other marks and figures, so such copies
  still merge;
* another actor: each headline opens with a name that its lead repeats (its head: mostly who
  does what), the two heads differ (and do not begin alike, as "Croatia" and "Croatians" do),
  and either each head is missing from the other story ("Nordair orders 40 Airbus jets",
  "Skyway orders 40 Airbus jets") or the same names stand in the other order in alike wording
  ("Sinner beats Alcaraz in Paris final", "Alcaraz beats Sinner in Paris final": who did what
  to whom). A head the lead does not repeat may be a short name for it ("Fed" over "The Federal
  Reserve ..."), so it tells nothing;
* another day: both stories name days of the week, and none in common.

A copy that only adds a fact ("Strong 6.1 quake hits Japan" beside "Earthquake strikes off
Japan") is not held apart by it. ``bench/dedup.py`` measures all this on invented stories in
``tests/data/stories/``, look-alike different events among them.

Pure: no I/O. Fingerprints are compared by word hashes computed with ``watchers.text``; a change
to its inflection keys changes new fingerprints, so old and new ones agree less until the old
ones age out.
"""

from __future__ import annotations

import array
import base64
import binascii
import hashlib
import itertools
import math
import re
import struct
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from watchers.text import tokenise

__all__ = [
    "ALIKE_WORDING",
    "HEADLINE_FLOOR",
    "HEADLINE_WORDS",
    "HEAD_LETTERS",
    "LEAD_WORDS",
    "SAME_STORY_THRESHOLD",
    "ShownStories",
    "StoryFingerprint",
    "StoryWords",
    "canonical_link",
    "different_facts",
    "group_stories",
    "headline_counts",
    "headline_similarity",
    "may_be_same_story",
    "same_story",
    "seen_before",
    "similarity",
    "story_fingerprint",
    "text_similarity",
]

T = TypeVar("T")

SAME_STORY_THRESHOLD = 0.49
"""Stories at least this similar are the same story: the middle of the gap between the least
similar rewrites and the most similar near misses among the development stories (measured by
``bench/dedup.py``)."""

HEADLINE_FLOOR = 0.2
"""Headline similarity counts only when the text similarity reaches this."""

HEADLINE_WORDS = 4
"""Headline similarity counts only when both headlines have at least this many content words."""

ALIKE_WORDING = 0.6
"""Headlines whose words other than names are at least this alike (Jaccard) say the same thing
about whoever they name: different names in them make different stories."""

HEAD_LETTERS = 5
"""Heads that begin with the same this many letters are one actor ("Croatia", "Croatians")."""

LEAD_WORDS = 30
"""Content words of the lead that are kept: about its first sentence or two."""

_FORMAT = "4"  # the version of ``StoryFingerprint.to_str``
_FORMAT_3 = "3"  # still read (without a head), so that stored fingerprints keep grouping
_OLD_FORMAT = "2"  # still read (without figures or head)

# --- links -------------------------------------------------------------------------------------

_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
    }
)


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def canonical_link(link: str | None) -> str | None:
    """The link as a comparable key: ``example.com/a/b?x=1``, or None if it names no story.

    The scheme is dropped (http and https are the same page), the host is lower-cased without
    ``www.``, a default port, user info and the fragment are dropped, tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``, ...) are removed and the rest sorted, and trailing
    slashes go. A link to a site's home page names no story (some feeds link every entry
    there), nor does a link that is not http(s).
    """
    if not link:
        return None
    try:
        parts = urlsplit(link.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    host = host.removeprefix("www.")
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    params = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(name)
    )
    if not path and not params:
        return None
    query = urlencode(params)
    return f"{host}{path}?{query}" if query else f"{host}{path}"


# --- words -------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


_DAYS = frozenset(_words("monday tuesday wednesday thursday friday saturday sunday"))
_ARTICLES = frozenset(_words("a an the"))
_STOP_WORDS = (
    _DAYS
    | _ARTICLES
    | frozenset(
        _words(
            """
    a an the and or but nor so yet if as of to in on at by for from with into onto upon over
    under after before about above below between among through during without within against
    toward towards than then this that these those it its is are was were be been being am
    has have had having do does did doing will would shall should can could may might must
    not no only also just very too more most much many some any all each every both either
    neither other such own same there here when where why how what which who whom whose
    he she him her his hers they them their theirs we our ours you your yours i me my mine
    it's its' s t up out off down again further once now still even ever
    say says said saying according source sources report reports reported reportedly
    """
        )
    )
)
_WIRE_TAGS = re.compile(
    r"^\s*(?:(?:update|refile|corrected|correction|breaking(?:\s+news)?|exclusive|wrapup|urgent"
    r"|rpt|live|just\s+in)(?:\s*\d+)?\s*[-:–—|]\s*)+",
    re.IGNORECASE,
)
_OUTLET_SUFFIX = re.compile(r"\s+[-–—|]\s+(?P<tail>(?:(?!\s[-–—|]\s).)+?)\s*$")
_DATELINE = re.compile(  # "LONDON, May 22 (Agency) - " or "THE HAGUE (Agency) — "
    r"^\s*[A-Z][A-Z .'’-]{1,40},?(?:\s+[A-Z][a-z]{2,4}\.?\s+\d{1,2})?"
    r"\s*(?:\([^)]{1,40}\))?\s*[-–—]+\s+"
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        _words(
            """zero one two three four five six seven eight nine ten eleven twelve thirteen
            fourteen fifteen sixteen seventeen eighteen nineteen twenty"""
        )
    )
}


def _headline(title: str) -> str:
    """The headline without wire tags before it and an outlet's name after it."""
    title = _WIRE_TAGS.sub("", title)
    for _ in range(2):
        m = _OUTLET_SUFFIX.search(title)
        if m is None or len(m.group("tail").split()) > 4 or len(title[: m.start()].split()) < 3:
            break
        title = title[: m.start()]
    return title


def _lead(lead: str) -> str:
    return _DATELINE.sub("", lead, count=1)


def _content_words(text: str, limit: int | None = None) -> tuple[list[tuple[str, bool]], set[str]]:
    """The words that carry content, in order (inflection key, and whether it was capitalised),
    and the figures and day names up to the last of them (``#6.1``, ``#1200``, ``tuesday``)."""
    text = _THOUSANDS.sub("", text)
    words: list[tuple[str, bool]] = []
    figures: set[str] = set()
    for token in tokenise(text):
        figures.update(f"#{number}" for number in _NUMBER.findall(token.norm))
        if token.norm in _NUMBER_WORDS and token.norm != "one":  # "one of", "no one"
            figures.add(f"#{_NUMBER_WORDS[token.norm]}")
        if token.norm in _DAYS:
            figures.add(token.norm)
        key = token.key.replace(".", "")  # U.S. -> us
        if token.norm in _STOP_WORDS or key in _STOP_WORDS:
            continue
        if len(key) < 2 and not key.isdigit():
            continue
        words.append((key, text[token.start].isupper()))
        if limit is not None and len(words) >= limit:
            break
    return words, figures


def _lower_case_words(text: str) -> set[str]:
    """Inflection keys of the words written in lower case somewhere in ``text``."""
    text = _THOUSANDS.sub("", text)
    return {token.key.replace(".", "") for token in tokenise(text) if text[token.start].islower()}


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")


def _encode_parts(parts: Iterable[Sequence[int]]) -> str:
    raw = b"".join(value.to_bytes(4, "big") for part in parts for value in part)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _decode_all(text: str) -> array.array[int]:
    ascii_text = text.encode("ascii")  # UnicodeEncodeError is a ValueError
    standard = ascii_text.translate(_FROM_URLSAFE, b"+/")  # "+" and "/" are not base64url
    if len(standard) != len(ascii_text):
        raise ValueError("not base64url")
    raw = binascii.a2b_base64(standard + b"=" * (-len(standard) % 4), strict_mode=True)
    if len(raw) % 4:
        raise ValueError("word hashes are 4 bytes each")
    values = array.array("I")
    if values.itemsize != 4:  # no 4-byte C int here: the slower way
        return array.array("q", struct.unpack(f">{len(raw) // 4}I", raw))
    values.frombytes(raw)  # several times faster than struct.unpack
    if sys.byteorder == "little":
        values.byteswap()
    return values


# --- fingerprints ------------------------------------------------------------------------------


StoryWords = tuple[str | None, frozenset[int], frozenset[int]]
"""A story's link, headline words and text words: the part of a fingerprint that
``may_be_same_story`` looks at."""


@dataclass(frozen=True, slots=True)
class StoryFingerprint:
    """What ``same_story`` compares: a canonical link and hashed content words and figures.

    ``headline_words`` are the headline's, ``headline_names`` those of them that are names, and
    ``text_words`` the headline's and the lead's together; ``headline_figures`` are the
    headline's figures and day names, ``figures`` those of headline and lead together; ``head``
    is the name the headline opens with, if it opens with one (see ``_head``). ``to_str()``
    gives a short string for storage that ``from_str()`` reads back.
    """

    link: str | None
    headline_words: frozenset[int]
    headline_names: frozenset[int]
    text_words: frozenset[int]
    headline_figures: frozenset[int] = frozenset()
    figures: frozenset[int] = frozenset()
    head: tuple[int, int] | None = None  # the head's hash, and that of its first letters

    def __post_init__(self) -> None:
        if not self.headline_names <= self.headline_words <= self.text_words:
            raise ValueError("names are headline words, and headline words are text words")
        if self.head is not None and self.head[0] not in self.headline_names:
            raise ValueError("the head is one of the headline's names")
        if not self.headline_figures <= self.figures:
            raise ValueError("the headline's figures are figures of the story")

    def to_str(self) -> str:
        """``4|<counts>|<hashes>|<link>``: how many hashes each part has (headline, names, rest
        of the lead, headline figures, other figures, head: ``6.2.14.1.2.1``), then all the
        hashes in one base64url string (so that a digest reads them with one decoding), then
        the link."""
        parts = (
            self.headline_words,
            self.headline_names,
            self.text_words - self.headline_words,
            self.headline_figures,
            self.figures - self.headline_figures,
        )
        head = () if self.head is None else self.head
        counts = ".".join([*(str(len(part)) for part in parts), str(len(head))])
        hashes = _encode_parts([*(sorted(part) for part in parts), head])
        return f"{_FORMAT}|{counts}|{hashes}|{self.link or ''}"

    @classmethod
    def from_str(cls, text: str) -> StoryFingerprint:
        """Read what ``to_str`` wrote (or its format 3, without a head, or 2, without figures);
        ValueError if it is not such a string."""
        try:
            if text.startswith(f"{_OLD_FORMAT}|"):
                return cls._from_old_str(text)
            return cls._from_parts(*_read(text))
        except ValueError as e:  # binascii.Error is one
            raise ValueError(f"not a story fingerprint: {text[:60]!r}") from e

    @classmethod
    def _from_parts(
        cls, sizes: Sequence[int], values: array.array[int], link: str | None
    ) -> StoryFingerprint:
        headline, names, lead, own, other, _ = sizes
        names_at, lead_at, own_at = headline, headline + names, headline + names + lead
        head_at = own_at + own + other
        return cls(
            link,
            frozenset(values[:names_at]),
            frozenset(values[names_at:lead_at]),
            frozenset(values[:names_at] + values[lead_at:own_at]),
            frozenset(values[own_at : own_at + own]),
            frozenset(values[own_at:head_at]),
            (values[head_at], values[head_at + 1]) if sizes[5] else None,
        )

    @classmethod
    def words_from_str(cls, text: str) -> StoryWords:
        """The link, headline words and text words of what ``to_str`` wrote, read faster than
        the whole fingerprint (for ``may_be_same_story``); ValueError if it is no fingerprint."""
        if text.startswith(f"{_OLD_FORMAT}|"):
            old = cls.from_str(text)
            return old.link, old.headline_words, old.text_words
        try:
            version, counts, hashes, link = text.split("|", 3)
            if version not in (_FORMAT, _FORMAT_3):
                raise ValueError("not format 3 or 4")
            headline, names, lead = map(int, counts.split(".")[:3])
            values = _decode_all(hashes)
        except (ValueError, binascii.Error) as e:
            raise ValueError(f"not a story fingerprint: {text[:60]!r}") from e
        lead_at = headline + names
        return (
            link or None,
            frozenset(values[:headline]),
            frozenset(values[:headline] + values[lead_at : lead_at + lead]),
        )

    @classmethod
    def _from_old_str(cls, text: str) -> StoryFingerprint:
        """Format 2: ``2|<headline>|<names>|<rest of the lead>|<link>``, each part base64url."""
        parts = text.split("|", 4)
        if len(parts) != 5:
            raise ValueError("format 2 has five parts")
        headline, names, lead = (frozenset(_decode_all(part)) for part in parts[1:4])
        return cls(parts[4] or None, headline, names, headline | lead)


def _read(text: str) -> tuple[list[int], array.array[int], str | None]:
    """The six counts, the hashes and the link of what ``to_str`` wrote in format 3 or 4;
    ValueError if it is not that."""
    version, counts, hashes, link = text.split("|", 3)
    sizes = [int(count) for count in counts.split(".")]
    if version == _FORMAT_3:
        sizes.append(0)
    elif version != _FORMAT:
        raise ValueError("not format 3 or 4")
    if not counts.replace(".", "").isdigit() or len(sizes) != 6:
        raise ValueError("counts are numbers, five or six of them")
    values = _decode_all(hashes)
    if len(values) != sum(sizes) or sizes[5] not in (0, 2):
        raise ValueError("as many hashes as the counts say")
    return sizes, values, link or None


def story_fingerprint(title: str, lead: str, link: str | None) -> StoryFingerprint:
    """The fingerprint of a story from its title, its lead (summary) and its link."""
    # Only the lead's first LEAD_WORDS content words count: never tokenise a whole article.
    title, lead = _headline(title), _lead(lead[: LEAD_WORDS * 40])
    headline, headline_figures = _content_words(title)
    lead_content, lead_figures = _content_words(lead, LEAD_WORDS)
    lower_case = _lower_case_words(title) | _lower_case_words(lead)
    names = {word for word, capitalised in headline if capitalised and word not in lower_case}
    headline_words = frozenset(_word_hash(word) for word, _ in headline)
    lead_words = frozenset(_word_hash(word) for word, _ in lead_content)
    own_figures = frozenset(_word_hash(figure) for figure in headline_figures)
    head = _head(title, headline, names, {word for word, _ in lead_content})
    return StoryFingerprint(
        canonical_link(link),
        headline_words,
        frozenset(_word_hash(word) for word in names),
        headline_words | lead_words,
        own_figures,
        own_figures | frozenset(_word_hash(figure) for figure in lead_figures),
        None if head is None else (_word_hash(head), _word_hash(head[:HEAD_LETTERS])),
    )


def _head(
    title: str, headline: Sequence[tuple[str, bool]], names: set[str], lead: set[str]
) -> str | None:
    """The name the headline opens with (after "a", "an" or "the"), if the lead repeats it."""
    first = next((t for t in tokenise(title) if t.norm not in _ARTICLES), None)
    if first is None or not headline or first.key.replace(".", "") != headline[0][0]:
        return None
    word = headline[0][0]
    return word if word in names and word in lead else None


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    common = len(a & b)
    union = len(a) + len(b) - common
    return common / union if union else 0.0


def text_similarity(a: StoryFingerprint, b: StoryFingerprint) -> float:
    """Jaccard similarity of headline and lead words together."""
    return _jaccard(a.text_words, b.text_words)


def headline_similarity(a: StoryFingerprint, b: StoryFingerprint) -> float:
    """Jaccard similarity of the headline words alone."""
    return _jaccard(a.headline_words, b.headline_words)


def _site(link: str) -> str:
    return link.split("/", 1)[0].split("?", 1)[0]


def headline_counts(a: StoryFingerprint, b: StoryFingerprint) -> bool:
    """Whether the headline similarity may speak for the pair (see the module's description)."""
    if min(len(a.headline_words), len(b.headline_words)) < HEADLINE_WORDS:
        return False
    if text_similarity(a, b) < HEADLINE_FLOOR:
        return False
    if (
        a.link is not None
        and b.link is not None
        and a.link != b.link
        and _site(a.link) == _site(b.link)
    ):
        return False
    return a.headline_names <= b.text_words and b.headline_names <= a.text_words


@cache
def _day_hashes() -> frozenset[int]:
    return frozenset(_word_hash(day) for day in _DAYS)


def different_facts(a: StoryFingerprint, b: StoryFingerprint) -> bool:
    """Whether the two stories state different facts: one figure or name in place of another,
    another actor, or another day (see the module's description)."""
    if _another_actor(a, b):
        return True
    a_figures = a.headline_figures - b.figures
    b_figures = b.headline_figures - a.figures
    if a_figures and b_figures:
        return True
    a_names = a.headline_names - b.text_words
    b_names = b.headline_names - a.text_words
    if (a_figures or a_names) and (b_figures or b_names):
        names = a.headline_names | b.headline_names
        if _jaccard(a.headline_words - names, b.headline_words - names) >= ALIKE_WORDING:
            return True
        # Mostly other names on both sides: "Estonia and Russia clash over property at Tallinn
        # embassy", "Bulgaria and Russia clash over spying claims at Sofia embassy".
        a_unmatched = len(a_figures) + len(a_names)
        b_unmatched = len(b_figures) + len(b_names)
        a_marks = len(a.headline_figures) + len(a.headline_names)
        b_marks = len(b.headline_figures) + len(b.headline_names)
        if 2 * a_unmatched >= a_marks and 2 * b_unmatched >= b_marks:
            return True
        # Another name in each headline, and another figure in each lead: "Saka winner gives
        # Arsenal 2-1 derby win over Chelsea" (78th minute), "Arsenal beat Tottenham 2-1" (81st).
        if a.figures - b.figures and b.figures - a.figures:
            return True
    days = _day_hashes()
    a_days, b_days = a.figures & days, b.figures & days
    return bool(a_days and b_days and not a_days & b_days)


def _another_actor(a: StoryFingerprint, b: StoryFingerprint) -> bool:
    """Whether the headlines open with different names that tell different actors apart."""
    if a.head is None or b.head is None or a.head[1] == b.head[1]:
        return False
    a_head, b_head = a.head[0], b.head[0]
    if a_head not in b.text_words and b_head not in a.text_words:
        return True
    if a_head in b.headline_names and b_head in a.headline_names:
        names = a.headline_names | b.headline_names
        return _jaccard(a.headline_words - names, b.headline_words - names) >= ALIKE_WORDING
    return False


def similarity(a: StoryFingerprint, b: StoryFingerprint) -> float:
    """How alike two stories' words are, 0 to 1; see the module's description. Stories that
    state different facts (``different_facts``) have similarity 0.

    Equal links do not count here (``same_story`` looks at them); links only tell whether two
    stories are different pages of one site.
    """
    words = _word_similarity(a, b)
    return 0.0 if words and different_facts(a, b) else words


def _word_similarity(a: StoryFingerprint, b: StoryFingerprint) -> float:
    text = text_similarity(a, b)
    return max(text, headline_similarity(a, b)) if headline_counts(a, b) else text


def same_story(
    a: StoryFingerprint, b: StoryFingerprint, *, threshold: float = SAME_STORY_THRESHOLD
) -> bool:
    """Whether two fingerprints are of the same story: one link, or near-duplicate words that
    state the same facts."""
    if a.link is not None and a.link == b.link:
        return True
    return _words_reach(a, b, threshold) and not different_facts(a, b)


def _words_reach(a: StoryFingerprint, b: StoryFingerprint, threshold: float) -> bool:
    """``_word_similarity(a, b) >= threshold``, the cheapest tests first (digests compare each
    pending hit with every story shown)."""
    common = len(a.text_words & b.text_words)
    union = len(a.text_words) + len(b.text_words) - common
    text = common / union if union else 0.0  # as _jaccard, without a call
    if text >= threshold:
        return True
    if text < HEADLINE_FLOOR:
        return False
    return headline_similarity(a, b) >= threshold and headline_counts(a, b)


def may_be_same_story(
    words: StoryWords, known: StoryFingerprint, *, threshold: float = SAME_STORY_THRESHOLD
) -> bool:
    """A cheaper test of a story's words against a known story: false only where
    ``same_story`` is false (it leaves out the checks of names, sites and facts)."""
    link, headline_words, text_words = words
    if link is not None and link == known.link:
        return True
    text = _jaccard(text_words, known.text_words)
    if text >= threshold:
        return True
    return text >= HEADLINE_FLOOR and _jaccard(headline_words, known.headline_words) >= threshold


class ShownStories:
    """Stories a digest shows, indexed by their words, to tell which of them a held hit may be
    (``may_be_same_story`` of each) in one pass over the hit's stored words, without building
    its word sets: a digest asks this of every held hit.

    Each word maps to one number holding a byte per shown story (1 where the story has the
    word), so that summing a hit's words' numbers counts its words shared with every story at
    once; adding 128 to each byte and taking away the count each story needs leaves a byte's
    top bit set where the count reaches it (no byte borrows from its neighbour while every
    count is below 128, hence the limit on a story's words)."""

    def __init__(
        self, stories: Sequence[StoryFingerprint], *, threshold: float = SAME_STORY_THRESHOLD
    ) -> None:
        self.stories = list(stories)
        self.threshold = threshold
        self._text = _pack(story.text_words for story in self.stories)
        self._headline = _pack(story.headline_words for story in self.stories)
        self._heads = _pack(
            frozenset(story.head[:1]) if story.head else frozenset() for story in self.stories
        )
        self._prefixes = _pack(
            frozenset(story.head[1:]) if story.head else frozenset() for story in self.stories
        )
        self._headed = sum(1 << (8 * i) for i, story in enumerate(self.stories) if story.head)
        self._text_sizes = [len(story.text_words) for story in self.stories]
        self._headline_sizes = [len(story.headline_words) for story in self.stories]
        self._by_link: defaultdict[str, list[int]] = defaultdict(list)
        for i, story in enumerate(self.stories):
            if story.link is not None:
                self._by_link[story.link].append(i)
        self._high = sum(128 << (8 * i) for i in range(len(self.stories)))
        self._packable = max(self._text_sizes, default=0) < 128
        self._needs: dict[tuple[float, int, bool], int] = {}
        self._text_needs: dict[int, tuple[int, int]] = {}  # by a hit's size: threshold, floor

    def _need(self, share: float, size: int, headline: bool) -> int:
        """For a hit of ``size`` words, the least count of shared words that makes a Jaccard
        similarity of ``share`` with each story (rounded down: never more than needed), packed
        as the counts are."""
        key = (share, size, headline)
        packed = self._needs.get(key)
        if packed is None:
            sizes = self._headline_sizes if headline else self._text_sizes
            ratio = share / (1 + share)  # shared >= share * union, union = sum of sizes - shared
            packed = sum(
                max(1, math.ceil(ratio * (size + other) - 1e-9)) << (8 * i)
                for i, other in enumerate(sizes)
            )
            self._needs[key] = packed
        return packed

    def find(self, text: str) -> int | None:
        """The index of the first shown story that the story stored as ``text`` (what
        ``StoryFingerprint.to_str`` wrote) is (``same_story``), None if none is; ValueError
        if ``text`` is no fingerprint. The stored words are read once, and the whole
        fingerprint is made only when a shown story may be the same."""
        sizes, values, link = _read(text)
        candidates = self._candidates(sizes, values, link)
        if candidates and sizes[5]:
            # Leave out the stories with another actor (``different_facts``, whatever the
            # words) before the whole fingerprint is made: a wire's template stories.
            headline, names, lead = sizes[:3]
            head, prefix = values[-2], values[-1]
            zero = itertools.repeat(0)
            known = self._text.get(head, 0) | self._prefixes.get(prefix, 0)
            known |= sum(map(self._heads.get, values[:headline], zero))
            lead_at = headline + names
            known |= sum(map(self._heads.get, values[lead_at : lead_at + lead], zero))
            other = self._headed & ~known
            same_link = set(self._by_link.get(link, ())) if link else set()
            candidates = [i for i in candidates if not (other >> (8 * i)) & 1 or i in same_link]
        if candidates == []:
            return None
        fingerprint = StoryFingerprint._from_parts(sizes, values, link)
        stories = self.stories
        return next(
            (
                i
                for i in (range(len(stories)) if candidates is None else candidates)
                if same_story(stories[i], fingerprint, threshold=self.threshold)
            ),
            None,
        )

    def candidates(self, text: str) -> list[int] | None:
        """The indexes of the shown stories that the story stored as ``text`` may be
        (``may_be_same_story``), in order; None if it cannot be told this way."""
        try:
            return self._candidates(*_read(text))
        except ValueError:
            return None

    def _candidates(
        self, sizes: Sequence[int], values: array.array[int], link: str | None
    ) -> list[int] | None:
        headline, names, lead = sizes[:3]
        lead_at, size = headline + names, headline + lead
        if size >= 128 or not self._packable:
            return None
        zero = itertools.repeat(0)
        common = sum(map(self._text.get, values[:headline], zero))
        common += sum(map(self._text.get, values[lead_at : lead_at + lead], zero))
        high = self._high
        needs = self._text_needs.get(size)
        if needs is None:
            needs = self._need(self.threshold, size, False), self._need(HEADLINE_FLOOR, size, False)
            self._text_needs[size] = needs
        reached = (common + high - needs[0]) & high
        floor = (common + high - needs[1]) & high
        if floor & ~reached:
            headline_common = sum(map(self._headline.get, values[:headline], zero))
            heads = (headline_common + high - self._need(self.threshold, headline, True)) & high
            reached |= floor & heads
        found = [(bit.bit_length() - 1) // 8 for bit in _bits(reached)]
        if link and link in self._by_link:
            found = sorted({*found, *self._by_link[link]})
        return found


def _pack(word_sets: Iterable[frozenset[int]]) -> dict[int, int]:
    """Each word's sets as one number: byte i is 1 where set i has the word."""
    packed: defaultdict[int, int] = defaultdict(int)
    for i, words in enumerate(word_sets):
        for word in words:
            packed[word] += 1 << (8 * i)
    return dict(packed)


def _bits(mask: int) -> Iterator[int]:
    """The set bits of ``mask``, lowest first, each as a number."""
    while mask:
        lowest = mask & -mask
        yield lowest
        mask ^= lowest


def seen_before(
    story: StoryFingerprint,
    delivered: Iterable[StoryFingerprint],
    *,
    threshold: float = SAME_STORY_THRESHOLD,
) -> bool:
    """Whether ``story`` is the same story as one already ``delivered``."""
    return any(same_story(story, known, threshold=threshold) for known in delivered)


# --- grouping ----------------------------------------------------------------------------------


def _prefix_size(size: int, threshold: float) -> int:
    """How many of a word set's rarest words a near-duplicate must share at least one of.

    If J(X, Y) >= t then |X & Y| >= t * |X|, so X and Y share one of the first
    |X| - ceil(t * |X|) + 1 words of X in any fixed order (prefix filtering).
    """
    return size - math.ceil(threshold * size - 1e-9) + 1


def group_stories(
    items: Sequence[T],
    key: Callable[[T], StoryFingerprint],
    *,
    threshold: float = SAME_STORY_THRESHOLD,
) -> list[list[T]]:
    """Group the items that are the same story; groups and their members keep the given order.

    The first item of each group is its representative, and every other member is the same
    story as it (``same_story``); an item joins the earliest group whose representative it
    matches. Instead of comparing every pair, candidates are found through the canonical link and
    through the batch's rarest words of each representative (exact: no pair that ``same_story``
    accepts is missed), which keeps a digest of a few hundred items near-linear.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    prints = [key(item) for item in items]
    frequency: Counter[int] = Counter()
    for fingerprint in prints:
        frequency.update(fingerprint.text_words)

    def rarest(words: frozenset[int]) -> list[int]:
        ranked = sorted(words, key=lambda word: (frequency[word], word))
        return ranked[: _prefix_size(len(ranked), threshold)]

    groups: list[list[T]] = []
    leaders: list[StoryFingerprint] = []
    by_link: dict[str, int] = {}
    by_text_word: defaultdict[int, list[int]] = defaultdict(list)
    by_headline_word: defaultdict[int, list[int]] = defaultdict(list)
    for item, fingerprint in zip(items, prints, strict=True):
        text_prefix = rarest(fingerprint.text_words)
        headline_prefix = rarest(fingerprint.headline_words)
        candidates: set[int] = set()
        if fingerprint.link is not None and fingerprint.link in by_link:
            candidates.add(by_link[fingerprint.link])
        for word in text_prefix:
            candidates.update(by_text_word.get(word, ()))
        for word in headline_prefix:
            candidates.update(by_headline_word.get(word, ()))
        match = next(
            (
                group
                for group in sorted(candidates)
                if same_story(leaders[group], fingerprint, threshold=threshold)
            ),
            None,
        )
        if match is not None:
            groups[match].append(item)
            continue
        group = len(groups)
        groups.append([item])
        leaders.append(fingerprint)
        if fingerprint.link is not None:
            by_link.setdefault(fingerprint.link, group)
        for word in text_prefix:
            by_text_word[word].append(group)
        for word in headline_prefix:
            by_headline_word[word].append(group)
    return groups
