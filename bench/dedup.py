"""How well ``watchers.dedup`` tells one story from another, on invented stories.

Reads ``tests/data/stories/stories.json`` and ``tests/data/stories/hard_negatives.json`` (look-alike
different events: the same wording about another place, company, person, number or date) and
prints JSON: the similarity distributions of pairs
that are the same story, of near misses (different stories of one subject) and of unrelated
pairs (different subjects), the precision and recall of ``same_story`` at the chosen threshold,
and how ``group_stories`` groups all the versions at once. Each set is reported on its own (see
"sets" in the output for what each was used for), and then all together.
Every link in the data is a different page, so equal links, which are trivially the same story,
play no part; links only tell ``similarity`` whether two stories come from one site.

Usage: python bench/dedup.py [--threshold 0.49] [--misses]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watchers import dedup
from watchers.dedup import (
    StoryFingerprint,
    group_stories,
    similarity,
    story_fingerprint,
)

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "stories"
STORIES = DATA / "stories.json"
HARD_NEGATIVES = DATA / "hard_negatives.json"
SETS = {
    "development": "used to choose the measure and the threshold",
    "check": "written afterwards; its two misses led to the headline conditions",
    "second check": "written before the revised measure was run on it; left as it was",
    "hard negatives": "look-alike different events and true copies, written before the measure "
    "was changed to tell who, where and how much apart",
}


@dataclass(frozen=True, slots=True)
class Version:
    set: str
    subject: str
    story: str
    index: int
    pattern: str
    fingerprint: StoryFingerprint

    @property
    def name(self) -> str:
        return f"{self.story}[{self.index}]"


@dataclass(frozen=True, slots=True)
class Pair:
    kind: str  # same | near_miss | unrelated
    a: Version
    b: Version
    similarity: float

    @property
    def set(self) -> str:
        return self.a.set if self.a.set == self.b.set else "mixed"


def load_versions(*paths: Path) -> list[Version]:
    """Every version of every story in ``paths`` (default: the stories file)."""
    versions = []
    for path in paths or (STORIES,):
        versions.extend(_load_versions(path))
    return versions


def _load_versions(path: Path) -> list[Version]:
    data = json.loads(path.read_text(encoding="utf-8"))
    versions = []
    for subject in data["subjects"]:
        for story in subject["stories"]:
            for index, version in enumerate(story["versions"]):
                fingerprint = story_fingerprint(version["title"], version["lead"], version["link"])
                versions.append(
                    Version(
                        subject["set"],
                        subject["subject"],
                        story["id"],
                        index,
                        version.get("pattern", ""),
                        fingerprint,
                    )
                )
    return versions


def make_pairs(versions: list[Version]) -> list[Pair]:
    pairs = []
    for a, b in itertools.combinations(versions, 2):
        if a.story == b.story:
            kind = "same"
        elif a.subject == b.subject:
            kind = "near_miss"
        else:
            kind = "unrelated"
        pairs.append(Pair(kind, a, b, similarity(a.fingerprint, b.fingerprint)))
    return pairs


def distribution(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"pairs": 0}
    return {
        "pairs": len(values),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.mean(values), 3),
    }


def scores(pairs: list[Pair], threshold: float) -> dict[str, Any]:
    same = [p.similarity for p in pairs if p.kind == "same"]
    near = [p.similarity for p in pairs if p.kind == "near_miss"]
    other = [p.similarity for p in pairs if p.kind == "unrelated"]
    true_positives = sum(s >= threshold for s in same)
    false_positives = sum(s >= threshold for s in near + other)
    predicted = true_positives + false_positives
    near_apart = sum(s < threshold for s in near)
    return {
        "same_story": distribution(same),
        "near_miss": distribution(near),
        "unrelated": distribution(other),
        "gap": round(min(same) - max(near), 3) if same and near else None,
        "precision": round(true_positives / predicted, 3) if predicted else None,
        "recall": round(true_positives / len(same), 3) if same else None,
        "false_positives": false_positives,
        "false_negatives": len(same) - true_positives,
        "near_misses_kept_apart": round(near_apart / len(near), 3) if near else None,
    }


def grouping(versions: list[Version]) -> dict[str, Any]:
    """Group every version at once, as a digest would, and time it."""
    started = time.perf_counter()
    groups = group_stories(versions, lambda version: version.fingerprint)
    elapsed = time.perf_counter() - started
    stories = {version.story for version in versions}
    pure = sum(len({version.story for version in group}) == 1 for group in groups)
    return {
        "items": len(versions),
        "stories": len(stories),
        "groups": len(groups),
        "pure_groups": pure,
        "milliseconds": round(elapsed * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=dedup.SAME_STORY_THRESHOLD)
    parser.add_argument("--misses", action="store_true", help="list misjudged and close pairs")
    args = parser.parse_args()
    versions = load_versions(STORIES, HARD_NEGATIVES)
    pairs = make_pairs(versions)
    report: dict[str, Any] = {
        "measure": "max(text Jaccard, headline Jaccard where the headline counts)",
        "threshold": args.threshold,
        "headline_floor": dedup.HEADLINE_FLOOR,
        "headline_words": dedup.HEADLINE_WORDS,
        "lead_words": dedup.LEAD_WORDS,
        "sets": SETS,
    }
    for name in SETS:
        report[name] = scores([p for p in pairs if p.set == name], args.threshold)
    report["all"] = scores(pairs, args.threshold)
    report["grouping"] = grouping(versions)
    if args.misses:
        wrong = [
            p
            for p in pairs
            if (p.kind == "same") != (p.similarity >= args.threshold)
            or abs(p.similarity - args.threshold) < 0.1
        ]
        report["misjudged_or_close"] = [
            {
                "kind": p.kind,
                "a": p.a.name,
                "b": p.b.name,
                "similarity": round(p.similarity, 3),
                "text": round(dedup.text_similarity(p.a.fingerprint, p.b.fingerprint), 3),
                "headline": round(dedup.headline_similarity(p.a.fingerprint, p.b.fingerprint), 3),
                "headline_counts": dedup.headline_counts(p.a.fingerprint, p.b.fingerprint),
                "pattern": p.b.pattern if p.kind == "same" else "",
            }
            for p in sorted(wrong, key=lambda p: p.similarity)
        ]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
