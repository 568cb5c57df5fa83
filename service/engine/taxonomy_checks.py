"""Checks across a taxonomy file's topics, after each entry is valid on its own: refusals for
what cannot be served as written, warnings for what is served but likely not meant."""

from __future__ import annotations

import difflib
import logging
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TaxonomyFileError
from . import keywords
from .types import Label
from .validation import label_key

if TYPE_CHECKING:
    from .taxonomy import _TopicEntry

log = logging.getLogger("newstag.taxonomy")


def check_topics(path: Path, topics: Sequence[_TopicEntry]) -> None:
    _refuse_duplicate_names(path, topics)
    _refuse_unknown_rivals(path, topics)
    _refuse_phrases_holding_keywords(path, topics)
    _warn_of_near_parents(path, topics)
    _warn_of_wide_groups(path, topics)


def shown(name: object) -> object:
    """A name as an error shows it: control characters, lone surrogates and invisible format
    characters (a zero-width space showed as nothing) escaped, so the start-up line stays one
    printable line that says what is there."""
    if not isinstance(name, str):
        return name
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cs", "Cf") else c for c in name)


def _refuse_duplicate_names(path: Path, topics: Sequence[_TopicEntry]) -> None:
    """Two topics are one if requests and editors' corrections take them as one: label_key
    (case, and Unicode's composed or decomposed spelling of "économie")."""
    first: dict[str, int] = {}
    for index, topic in enumerate(topics):
        key = label_key(topic.name)
        if key in first:
            raise TaxonomyFileError(f'{path}: topics[{index}] ("{shown(topic.name)}"): duplicate topic name '
                                    f'(topics[{first[key]}] is the same name, in any case, Unicode form or '
                                    'invisible characters)')
        first[key] = index


def _refuse_unknown_rivals(path: Path, topics: Sequence[_TopicEntry]) -> None:
    """``yields_to`` names other topics of the file, as they are spelled: a typo would yield to nothing
    (one spelled in another case is named)."""
    names = {topic.name for topic in topics}
    by_key = {label_key(topic.name): topic.name for topic in topics}
    for index, topic in enumerate(topics):
        for rival in topic.yields_to:
            if rival not in names or rival == topic.name:
                meant = by_key.get(label_key(rival))
                why = ("itself: name other topics of this file" if meant == topic.name
                       else "no topic of the taxonomy: name other topics of this file" if meant is None
                       else f"no topic of the taxonomy (names are matched as spelled): did you mean {shown(meant)!r}?")
                raise TaxonomyFileError(f"{path}: topics[{index}] (\"{shown(topic.name)}\").yields_to names "
                                        f"{shown(rival)!r}, {why}")


def _refuse_phrases_holding_keywords(path: Path, topics: Sequence[_TopicEntry]) -> None:
    """``ruled_out_by`` holds none of the topic's own keywords as keywords are matched: a text naming
    such a phrase names the keyword, which keeps the topic."""
    for index, topic in enumerate(topics):
        own = {_folded(k) for k in topic.keywords}
        for phrase in topic.ruled_out_by:  # a text naming it holds a keyword, which keeps the topic
            if not keywords.document_hits(phrase, [Label(topic.name, keywords=tuple(topic.keywords))])[0]:
                continue  # (one pass over all its keywords; which one it holds is looked up when one is)
            held = next(k for k in topic.keywords
                        if keywords.document_hits(phrase, [Label(topic.name, keywords=(k,))])[0])
            what = "one of its own keywords" if _folded(phrase) in own else f"which holds its keyword {shown(held)!r}"
            raise TaxonomyFileError(f"{path}: topics[{index}] (\"{shown(topic.name)}\").ruled_out_by names "
                                    f"{shown(phrase)!r}, {what}, so it could never rule the topic out: leave it "
                                    "in one list")


def _folded(phrase: str) -> str:
    return " ".join(unicodedata.normalize("NFC", phrase).casefold().split())


def _warn_of_near_parents(path: Path, topics: Sequence[_TopicEntry]) -> None:
    """A parent that is no topic is a group of its own (docs/taxonomies.md), so a typo of a topic's
    name ('enviroment') was taken without a word. Matched as calibration.parents() matches them (in
    any case); one warning a parent."""
    names = {t.name.casefold(): t.name for t in topics}
    warned: set[str] = set()
    for index, topic in enumerate(topics):
        parent = (topic.parent or "").casefold()
        if not parent or parent in names or parent in warned:
            continue
        near = difflib.get_close_matches(parent, list(names), n=1, cutoff=0.8)
        if near:
            warned.add(parent)
            log.warning("%s: topics[%d] (\"%s\").parent %r is no topic of the taxonomy, so it is read as a group "
                        "of its own: did you mean %r?", path, index, shown(topic.name), topic.parent, names[near[0]])


def _warn_of_wide_groups(path: Path, topics: Sequence[_TopicEntry]) -> None:
    """Siblings never count against each other (scoring.md, step 4), so one parent over most of a
    taxonomy's topics leaves them no rivals: a press office's 20 topics, each given the parent
    "press office", returned 42 wrong topics on 41 articles where they returned 1 without it
    (docs/taxonomies.md). Warned of when a parent has more than half the topics (and at least 4)."""
    children: dict[str, list[int]] = {}
    for index, topic in enumerate(topics):
        if topic.parent:
            children.setdefault(topic.parent.casefold(), []).append(index)
    for indices in children.values():
        if len(indices) >= 4 and 2 * len(indices) > len(topics):
            log.warning("%s: %d of its %d topics have the parent %r, and siblings never count against each "
                        "other, so none of them is a rival of another and an article gets more of them: give "
                        "a parent only to topics that are facets of one subject (docs/taxonomies.md)",
                        path, len(indices), len(topics), topics[indices[0]].parent)
