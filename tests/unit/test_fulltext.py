"""Full article text from a page: the article only, never menus, comments or footers."""

from __future__ import annotations

import time

import pytest

from watchers.fulltext import extract_main_text

URL = "https://gazette.example/news/harbour-wall"

ARTICLE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harbour wall repairs begin | Harbour Town Gazette</title>
  <style>body { font-family: serif; }</style>
  <script>window.analytics = { page: "article", tracker: "ANALYTICS-SECRET" };</script>
</head>
<body>
  <header class="site-header">
    <a class="logo" href="/">Harbour Town Gazette</a>
    <nav class="main-menu">
      <ul>
        <li><a href="/news">News</a></li>
        <li><a href="/sport">Sport</a></li>
        <li><a href="/weather">Weather</a></li>
        <li><a href="/subscribe">Subscribe today</a></li>
      </ul>
    </nav>
  </header>
  <main>
    <article class="post">
      <h1>Harbour wall repairs begin after winter storms</h1>
      <p>Work to repair the eastern harbour wall began on Monday, three months after winter storms
      tore a twelve-metre gap in the stonework and flooded the fish market.</p>
      <p>The council has set aside 1.2 million pounds for the repairs, which are expected to take
      until the end of September. Boats will be moored at the western quay until then.</p>
      <blockquote><p>"We have waited a long time for this, and the fishermen are relieved," said
      harbour master Ellen Brine.</p></blockquote>
      <p>Engineers will first pump out the flooded cellars beneath the market before rebuilding
      the wall with granite blocks brought from the old quarry at Penmorrow.</p>
    </article>
    <aside class="related">
      <h3>Related stories</h3>
      <ul>
        <li><a href="/news/ferry">Ferry service resumes after storm</a></li>
        <li><a href="/news/budget">Council agrees budget</a></li>
      </ul>
    </aside>
    <section id="comments" class="comments-area">
      <h3 class="comments-title">2 thoughts on "Harbour wall repairs begin"</h3>
      <ol class="comment-list">
        <li class="comment"><div class="comment-body"><p>About time too! The gap has been an
        eyesore all spring and nobody from the council ever came down to look.</p></div></li>
        <li class="comment"><div class="comment-body"><p>Will the market reopen before the summer
        festival? My stall has been closed since February.</p></div></li>
      </ol>
      <div id="respond" class="comment-respond">
        <h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
        <form action="/comment" method="post"><p>Your email address will not be published.</p>
        <textarea name="comment"></textarea><input type="submit" value="Post Comment"></form>
      </div>
    </section>
  </main>
  <footer class="site-footer">
    <p>© 2025 Harbour Town Gazette. All rights reserved.</p>
    <p><a href="/privacy">Privacy policy</a> · <a href="/contact">Contact us</a></p>
  </footer>
</body>
</html>
"""

ARTICLE_PARAGRAPHS = [
    "Harbour wall repairs begin after winter storms",
    "Work to repair the eastern harbour wall began on Monday, three months after winter storms "
    "tore a twelve-metre gap in the stonework and flooded the fish market.",
    "The council has set aside 1.2 million pounds for the repairs, which are expected to take "
    "until the end of September. Boats will be moored at the western quay until then.",
    '"We have waited a long time for this, and the fishermen are relieved," said harbour master '
    "Ellen Brine.",
    "Engineers will first pump out the flooded cellars beneath the market before rebuilding the "
    "wall with granite blocks brought from the old quarry at Penmorrow.",
]

FRONT_PAGE = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Harbour Town Gazette</title></head>
<body>
  <header><a href="/">Harbour Town Gazette</a>
    <nav><ul><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
    <li><a href="/weather">Weather</a></li><li><a href="/subscribe">Subscribe</a></li></ul></nav>
  </header>
  <main>
    <h2>Latest</h2>
    <ul class="headlines">
      <li><a href="/news/wall">Harbour wall repairs begin</a></li>
      <li><a href="/news/ferry">Ferry service resumes after storm</a></li>
      <li><a href="/news/budget">Council agrees budget</a></li>
      <li><a href="/news/lighthouse">Lighthouse open day</a></li>
    </ul>
  </main>
  <footer><p>© 2025 Harbour Town Gazette</p><p><a href="/privacy">Privacy</a></p></footer>
</body></html>
"""


def test_the_article_and_nothing_else() -> None:
    text = extract_main_text(ARTICLE.encode(), URL)
    assert text is not None
    assert text.split("\n\n") == ARTICLE_PARAGRAPHS
    for unwanted in (
        "Subscribe today",  # navigation
        "Related stories",
        "About time too",  # a comment
        "Leave a Reply",
        "Post Comment",
        "All rights reserved",  # footer
        "ANALYTICS-SECRET",  # script
        "font-family",  # style
    ):
        assert unwanted not in text


def test_a_page_without_an_article_has_no_text() -> None:
    assert extract_main_text(FRONT_PAGE.encode(), "https://gazette.example/") is None


@pytest.mark.parametrize(
    "page",
    [
        b"",
        b"   \n ",
        b"\x00" * 1000,
        bytes(range(256)) * 20,
        b'{"json": "is not a page"}',
        b"<html><body><p>Too short.</p></body></html>",
        b"<html><body><article><p" + b"x" * 500,  # cut off inside a tag
    ],
)
def test_pages_without_real_text_give_none(page: bytes) -> None:
    assert extract_main_text(page, URL) is None


def test_the_declared_charset_is_honoured() -> None:
    page = ARTICLE.replace('charset="utf-8"', 'charset="windows-1252"').replace(
        "Penmorrow", "Penmorrow café"
    )
    text = extract_main_text(page.encode("cp1252"), URL)
    assert text is not None
    assert text.endswith("old quarry at Penmorrow café.")


def test_a_page_over_the_size_cap_is_not_read() -> None:
    assert extract_main_text(ARTICLE.encode(), URL, max_bytes=1000) is None


def test_a_huge_inline_script_does_not_hide_the_article() -> None:
    script = "<script>window.__DATA__ = " + '{"k": "v"},' * 300_000 + "</script>"
    page = ARTICLE.replace("</head>", script + "</head>")
    started = time.monotonic()
    text = extract_main_text(page.encode(), URL)
    assert time.monotonic() - started < 5
    assert text is not None
    assert text.split("\n\n") == ARTICLE_PARAGRAPHS


@pytest.mark.parametrize(
    "page",
    [
        b"<html><body>" + b"<div>" * 990_000 + b"deep</body></html>",
        b"<html><body><article>"
        + b"<p>word word word word word word</p>" * 120_000
        + b"</article>",
        b"<html><body><article><p>" + b"word " * 900_000 + b"</p></article></body></html>",
        b"<html><body>" + b"<script>" * 500_000 + b"</body></html>",
    ],
    ids=["nested", "countless paragraphs", "one giant paragraph", "unclosed scripts"],
)
def test_hostile_pages_take_bounded_time(page: bytes) -> None:
    assert len(page) <= 5_000_000
    started = time.monotonic()
    text = extract_main_text(page, URL)
    assert time.monotonic() - started < 5
    assert text is None or len(text) <= 1_000_000
