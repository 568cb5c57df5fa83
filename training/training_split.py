"""The articles a fine-tuning run trains and validates on, and the warnings about them that
would otherwise surface only as misleading figures (only the first process warns)."""

from __future__ import annotations

from collections.abc import Callable

from service.engine.validation import label_key

from .config import TrainingConfig
from .data import (
    DataFileError,
    Example,
    check_trainable,
    label_names,
    label_sets,
    labels_never_trained,
    read_labeled,
    split_validation,
    texts_in_both,
)
from .data_checks import repeated_rows
from .distributed import Distributed


def read_training_data(config: TrainingConfig, dist: Distributed, warn: Callable[[str], None],
                       note: Callable[[str], None]) -> tuple[list[Example], list[Example], list[Example]]:
    """The training file's examples, and the train and validation articles, with a warning for
    what would make the model or its validation scores mislead (only the first process warns)."""
    examples = read_labeled(config.train)
    check_trainable(config.train, examples, after_split=False)  # the file itself first: its reason, not the split's
    if dist.is_main and (repeated := repeated_rows(config.train, examples)):
        warn(repeated)
    if dist.is_main and len(sets := label_sets(config.train)) > 1:
        warn(f"{config.train.name} mixes corrections of {len(sets)} label sets ({', '.join(sets)}): the model "
             "learns them as one; export one with ?taxonomy=NAME (?taxonomy= for typed labels)")
    if config.validation:
        train, validation = examples, read_labeled(config.validation)
    else:
        train, validation = split_validation(examples, config.validation_split, config.seed)
        if not validation:
            raise DataFileError(f"{config.train}: no article can be held out for validation without taking the "
                                "last article of a label with it, which the model could then not learn; label more "
                                "articles, or give a --validation file")
    check_trainable(config.train, train, after_split=not config.validation)
    if dist.is_main and (twice := texts_in_both(train, validation)):
        warn(f"{twice} of the {len(validation)} validation articles are also training articles (the same text): "
             "the validation scores overstate how the model reads new articles")
    if dist.is_main and (unseen := labels_never_trained(train, validation)):
        spelled = training_spellings(unseen[:10], train)
        named = [x + (f" (the training data spells it {spelled[x]!r})" if x in spelled else "") for x in unseen[:10]]
        warn(f"{len(unseen)} label(s) of the validation data are on no training article, so the model cannot "
             f"learn them and its validation scores count them as misses: {', '.join(named)}"
             + (" ..." if len(unseen) > 10 else ""))
    if dist.is_main and (warning := validation_warning(train, validation, config.mode, config.validation is not None)):
        warn(warning)
    if dist.is_main and (why := multi_label_note(config, train, validation)):
        note(why)
    return examples, train, validation


def training_spellings(labels: list[str], train: list[Example]) -> dict[str, str]:
    """Each of ``labels`` the training data spells otherwise (case, spacing), with that spelling:
    'politics' in a --validation file beside training's 'Politics' is a label never trained."""
    def key(name: str) -> str:
        return label_key(" ".join(name.split()))
    spelled = {key(x): x for e in train for x in e.labels}
    return {x: spelled[key(x)] for x in labels if key(x) in spelled}


MIN_VALIDATION = 30  # fewer validation articles: their figures move by several points per article


def validation_warning(train: list[Example], validation: list[Example], mode: str,
                       from_file: bool = False) -> str | None:
    """What makes the validation figures (and, in head and full modes, the thresholds fitted on
    them) rest on little: a small split, labels it has no article of."""
    labels = label_names(train + validation)
    seen = {x for e in validation for x in e.labels}
    missing = [x for x in labels if x not in seen]
    if len(validation) >= MIN_VALIDATION and not missing:
        return None
    parts = []
    if len(validation) < MIN_VALIDATION:
        parts.append(f"the validation split has only {len(validation)} article(s), so its figures are rough "
                     f"(one article moves them by several points)")
    if missing:
        parts.append(f"{len(missing)} of the {len(labels)} labels {'has' if len(missing) == 1 else 'have'} no "
                     "validation article, so its figures do "
                     f"not cover them: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""))
    fitted = f" {mode.capitalize()} mode fits each label's threshold on it too." if mode != "hybrid" else ""
    advice = (" Add articles of every label to the --validation file." if from_file  # --validation-split does not apply
              else " Hold out more (--validation-split) or give a --validation file with articles of every label.")
    return "; ".join(parts) + f".{fitted}{advice}"


def multi_label_note(config: TrainingConfig, train: list[Example], validation: list[Example]) -> str | None:
    """Why the model will be multi-label, naming the rows that made it so (a single row with two
    labels turns a single-label file multi-label, and loses the "none of these" gate)."""
    rows = [(config.train, e) for e in train]
    rows += [(config.validation or config.train, e) for e in validation]
    several = [(path, e) for path, e in rows if len(e.labels) > 1]
    if not several:
        return None
    named = "; ".join(f"{path.name} line {e.line}: {', '.join(e.labels)}" if e.line else ", ".join(e.labels)
                      for path, e in several[:5]) + (f"; and {len(several) - 5} more" if len(several) > 5 else "")
    return (f"training a multi-label model (a sigmoid per label, no \"none of these\" gate) because "
            f"{len(several)} of the {len(rows)} rows {'has' if len(several) == 1 else 'have'} more than one label "
            f"({named}). There is no option to "
            "force single-label: for a single-label model, give each of these rows one label.")
