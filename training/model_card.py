"""Model cards: one renderer for every card training writes (YAML front matter as Hugging
Face cards use it, then a template from model_cards/), and the two kinds of card.

A fine-tuned classifier's card (``CardData``, model_cards/template.md) and a matcher
adapter's card (``matcher_card``, model_cards/matcher-template.md, from the record in
its adapter.json) both go through ``render_card``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CARDS = Path(__file__).resolve().parent.parent / "model_cards"
TEMPLATE = CARDS / "template.md"
MATCHER_TEMPLATE = CARDS / "matcher-template.md"


def render_card(template: Path, front_matter: dict[str, Any], **fields: Any) -> str:
    """The template filled in (``str.format``), its ``{front_matter}`` as YAML."""
    return template.read_text(encoding="utf-8").format(
        front_matter=yaml.safe_dump(front_matter, sort_keys=False).strip(), **fields)


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items())


@dataclass
class CardData:
    """What a fine-tuned classifier's card says (filled in by training.finetune)."""

    name: str
    base_model: str
    mode: str
    labels: list[str]
    multi_label: bool
    max_tokens: int
    train_file: str
    train_sha256: str
    train_rows: int
    validation_rows: int
    validation_source: str
    command: str
    epochs: int
    batch_size: int
    lr: float
    seed: int
    train_seconds: float
    versions: dict[str, str]
    metrics: dict[str, Any] = field(default_factory=dict)
    loss: str = "bce"  # head and full modes (training/classification.py)
    license: str = "other"  # the training data's licence decides; set it before publishing
    thresholds: list[float] = field(default_factory=list)  # each label's, as in labels.json
    threshold_fit: dict[str, Any] | None = None  # what they rest on (training/thresholds.py, Thresholds.record)
    hybrid: dict[str, Any] | None = None  # hybrid mode: its settings (training/hybrid_settings.py)
    contrastive: dict[str, Any] | None = None  # the encoder's contrastive tuning (training/contrastive.py), if run
    # The languages its base model's card names (``language:``): the service warns on texts in
    # others (service/engine/classifier.py); None: the base's card names none.
    languages: list[str] | None = None
    base_named: bool = False  # its encoder is an installed base's, named by checksum (base_models.py)
    refit_rows: int = 0  # hybrid: the served model was fitted again on this many rows (training + validation)

    def front_matter(self) -> dict[str, Any]:
        results = [{"type": "f1", "name": "micro-F1 (validation)", "value": round(self.metrics["micro_f1"], 4)},
                   {"type": "f1", "name": "macro-F1 (validation)", "value": round(self.metrics["macro_f1"], 4)}]
        return {
            "license": self.license,
            "base_model": self.base_model,
            **({"language": sorted(self.languages)} if self.languages else {}),
            "library_name": "transformers",
            "pipeline_tag": "text-classification",
            "tags": ["newstag", "topic-tagging", "news", "multi-label" if self.multi_label else "single-label"],
            "datasets": [self.train_file],
            "metrics": ["f1"],
            "model-index": [{"name": self.name, "results": [{
                "task": {"type": "text-classification", "name": "Topic classification"},
                "dataset": {"type": self.train_file, "name": f"{self.train_file} (validation split)",
                            "split": "validation"},
                "metrics": results}]}],
        }


def _reading(card: CardData) -> tuple[str, str]:
    """How the model reads an article, and where its thresholds came from (the recipe)."""
    activation = "independent sigmoids (multi-label)" if card.multi_label else "a softmax (single-label)"
    windows = f"Sentence-aligned windows of at most {card.max_tokens} tokens (never truncation); each window\n" \
        "is mean-pooled and L2-normalised"
    if card.contrastive is not None:
        c = card.contrastive
        windows = (f"The encoder was first tuned on {c['pairs']} pairs of training articles (their first "
                   f"{c['max_tokens']} tokens;\nSetFit-style: the cosine of two articles of one label pulled to 1, "
                   f"of two labels to 0; final loss {c['final_loss']}),\nand is saved with the model. {windows}")
    fit = card.threshold_fit or {}
    fallback = f"{fit['fallback']:.4f} ({fit['fallback_how']})" if fit else "0.5"
    if card.hybrid is None:
        return (f"{windows}, a linear head gives each label a logit per window,\nand a label's logit is its best "
                f"window's. Probabilities are {activation}.",
                "Each label's threshold was chosen on the validation split to maximise its F1 (`labels.json`)"
                + (f";\none fitted on fewer than {fit['min_support']} validation articles leans toward the fallback "
                   f"{fallback}\nin proportion to its articles, and a label with none has the fallback."
                   if fit else "."))
    h = card.hybrid
    rare = [name for name, n in (fit.get("support") or {}).items() if n < h["min_positives"]]
    # Said only when it applies: "a label with fewer than 5 articles keeps the fallback" read as if one did.
    fallback_rule = (f";\na label with fewer than {h['min_positives']} training articles keeps the fallback "
                     f"{fallback}\n(`labels.json`)" + (f": {', '.join(rare)}." if rare else "."))
    if fit.get("support") and not rare:
        fallback_rule = (f";\nevery label had at least {h['min_positives']} training articles, so none keeps the "
                         f"fallback {fallback} (`labels.json`).")
    return (f"The hybrid recipe. {windows}; the article's vector is the mean of its windows\n(scaled by "
            f"{h['embedding_weight']}{_chosen_weight(h)}), beside its TF-IDF word and bigram features\n"
            "(sublinear tf, L2 norm, "
            f"terms in at least {h['min_df']} training articles; `lexical.json`, `lexical.safetensors`). One "
            f"class-balanced\nlinear SVM per label (C = {h['c']}) scores both{_nb_ratios(h)}{_label_prior(h)}; "
            "probabilities are "
            f"{activation} of its margins.",
            _hybrid_thresholds(h, fallback, fallback_rule, card.refit_rows > 0) + _at_least_one(card))


def _hybrid_thresholds(h: dict, fallback: str, fallback_rule: str, refit: bool) -> str:
    """How the hybrid recipe's thresholds were set: out of fold, or (too few articles) not at all."""
    if h.get("out_of_fold", True):  # older models record nothing: they were scored out of fold
        rows = "all training and validation rows" if refit else "the training split"
        return (f"Chosen to maximise each label's F1 on out-of-fold scores ({h['folds']} folds of {rows}"
                f"{_draws(h)}){fallback_rule}")
    # It said "chosen ... by out-of-fold quality" of a 5-article model, which scored nothing out of fold.
    return (f"Not fitted: {h.get('train_rows', 'so few')} training articles are too few for {h['folds']} folds of "
            f"two, so nothing was scored out of fold; every label has the fallback {fallback}, and the "
            "settings above are the recipe's fixed ones for so few articles (the largest article-vector "
            "weight and label-name scale, no log-count ratios).")


def _refit(card: CardData) -> str:
    """The card's words on a hybrid model refit on every row once its validation split was scored."""
    if not card.refit_rows:
        return ""
    return (f"\nThe validation rows were scored by the model fitted on the other {card.train_rows}; the model served "
            f"was then\nfitted again on all {card.refit_rows} rows at the settings that model chose, each threshold "
            "again out of fold.")


def _draws(hybrid: dict) -> str:
    """How many draws of the folds each label's threshold is the mean of (older models record none: one)."""
    draws = hybrid.get("threshold_draws", 1)
    return f", the mean of the cuts on {draws} draws of the folds" if draws > 1 else ""


def _chosen_weight(hybrid: dict) -> str:
    """Where the article vector's scale came from, when the recipe chose it."""
    candidates = hybrid.get("embedding_weights") or ()
    if not hybrid.get("embedding_weight_chosen") or len(candidates) < 2:
        return ""
    return ", " + _chosen_among(candidates, ", ")


def _chosen_among(candidates: tuple[float, ...] | list[float], joiner: str = " and ") -> str:
    """How the card says the recipe picked a setting from its candidates."""
    return "chosen among " + joiner.join(f"{c:g}" for c in candidates) + " by out-of-fold quality"


def _nb_ratios(hybrid: dict) -> str:
    """The card's words on the log-count ratios that weigh each label's TF-IDF columns."""
    candidates = hybrid.get("nb_alphas") or ()
    chosen = hybrid.get("nb_alpha_chosen") and len(candidates) > 1
    if not hybrid.get("nb_alpha"):
        return (" (each label's TF-IDF columns weighed by their log-count ratio for it, tried, were left "
                "as they are by out-of-fold quality)") if chosen else ""
    how = f", {_chosen_among(candidates)}" if chosen else ""
    return (",\neach label's TF-IDF columns weighed by their log-count ratio for it (smoothing "
            f"{hybrid['nb_alpha']:g}{how}; folded into `lexical.safetensors`)")


def _label_prior(hybrid: dict) -> str:
    """The card's words on each label's own-name feature (training/hybrid.py)."""
    candidates = hybrid.get("label_priors") or ()
    chosen = hybrid.get("label_prior_chosen") and len(candidates) > 1
    how = f", {_chosen_among(candidates)}" if chosen else ""
    if not hybrid.get("label_prior"):
        return (" (the article's similarity to each label's name, tried as a further feature, was left out by "
                "out-of-fold quality)") if chosen else ""
    return (",\nand the article's similarity to the label's own name (scaled by "
            f"{hybrid['label_prior']:g}{how}; folded into `head.safetensors`)")  # "3,;" when given, not chosen


def _at_least_one(card: CardData) -> str:
    """The card's sentence on "at least one label" (multi-label hybrid models, labels.json's at_least_one)."""
    if not card.multi_label or not (card.hybrid or {}).get("at_least_one"):
        return ""
    return ("\nEvery training article had a label, so an article none of whose labels reaches its threshold\n"
            "still gets its best-scoring label, with its threshold as its score (`at_least_one`).")


def render(card: CardData) -> str:
    """A fine-tuned classifier's card."""
    reading, threshold_source = _reading(card)
    rows = [("micro-F1", card.metrics["micro_f1"]), ("macro-F1", card.metrics["macro_f1"]),
            ("Hamming loss", card.metrics["hamming_loss"]), ("subset accuracy", card.metrics["subset_accuracy"])]
    if "accuracy" in card.metrics:
        rows.append(("accuracy", card.metrics["accuracy"]))
    return render_card(
        TEMPLATE, card.front_matter(),
        name=card.name, mode=card.mode, base_model=card.base_model, label_count=len(card.labels),
        encoder_note=f" Its encoder is `{card.base_model}`'s, unchanged and not copied: `newstag.json` names it by "
        "checksum, so a machine that serves this model needs that base installed (`make model-multilingual`, or "
        "the image built with `--build-arg NEWSTAG_MULTILINGUAL=1`)." if card.base_named else "",
        kind_of_labels=("multi-label" if card.multi_label else "single-label") + ": " + ", ".join(card.labels[:12])
        + (", ..." if len(card.labels) > 12 else ""),
        train_rows=card.train_rows, train_file=card.train_file, max_tokens=card.max_tokens,
        served_rows=card.refit_rows or card.train_rows, refit=_refit(card),
        scored_by=" Scored by the model before its refit (above), which had not read them." if card.refit_rows else "",
        reading=reading, threshold_source=threshold_source,
        thresholds_table="\n".join(f"| {name} | {t:.4f} |" for name, t in zip(card.labels, card.thresholds,
                                                                                strict=False)),
        validation_rows=card.validation_rows, command=card.command, train_sha256=card.train_sha256,
        validation_source=card.validation_source,
        # The hybrid head's SVMs have no epochs, batches or learning rate: the card says only what was used.
        schedule=f"Seed {card.seed}" if card.mode == "hybrid" else
        f"Epochs {card.epochs}, batch size {card.batch_size}, learning rate {card.lr}, loss {card.loss}, "
        f"seed {card.seed}",
        train_seconds=round(card.train_seconds), versions=_versions(card.versions),
        languages=f"Texts in the languages its base model reads ({', '.join(card.languages)}; newstag warns on "
        "others)" if card.languages else "The languages its base model reads (its card names none, so newstag "
        "cannot warn on others)",
        covered_labels=card.metrics.get("labels_with_examples", "?"),
        results_table="\n".join(f"| {name} | {value:.4f} |" for name, value in rows),
    )


def _split_notes(notes: str) -> tuple[dict[str, Any], str, str]:
    """A notes file's front matter, the text before its first section, and its sections."""
    _, front, body = notes.split("---\n", 2)
    body = body.strip("\n")
    about, _, sections = body.partition("\n## ")
    if body.startswith("## "):
        about, sections = "", body.removeprefix("## ")
    return yaml.safe_load(front) or {}, about.strip(), f"## {sections.strip()}" if sections else ""


def matcher_card(manifest: dict[str, Any], notes: str | None = None) -> str:
    """A matcher adapter's card, from its adapter.json (``manifest``).

    ``notes`` (a markdown file with front matter) adds what was measured after training:
    its front matter is merged into the card's, its opening text follows the card's first
    paragraph and its sections follow "How it was trained" (the shipped adapter's card:
    model_cards/newstag-matcher.notes.md).
    """
    training = manifest["training"]
    config = training["config"]
    front_matter: dict[str, Any] = {
        "license": "other",  # the training sets' licences decide; list them before publishing
        "base_model": training["base_model"],
        "library_name": "peft",
        "pipeline_tag": "sentence-similarity",
        "tags": ["newstag", "topic-tagging", "zero-shot", "lora"],
        "datasets": [s["name"] for s in training["sets"]],
    }
    about, sections = "", ""
    if notes is not None:
        extra, about, sections = _split_notes(notes)
        front_matter.update(extra)
    sets = "\n".join(f"| {s['name']} | {s['rows']} | {s['labels']} | `{s['sha256'][:16]}…` |"
                     for s in training["sets"])
    versions = manifest["library_versions"]
    return render_card(
        MATCHER_TEMPLATE, front_matter,
        about=f"\n{about}\n" if about else "", sections=f"\n{sections}\n" if sections else "",
        base_model=training["base_model"], base_sha256=training["base_sha256"],
        parameters=manifest["parameters"], rank=config["rank"], alpha=config["alpha"],
        epochs=config["epochs"], batch_size=config["batch_size"], max_length=config["max_length"],
        lr=config["lr"], temperature=config["temperature"], max_per_set=config["max_per_set"] or "all",
        seed=config["seed"], command=training["command"] or "(called from Python)", sets_table=sets,
        train_seconds=round(training["train_seconds"]), final_loss=training["final_loss"],
        peft=versions.get("peft", "?"), versions=_versions(versions),
    )
