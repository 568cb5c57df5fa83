"""A page's reading copy without its long blank runs, and the way back to the page's offsets.

A whole page's reading copy (page_article.py) is as long as the page: its scripts, menus and
markup are blanked, not removed, so that offsets slice the page as sent. Read as it is, every
step after it (sentences, the tokenizer, keywords) scanned the blanks too: a 2.7 MB page whose
article shows 3,000 characters took 15 s to tag, most of it the tokenizer reading spaces. The
compact copy keeps every character that shows and, for each run of at least LONGEST_RUN blank
characters, only what the run means to sentence splitting: a paragraph break, a line break or a
space. The model reads the same sentences, words and paragraphs; evidence offsets are mapped back.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from .sentences import LINE_BREAK, PARAGRAPH_BREAK

LONGEST_RUN = 64  # blank characters a run keeps whole; a page's blanked tags between words are shorter
_RUN = re.compile(rf"\s{{{LONGEST_RUN},}}")


def _meaning(run: str) -> str:
    """What a blank run is to sentences.py: a paragraph break, a line break, or a space (its own
    patterns decide, so the two cannot drift apart)."""
    if PARAGRAPH_BREAK.search(run):
        return "\n\n"
    if LINE_BREAK.search(run):
        return "\n"
    return " "


@dataclass(frozen=True)
class Compacted:
    text: str
    # For each shortened run, the compact offset where it ends, and how many characters all the
    # runs up to it lost: an offset at or after that end maps back by adding them.
    ends: tuple[int, ...] = ()
    lost: tuple[int, ...] = ()

    def original(self, offset: int) -> int:
        """The offset in the text this copy was made from of ``offset`` in this copy."""
        i = bisect_right(self.ends, offset) - 1
        return offset + (self.lost[i] if i >= 0 else 0)


def compacted(text: str) -> Compacted:
    """``text`` with every run of LONGEST_RUN or more blanks shortened to its meaning (no copy
    when there is none)."""
    pieces: list[str] = []
    ends: list[int] = []
    lost: list[int] = []
    last = length = removed = 0
    for run in _RUN.finditer(text):
        kept = _meaning(run.group())
        pieces += [text[last:run.start()], kept]
        length += run.start() - last + len(kept)
        removed += len(run.group()) - len(kept)
        ends.append(length)
        lost.append(removed)
        last = run.end()
    if not ends:
        return Compacted(text)
    pieces.append(text[last:])
    return Compacted("".join(pieces), tuple(ends), tuple(lost))
