"""HTML in an article read as the text it wraps, every character kept in place.

A monitoring feed often sends what it scraped: "<div><p>The ECB raised rates ...</p></div>"
was read as markup, not news (the genre check: probability 0.06 that it is news), and got no
topic. Tags, comments, scripts and styles become spaces of the same length (a block's tags
a line break, so paragraphs and headings stay apart) and entities their character followed
by spaces, so every offset into the reading copy is an offset into the caller's text and
evidence still slices it exactly. Only tags of HTML's own names count, and custom or namespaced
ones (<amp-img>, <o:p>): "x<y and y>z" and "<Reuters>" are text.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

_ELEMENTS = (
    "a abbr address article aside audio b bdi bdo blockquote body br button caption cite code col colgroup "
    "data dd del details dfn div dl dt em embed fieldset figcaption figure font footer form h1 h2 h3 h4 h5 h6 "
    "head header hr html i iframe img input ins kbd label legend li link main mark meta meter nav noscript "
    "object ol optgroup option output p picture pre q s samp script section select small source span strong "
    "style sub summary sup svg table tbody td template textarea tfoot th thead time title tr track u ul var "
    "video wbr center big tt "
    # Also HTML's, and in scraped pages: a consent <dialog>, a <menu>, a headline's <hgroup>, <base href>.
    "acronym area base basefont blink canvas datalist dialog dir frame frameset hgroup map marquee math menu "
    "menuitem nobr noembed noframes param plaintext portal progress rb rp rt rtc ruby search slot strike xmp"
)
HTML_ELEMENTS = frozenset(_ELEMENTS.split())
# Elements that stand apart from the text around them: their tags end a paragraph.
_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section summary table tbody td tfoot th thead title tr "
    "ul center dialog dir frameset hgroup marquee menu noframes plaintext search xmp".split())
# Comments, declarations and CDATA markers ("<!DOCTYPE html>" began every page's reading copy; an RSS
# description in CDATA was quoted "<![CDATA[The ... inflation.]]>"), then tags. A tag's name may have
# parts after "-" or ":": a custom element's (<amp-img>, <gu-island>) or a namespaced one's (Word's
# <o:p>); prose writes neither, so they are markup whatever the name. A quoted attribute may hold a ">"
# ('title="Home > World"' ended the tag there); a quote left open falls back to the first ">". Only when
# neither ends the tag (a "<" before any ">") may a quoted value hold a "<": CNN's video players carry
# 'data-source-html="<span class=...>"', and the tag's other attributes were read ('data-description="CNN ...').
_TAG = re.compile(r"<!--.*?(?:-->|\Z)|<![a-zA-Z][^<>]*>|<\?[a-zA-Z][^<>]*\?>|<!\[CDATA\[|\]\]>"
                  r"|<(/?)([a-zA-Z][a-zA-Z0-9]*(?:[-:][a-zA-Z0-9]+)*)"
                  r"""(?:\s(?:"[^"<]*"|'[^'<]*'|[^<>"']+)*+|\s[^<>]*|\s(?:"[^"]*"|'[^']*'|[^<>"']+)*+)?/?>""",
                  re.S)  # *+: never backtracks
# What a browser never shows as text: blanked whole, content and all. An inline SVG icon's path data
# ("M18 16.08c-.76 0-1.44.3 ...") read as text made an article of four share icons non-news.
_HIDDEN = re.compile(r"<(script|style|noscript|template|svg|math)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)
# A tag written escaped, as an RSS or Atom summary holds its HTML: "&lt;p&gt;", "&lt;a href=&quot;...&quot;&gt;".
# Its attributes stop at the next "&lt;": a scan never runs past the next escaped tag's start.
_ESCAPED_TAG = re.compile(r"&lt;(/?)([a-zA-Z][a-zA-Z0-9]*)(?:\s(?:(?!&gt;|&lt;)[^<>])*+)?/?&gt;")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_LONGEST_ENTITY = 34  # "&", a name of 32 characters, ";"


# An RSS or Atom item sent as the feed holds it (a text with one of these tags): "<pubDate>Mon, 07 Dec
# 2026 ...</pubDate>" and "<description>" were read as text, and the item's evidence quoted its link's
# URL, tags and all. In such a text the feeds' element names are markup too, ...
_FEED_ROOT = re.compile(r"<(?:rss|channel|item|feed|entry)(?:\s[^<>]*)?>", re.I)
_FEED_NAMES = HTML_ELEMENTS | frozenset(
    "rss channel item feed entry description pubdate guid category author comments enclosure source id updated "
    "published content name uri email subtitle rights contributor lastbuilddate language generator ttl url "
    # RSS 2.0's other channel elements, and Atom's icon and logo: "<copyright>Copyright 2026 ...</copyright>"
    # and "<managingEditor>" were read, tags and all, with a feed's items.
    "copyright managingeditor webmaster image rating textinput skiphours skipdays cloud icon logo".split())
_FEED_BLOCKS = _BLOCKS | frozenset("rss channel item feed entry description content".split())
# An item of a feed: a text with several is many articles, read as one (result_warnings.feed_warning).
_FEED_ITEM = re.compile(r"<(?:item|entry)(?:\s[^<>]*)?>", re.I)
# ... and what describes the item rather than tells it (its URL, id, dates, byline, categories) is blanked
# whole, as a script is. Not an Atom <link .../>, which has no content.
_FEED_METADATA = re.compile(r"<(link|guid|pubDate|id|updated|published|author|contributor|comments|enclosure"
                            r"|category|lastBuildDate|generator|ttl|docs|source|dc:[a-zA-Z]+|language|copyright"
                            r"|managingEditor|webMaster|image|rating|textInput|skipHours|skipDays|cloud|icon|logo"
                            r"|rights|sy:[a-zA-Z]+|media:(?:credit|copyright|keywords))\b(?:[^<>]*[^/<>])?>"
                            r".*?</\1\s*>", re.S | re.I)


def _is_markup(match: re.Match[str], names: frozenset[str] = HTML_ELEMENTS) -> bool:
    name = match.group(2)
    return name is None or name.lower() in names or "-" in name or ":" in name  # not a tag, or an element


# A whole page, not a fragment of one: its article is told apart from its chrome (page_article.py).
_PAGE = re.compile(r"<!doctype\s+html|<(?:html|body)(?:\s[^<>]*)?>", re.I)


def feed_items(text: str) -> int:
    """How many RSS items or Atom entries ``text`` holds (0 for a text that is not a feed)."""
    return len(_FEED_ITEM.findall(text)) if "<" in text and _FEED_ROOT.search(text) else 0


def is_page(text: str) -> bool:
    """Whether ``text`` is a whole HTML page: a doctype, an <html> or a <body> tag."""
    return "<" in text and _PAGE.search(text) is not None


def has_markup(text: str) -> bool:
    """Whether ``text`` holds an HTML tag, comment, declaration or CDATA marker."""
    if "<" not in text:
        return False
    names = _FEED_NAMES if _FEED_ROOT.search(text) else HTML_ELEMENTS
    return any(_is_markup(m, names) for m in _TAG.finditer(text))


# A call reads each text here more than once (the limits' check, its language, the Tagger's copy):
# once is enough. Pages over _CACHED_CHARS (up to 30 times the text limit: validation.py) are kept one
# at a time, so the cache never holds more than 64 texts of the limit's size and one page.
_CACHED_CHARS = 100_000
_last_page: tuple[str, str] = ("", "")


def readable(text: str) -> str:
    """``text`` with its markup blanked and its entities decoded in place (the same length);
    ``text`` itself when it has neither."""
    global _last_page
    if len(text) <= _CACHED_CHARS:
        return _readable_cached(text)
    last = _last_page  # one read of the pair: another thread may replace it
    if last[0] == text:
        return last[1]
    copy = _readable(text)
    _last_page = (text, copy)
    return copy


@lru_cache(maxsize=64)
def _readable_cached(text: str) -> str:
    return _readable(text)


def forget_read_texts() -> None:
    """Empty the cache of reading copies (a benchmark timing a first read)."""
    global _last_page
    _readable_cached.cache_clear()
    _last_page = ("", "")


def _readable(text: str) -> str:
    markup = has_markup(text)
    if not markup and "&" not in text:
        return text
    chars = list(text)
    padding: list[tuple[int, int]] = []  # blanked by an inline tag or after an entity's character: maybe in a word
    if markup or "&lt;" in text:
        feed = markup and _FEED_ROOT.search(text) is not None
        names, blocks = (_FEED_NAMES, _FEED_BLOCKS) if feed else (HTML_ELEMENTS, _BLOCKS)
        for hidden in (_HIDDEN, _FEED_METADATA) if feed else (_HIDDEN,):
            for match in hidden.finditer(text):
                _blank(chars, match.start(), match.end(), "\n\n" if hidden is _FEED_METADATA else "")
        # Tags read where scripts and styles are blanked: a "<div>" in a script's string is no paragraph break.
        shown = "".join(chars)
        tags = [(match, (match.group(2) or "").lower()) for match in _TAG.finditer(shown) if _is_markup(match, names)]
        tags = sorted(tags + _escaped_tags(shown, tags), key=lambda tag: tag[0].start())
        if feed:  # a feed's namespaced elements (<media:title>, <itunes:summary>) stand apart: none is inline
            blocks = blocks | {name for _, name in tags if ":" in name}
        first_block = next((m.start() for m, name in tags if name == "br" or name in blocks), None)
        if first_block is not None:
            _unwrap(chars, text, shown, first_block)
        for match, name in tags:
            _blank(chars, match.start(), match.end(), "\n" if name == "br" else "\n\n" if name in blocks else "")
            if name != "br" and name not in blocks:
                padding.append((match.start(), match.end()))
    # Entities of the text only, not of what is blanked: a page's state as escaped JSON in an attribute
    # (data-props="{&quot;...") made an article page 1,637 tokens of quotes, called non-news.
    for match in _ENTITY.finditer("".join(chars)):
        decoded = html.unescape(match.group())
        if decoded != match.group() and len(decoded) <= len(match.group()):
            chars[match.start():match.end()] = list(decoded.replace("\xa0", " ").ljust(len(match.group())))
            padding.append((match.start() + len(decoded), match.end()))
    _join_words(chars, padding)
    return "".join(chars)


# Inside a word, what a tag or an entity leaves is a word joiner (U+2060, invisible, no break), not a
# space: a browser shows "Euro<b>pean</b>", a drop cap's "<span>T</span>he" and "Norv&#275;&#291;ij&#257;"
# as one word, and their reading copy cut them ("Norvē     ģ     ij ā", a Latvian page's every accented
# word). Tokenizers leave joiners out, offsets kept (tokenizer.py); so do the language detector and keywords.
WORD_JOINER = "\u2060"
_JOINS_AFTER = re.compile(r"[^\W_]|['\u2019\u02bc\u00ad&-]")  # a letter or digit, an apostrophe, a soft hyphen


def _join_words(chars: list[str], padding: list[tuple[int, int]]) -> None:
    """Each run of ``padding`` (the spans a tag or an entity left blank; adjacent ones make one run) between
    a word's characters becomes word joiners."""
    for start, end in _runs(padding):
        if 0 < start and end < len(chars) and _JOINS_AFTER.match(chars[start - 1]) and chars[end].isalnum():
            chars[start:end] = [WORD_JOINER] * (end - start)


def _runs(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (not overlapping) sorted, the ones that touch merged."""
    runs: list[tuple[int, int]] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def _escaped_tags(shown: str, tags: list[tuple[re.Match[str], str]]) -> list[tuple[re.Match[str], str]]:
    """The escaped tags of HTML's names in ``shown`` that are not inside a tag (an attribute's value): an
    RSS summary sent as scraped ("&lt;p&gt;The ECB ...&lt;/p&gt;&lt;p&gt;Markets ...") was two sentences
    glued by the text "<p>"."""
    if "&lt;" not in shown:
        return []
    bare = list(shown)
    for match, _ in tags:
        _blank(bare, match.start(), match.end(), "")
    return [(match, match.group(2).lower()) for match in _ESCAPED_TAG.finditer("".join(bare))
            if match.group(2).lower() in HTML_ELEMENTS]


def whole_entities(text: str, start: int, end: int) -> tuple[int, int]:
    """``start`` and ``end`` moved out of any entity they cut in ``text``: the reading copy puts an
    entity's character at its "&", so a sentence ending on one ("&rdquo;", "&rlm;") ended after
    the "&" in the caller's text."""
    for match in _ENTITY.finditer(text, max(0, start - _LONGEST_ENTITY), end + _LONGEST_ENTITY):
        if html.unescape(match.group()) == match.group():
            continue  # not decoded in the reading copy (an unknown name): its characters are text
        if match.start() < start < match.end():
            start = match.start()
        if match.start() < end < match.end():
            end = match.end()
    return start, end


def _blank(chars: list[str], start: int, end: int, lead: str) -> None:
    """Spaces over ``chars[start:end]``, ``lead`` first: a tag written over several lines (attributes on
    lines of their own) made a paragraph break inside a sentence."""
    chars[start:end] = list(lead.ljust(end - start))


# Whitespace runs; and what a browser shows as written, line breaks and all.
_SPACES = re.compile(r"\s+")
_PREFORMATTED = re.compile(r"<(pre|textarea|listing|plaintext|xmp)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)


def _unwrap(chars: list[str], text: str, shown: str, start: int) -> None:
    """A single line break after ``start`` (the first block tag) as a space, as a browser shows it: HTML's
    source wrapped inside a paragraph ("... Finance\n    Minister Serhiy ...") was cut into sentences at
    each line starting with a capital. Blank lines, and lines before the markup starts (a title, then an
    HTML body), stay the text's own; so do the lines of a <pre> (found in ``shown``: not in a script)."""
    for run in _SPACES.finditer(text, start):
        if run.group().count("\n") == 1:
            for i in range(run.start(), run.end()):
                if text[i] in "\r\n":
                    chars[i] = " "
    for pre in _PREFORMATTED.finditer(shown, start):
        for i in range(pre.start(), pre.end()):
            if text[i] in "\r\n":
                chars[i] = text[i]
