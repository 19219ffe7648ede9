"""Long replies split into parts that Telegram accepts one by one (checked like Telegram)."""

from __future__ import annotations

from html import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import split_lines
from tests.fakes.telegram_html import check_message_text, parse_html


def _plain(html: str) -> str:
    """The visible text without white space (a cut drops a newline, a blank part is not sent)."""
    return "".join(parse_html(html).text.split())


def _assert_parts_valid(html: str, limit: int) -> list[str]:
    parts = split_lines(html, limit)
    for part in parts:
        assert len(part) <= limit
        check_message_text(part, "HTML", max_length=limit)  # raises if Telegram would refuse
    assert "".join(_plain(p) for p in parts) == _plain(html)
    return parts


def test_a_long_pre_block_is_closed_and_reopened_at_each_cut() -> None:
    query = "Russia AND " * 500
    html = f"I couldn't read that query.\n<pre>{escape(query)}\n{' ' * 4000}^</pre>\nSee /help"
    parts = _assert_parts_valid(html, 4096)
    assert len(parts) >= 2
    assert all(p.count("<pre>") == p.count("</pre>") for p in parts)


def test_no_cut_inside_a_tag_or_an_entity() -> None:
    html = "x" * 4090 + '<a href="https://example.com/long/path">link</a> &amp; more'
    parts = _assert_parts_valid(html, 4096)
    assert parts[1].startswith("<a href=")
    html = "x" * 4093 + "&amp;&lt;&gt;"
    parts = _assert_parts_valid(html, 4096)
    assert parts[1].startswith("&")


def test_lines_stay_whole_when_they_fit() -> None:
    lines = [f"{i}. <b>list {i}</b>: <code>{'w ' * 30}</code>" for i in range(300)]
    parts = _assert_parts_valid("\n".join(lines), 4096)
    assert "\n".join(parts) == "\n".join(lines)


_words = st.text(alphabet="ab <>&\"'é😀\n", min_size=0, max_size=40).map(escape)


@st.composite
def _html(draw: st.DrawFn, depth: int = 0) -> str:
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["text", "b", "i", "pre", "code", "a", "blockquote"]))
        if kind == "text" or depth >= 2:
            pieces.append(draw(_words))
        elif kind == "a":
            pieces.append(f'<a href="https://e.example/{depth}">{draw(_words)}</a>')
        elif kind in ("pre", "code"):
            pieces.append(f"<{kind}>{draw(_words)}</{kind}>")
        elif kind == "blockquote" and depth == 0:
            pieces.append(f"<blockquote>{draw(_html(depth + 1))}</blockquote>")
        else:
            pieces.append(f"<{kind}>{draw(_html(depth + 1))}</{kind}>")
    return "".join(pieces)


@settings(max_examples=100, deadline=None)
@given(st.lists(_html(), min_size=1, max_size=8), st.integers(200, 600))
def test_any_balanced_reply_splits_into_parts_telegram_accepts(
    blocks: list[str], limit: int
) -> None:
    html = "\n".join(blocks)
    if not parse_html(html).text.strip():
        return  # nothing visible: nothing to send
    _assert_parts_valid(html, limit)
