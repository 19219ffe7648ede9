"""Cheap, pure text normalising shared by queries and articles: tokens, case and accent folding,
inflection keys. No spaCy here: this runs on every article.

The inflection key conflates the inflected forms of a word and nothing else: plurals and third
persons (``embassies``, ``talks``, ``taxes``), past tenses and participles (``talked``, ``planned``,
``hoped``), ``-ing`` forms, possessives and a table of irregular forms (``met``, ``said``,
``children``). Unlike a stemmer it keeps derivations apart, so ``university`` and ``universe`` or
``national`` and ``nation`` keep different keys. The key is not always a dictionary word (a final
silent ``e`` is dropped from long words so that ``create`` and ``created`` agree); it is meant to be
compared, never shown.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from watchers.model import Token

_WORD = re.compile(r"\w+(?:[.'’&]\w+)*\.?", re.UNICODE)
_VOWELS = frozenset("aeiouy")


def words_of_text(text: str) -> list[str]:
    """The whitespace-separated words of ``text`` (for writing word lists as text)."""
    return text.split()


_words = words_of_text


# Irregular forms -> the form their regular relatives reduce to. Written for news text.
_IRREGULAR_PAIRS = _words(
    """
am be is be are be was be were be been be being be
has have had have having have
does do did do done do doing do goes go went go gone go going go
said say says say told tell met meet meeting meet made make came come become become became become
took take taken take gave give given give got get gotten get held hold won win lost lose
began begin begun begin brought bring bought buy caught catch fought fight thought think
sought seek taught teach sent send spent spend built build felt feel kept keep
meant mean paid pay laid lay sold sell struck strike stood stand understood understand
shot shoot ran run fled flee led lead fell fall rose rise risen rise drove drive driven drive
wrote write written write spoke speak spoken speak broke break broken break chose choose
chosen choose froze freeze frozen freeze stole steal stolen steal woke wake wore wear worn wear
tore tear torn tear swore swear sworn swear knew know known know grew grow grown grow
threw throw thrown throw flew fly flown fly drew draw drawn draw saw see seen see seeing see
sang sing sung sing sank sink sunk sink rang ring rung ring hid hide hidden hide
bitten bite ate eat eaten eat forgot forget forgotten forget forgave forgive
forgiven forgive withdrew withdraw withdrawn withdraw overtook overtake undertook undertake
arose arise arisen arise shook shake shaken shake dealt deal heard hear
found find sat sit lit light hung hang dug dig
bred breed bled bleed sped speed slid slide spun spin sprang spring stung sting
swung swing strove strive struck strike won win wept weep slept sleep swept sweep crept creep
bent bend rebuilt rebuild upheld uphold withheld withhold overthrew overthrow
overthrown overthrow oversaw oversee overseen oversee foresaw foresee
children child men man women woman mice mouse geese goose feet foot teeth tooth
crises crisis analyses analysis theses thesis hypotheses hypothesis diagnoses diagnosis
oases oasis axes axis phenomena phenomenon criteria criterion
wolves wolf knives knife wives wife thieves thief halves half shelves shelf
loaves loaf calves calf selves self
gunmen gunman spokesmen spokesman spokeswomen spokeswoman chairmen chairman
congressmen congressman congresswomen congresswoman businessmen businessman
businesswomen businesswoman policemen policeman policewomen policewoman servicemen serviceman
servicewomen servicewoman fishermen fisherman firemen fireman statesmen statesman
countrymen countryman tradesmen tradesman clergymen clergyman horsemen horseman
noblemen nobleman sportsmen sportsman middlemen middleman frontmen frontman linesmen linesman
heroes hero potatoes potato tomatoes tomato echoes echo vetoes veto torpedoes torpedo
volcanoes volcano embargoes embargo quizzes quiz gases gas buses bus
movies movie cookies cookie calories calorie rookies rookie zombies zombie
agreed agree agreeing agree disagreed disagree freed free guaranteed guarantee decreed decree
refereed referee
added add adding add used use using use sued sue suing sue
united unite uniting unite reunited reunite invited invite inviting invite excited excite
ignited ignite incited incite recited recite
dying die lying lie tying tie
"""
)
_IRREGULAR: dict[str, str] = dict(zip(_IRREGULAR_PAIRS[::2], _IRREGULAR_PAIRS[1::2], strict=True))

# Words that look inflected but are not (or whose "inflection" would join unrelated words).
_KEEP = frozenset(
    _words(
        """
    news series species always perhaps whereas thus yes its this his hers ours yours theirs
    politics economics physics mathematics athletics ethics logistics statistics headquarters
    chaos bias atlas canvas alias texas kansas arkansas christmas honduras barbados
    during morning evening nothing something anything everything ceiling
    """
    )
)


def normalise(word: str) -> str:
    """Case-fold and strip accents: ``Erdoğan`` -> ``erdogan``."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def _measure(stem: str) -> int:
    """The number of vowel-consonant sequences in ``stem`` (Porter's *m*)."""
    m = 0
    previous_vowel = False
    for i, c in enumerate(stem):
        vowel = c in "aeiou" or (c == "y" and i > 0 and stem[i - 1] not in "aeiou")
        if previous_vowel and not vowel:
            m += 1
        previous_vowel = vowel
    return m


def _short_cvc(stem: str) -> bool:
    """Ends consonant-vowel-consonant (last not w/x/y) with one syllable: hop, vot, stat."""
    if len(stem) < 3 or _measure(stem) != 1:
        return False
    a, b, c = stem[-3], stem[-2], stem[-1]
    return a not in "aeiou" and b in "aeiou" and c not in "aeiouwxy"


def _needs_e(stem: str) -> bool:
    """Whether a stem left by removing -ed/-ing lost a silent ``e`` (hop-ed -> hope)."""
    last = stem[-1]
    if last in "vcuz":
        return True
    if stem.endswith(("dg", "rg")):
        return True
    if last == "s":
        return not (stem.endswith("us") and len(stem) >= 5)
    return _short_cvc(stem)


def _strip_verb(word: str, suffix: int) -> str:
    """Remove -ed (suffix=2) or -ing (suffix=3) and restore the base form's spelling."""
    if suffix == 2:
        if word.endswith("eed"):
            return word  # need, proceed, exceed (agreed & co. are in the irregular table)
        if word.endswith("ied"):
            return word[:-3] + "y" if len(word) > 4 else word[:-1]
    stem = word[:-suffix]
    if len(stem) < 3 or not any(c in _VOWELS for c in stem):
        return word  # bed, shed, king, thing, bring
    last = stem[-1]
    if last == stem[-2] and last not in "aeiou":
        if last in "sz" or len(stem) == 3:
            return stem  # passed, buzzed, erred
        if last == "l":
            if stem[-3] in "eio" and _measure(stem) >= 2:
                return stem[:-1]  # cancelled, controlled, travelling
            return stem  # called, polling, scrolled
        return stem[:-1]  # planned, stopping, preferred
    if len(stem) >= 5:
        return stem + "e" if last == "u" else stem  # the final-e rule makes the rest agree
    return stem + "e" if _needs_e(stem) else stem


def _singular(word: str) -> str:
    """Remove a plural or third-person -s/-es/-ies."""
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y" if len(word) > 4 else word[:-1]
    if word.endswith("es"):
        stem = word[:-2]
        if stem.endswith(("ss", "x", "zz", "ch", "sh")):
            return stem
    return word[:-1]


def _lemma(word: str) -> str:
    irregular = _IRREGULAR.get(word)
    if irregular is not None:
        return irregular
    if len(word) <= 3 or word in _KEEP:
        return word
    if word.endswith("s"):
        return _singular(word)
    if word.endswith("ed"):
        return _strip_verb(word, 2)
    if word.endswith("ing"):
        return _strip_verb(word, 3)
    return word


@lru_cache(maxsize=65536)
def inflection_key(norm: str) -> str:
    """The key that inflected forms of one word share (``embassies`` -> ``embassy``).

    ``norm`` is a normalised word (see ``normalise``). Dots are ignored in abbreviations
    (``u.s.`` -> ``us``) and possessives removed (``russia's`` -> ``russia``).
    """
    word = norm
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if "." in word:
        undotted = word.replace(".", "")
        if undotted.isalpha():
            word = undotted
    if not word.isalpha():
        return word
    lemma = _lemma(word)
    if len(lemma) >= 6 and lemma[-1] == "e" and lemma[-2] not in _VOWELS:
        lemma = lemma[:-1]  # create/created/creating -> creat, release/released -> releas
    return lemma


def tokenise(text: str) -> tuple[Token, ...]:
    """Split ``text`` into word tokens with character offsets."""
    tokens = []
    for m in _WORD.finditer(text):
        surface = m.group()
        if surface.endswith(".") and surface.count(".") == 1:
            surface = surface[:-1]  # a sentence's full stop, not an abbreviation like "U.S."
        norm = normalise(surface)
        tokens.append(Token(m.start(), m.start() + len(surface), norm, inflection_key(norm)))
    return tuple(tokens)


# --- invisible controls ------------------------------------------------------------------------

# Characters that change how the text around them reads without being seen: bidirectional
# embeddings, overrides and isolates (U+202A-202E, U+2066-2069), marks (U+200E/F, U+061C), and
# zero-width characters (U+200B-200D, U+2060-2064, U+FEFF). ZWJ is kept inside emoji sequences
# (👩‍💻) and ZWNJ between letters (Persian spellings need it).
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_ZWJ, _ZWNJ = "\u200d", "\u200c"


def _emoji_part(char: str) -> bool:
    return (
        unicodedata.category(char) in ("So", "Sk")
        or char in "\ufe0f\u20e3"
        or (
            "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        )
    )


def _kept_joiner(text: str, index: int) -> bool:
    if index == 0 or index == len(text) - 1:
        return False
    before, after = text[index - 1], text[index + 1]
    if text[index] == _ZWJ:
        return _emoji_part(before) and _emoji_part(after)
    if text[index] == _ZWNJ:
        return before.isalpha() and after.isalpha()
    return False


def neutralise_controls(text: str) -> str:
    """``text`` without the invisible characters that could make it read differently."""
    if text.isascii() or not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(lambda m: m.group() if _kept_joiner(text, m.start()) else "", text)
