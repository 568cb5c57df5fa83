"""Literal keyword evidence: a label's keywords or aliases found in a sentence.

Keywords are matched case-insensitively on word boundaries. They are evidence, not a
verdict: each distinct keyword found adds ``weight`` to the model's score, counting at most
MAX_COUNTED_HITS of them, so at the default weight (0.05) keywords add at most 0.1 and can
carry a label over a 0.5 threshold only when the model alone already gives it 0.4. A coal
mine does not make an article about demining.
"""

from __future__ import annotations

import bisect
import re
import time
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from ..errors import DeadlineExceeded
from .markup import WORD_JOINER
from .sentences import Span
from .types import Label

MAX_COUNTED_HITS = 2  # the boost is bounded: keywords alone never decide


# Scripts written without spaces between words: a keyword in them has no word boundary to
# look for ("加息" in "欧洲央行宣布加息" never matched).
_UNSPACED = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


def _unspaced(char: str) -> bool:
    return unicodedata.name(char, "").startswith(_UNSPACED)


def _forms(keywords: tuple[str, ...]) -> list[str]:
    """Each keyword as written, composed and decomposed: "économie" typed one way matches text
    written the other (offsets stay the text's own, so the text is not normalized)."""
    forms = {form for k in keywords for form in (k, unicodedata.normalize("NFC", k), unicodedata.normalize("NFD", k))}
    return sorted(forms, key=lambda k: (-len(k), k))


# Room for every topic of large taxonomies beside callers' labels: at 4,096, a taxonomy of
# 5,000 topics rebuilt its patterns on every call (0.3-0.5 s).
_CACHED_KEYWORD_SETS = 16_384


# Between a keyword's words, any spacing short of a paragraph break: a no-break space (a scraper's
# get_text() of "&nbsp;"), two spaces, a wrapped line, or the blanks HTML's tags and entities leave in
# its reading copy (markup.py). "central bank" matched only with one plain space between its words.
_GAP = r"(?:[^\S\n]+|[^\S\n]*\n[^\S\n]*)"
_SPACES = re.compile(r"\s+")


def _escape(keyword: str) -> str:
    return _GAP.join(re.escape(word) for word in keyword.split())


def _key(match: re.Match[str]) -> str:
    """A match as the keyword it is: "Central\xa0Bank" and "central bank" are one keyword found."""
    return " ".join(match.group().casefold().split())


@lru_cache(maxsize=_CACHED_KEYWORD_SETS)
def _pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    # One word-boundary test around each run of keywords written in spaced scripts, not one
    # per keyword: each position of the text is then tried once, not once per keyword (caller
    # keywords such as ten accented vowels a label took seconds per 100,000 characters). The
    # runs keep the longest-first order of all the keywords, so the same one wins.
    parts: list[str] = []
    run: list[str] = []
    for k in _forms(keywords):
        if not _unspaced(k[0]) and not _unspaced(k[-1]):
            run.append(_escape(k))
            continue
        if run:
            parts.append(r"(?<!\w)(?:" + "|".join(run) + r")(?!\w)")
            run = []
        parts.append(("" if _unspaced(k[0]) else r"(?<!\w)") + _escape(k) + ("" if _unspaced(k[-1]) else r"(?!\w)"))
    if run:
        parts.append(r"(?<!\w)(?:" + "|".join(run) + r")(?!\w)")
    return re.compile("|".join(parts), re.IGNORECASE)


def _fold(text: str) -> str:
    # casefold() spells a capital dotted I (Turkish, Azerbaijani) as "i" and a combining dot,
    # which the pattern's IGNORECASE reads as plain "i": dropped from text and keywords alike.
    # It keeps a dotless ı, which IGNORECASE matches to i and I ("Kıbrıs" in "KIBRIS"): made an i.
    # Runs of whitespace read as one space, as the patterns read them (_GAP).
    return _SPACES.sub(" ", text.casefold().replace("\u0307", "").replace("\u0131", "i"))


@lru_cache(maxsize=_CACHED_KEYWORD_SETS)
def _folded(keywords: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_fold(k) for k in _forms(keywords))


def _candidates(text: str, labels: list[Label]) -> list[tuple[int, re.Pattern[str]]]:
    """The labels with a keyword somewhere in ``text`` as a plain substring, and their patterns.

    Why: the word-boundary pattern costs a pass over the text per label (35 passes, about
    3 ms for a 500-word article with the ``news`` taxonomy, docs/benchmarks.md "Speed II"),
    where a substring test is a fast scan, and most labels have no keyword in an article.
    """
    folded = _fold(text)  # as the keywords are folded: this test never misses a label the pattern would find
    out = []
    for j, label in enumerate(labels):
        pattern = _pattern(label.keywords)
        if pattern is not None and any(k in folded for k in _folded(label.keywords)):
            out.append((j, pattern))
    return out


def _check(deadline: float | None) -> None:
    # Keyword passes cost text length x keywords, which callers choose: the request's time
    # limit holds for them as it does for the model.
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded("matching keywords ran past the request time limit")


def keyword_hits(text: str, sentences: tuple[Span, ...], labels: list[Label], columns: Iterable[int] | None = None,
                 deadline: float | None = None) -> np.ndarray:
    """[n_sentences, n_labels]: how many distinct keywords of each label (of ``columns``; all by
    default, the others left 0) each sentence holds."""
    hits = np.zeros((len(sentences), len(labels)), dtype=np.int32)
    wanted = set(range(len(labels)) if columns is None else columns)
    if WORD_JOINER in text:  # "r&eacute;forme" read as "ré", joiners, "forme": matched as "réforme"
        text, sentences = _without_joiners(text, sentences)
    starts = [span.start for span in sentences]
    found_by_pattern: dict[re.Pattern[str], np.ndarray] = {}  # labels with the same keywords: one pass
    for j, pattern in _candidates(text, labels):
        if j not in wanted:
            continue
        if pattern not in found_by_pattern:
            _check(deadline)
            found_by_pattern[pattern] = _hits_per_sentence(pattern, text, sentences, starts, deadline)
        hits[:, j] = found_by_pattern[pattern]
    return hits


def _without_joiners(text: str, sentences: tuple[Span, ...]) -> tuple[str, tuple[Span, ...]]:
    """``text`` without its word joiners (markup.py), and ``sentences`` moved to match."""
    kept = [i for i, char in enumerate(text) if char != WORD_JOINER]

    def moved(offset: int) -> int:  # how many kept characters come before ``offset``
        return bisect.bisect_left(kept, offset)

    return "".join(text[i] for i in kept), tuple(Span(moved(s.start), moved(s.end)) for s in sentences)


def _hits_per_sentence(pattern: re.Pattern[str], text: str, sentences: tuple[Span, ...],
                       starts: list[int], deadline: float | None = None) -> np.ndarray:
    """Distinct matches of ``pattern`` in each sentence, from one pass over the whole text.

    A match that runs across a sentence's end ("Yahoo! Japan", split after "!") belongs to
    no sentence, and may hide shorter matches in either: the sentences it touches are
    searched again on their own, as each sentence alone would be. So are sentences that
    end with no space after them ("。" then the next sentence): alone, their end is a word
    boundary, which the whole text does not show.
    """
    found: list[set[str]] = [set() for _ in sentences]
    again = {i for i, span in enumerate(sentences) if span.end < len(text) and not text[span.end].isspace()}
    for match in pattern.finditer(text):
        i = bisect.bisect_right(starts, match.start()) - 1
        if i >= 0 and match.end() <= sentences[i].end:
            found[i].add(_key(match))
        else:
            last = bisect.bisect_left(starts, match.end()) - 1
            again.update(range(max(i, 0), max(last, i) + 1))
    for n, i in enumerate(again):
        if n % 1000 == 999:
            _check(deadline)
        span = sentences[i]
        found[i] = {_key(m) for m in pattern.finditer(text, span.start, span.end)}
    return np.array([len(f) for f in found], dtype=np.int32)


def document_hits(text: str, labels: list[Label], deadline: float | None = None) -> np.ndarray:
    """[n_labels]: distinct keywords of each label found anywhere in the text."""
    out = np.zeros(len(labels), dtype=np.int32)
    text = text.replace(WORD_JOINER, "")  # no offsets here: "r&eacute;forme" read as "réforme"
    counted: dict[re.Pattern[str], int] = {}  # labels with the same keywords: one pass
    for j, pattern in _candidates(text, labels):
        if pattern not in counted:
            _check(deadline)
            counted[pattern] = len({_key(m) for m in pattern.finditer(text)})
        out[j] = counted[pattern]
    return out


def combine(model_scores: np.ndarray, hits: np.ndarray, weight: float) -> np.ndarray:
    """Model scores raised by a bounded boost for keyword hits (same shapes)."""
    return np.minimum(1.0, model_scores + weight * np.minimum(hits, MAX_COUNTED_HITS))
