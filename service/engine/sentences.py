"""Sentence splitting that keeps character offsets into the original text.

A small rule-based splitter rather than a library: evidence offsets must slice the
caller's text exactly, scraped news runs words together ("processfor"), and nothing may
need downloaded data (as NLTK's punkt does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A candidate boundary: end punctuation (plus closing quotes or brackets), then
# whitespace, then something that can start a sentence. Blank lines always split.
_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])""")
_PARAGRAPH = re.compile(r"\n\s*\n|\r\n\s*\r\n")
# Words that end in a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt no vs etc inc ltd co corp gov gen col lt sgt rep sen
    jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n a.m p.m""".split()
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the word before the period at ``end`` is an abbreviation or an initial."""
    word_start = end
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:end].lower().strip("(\"'")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def split_sentences(text: str) -> list[Span]:
    """Split ``text`` into sentence spans, whitespace trimmed, in order, never overlapping."""
    spans: list[Span] = []
    para_start = 0
    paragraphs = [(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)] + [(len(text),) * 2]
    for para_end, next_start in paragraphs:
        start = para_start
        for match in _END.finditer(text, para_start, para_end):
            if match.group().startswith(".") and len(match.group()) == 1:
                if _is_abbreviation(text, match.start()):
                    continue
            span = _trimmed(text, start, match.end())
            if span:
                spans.append(span)
            start = match.end()
        span = _trimmed(text, start, para_end)
        if span:
            spans.append(span)
        para_start = next_start
    return spans
