"""The checks on a call to the Tagger that need no model, each with one message.

``Tagger.tag`` runs them on every call. The HTTP layer runs the same functions before it
waits for a model, so a bad request gets its 422 (naming every bad field) even while the
model loads, and the feedback API checks its text with :func:`text_problem`. Each problem
carries a field path (service/errors.py) that the HTTP layer turns into a JSON pointer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from ..errors import FieldProblem, InvalidInputError
from ..options import TaggerOptions
from . import markup
from .types import Label

EMPTY = "is empty or only whitespace"  # said of a text, as text_problem says it
# Each keyword is one more phrasing to embed the first time a label is seen (label_vectors.py):
# about 150 a second on 2 busy cores, so this keeps a call's labels to seconds, not the time limit.
MAX_KEYWORDS = 1000
# An HTML page sent as scraped is mostly markup (scripts, styles, a JSON state in an attribute): a
# 250 KB news page showing 9,000 characters was refused. A text with markup counts the characters it
# shows, within this many times the limit in all (3,000,000 by default; HTTP bodies stop at
# NEWSTAG_MAX_BODY_BYTES first), which bounds the work of reading its markup.
MARKUP_ALLOWANCE = 30


def shows_nothing(name: str) -> bool:
    """Whether a name is empty, whitespace or only invisible format characters (a zero-width
    space, a direction mark, a soft hyphen: Unicode's Cf), which no one can see or tell apart."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in name)


INVISIBLE = "must not be only invisible characters (zero-width spaces, direction marks)"


def label_key(name: str) -> str:
    """What makes two label names the same: case, and Unicode's composed or decomposed
    spelling ("économie" typed two ways showed twice, and a correction kept "Wirtschaft" and
    "wirtschaft" as two classes). Turkish and Azerbaijani capital İ folds to "i" and a combining
    dot, so its dot is dropped: "İqtisadiyyat" is "iqtisadiyyat" capitalised. Invisible format
    characters (a zero-width space, a right-to-left mark left from an Arabic comma) are left out:
    "спорт\u200b" was a second label no one could see."""
    folded = unicodedata.normalize("NFC", name).casefold().replace("i\u0307", "i")
    return "".join(c for c in folded if unicodedata.category(c) != "Cf")


def same_label(name: str, first: str) -> str:
    """Why ``name`` is refused beside ``first``, an earlier name with its label_key: "'A' is 'a'
    but for case" said "but for case" of 'спорт\u200b' beside 'спорт' too."""
    if name == first:
        return f"{name!r} again"

    def visible(text: str) -> str:
        return "".join(c for c in text if unicodedata.category(c) != "Cf")

    def fold(text: str) -> str:
        return text.casefold().replace("i\u0307", "i")

    shown, earlier = visible(name), visible(first)
    case = unicodedata.normalize("NFC", shown) != unicodedata.normalize("NFC", earlier)
    form = fold(shown) != fold(earlier)  # equal but for case, unless the accents are spelled apart
    # The invisible characters differ, or (neither case nor form differs) they sit elsewhere.
    invisible = [c for c in name if c not in shown] != [c for c in first if c not in earlier] or not (case or form)
    ways = [way for way, differs in (("case", case), ("Unicode form (composed or decomposed)", form),
                                     ("invisible characters", invisible)) if differs]
    return f"{name!r} is {first!r} but for {' and '.join(ways)}"


def is_unicode(text: str) -> bool:
    """False for lone surrogates (from JSON escapes like \\ud800): they cannot be encoded,
    tokenized or stored."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(text: object, max_chars: int) -> str | None:
    """What is wrong with one text, as a predicate ("is empty or only whitespace"); None: nothing."""
    if not isinstance(text, str):
        return "is not a string"
    if not is_unicode(text):
        return "is not valid Unicode (it has a lone surrogate)"
    if not text.strip():
        return EMPTY
    if len(text) > max_chars:
        html = markup.has_markup(text)
        if not html or len(text) > MARKUP_ALLOWANCE * max_chars:
            page = f" ({MARKUP_ALLOWANCE} times that with HTML markup)" if html else ""
            return f"has {len(text)} characters; the limit is {max_chars}{page}"
        # Without the word joiners the reading copy puts where a tag or an entity cut a word: a page of
        # entity-written letters ("Norv&#275;&#291;ij&#257;") counted each letter up to 8 times.
        shown = len(" ".join(markup.readable(text).replace(markup.WORD_JOINER, "").split()))
        if shown > max_chars:
            return f"shows {shown} characters as text ({len(text)} with its markup); the limit is {max_chars}"
    return None


class Problems:
    """Collects the bad fields of one call, then raises them together."""

    def __init__(self) -> None:
        self._found: list[tuple[FieldProblem, str]] = []

    def add(self, path: tuple[str | int, ...], message: str, summary: str | None = None) -> None:
        """``message`` speaks of the field alone; ``summary`` (default: the message) names it for str(error)."""
        self._found.append((FieldProblem(path, message), summary or message))

    def raise_any(self) -> None:
        if self._found:
            raise InvalidInputError("; ".join(summary for _, summary in self._found),
                                    [problem for problem, _ in self._found])


def check_call(texts: Any, labels: Sequence[str | Label] | None, threshold: float | None, top_k: int | None,
               options: TaggerOptions) -> None:
    """Raise InvalidInputError naming every bad field of a ``Tagger.tag`` call."""
    problems = Problems()
    _check_texts(texts, options, problems)
    if labels is not None:
        _check_labels(labels, options.max_labels, problems)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        problems.add(("threshold",), "threshold must be between 0 and 1")
    if top_k is not None and top_k < 1:
        problems.add(("top_k",), "top_k must be at least 1")
    problems.raise_any()


def check_labels(labels: Sequence[str | Label], max_labels: int) -> None:
    """Raise InvalidInputError naming every bad label a caller gave."""
    problems = Problems()
    _check_labels(labels, max_labels, problems)
    problems.raise_any()


def _check_texts(texts: Any, options: TaggerOptions, problems: Problems) -> None:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        problems.add(("texts",), "texts must be a list of strings")
        return
    if not texts:
        problems.add(("texts",), "there must be at least one text")
        return
    if len(texts) > options.max_documents:
        problems.add(("texts",), f"at most {options.max_documents} documents",
                     f"at most {options.max_documents} documents per call, got {len(texts)}")
    for i, text in enumerate(texts[: options.max_documents]):
        complaint = text_problem(text, options.max_text_chars)
        if complaint is not None:
            problems.add(("texts", i), f"text {complaint}", f"text {i} {complaint}")


def _check_labels(labels: Sequence[str | Label], max_labels: int, problems: Problems) -> None:
    if isinstance(labels, str):  # read as its characters: "label names must be unique" said nothing
        problems.add(("labels",), "labels must be a list of label names, not one string",
                     f"labels must be a list of label names, not one string ({labels[:50]!r}: "
                     "give [\"energy\", \"sports\"])")
        return
    if not labels:
        problems.add(("labels",), "labels must name at least one label")
        return
    if len(labels) > max_labels:
        problems.add(("labels",), f"at most {max_labels} labels",
                     f"at most {max_labels} labels per call, got {len(labels)}")
        return
    keywords = sum(len(label.keywords) for label in labels if isinstance(label, Label))
    if keywords > MAX_KEYWORDS:
        problems.add(("labels",), f"at most {MAX_KEYWORDS} keywords in all labels together",
                     f"at most {MAX_KEYWORDS} keywords in all labels of a call, got {keywords}")
    for i, label in enumerate(labels):
        parts = (label.name, label.description, *label.keywords) if isinstance(label, Label) else (str(label),)
        if not all(is_unicode(part) for part in parts):
            problems.add(("labels", i), "label is not valid Unicode (it has a lone surrogate)",
                         f"label {parts[0][:40]!r} is not valid Unicode (it has a lone surrogate)")
        elif not parts[0].strip():
            problems.add(("labels", i), "label names must not be empty")
        elif shows_nothing(parts[0]):  # a right-to-left mark left alone after a comma
            problems.add(("labels", i), f"label names {INVISIBLE}")
        elif isinstance(label, Label):
            # A blank keyword would match every text (keywords.py) and phrase the label as "news about ".
            for k, keyword in enumerate(label.keywords):
                if not keyword.strip():
                    problems.add(("labels", i, "keywords", k), "keywords must not be empty",
                                 f"label {label.name[:40]!r} has an empty keyword")
