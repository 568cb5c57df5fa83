"""Checks of a labeled data file that train as given but are probably mistakes: one label spelled
several ways, one text with different labels, labels joined into one by a separator, copies of a row.

Each returns one warning (a count, the first lines, what to do) or None; the data is not changed,
since only its owner knows which spelling or label is right.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from service.engine.validation import label_key
from service.feedback.records import without_invisible_ends

if TYPE_CHECKING:
    from .data import Example

SHOWN = 3  # examples named per warning


def data_warnings(path: Path, examples: list[Example], csv_labels: bool = False) -> list[str]:
    """What trains as given but is probably a mistake in the data, each with a count and lines.
    The data is not changed: only its owner knows which spelling or label is right."""
    found = [_label_spellings(path, examples), _conflicting_copies(path, examples),
             _comma_labels(path, examples) if csv_labels else _string_labels(path, examples)]
    return [warning for warning in found if warning]


def _label_spellings(path: Path, examples: list[Example]) -> str | None:
    """Labels that differ only in case or spacing ("Sport" and "sport"): two classes to a model."""
    spellings: dict[str, dict[str, list[int | None]]] = {}
    for e in examples:
        for name in e.labels:
            spellings.setdefault(label_key(" ".join(name.split())), {}).setdefault(name, []).append(e.line)
    clashes = [group for group in spellings.values() if len(group) > 1]
    if not clashes:
        return None
    shown = "; ".join(" and ".join(f"{name!r} ({len(lines)} row{'s' * (len(lines) > 1)}, first "
                                   f"{path.name}:{lines[0]})" for name, lines in group.items())
                      for group in clashes[:SHOWN])
    return (f"{path}: {len(clashes)} label(s) spelled in several ways (case or spacing) train as separate "
            f"labels: {shown}{_more(clashes)}. To train one label, spell it one way in the file (exported "
            "corrections: correct those texts again with the spelling to keep; a text's newest correction is the "
            "one exported)")


def _conflicting_copies(path: Path, examples: list[Example]) -> str | None:
    """One text (whatever its spacing) given different labels: the model is taught both answers."""
    copies: dict[str, list[Example]] = {}
    for e in examples:
        copies.setdefault(same_text(e.text), []).append(e)
    conflicts = [rows for rows in copies.values() if len({frozenset(r.labels) for r in rows}) > 1]
    if not conflicts:
        return None
    shown = "; ".join(", ".join(f"{path.name}:{r.line} {'|'.join(r.labels)!r}" for r in rows[:SHOWN])
                      for rows in conflicts[:SHOWN])
    return (f"{path}: {len(conflicts)} text(s) appear more than once with different labels, and are trained "
            f"as given: {shown}{_more(conflicts)}")


def repeated_rows(path: Path, examples: list[Example]) -> str | None:
    """Training rows that repeat an earlier row's text (whatever its spacing) and labels: an export
    made twice trains each such article twice, and the hybrid recipe's folds (not grouped by text,
    unlike the validation split) then score a copy by a model that learnt its twin. (Not a
    data_warnings one: evaluation data with copies only counts them twice.)"""
    first: dict[tuple[str, frozenset[str]], Example] = {}
    repeats: list[tuple[Example, Example]] = []
    for e in examples:
        key = (same_text(e.text), frozenset(e.labels))
        if key in first:
            repeats.append((first[key], e))
        else:
            first[key] = e
    if not repeats:
        return None
    shown = ", ".join(f"{path.name}:{e.line} repeats line {earlier.line}" for earlier, e in repeats[:SHOWN])
    return (f"{path}: {len(repeats)} row(s) repeat an earlier row's text and labels, so each such article "
            f"weighs as two in training and flatters the out-of-fold scores the hybrid recipe chooses its settings "
            f"and thresholds by: {shown}{_more(repeats)}; remove the copies unless the weight is meant")


# A comma with no space after it, as in "health,economy"; "economy, business and finance" (the news
# and iptc-top taxonomies' names) is one label written as such.
_SEPARATOR_COMMA = re.compile(r",\S")


def _string_labels(path: Path, examples: list[Example]) -> str | None:
    """A JSONL "labels": "sport, business" (or "sport|business") is one label of that name: said when
    each part is a label of other rows ("economy, business and finance" is one IPTC label)."""
    known = {x for e in examples for x in e.labels}
    rows = [e for e in examples if e.labels_as_string and _joins_labels(e.labels[0], known)]
    if not rows:
        return None
    shown = ", ".join(f"{e.labels[0]!r} ({path.name}:{e.line})" for e in rows[:SHOWN])
    return (f"{path}: {len(rows)} row{'s' * (len(rows) > 1)} give 'labels' as one string with a separator in "
            f"it, trained as one label: {shown}{_more(rows)}; give several labels as a list "
            '(["sport", "business"])')


def _joins_labels(name: str, known: set[str]) -> bool:
    """Is ``name`` other labels joined by a separator ("sport, business" where both are labels)?"""
    parts = [p.strip() for p in re.split(r"[,|;]", name)]
    return len(parts) > 1 and all(p in known and p != name for p in parts)


def _more(rows: list) -> str:
    """What a warning's examples leave out."""
    return f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""


def _comma_labels(path: Path, examples: list[Example]) -> str | None:
    """A CSV labels cell "health,economy" is one label of that name: its labels are separated by '|'.
    So is "sport;economy" or "sport, economy" where both are labels of other rows (a European
    spreadsheet's list): "economy, business and finance" alone is one IPTC label."""
    known = {x for e in examples for x in e.labels}

    def joined(name: str) -> bool:
        return bool(_SEPARATOR_COMMA.search(name)) or _joins_labels(name, known)

    rows = [e for e in examples if any(joined(name) for name in e.labels)]
    if not rows:
        return None
    shown = ", ".join(f"{next(n for n in e.labels if joined(n))!r} ({path.name}:{e.line})" for e in rows[:SHOWN])
    return (f"{path}: {len(rows)} row(s) have a label with a comma or semicolon, trained as one label: "
            f"{shown}{_more(rows)}; the labels column separates labels with '|' (health|economy)")


def same_text(text: str) -> str:
    # The same words, whatever the spacing, line breaks and Unicode form (an accent composed or
    # decomposed: the feedback store counts both as one text, as their hash is of the NFC form),
    # and a byte order mark or direction mark at either end (the store ignores those too).
    return " ".join(unicodedata.normalize("NFC", without_invisible_ends(text)).split())
