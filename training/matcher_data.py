"""Labeled sets for the topic matcher: each file is its own label space.

A text is matched against the label prompts of its own set only (its negatives are the
other labels of that set), so sets with unrelated taxonomies never compete. In a file that
has ``train`` rows, rows it marks as held out (``validation``, ``test``) are never trained
on: SIB-200's test sentences, for one, are the translations a multilingual test reads (a
file of one split only, such as AG News's test file, is read whole). A file whose rows name
several languages (``lang``) is one set per language, each sampled on its own, so every
language counts alike and a batch reads one language.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from service.engine.label_vectors import TEMPLATE

from .data import DataFileError, Example, read_labeled

HELD_OUT_SPLITS = frozenset({"validation", "test"})


@dataclass(frozen=True)
class MatcherSet:
    name: str  # the file's stem
    examples: list[Example]
    labels: list[str]  # as they appear in the data
    names: list[str]  # readable names (from --names files), same order
    source: Path | None = None  # the file it was read from

    @property
    def prompts(self) -> list[str]:
        """How the engine phrases a bare label name (service/engine/label_vectors.py)."""
        return self.phrased(TEMPLATE)

    def phrased(self, template: str) -> list[str]:
        return [template.format(n) for n in self.names]

    def targets(self, example: Example) -> list[float]:
        """The true labels share the probability mass (multi-label rows spread it)."""
        share = 1.0 / len(example.labels)
        return [share if label in example.labels else 0.0 for label in self.labels]


def read_names(paths: list[Path]) -> dict[str, str]:
    """Merge ``{"label": "readable name"}`` JSON files (later files win)."""
    names: dict[str, str] = {}
    for path in paths:
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataFileError(f"{path}: cannot read label names ({exc})") from None
        if not isinstance(mapping, dict) or not all(isinstance(v, str) and v.strip() for v in mapping.values()):
            raise DataFileError(f"{path}: label names must be a JSON object of non-empty strings")
        names.update({str(k): v.strip() for k, v in mapping.items()})
    return names


def _by_language(name: str, examples: list[Example]) -> list[tuple[str, list[Example]]]:
    """One (name, rows) group per language when the rows name two or more; else the file as one."""
    languages = sorted({e.lang for e in examples if e.lang})
    if len(languages) < 2:
        return [(name, examples)]
    return [(f"{name}-{lang}", [e for e in examples if e.lang == lang]) for lang in languages]


def load_sets(paths: list[Path], names: dict[str, str], max_per_set: int | None, seed: int,
              max_per_file: dict[str, int] | None = None) -> list[MatcherSet]:
    """Read each file, drop its held-out rows, and sample at most ``max_per_set`` rows
    (seeded) of each set so no set dominates; ``max_per_file`` gives a file (by its stem)
    its own cap, e.g. fewer rows of English news beside many languages' sentences."""
    sets = []
    max_per_file = max_per_file or {}
    unknown = set(max_per_file) - {p.stem for p in paths}
    if unknown:
        raise DataFileError(f"--max-per-file names no --data file: {', '.join(sorted(unknown))}")
    for path in paths:
        cap = max_per_file.get(path.stem, max_per_set)
        rows = read_labeled(path)
        has_train = any(e.split == "train" for e in rows)
        training_rows = [e for e in rows if not (has_train and e.split in HELD_OUT_SPLITS)]
        for name, examples in _by_language(path.stem, training_rows):
            if cap is not None and len(examples) > cap:
                examples = random.Random(seed).sample(examples, cap)
            labels = sorted({x for e in examples for x in e.labels})
            if len(labels) < 2:
                raise DataFileError(f"{path}: a matcher set needs at least two labels, found {len(labels)}"
                                    + (f" in {name}" if name != path.stem else ""))
            sets.append(MatcherSet(name, examples, labels, [names.get(x, x) for x in labels], path))
    return sets


def interleaved_batches(sets: list[MatcherSet], batch_size: int, seed: int) -> list[tuple[int, list[int]]]:
    """(set index, row indices) batches, each from one set, in a seeded random order."""
    rng = random.Random(seed)
    batches: list[tuple[int, list[int]]] = []
    for s, matcher_set in enumerate(sets):
        order = list(range(len(matcher_set.examples)))
        rng.shuffle(order)
        batches.extend((s, order[k:k + batch_size]) for k in range(0, len(order), batch_size))
    rng.shuffle(batches)
    return batches
