"""A whole HTML page read as its article: menus, related links, share bars and footers blanked.

A monitoring team that posts the page it scraped got the page's chrome tagged with its article:
a TIME page on geoengineering came back with armed conflict, terrorism and four more topics
from its related links, and on 23 news pages the topics of the page as a whole had 55 more and
24 fewer than those of its headline and text sent alone (docs/benchmarks.md, "Whole pages"). readability-lxml
(Mozilla Readability's scoring of a page's blocks, on lxml's HTML parser) finds the article and
its headline (the page's title without the site's name, which the article's block seldom holds);
their text is then found in the reading copy (markup.py), and everything else there is blanked,
so every offset still points into the caller's text and evidence still slices it exactly.

Only a whole page is read this way (it has an <html> or <body> tag, or a doctype): a fragment
("<div><p>...</p></div>", an RSS summary) is all article. When the article cannot be told
(readability finds nothing, or text the reading copy does not hold), the page is read whole,
as before.
"""

from __future__ import annotations

import bisect
import logging
import re

from service.engine import markup, press_release

log = logging.getLogger(__name__)

# A passage this short ("CNN", "|", a date) is taken only near the passage before it: the first
# match of a bare word may be in the page's menu.
_SHORT = 20
_NEAR = 2_000
# An article told by fewer characters than this (or half the page's text, when that is less) is
# not trusted: readability picked a caption or a byline block.
_ENOUGH = 200
# Runs of what the reading copy shows, without the word joiners it puts where an entity or a tag stood
# inside a word (markup.py), which readability's text does not have.
_WORDS = re.compile(f"[^\\s{markup.WORD_JOINER}]+")


def reading_copy(text: str, article: bool = True) -> str:
    """``text`` as the model reads it: markup blanked and entities decoded in place (markup.py),
    and, when ``article``, a press release's trailer blanked (press_release.py) and, when ``text`` is
    a whole page, all but its article too. Always
    as long as ``text``. Not cached (a page may be 3,000,000 characters): a routed call makes
    each text's copy once and hands it to the Tagger."""
    reading = markup.readable(text)
    if not article:
        return reading
    if markup.is_page(text):
        reading = _article_only(text, reading)
    return press_release.without_trailer(reading)


_SPACES = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r" ?\n(?: ?\n)+ ?")


def as_read(text: str) -> str:
    """``text`` as the service reads it (:func:`reading_copy`), with the blanks closed up, for readers
    that keep no offsets (training: a model trained on a CMS export's "<p>" and "href" was served
    texts without them). Plain text is returned as it is."""
    read = reading_copy(text)
    if read == text:
        return text
    return _BREAKS.sub("\n\n", _SPACES.sub(" ", read.replace(markup.WORD_JOINER, ""))).strip()


def _article_only(page: str, reading: str) -> str:
    headline, passages = _article_passages(page)
    shown = _Shown(reading)
    found = shown.locate(passages)
    located = sum(shown.offset(end - 1) + 1 - shown.offset(start) for start, end in found)
    if located < min(_ENOUGH, sum(len(word) for word in reading.split()) // 2):
        return reading
    # The headline, which readability leaves out of the article's block: where the page first shows it
    # (its <title>, named without the site's name; or its <h1>).
    wanted = "".join(headline.split())
    if len(wanted) >= _SHORT and wanted not in "".join(shown.compact[start:end] for start, end in found):
        found += shown.locate([headline])
    kept = ["\n" if char == "\n" else " " for char in reading]
    for start, end in found:
        start, end = shown.offset(start), shown.offset(end - 1) + 1
        kept[start:end] = reading[start:end]
    return "".join(kept)


def _article_passages(page: str) -> tuple[str, list[str]]:
    """The page's headline and its article's text nodes, in order, as readability finds them;
    ("", []) when it cannot."""
    # Imported here: lxml and readability load only when a whole page arrives.
    import lxml.html
    from readability import Document

    try:
        document = Document(page)
        article = document.summary(html_partial=True)
        if not article.strip():
            return "", []
        passages = [node for node in lxml.html.fromstring(article).itertext() if node.strip()]
        return document.short_title(), passages
    except Exception as exc:  # readability's Unparseable, lxml's ParserError, a page it chokes on: read whole
        log.debug("no article told in a page of %d characters: %s", len(page), exc)
        return "", []


class _Shown:
    """What ``reading`` shows, its whitespace (and word joiners) left out, with the way back to offsets."""

    def __init__(self, reading: str) -> None:
        self.runs = list(_WORDS.finditer(reading))
        self.starts: list[int] = []  # each run's start in the compact string
        total = 0
        for run in self.runs:
            self.starts.append(total)
            total += run.end() - run.start()
        self.compact = "".join(run.group() for run in self.runs)

    def offset(self, index: int) -> int:
        """An index of ``compact`` as an offset into the reading copy."""
        i = bisect.bisect_right(self.starts, index) - 1
        return self.runs[i].start() + index - self.starts[i]

    def locate(self, passages: list[str]) -> list[tuple[int, int]]:
        """Where each passage stands in ``compact``, in order, as (start, end) indices: their characters
        are compared with whitespace left out (the two space their words differently: entities, line
        breaks, blanked tags)."""
        compact = self.compact
        spans: list[tuple[int, int]] = []
        # Short passages before the first long one (a dateline's "Washington", "CNN") are looked for just
        # before where that one stands, not from the page's start: "CNN" was found in the <title>, and the
        # headline was quoted "... without being friends' | CNN".
        first = next((compact.find(w) for p in passages if len(w := "".join(p.split())) >= _SHORT), -1)
        cursor = max(0, first - _NEAR)
        for passage in passages:
            wanted = "".join(passage.split())
            at = compact.find(wanted, cursor)
            if at < 0 or (len(wanted) < _SHORT and at - cursor > _NEAR):
                continue
            spans.append((at, at + len(wanted)))
            cursor = at + len(wanted)
        return spans
