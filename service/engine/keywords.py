"""Literal keyword evidence: a label's keywords or aliases found in a sentence.

Keywords are matched case-insensitively on word boundaries. They are evidence, not a
verdict: each distinct keyword found adds ``weight`` to the model's score, counting at most
MAX_COUNTED_HITS of them, so at the default weight (0.05) keywords add at most 0.1 and can
carry a label over a 0.5 threshold only when the model alone already gives it 0.4. A coal
mine does not make an article about demining.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

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


@lru_cache(maxsize=4096)
def _pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    alternatives = "|".join(("" if _unspaced(k[0]) else r"(?<!\w)") + re.escape(k)
                            + ("" if _unspaced(k[-1]) else r"(?!\w)") for k in _forms(keywords))
    return re.compile(f"(?:{alternatives})", re.IGNORECASE)


def _fold(text: str) -> str:
    # casefold() spells a capital dotted I (Turkish, Azerbaijani) as "i" and a combining dot,
    # which the pattern's IGNORECASE reads as plain "i": dropped from text and keywords alike.
    return text.casefold().replace("\u0307", "")


@lru_cache(maxsize=4096)
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


def keyword_hits(text: str, sentences: tuple[Span, ...], labels: list[Label]) -> np.ndarray:
    """[n_sentences, n_labels]: how many distinct keywords of each label each sentence holds."""
    hits = np.zeros((len(sentences), len(labels)), dtype=np.int32)
    for j, pattern in _candidates(text, labels):
        for i, span in enumerate(sentences):
            found = {m.group().casefold() for m in pattern.finditer(text, span.start, span.end)}
            hits[i, j] = len(found)
    return hits


def document_hits(text: str, labels: list[Label]) -> np.ndarray:
    """[n_labels]: distinct keywords of each label found anywhere in the text."""
    out = np.zeros(len(labels), dtype=np.int32)
    for j, pattern in _candidates(text, labels):
        out[j] = len({m.group().casefold() for m in pattern.finditer(text)})
    return out


def combine(model_scores: np.ndarray, hits: np.ndarray, weight: float) -> np.ndarray:
    """Model scores raised by a bounded boost for keyword hits (same shapes)."""
    return np.minimum(1.0, model_scores + weight * np.minimum(hits, MAX_COUNTED_HITS))
