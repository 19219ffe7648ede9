"""The fake Bot API's HTML checker must accept and refuse exactly what Telegram does."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.telegram_html import (
    MAX_MESSAGE_LENGTH,
    MAX_RAW_TEXT_BYTES,
    FormattedText,
    HtmlParseError,
    TextEntity,
    TextRejectedError,
    check_message_text,
    parse_html,
    utf16_length,
)


def _entities(formatted: FormattedText) -> list[tuple[str, int, int]]:
    return [(e.type, e.offset, e.length) for e in formatted.entities]


def _parse_error(text: str) -> str:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(text)
    assert caught.value.description == f"can't parse entities: {caught.value.detail}"
    return caught.value.detail


# -- accepted markup ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "entity_type"),
    [
        ("<b>x</b>", "bold"),
        ("<strong>x</strong>", "bold"),
        ("<i>x</i>", "italic"),
        ("<em>x</em>", "italic"),
        ("<u>x</u>", "underline"),
        ("<ins>x</ins>", "underline"),
        ("<s>x</s>", "strikethrough"),
        ("<strike>x</strike>", "strikethrough"),
        ("<del>x</del>", "strikethrough"),
        ("<tg-spoiler>x</tg-spoiler>", "spoiler"),
        ('<span class="tg-spoiler">x</span>', "spoiler"),
        ("<span class=tg-spoiler>x</span>", "spoiler"),
        ("<code>x</code>", "code"),
        ("<pre>x</pre>", "pre"),
        ("<blockquote>x</blockquote>", "blockquote"),
        ("<blockquote expandable>x</blockquote>", "expandable_blockquote"),
        ('<a href="https://example.com/a">x</a>', "text_link"),
        ('<tg-emoji emoji-id="5368324170671202286">x</tg-emoji>', "custom_emoji"),
    ],
)
def test_every_supported_tag_and_alias_makes_its_entity(markup: str, entity_type: str) -> None:
    assert _entities(parse_html(markup)) == [(entity_type, 0, 1)]
    assert parse_html(markup).text == "x"


def test_tag_names_are_case_insensitive_and_unknown_attributes_are_ignored() -> None:
    parsed = parse_html("<B>a</B><EM title=\"t\" data-x='y'>b</em><Strong >c</STRONG >")
    assert parsed.text == "abc"
    assert _entities(parsed) == [("bold", 0, 1), ("italic", 1, 1), ("bold", 2, 1)]


def test_an_empty_end_tag_closes_the_innermost_tag() -> None:
    assert _entities(parse_html("<b>a<i>b</></>")) == [("bold", 0, 2), ("italic", 1, 1)]


def test_properly_nested_formatting_is_kept_as_written() -> None:
    parsed = parse_html(
        "<b>bold <i>both</i></b> <blockquote>q <a href='https://x.org'>l</a></blockquote>"
    )
    assert parsed.text == "bold both q l"
    assert _entities(parsed) == [
        ("bold", 0, 9),
        ("italic", 5, 4),
        ("blockquote", 10, 3),
        ("text_link", 12, 1),
    ]


def test_links_keep_their_url_and_user_links_become_mentions() -> None:
    parsed = parse_html(
        '<a href="https://example.com/?a=1&amp;b=2">one</a> '
        "<a href='tg://user?id=42'>two</a> <a href=example.org>three</a> <a>https://x.io</a>"
    )
    links = parsed.entities
    assert links[0].url == "https://example.com/?a=1&b=2"
    assert links[1].type == "text_mention"
    assert links[1].user_id == 42
    assert links[1].to_api()["user"]["id"] == 42
    assert links[2].url == "http://example.org"
    assert links[3].url == "https://x.io"


def test_a_link_telegram_cannot_use_is_dropped_silently() -> None:
    parsed = parse_html('<a href="javascript:alert(1)">x</a>')
    assert parsed.text == "x"
    assert parsed.entities == ()


def test_pre_with_a_language_class_on_code_becomes_one_pre_entity() -> None:
    parsed = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert [e.to_api() for e in parsed.entities] == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"}
    ]
    # A language class on a lone <code> is dropped.
    lone = parse_html('<code class="language-python">x</code>')
    assert lone.entities == (TextEntity("code", 0, 1),)


def test_empty_tags_make_no_entity() -> None:
    parsed = parse_html("a<b></b>b")
    assert parsed.text == "ab"
    assert parsed.entities == ()


# -- errors and byte offsets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("é <FOO>", 'Unsupported start tag "foo" at byte offset 3'),
        ("€ <br/>", 'Unsupported start tag "br/" at byte offset 4'),
        ("😀<p>", 'Unsupported start tag "p" at byte offset 4'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>é</i>", 'Unmatched end tag at byte offset 5, expected "</b>", found "</i>"'),
        ("<b>x</strong>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</strong>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</i>", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x", 'Can\'t find end tag corresponding to start tag "i"'),
        ("ü</b>", "Unexpected end tag at byte offset 2"),
        ("<b>x</b></i>", "Unexpected end tag at byte offset 8"),
        ("😀 <b", "Unclosed start tag at byte offset 5"),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
        ("<a href=", 'Unclosed start tag "a" at byte offset 0'),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("é<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 2'),
        (
            '<span class="spoiler">x</span>',
            'Tag "span" must have class "tg-spoiler" at byte offset 0',
        ),
        ('<a ="x">y</a>', 'Empty attribute name in the tag "a" at byte offset 0'),
        ('ж<a href=x"y>z</a>', "Unexpected end of name token at byte offset 10"),
        ("<tg-emoji emoji-id=abc>x</tg-emoji>", "Invalid custom emoji identifier specified"),
        (
            "&#xD83D;&#xDE00;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
        ),
    ],
)
def test_malformed_markup_gets_telegrams_exact_error(markup: str, detail: str) -> None:
    assert _parse_error(markup) == detail


def test_the_first_error_in_the_text_wins() -> None:
    assert _parse_error("<x> </b>") == 'Unsupported start tag "x" at byte offset 0'


# -- character references -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("&lt;b&gt; &amp; &quot;", '<b> & "'),
        ("&#65;&#x42;&#x1F600;", "AB😀"),
        ("&lt&gt;", "<>"),  # the semicolon is optional
        ("fish & chips", "fish & chips"),
        ("&nbsp;&copy;&foo;", "&nbsp;&copy;&foo;"),
        ("&LT;", "&LT;"),  # named references are case-sensitive
        ("&#X41;", "&#X41;"),  # only a lower-case x starts a hex reference
        ("&#0;&#;&#x110000;", "&#0;&#;&#x110000;"),
        ("&#00000065;", "&#00000065;"),  # too long to be a reference
        ("&#1114110;", "\U0010fffe"),
        ("&ampx;", "&ampx;"),  # the whole run of letters is the name
        ("&amp5", "&5"),
    ],
)
def test_character_references_decode_like_telegram(markup: str, text: str) -> None:
    assert parse_html(markup).text == text
    assert parse_html(markup).entities == ()


def test_references_inside_attribute_values_are_decoded() -> None:
    parsed = parse_html("<a href='https://e.com/?q=&quot;x&quot;&amp;p=1'>l</a>")
    assert parsed.entities[0].url == 'https://e.com/?q="x"&p=1'


# -- entity offsets -------------------------------------------------------------------------------


def test_entity_offsets_and_lengths_count_utf16_code_units() -> None:
    parsed = parse_html("😀 é <b>a😀b</b> <i>&#x1F600;</i>")
    assert parsed.text == "😀 é a😀b 😀"
    assert _entities(parsed) == [("bold", 5, 4), ("italic", 10, 2)]
    assert parsed.covered(parsed.entities[0]) == "a😀b"
    assert parsed.covered(parsed.entities[1]) == "😀"


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("aé€😀") == 5


# -- normalising invalid nesting ------------------------------------------------------------------


def test_formatting_is_cut_out_of_code() -> None:
    parsed = parse_html("<b>a<code>c</code>d</b>")
    assert _entities(parsed) == [("bold", 0, 1), ("code", 1, 1), ("bold", 2, 1)]


def test_nothing_survives_inside_code_or_pre() -> None:
    assert _entities(parse_html("<pre>a<b>b</b></pre>")) == [("pre", 0, 2)]
    assert _entities(parse_html("<code><a href='https://x.io'>l</a></code>")) == [("code", 0, 1)]


def test_blockquotes_do_not_nest() -> None:
    parsed = parse_html("<blockquote>a<blockquote>b</blockquote></blockquote>")
    assert _entities(parsed) == [("blockquote", 0, 2)]


def test_nested_formatting_of_one_kind_merges() -> None:
    assert _entities(parse_html("<b>a<strong>b</strong>c</b>")) == [("bold", 0, 3)]


# -- the whole sendMessage text check -------------------------------------------------------------


def _rejected(text: str, parse_mode: str | None = "HTML") -> str:
    with pytest.raises(TextRejectedError) as caught:
        check_message_text(text, parse_mode)
    return caught.value.description


def test_empty_text_and_text_empty_after_parsing_are_refused_differently() -> None:
    assert _rejected("") == "message text is empty"
    assert _rejected("<b></b>") == "text must be non-empty"
    assert _rejected(" \n <i> </i>\n") == "text must be non-empty"
    assert _rejected("   ", None) == "text must be non-empty"


def test_spaces_and_newlines_are_trimmed_but_not_tabs() -> None:
    assert check_message_text("\n  hello  \n\n", None).text == "hello"
    assert check_message_text("\thello\t", None).text == "\thello\t"


def test_trimming_moves_and_cuts_entities() -> None:
    trimmed = check_message_text("  \n<b>bold  </b>tail<i> \n</i>\n", "HTML")
    assert trimmed.text == "bold  tail"
    assert _entities(trimmed) == [("bold", 0, 6)]


def test_leading_space_inside_the_first_entity_is_kept() -> None:
    trimmed = check_message_text(" \n<b> x</b>", "HTML")
    assert trimmed.text == " x"
    assert _entities(trimmed) == [("bold", 0, 2)]


def test_length_limit_counts_code_points_of_the_parsed_trimmed_text() -> None:
    assert len(check_message_text("😀" * MAX_MESSAGE_LENGTH, "HTML").text) == 4096
    assert _rejected("😀" * (MAX_MESSAGE_LENGTH + 1)) == "message is too long"
    assert check_message_text("<b>" + "a" * 4096 + "</b>\n\n   ", "HTML").text == "a" * 4096
    assert len(check_message_text("&amp;" * 4096, "HTML").text) == 4096
    assert _rejected("&amp;" * 4097) == "message is too long"


def test_raw_text_over_32768_bytes_is_refused_before_parsing() -> None:
    padded = "a" * 100 + " " * (MAX_RAW_TEXT_BYTES - 100)
    assert check_message_text(padded, "HTML").text == "a" * 100
    assert _rejected(padded + " ") == "text is too long"
    assert _rejected("<bad>" + "é" * 16384) == "text is too long"


def test_parse_mode_is_case_insensitive_and_plain_text_is_not_parsed() -> None:
    assert check_message_text("<b>x</b>", "html").entities == (TextEntity("bold", 0, 1),)
    plain = check_message_text("<b>x</b> & <foo>", None)
    assert plain.text == "<b>x</b> & <foo>"
    assert plain.entities == ()
    assert _rejected("x", "Textile") == "unsupported parse_mode"


def test_html_errors_are_reported_with_the_can_t_parse_prefix() -> None:
    assert _rejected("a < b") == 'can\'t parse entities: Unsupported start tag "" at byte offset 2'


# -- properties -----------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)


@given(_TEXT)
def test_escaped_text_round_trips(text: str) -> None:
    assert parse_html(html.escape(text)).text == text


@given(_TEXT.filter(lambda t: t != ""), _TEXT, _TEXT)
def test_bold_entity_covers_exactly_the_wrapped_text(inner: str, before: str, after: str) -> None:
    parsed = parse_html(f"{html.escape(before)}<b>{html.escape(inner)}</b>{html.escape(after)}")
    assert len(parsed.entities) == 1
    assert parsed.covered(parsed.entities[0]) == inner
    assert parsed.entities[0].offset == utf16_length(before)


@given(st.text(alphabet="<>/&;#x= \"'abiéspancodeh😀", max_size=40))
def test_any_input_is_either_parsed_or_refused_with_a_parse_error(text: str) -> None:
    try:
        parsed = parse_html(text)
    except HtmlParseError as error:
        assert error.detail
    else:
        total = utf16_length(parsed.text)
        assert all(e.offset >= 0 and e.length > 0 and e.end <= total for e in parsed.entities)
