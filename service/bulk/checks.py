"""Checks of a tagging job's labels before any model loads, shared by ``newstag batch`` and
``newstag bulk``: the engine refuses the same labels, but only once the model has loaded
(15-20 s for batch; for bulk, after Ray has started, in every worker)."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine import InvalidInputError, NewstagError, validation


def check_labels(labels: Sequence[str], max_labels: int, unique: bool = True) -> None:
    """Refuse what ``Tagger.label_set`` would: too many labels, empty or invalid names, and
    (``unique``: a zero-shot model's) names that are the same but for case, naming both."""
    try:
        validation.check_labels(list(labels), max_labels)
    except InvalidInputError as exc:
        raise NewstagError(f"--labels: {exc}") from None
    if unique:
        seen: dict[str, str] = {}
        for name in labels:
            key = validation.label_key(name)
            if key in seen:
                both = repr(name) if seen[key] == name else f"{seen[key]!r} and {name!r}"
                raise NewstagError(f"--labels names the same label twice, {both} (names are compared ignoring case "
                                   "and Unicode form): give each label once")
            seen[key] = name
