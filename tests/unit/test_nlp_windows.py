"""Where the recogniser reads when only a few places need entities (pure helpers of nlp.py)."""

from __future__ import annotations

import itertools

from watchers.nlp import entity_windows, sentence_bounds

TEXT = (
    "Talks resume in Vienna\n\n"
    "Diplomats met on Monday. The weather was mild. Ministers spoke of grain. "
    "“We are ready,” Maria Lenko said. Prices fell. Nobody left early."
)


def test_sentences_cover_the_text_and_keep_their_trailing_space() -> None:
    bounds = sentence_bounds(TEXT)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(TEXT)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    pieces = [TEXT[a:b] for a, b in bounds]
    assert pieces[0] == "Talks resume in Vienna\n\n"
    assert "“We are ready,” Maria Lenko said. " in pieces


def test_a_window_is_the_title_and_the_sentences_around_a_place() -> None:
    title_end = TEXT.index("\n")
    at = TEXT.index("Lenko")
    windows = entity_windows(TEXT, title_end, [(at, at + len("Lenko"))])
    read = [TEXT[a:b] for a, b in windows]
    assert read[0].startswith("Talks resume in Vienna")
    assert read[-1] == "Ministers spoke of grain. “We are ready,” Maria Lenko said. Prices fell. "
    assert "Diplomats met" not in "".join(read) and "Nobody" not in "".join(read)


def test_windows_that_touch_are_one_and_nothing_asked_reads_nothing() -> None:
    title_end = TEXT.index("\n")
    first = TEXT.index("Diplomats")
    windows = entity_windows(TEXT, title_end, [(first, first + 9)])
    assert len(windows) == 1 and windows[0][0] == 0  # the title runs into the first sentences
    assert entity_windows(TEXT, title_end, []) == []
