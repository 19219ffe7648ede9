"""Invisible controls that change how text reads are removed; joiners that matter are kept."""

import pytest

from watchers.text import neutralise_controls


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Gas \u202eenilepip\u202c", "Gas enilepip"),  # right-to-left override
        ("\u2067evil\u2069 wire", "evil wire"),  # isolates
        ("a\u200bb\u200ec\u200fd\u061ce\ufefff\u2060g", "abcdefg"),  # zero-width, marks
        ("👩\u200d💻 coder", "👩\u200d💻 coder"),  # ZWJ inside an emoji sequence stays
        ("❤\ufe0f\u200d🔥", "❤\ufe0f\u200d🔥"),
        ("a\u200db", "ab"),  # ZWJ between letters goes
        ("می\u200cخواهم", "می\u200cخواهم"),  # ZWNJ inside a Persian word stays
        ("\u200cstart", "start"),
        ("plain ASCII", "plain ASCII"),
    ],
)
def test_controls_are_neutralised(given: str, expected: str) -> None:
    assert neutralise_controls(given) == expected
