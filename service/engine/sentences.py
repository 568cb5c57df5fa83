"""Sentence splitting that keeps character offsets into the original text, in any script.

A small rule-based splitter rather than a library: evidence offsets must slice the
caller's text exactly, scraped news runs words together ("processfor"), nothing may need
downloaded data (as NLTK's punkt does), and it runs on every request. pysbd, sentencex,
blingfire and syntok were tried (docs/benchmarks.md, "Language detection"): each moved offsets,
needed the language first, or missed scripts this handles.

A boundary is end punctuation (plus closing quotes or brackets) followed by whitespace
and something that can start a sentence: a digit, an upper-case letter, or a letter of a
script without case (Arabic, Hebrew, Devanagari, CJK, Georgian, ...). Chinese and
Japanese full stops need no whitespace after them; a zero-width space counts as one. Blank lines
(and Unicode's paragraph separator, and form feeds) always split. A single
line break (or Unicode's line separator) before something that can start a sentence splits
too (a headline's line, a byline's), except in hard-wrapped text, where only a short line's does.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

# Ends that need whitespace after them: Latin "." "!" "?" "…", the Greek question mark
# (U+037E), Armenian full stop, Devanagari danda and double danda, Arabic question mark,
# Urdu full stop, Ethiopic, Myanmar and Khmer full stops, the full-width full stop (it
# also sits inside full-width numbers: "３．５").
_SPACED_ENDS = ".!?…‼⁇⁈⁉\u037e\u0589\u0964\u0965\u061f\u06d4\u1362\u1367\u1368\u104b\u17d4\uff0e"
# Ideographic ends: Chinese and Japanese write the next sentence straight after them.
_CJK_ENDS = "。！？｡"
# Greek asks with ";": U+037E is canonically ";" and NFC text (most of it) carries ";". It
# ends a sentence only between Greek letters, so an English semicolon never splits.
_GREEK_QUESTION = ";"
_GREEK = re.compile("[\u0370-\u03ff\u1f00-\u1fff]")
# German quotes close with “ („…“) and « (»…«), which open in English and French: after end
# punctuation they can only close. French sets its closing guillemet apart with a space
# (often a no-break one): "reviendra. » Les marchés".
_CLOSERS = "\"'”’»›)]}」』）】〕〉》＂］｝“«"
_OPENERS = "\"'“‘„‚«‹([{¿¡「『（【〔〈《—–"
_ENDS = _SPACED_ENDS + _CJK_ENDS + _GREEK_QUESTION
# Direction marks and isolates (invisible): CMS text in Arabic and Hebrew puts a right-to-left mark
# after a sentence's full stop, and the text before it was then one sentence (one evidence span).
_MARKS = "\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069"
_MARK = re.compile(f"[{_MARKS}]")
_END = re.compile(f"[{re.escape(_ENDS)}]+(?:[{re.escape(_CLOSERS)}{_MARKS}]|[ \u00a0\u202f][»›])*")
# Kana and Han: ASCII "." "!" "?" between two of these end a sentence even without a space.
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Unicode's own breaks count as line feeds do: the paragraph separator (U+2029) and a form feed
# end a paragraph, the line separator (U+2028) and NEL a line; Word and JavaScript-built pages
# put them where a CMS puts "\n", and a headline ran into its lead. A lone carriage return does
# not: scraped text has runs of them inside sentences ("will host \r\r\r\ntwo Tests", Inshorts).
PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\r\n\s*\r\n|[\u2029\f]")
_LINE_CHARS = "\r\n\u2028\u2029\x85\v\f"
# A zero-width space after a full stop is where a page's text allows a break: "rates.\u200bMarkets".
_ZERO_WIDTH_SPACE = "\u200b"
# Words that end in a period without ending a sentence (Russian and Ukrainian: year,
# city, street, thousand, million, ...).
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt no vs etc inc ltd co corp gov gen col lt sgt rep sen
    jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n a.m p.m
    г гг т.е т.д т.п др им ул пр просп проф акад см стр тыс млн млрд руб коп вул обл
    bzw usw nr z.b d.h ca mio mrd vgl""".split()
)
# German writes ordinals with a period, so a day or a century is no sentence's end: "am 3. Oktober",
# "im 19. Jahrhundert" (a date in nearly every German article was cut in two). A year is not one.
_DAY_OR_CENTURY = re.compile(r"(?<!\w)\d{1,2}\.")
_MONTH_OR_CENTURY = re.compile("(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|"
                               r"November|Dezember|Jahrhunderts?)\b")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the word before the period at ``end`` is an abbreviation or an initial."""
    word_start = end
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:end].strip(_OPENERS)
    # Length before lower(): "İ".lower() is two characters, and "İ. Əliyev" is an initial.
    return (len(word) == 1 and word.isalpha()) or word.lower() in _ABBREVIATIONS


def _can_start_sentence(char: str) -> bool:
    # Georgian Mkhedruli is caseless in use, though Unicode files it as lower case.
    return char.isdigit() or (char.isalpha() and (not char.islower() or "\u10d0" <= char <= "\u10ff"))


def _ends_sentence(text: str, end_run: re.Match[str], limit: int) -> bool:
    run, start, end = end_run.group(), end_run.start(), end_run.end()
    if any(char in _CJK_ENDS for char in run):
        return True
    if end < limit and start > 0 and _CJK.match(text, start - 1) and _CJK.match(text, end):
        return True
    after = end
    while after < limit and _blank(text[after]):
        after += 1
    if after == end or after == limit:
        return False
    # Openers may stand apart from the word, as a dialogue dash does: "сказал он. — Завтра".
    while after < limit and (text[after] in _OPENERS or text[after].isspace() or _MARK.match(text, after)):
        after += 1
    if after == limit or not _can_start_sentence(text[after]):
        return False
    if _GREEK_QUESTION in run and not (start > 0 and _GREEK.match(text, start - 1) and _GREEK.match(text, after)):
        return False
    if run == "." and _MONTH_OR_CENTURY.match(text, after):
        day = _DAY_OR_CENTURY.search(text, max(start - 2, 0), end)
        if day is not None and day.end() == end:
            return False
    return not (run == "." and _is_abbreviation(text, start))


def _blank(char: str) -> bool:
    return char.isspace() or char == _ZERO_WIDTH_SPACE


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return Span(start, end) if end > start else None


def split_sentences(text: str) -> list[Span]:
    """Split ``text`` into sentence spans, whitespace trimmed, in order, never overlapping.

    ``text[span.start:span.end]`` is always the sentence itself.

    Example:
        >>> text = "今天天气很好。我们去公园。"
        >>> [text[s.start:s.end] for s in split_sentences(text)]
        ['今天天气很好。', '我们去公园。']
    """
    spans: list[Span] = []
    para_start = 0
    paragraphs = [(m.start(), m.end()) for m in PARAGRAPH_BREAK.finditer(text)] + [(len(text),) * 2]
    width = _wrap_width(text)
    for para_end, next_start in paragraphs:
        cuts = {match.end() for match in _END.finditer(text, para_start, para_end)
                if _ends_sentence(text, match, para_end)}
        cuts.update(_line_ends(text, para_start, para_end, width))
        start = para_start
        for cut in sorted(cuts):
            span = _trimmed(text, start, cut)
            if span:
                spans.append(span)
            start = cut
        span = _trimmed(text, start, para_end)
        if span:
            spans.append(span)
        para_start = next_start
    return spans


# A line this much shorter than the text's wrapped lines ends a sentence even in hard-wrapped
# text (a headline, a byline or a dateline above a lead); wrapped lines are of one width.
SHORT_LINE_SHARE = 0.6
LINE_BREAK = re.compile("\r?\n|[\u2028\u2029\x85\v\f]")


def _line_breaks(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(where each line's text ends, where the next line starts) in ``text[start:end]``, its spaces and tabs
    before the break left out. Not one regex ("[ \\t]*\\r?\\n"): from each space of a run with no line
    break after it, it scanned the run again, and a page's reading copy (an unclosed comment blanked, 32,000
    characters) took 10 s."""
    for match in LINE_BREAK.finditer(text, start, len(text) if end is None else end):
        line_end = match.start()
        while line_end > start and text[line_end - 1] in " \t":
            line_end -= 1
        yield line_end, match.end()


def _wrap_width(text: str) -> float | None:
    """The width ``text`` is wrapped at (e-mail, newsgroups, wire copy), where a single line break
    is mostly inside a sentence (one in five or more is followed by a lower-case word): the
    median length of such lines. None when it is not wrapped."""
    total, inside = 0, []
    line_start = 0
    for line_end, after in _line_breaks(text):
        while after < len(text) and text[after] in " \t":
            after += 1
        if after < len(text) and text[after] not in _LINE_CHARS:
            total += 1
            if text[after].islower():
                inside.append(len(text[line_start:line_end].strip()))
        line_start = after
    if not inside or len(inside) * 5 < total:
        return None
    return float(statistics.median(inside))


def _line_ends(text: str, start: int, end: int, width: float | None) -> list[int]:
    """Single line breaks in ``text[start:end]`` (a paragraph) that end a sentence with no end
    punctuation: each line of a CMS export's headline, byline, dateline, list of results or
    timestamped live-blog entry was glued to the next ("By Jane Doe\nPARIS\nQuiksilver is ...").
    In text wrapped at ``width`` only a short line does."""
    out = []
    line_start = start
    for line_end, after in _line_breaks(text, start, end):
        line = len(text[line_start:line_end].strip())
        line_start = after
        if line == 0 or (width is not None and line >= SHORT_LINE_SHARE * width):
            continue
        while after < end and (text[after] in _OPENERS or text[after] in " \t" or _MARK.match(text, after)):
            after += 1
        if after < end and _can_start_sentence(text[after]):
            out.append(line_end)
    return out
