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

LONGEST_RUN = 64  # blank characters a run keeps whole; a page's blanked tags between words are shorter
_RUN = re.compile(rf"\s{{{LONGEST_RUN},}}")
_PARAGRAPH_BREAKS = "\u2029\f"  # sentences.py: a paragraph like a blank line
_LINE_BREAKS = "\u2028\x85\v"  # sentences.py: a line like "\n"


def _meaning(run: str) -> str:
    """What a blank run is to sentences.py: a paragraph break, a line break, or a space."""
    if run.count("\n") >= 2 or any(c in _PARAGRAPH_BREAKS for c in run):
        return "\n\n"
    if "\n" in run or any(c in _LINE_BREAKS for c in run):
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
