"""Telegram's HTML formatting, checked the way the Bot API server checks it.

The fake Bot API server uses this module to accept or refuse message text exactly as Telegram
would: the supported tags and their aliases, character references, the error texts (offsets are
0-based UTF-8 byte offsets into the raw input), how improperly nested entities are normalised,
how the parsed text is trimmed and how its length is counted.

Known simplifications, none of which changes whether a text is accepted:
- entities Telegram finds by itself (plain URLs, @mentions, #hashtags, /commands) are not added;
- control characters are not cleaned from the text;
- Markdown parse modes are not parsed (their text is taken as plain text).
"""

from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "MAX_RAW_TEXT_BYTES",
    "FormattedText",
    "HtmlParseError",
    "TextEntity",
    "TextRejectedError",
    "check_message_text",
    "parse_html",
    "trim_formatted",
    "utf16_length",
]

MAX_MESSAGE_LENGTH = 4096
"""Longest message text after parsing and trimming, in Unicode code points."""

MAX_RAW_TEXT_BYTES = 32768
"""Longest raw ``text`` parameter the Bot API server accepts, in UTF-8 bytes."""

_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "code",
        "pre",
        "blockquote",
    }
)
_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_SPLITTABLE = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler"})
_BLOCKQUOTES = frozenset({"blockquote", "expandable_blockquote"})
_CODE_LIKE = frozenset({"code", "pre"})
# Order among entities with the same offset and length, as Telegram sorts them.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "date_time": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}

_ASCII_LETTERS = frozenset(string.ascii_letters)
_ASCII_DIGITS = frozenset(string.digits)
_HEX_DIGITS = frozenset(string.hexdigits)
_NAME_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + ".-")
_SPACES = frozenset(" \t\r\n\v\f")
_TRIMMED = " \n"
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_USER_LINK = re.compile(r"tg://user\?id=(\d{1,18})", re.IGNORECASE)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


class TextRejectedError(ValueError):
    """The server refuses the text; ``description`` is what follows ``Bad Request: ``."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class HtmlParseError(TextRejectedError):
    """Malformed HTML; ``detail`` is the part after ``can't parse entities: ``."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"can't parse entities: {detail}")
        self.detail = detail


@dataclass(frozen=True, slots=True)
class TextEntity:
    """One formatting entity; ``offset`` and ``length`` count UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    user_id: int | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    unix_time: int | None = None
    date_time_format: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def to_api(self) -> dict[str, Any]:
        """The entity as the Bot API returns it in a Message."""
        result: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            result["url"] = self.url
        if self.user_id is not None:
            result["user"] = {"id": self.user_id, "is_bot": False, "first_name": "User"}
        if self.language is not None:
            result["language"] = self.language
        if self.custom_emoji_id is not None:
            result["custom_emoji_id"] = self.custom_emoji_id
        if self.unix_time is not None:
            result["unix_time"] = self.unix_time
        if self.date_time_format is not None:
            result["date_time_format"] = self.date_time_format
        return result


@dataclass(frozen=True, slots=True)
class FormattedText:
    """Plain text plus the entities that format it."""

    text: str
    entities: tuple[TextEntity, ...] = ()

    def entities_of(self, entity_type: str) -> list[TextEntity]:
        return [e for e in self.entities if e.type == entity_type]

    def covered(self, entity: TextEntity) -> str:
        """The part of ``text`` an entity covers."""
        units = self.text.encode("utf-16-le", "surrogatepass")
        part = units[2 * entity.offset : 2 * entity.end]
        return part.decode("utf-16-le", "surrogatepass")

    def to_api(self) -> list[dict[str, Any]]:
        return [e.to_api() for e in self.entities]


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def check_message_text(
    text: str, parse_mode: str | None = None, *, max_length: int = MAX_MESSAGE_LENGTH
) -> FormattedText:
    """Check a ``text`` parameter as sendMessage does; raise ``TextRejectedError`` if refused."""
    if not text:
        raise TextRejectedError("message text is empty")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
        raise TextRejectedError("text is too long")
    mode = (parse_mode or "").lower()
    if mode == "html":
        formatted = parse_html(text)
    elif mode in ("", "markdown", "markdownv2"):
        formatted = FormattedText(text)
    else:
        raise TextRejectedError("unsupported parse_mode")
    formatted = trim_formatted(formatted)
    if len(formatted.text) > max_length:
        raise TextRejectedError("message is too long")
    return formatted


def trim_formatted(formatted: FormattedText) -> FormattedText:
    """Trim spaces and newlines as Telegram does; raise ``TextRejectedError`` if nothing is left.

    Trailing spaces and newlines always go (entities are cut to fit); leading ones only up to
    the first entity.
    """
    text = formatted.text
    end = len(text)
    while end > 0 and text[end - 1] in _TRIMMED:
        end -= 1
    if end == 0:
        raise TextRejectedError("text must be non-empty")
    end_units = utf16_length(text[:end])
    kept: list[TextEntity] = []
    for entity in formatted.entities:
        if entity.offset >= end_units:
            continue
        if entity.end > end_units:
            entity = replace(entity, length=end_units - entity.offset)
        kept.append(entity)
    first_entity = min((e.offset for e in kept), default=end_units)
    start = 0
    while start < first_entity and text[start] in _TRIMMED:
        start += 1
    # Only ASCII characters were skipped, so ``start`` is also a UTF-16 offset.
    shifted = [replace(e, offset=e.offset - start) for e in kept]
    return FormattedText(text[start:end], _sorted(shifted))


# --------------------------------------------------------------------------------------------
# parsing


@dataclass(slots=True)
class _OpenTag:
    name: str
    begin: int
    utf16_offset: int
    text_index: int
    attributes: dict[str, str] = field(default_factory=dict)


class _HtmlParser:
    """A single pass over the raw text, building plain text and entities."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.pos = 0
        self.out: list[str] = []
        self.utf16 = 0
        self.open_tags: list[_OpenTag] = []
        self.entities: list[TextEntity] = []
        self.saw_surrogate = False

    # -- character access; the end of the input behaves like C's terminating NUL --

    def _char(self, index: int) -> str:
        return self.raw[index] if index < len(self.raw) else "\0"

    def _at_end(self, index: int) -> bool:
        return self._char(index) == "\0"

    def _is_space(self, index: int) -> bool:
        char = self._char(index)
        return char in _SPACES or char == "\0"

    def _byte_offset(self, index: int) -> int:
        return len(self.raw[:index].encode("utf-8", "surrogatepass"))

    def _fail(self, detail: str) -> HtmlParseError:
        return HtmlParseError(detail)

    # -- the parse --

    def parse(self) -> FormattedText:
        raw = self.raw
        while self.pos < len(raw):
            char = raw[self.pos]
            if char == "&":
                decoded = self._decode_reference(self.pos)
                if decoded is not None:
                    code, self.pos = decoded
                    self._emit(chr(code))
                    continue
            if char != "<":
                self._emit(char)
                self.pos += 1
                continue
            if self._char(self.pos + 1) == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.open_tags:
            name = self.open_tags[-1].name
            raise self._fail(f'Can\'t find end tag corresponding to start tag "{name}"')
        if self.saw_surrogate:
            raise self._fail(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        entities = [
            replace(e, language=None) if e.type == "code" and e.language else e
            for e in self.entities
        ]
        return FormattedText("".join(self.out), _normalise(entities))

    def _emit(self, char: str) -> None:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            self.saw_surrogate = True
        self.out.append(char)
        self.utf16 += 2 if code > 0xFFFF else 1

    def _decode_reference(self, amp: int) -> tuple[int, int] | None:
        """Decode ``&...`` at ``amp``; return (code point, index after it) or None if literal."""
        index = amp + 1
        value = 0
        if self._char(index) == "#":
            index += 1
            if self._char(index) == "x":
                index += 1
                while self._char(index) in _HEX_DIGITS:
                    value = value * 16 + int(self._char(index), 16)
                    index += 1
            else:
                while self._char(index) in _ASCII_DIGITS:
                    value = value * 10 + int(self._char(index))
                    index += 1
            if value == 0 or value >= 0x10FFFF or index - amp >= 10:
                return None
        else:
            while self._char(index) in _ASCII_LETTERS:
                index += 1
            named = _NAMED_REFERENCES.get(self.raw[amp + 1 : index])
            if named is None:
                return None
            value = ord(named)
        if self._char(index) == ";":
            index += 1
        return value, index

    def _skip_spaces(self) -> None:
        while not self._at_end(self.pos) and self._is_space(self.pos):
            self.pos += 1

    def _start_tag(self) -> None:
        begin = self.pos
        self.pos += 1
        while not self._is_space(self.pos) and self._char(self.pos) != ">":
            self.pos += 1
        if self._at_end(self.pos):
            raise self._fail(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        name = self.raw[begin + 1 : self.pos].translate(_ASCII_LOWER)
        at = self._byte_offset(begin)
        if name not in _SUPPORTED_TAGS:
            raise self._fail(f'Unsupported start tag "{name}" at byte offset {at}')

        attributes: dict[str, str] = {}
        while self._char(self.pos) != ">":
            self._skip_spaces()
            if self._char(self.pos) == ">":
                break
            name_begin = self.pos
            while not self._is_space(self.pos) and self._char(self.pos) not in "=>/\"'":
                self.pos += 1
            attribute = self.raw[name_begin : self.pos]
            if not attribute:
                raise self._fail(f'Empty attribute name in the tag "{name}" at byte offset {at}')
            self._skip_spaces()
            if self._char(self.pos) != "=":
                if self._at_end(self.pos):
                    raise self._fail(f'Unclosed start tag "{name}" at byte offset {at}')
                _apply_attribute(name, attribute, "", attributes, has_value=False)
                continue
            self.pos += 1
            self._skip_spaces()
            if self._at_end(self.pos):
                raise self._fail(f'Unclosed start tag "{name}" at byte offset {at}')
            value = self._attribute_value()
            if self._at_end(self.pos):
                raise self._fail(f"Unclosed start tag at byte offset {at}")
            _apply_attribute(name, attribute, value, attributes, has_value=True)

        if name == "span" and attributes.get("span_class") != "spoiler":
            raise self._fail(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        self.open_tags.append(_OpenTag(name, begin, self.utf16, len(self.out), attributes))
        self.pos += 1

    def _attribute_value(self) -> str:
        quote = self._char(self.pos)
        if quote not in ("'", '"'):
            token_begin = self.pos
            while self._char(self.pos) in _NAME_TOKEN_CHARS:
                self.pos += 1
            if not self._is_space(self.pos) and self._char(self.pos) != ">":
                offset = self._byte_offset(token_begin)
                raise self._fail(f"Unexpected end of name token at byte offset {offset}")
            return self.raw[token_begin : self.pos].translate(_ASCII_LOWER)
        self.pos += 1
        chars: list[str] = []
        while not self._at_end(self.pos) and self._char(self.pos) != quote:
            if self._char(self.pos) == "&":
                decoded = self._decode_reference(self.pos)
                if decoded is not None:
                    code, self.pos = decoded
                    chars.append(chr(code))
                    continue
            chars.append(self._char(self.pos))
            self.pos += 1
        if self._char(self.pos) == quote:
            self.pos += 1
        return "".join(chars)

    def _end_tag(self) -> None:
        begin = self.pos
        at = self._byte_offset(begin)
        if not self.open_tags:
            raise self._fail(f"Unexpected end tag at byte offset {at}")
        self.pos += 1
        while not self._is_space(self.pos) and self._char(self.pos) != ">":
            self.pos += 1
        end_name = self.raw[begin + 2 : self.pos].translate(_ASCII_LOWER)
        self._skip_spaces()
        if self._char(self.pos) != ">":
            raise self._fail(f"Unclosed end tag at byte offset {at}")
        tag = self.open_tags[-1]
        if end_name and end_name != tag.name:
            raise self._fail(
                f'Unmatched end tag at byte offset {at}, expected "</{tag.name}>", '
                f'found "</{end_name}>"'
            )
        self.pos += 1
        self.open_tags.pop()
        if self.utf16 > tag.utf16_offset:
            self._close_entity(tag)

    def _close_entity(self, tag: _OpenTag) -> None:
        offset = tag.utf16_offset
        length = self.utf16 - offset
        attributes = tag.attributes
        simple = _SIMPLE_TAG_TYPES.get(tag.name)
        if simple is not None:
            self.entities.append(TextEntity(simple, offset, length))
        elif tag.name == "a":
            url = attributes.get("href") or "".join(self.out[tag.text_index :])
            self._add_link(url, offset, length)
        elif tag.name == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not re.fullmatch(r"-?\d{1,19}", emoji_id) or int(emoji_id) == 0:
                raise self._fail("Invalid custom emoji identifier specified")
            self.entities.append(
                TextEntity("custom_emoji", offset, length, custom_emoji_id=str(int(emoji_id)))
            )
        elif tag.name == "tg-time":
            unix = attributes.get("unix", "")
            if re.fullmatch(r"\d{1,10}", unix):
                self.entities.append(
                    TextEntity(
                        "date_time",
                        offset,
                        length,
                        unix_time=int(unix),
                        date_time_format=attributes.get("format") or None,
                    )
                )
        elif tag.name == "pre":
            last = self.entities[-1] if self.entities else None
            if (
                last is not None
                and last.type == "code"
                and (last.offset, last.length) == (offset, length)
                and last.language
            ):
                self.entities[-1] = replace(last, type="pre")
            else:
                self.entities.append(TextEntity("pre", offset, length))
        elif tag.name == "code":
            language = attributes.get("language") or None
            last = self.entities[-1] if self.entities else None
            if (
                last is not None
                and last.type == "pre"
                and (last.offset, last.length) == (offset, length)
                and language
            ):
                self.entities[-1] = replace(last, language=language)
            else:
                self.entities.append(TextEntity("code", offset, length, language=language))
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if "expandable" in attributes else "blockquote"
            self.entities.append(TextEntity(kind, offset, length))

    def _add_link(self, url: str, offset: int, length: int) -> None:
        mention = _USER_LINK.fullmatch(url)
        if mention is not None:
            user_id = int(mention.group(1))
            if user_id > 0:
                self.entities.append(TextEntity("text_mention", offset, length, user_id=user_id))
            return
        checked = _checked_link(url)
        if checked is not None:
            self.entities.append(TextEntity("text_link", offset, length, url=checked))


def _apply_attribute(
    tag: str, attribute: str, value: str, attributes: dict[str, str], *, has_value: bool
) -> None:
    """Remember the attributes that matter; Telegram ignores all others (names are exact)."""
    if tag == "blockquote" and attribute == "expandable":
        attributes["expandable"] = "1"
    elif not has_value:
        return
    elif tag == "a" and attribute == "href":
        attributes["href"] = value
    elif tag == "code" and attribute == "class" and value.startswith("language-"):
        attributes["language"] = value[len("language-") :]
    elif tag == "span" and attribute == "class" and value.startswith("tg-"):
        attributes["span_class"] = value[len("tg-") :]
    elif tag == "tg-emoji" and attribute == "emoji-id":
        attributes["emoji-id"] = value
    elif tag == "tg-time" and attribute in ("unix", "format"):
        attributes[attribute] = value


def _checked_link(url: str) -> str | None:
    """Telegram keeps web and tg:// links, adds ``http://`` when no scheme is given, and
    silently drops the link entity otherwise."""
    url = url.strip()
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    scheme = _SCHEME.match(url)
    if scheme is None or "/" in url[: scheme.end()]:
        return f"http://{url}"
    name = scheme.group(1).lower()
    if name in ("http", "https"):
        rest = url[scheme.end() :]
        return url if rest.startswith("//") and len(rest) > 2 else None
    if name in ("tg", "ton"):
        return url
    if "." in name or url[scheme.end() :].isdigit():
        # "example.com:8080/x" has a port, not a scheme
        return f"http://{url}"
    return None


def parse_html(text: str) -> FormattedText:
    """Parse Telegram HTML into plain text and entities; raise ``HtmlParseError`` if malformed.

    The result is not trimmed; ``check_message_text`` does the whole sendMessage check.
    """
    return _HtmlParser(text).parse()


# --------------------------------------------------------------------------------------------
# normalising entities


def _sort_key(entity: TextEntity) -> tuple[int, int, int]:
    return entity.offset, -entity.length, _PRIORITY.get(entity.type, 50)


def _sorted(entities: list[TextEntity]) -> tuple[TextEntity, ...]:
    return tuple(sorted(entities, key=_sort_key))


def _may_contain(outer: TextEntity, inner: TextEntity) -> bool:
    """Nesting rules: formatting nests with anything but code/pre, one blockquote level only,
    nothing inside code/pre, and no other pair may nest."""
    if outer.type in _CODE_LIKE:
        return False
    if outer.type in _SPLITTABLE or inner.type in _SPLITTABLE:
        other = inner if outer.type in _SPLITTABLE else outer
        return other.type not in _CODE_LIKE and outer.type != inner.type
    if outer.type in _BLOCKQUOTES:
        return inner.type not in _BLOCKQUOTES
    return False


def _are_valid(entities: tuple[TextEntity, ...]) -> bool:
    stack: list[TextEntity] = []
    for entity in entities:
        while stack and stack[-1].end <= entity.offset:
            stack.pop()
        if stack and stack[-1].end < entity.end:
            return False
        if any(not _may_contain(outer, entity) for outer in stack):
            return False
        stack.append(entity)
    return True


def _without_intersecting(entities: list[TextEntity]) -> list[TextEntity]:
    """Keep an entity only if it starts after every entity kept before it ends."""
    kept: list[TextEntity] = []
    last_end = 0
    for entity in sorted(entities, key=_sort_key):
        if entity.offset >= last_end:
            kept.append(entity)
            last_end = entity.end
    return kept


def _merge_intervals(entities: list[TextEntity]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for entity in sorted(entities, key=lambda e: e.offset):
        if merged and entity.offset <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], entity.end))
        else:
            merged.append((entity.offset, entity.end))
    return merged


def _normalise(entities: list[TextEntity]) -> tuple[TextEntity, ...]:
    """Bring entities into a valid shape without refusing the text, as Telegram does.

    Valid entity sets are left alone. Otherwise: overlapping or nested non-formatting entities
    keep only the first; nested blockquotes keep the outer one; an entity that crosses a
    blockquote is dropped; formatting of one type is merged, cut at the edges of every other
    entity, and removed wherever it would lie inside code or pre.
    """
    ordered = _sorted(entities)
    if _are_valid(ordered):
        return ordered
    splittable = [e for e in ordered if e.type in _SPLITTABLE]
    quotes = _without_intersecting([e for e in ordered if e.type in _BLOCKQUOTES])
    continuous = _without_intersecting(
        [e for e in ordered if e.type not in _SPLITTABLE and e.type not in _BLOCKQUOTES]
    )
    continuous = [
        e
        for e in continuous
        if all(
            e.end <= q.offset or e.offset >= q.end or q.offset <= e.offset < e.end <= q.end
            for q in quotes
        )
    ]
    others = continuous + quotes
    cuts = sorted({point for e in others for point in (e.offset, e.end)})
    code_spans = [(e.offset, e.end) for e in continuous if e.type in _CODE_LIKE]
    pieces: list[TextEntity] = []
    for entity_type in sorted(_SPLITTABLE):
        same_type = [e for e in splittable if e.type == entity_type]
        for begin, end in _merge_intervals(same_type):
            points = [begin, *(c for c in cuts if begin < c < end), end]
            for start, stop in itertools.pairwise(points):
                if any(lo <= start and stop <= hi for lo, hi in code_spans):
                    continue
                pieces.append(TextEntity(entity_type, start, stop - start))
    return _sorted(others + pieces)
