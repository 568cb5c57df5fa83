"""Is the training data in a language the base model reads?

all-MiniLM-L6-v2 reads English; trained on French articles, its frozen vectors carry
little, and the hybrid recipe falls back on word counts without saying so
(docs/benchmarks.md, few-shot curves: MasakhaNEWS French). So training.finetune detects
the training texts' languages (the service's own detector) and warns, before the long
encoder pass, when most of them are in languages the base model's card does not name,
pointing at the multilingual model when it is installed and reads them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings
from service.engine.language import UNDETERMINED, detect_language
from service.engine.model_files import model_languages
from service.engine.routing import multilingual_dir
from service.errors import ConfigError

SAMPLE = 200  # texts read for the check: a share to within a few points, in about a second
MIN_FOREIGN_SHARE = 0.5  # more than this share in languages the base does not read: warn


@dataclass(frozen=True)
class LanguageShares:
    """The detected languages of a sample of training texts, as shares of those with a language."""

    shares: dict[str, float]  # language code -> share, largest first; "und" texts left out
    sampled: int

    @property
    def main(self) -> str:
        return next(iter(self.shares), UNDETERMINED)


def language_shares(texts: Sequence[str], sample: int = SAMPLE, seed: int = 0) -> LanguageShares:
    """The languages of a seeded sample of ``texts`` (all of them when there are fewer)."""
    chosen = list(texts) if len(texts) <= sample else random.Random(seed).sample(list(texts), sample)
    counts = Counter(code for code in (detect_language(t).code for t in chosen) if code != UNDETERMINED)
    total = sum(counts.values())
    return LanguageShares({code: n / total for code, n in counts.most_common()} if total else {}, len(chosen))


def installed_multilingual() -> Path | None:
    """The multilingual model the service would route to (NEWSTAG_MULTILINGUAL_MODEL), if any."""
    try:
        return multilingual_dir(Settings.from_env().multilingual_model)
    except ConfigError:  # a bad setting is the service's error to report, not training's
        return None


def base_language_warning(texts: Sequence[str], base_dir: Path, base_name: str,
                          multilingual: Path | None) -> str | None:
    """A warning when most training texts are in languages ``base_dir``'s card does not name.

    None when the card names no languages (nothing to compare with) or the base reads most
    of the texts. ``multilingual`` (installed_multilingual()) is suggested when its card
    names the texts' main language.
    """
    reads = model_languages(base_dir)
    if reads is None:
        return None
    found = language_shares(texts)
    foreign = sum(share for code, share in found.shares.items() if code not in reads)
    if foreign <= MIN_FOREIGN_SHARE:
        return None
    listed = ", ".join(f"{code} {share:.0%}" for code, share in list(found.shares.items())[:3])
    message = (f"{foreign:.0%} of the training texts (sampled {found.sampled}: {listed}) are in languages the "
               f"base model {base_name} does not read (its card: {', '.join(sorted(reads))}); its frozen vectors "
               f"will carry little, and the model will lean on word counts.")
    if multilingual is not None and multilingual.resolve() != base_dir.resolve():
        if found.main in (model_languages(multilingual) or frozenset()):
            return f"{message} Train on the multilingual model instead: --base {multilingual}"
    return f"{message} A model that reads {found.main!r} can be named with --base DIR."
