"""Topics a taxonomy says the model mistakes for others (docs/taxonomies.md).

``yields_to``: a topic given below one of these rivals is left out (the model reads a coal-mine
blast close to demining). ``ruled_out_by``: a text that names one of these phrases and none of
the topic's own keywords does not get it (COP28 in Dubai reads as COP29 to the model, which
sees one UN climate conference in all of them). A single-label call returns the best topic no
phrase rules out (``yields_to`` never removes the best topic).
"""

from __future__ import annotations

import numpy as np

from . import keywords
from .types import Label


def without_rivals(chosen: list[int], labels: list[Label], text: str, own_hits: np.ndarray,
                   deadline: float | None = None, limit: int | None = None) -> list[int]:
    """``chosen`` (best first) less each label that yields to one kept before it or that the text rules
    out (``own_hits``: each label's distinct keywords found in the text, keywords.document_hits); at
    most ``limit`` of them, so that the best one left of a whole taxonomy is found without reading all."""
    kept: list[int] = []
    kept_names: set[str] = set()
    for j in chosen:
        if limit is not None and len(kept) >= limit:
            break
        if any(rival in kept_names for rival in labels[j].yields_to):
            continue
        if _ruled_out(text, labels[j], int(own_hits[j]), deadline):
            continue
        kept.append(j)
        kept_names.add(labels[j].name)
    return kept


def _ruled_out(text: str, label: Label, own_hits: int, deadline: float | None) -> bool:
    if not label.ruled_out_by or own_hits:
        return False
    named = keywords.document_hits(text, [Label(label.name, keywords=label.ruled_out_by)], deadline)
    return bool(named[0])
