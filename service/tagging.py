"""Tagging from the command line, shared by ``newstag tag``, the batch job (service.batch) and
the bulk job (service.bulk): the API's options, the model a ``--model`` names (checked, then
loaded), the check of one text, and batches in which one bad text never sinks the others.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .bulk.checks import check_labels
from .config import Settings
from .engine import InvalidInputError, ModelLoadError, NewstagError, Tagger, TagResult, validation
from .engine.classifier import ClassifierBackend
from .engine.classifier_dir import is_classifier_dir, read_classifier_dir
from .engine.routing import base_search_path
from .engine.taxonomy import TaxonomyRegistry
from .preflight import check_model_dir, check_startup


@dataclass(frozen=True)
class TagOptions:
    """The API's tagging options, as the command lines take them."""

    labels: tuple[str, ...] | None = None  # replace the taxonomy
    taxonomy: str | None = None
    multi_label: bool = True
    threshold: float | None = None
    top_k: int | None = None
    evidence: bool = True

    @staticmethod
    def parse_labels(raw: str | None) -> tuple[str, ...] | None:
        """``"a, b,c"`` -> ("a", "b", "c"); None when not given. Given but naming none (``""``)
        is an error: falling back to the taxonomy would answer a question nobody asked.
        The full-width comma (Chinese, Japanese), the ideographic comma and the Arabic comma
        separate too: "经济，体育，政治" was one label."""
        if raw is None:
            return None
        labels = tuple(x.strip() for x in re.split("[,\uff0c\u3001\u060c]", raw) if x.strip())
        if not labels:
            raise NewstagError(f"--labels names no label ({raw!r}): give comma-separated labels, or leave it out "
                               "for the taxonomy")
        return labels

    def tag_kwargs(self) -> dict[str, Any]:
        return dict(taxonomy=self.taxonomy, multi_label=self.multi_label, threshold=self.threshold,
                    top_k=self.top_k, evidence=self.evidence)

    def problem(self) -> str | None:
        """What is wrong with the options themselves (before any model is loaded), or None."""
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            return f"--threshold must be between 0 and 1, not {self.threshold}"
        if self.top_k is not None and self.top_k < 1:
            return f"--top-k must be at least 1, not {self.top_k}"
        if self.labels is not None and self.taxonomy:
            return "--labels replace the taxonomy: give --labels or --taxonomy, not both"
        return None


def check_model_choice(model: Path | None, settings: Settings, options: TagOptions) -> str | None:
    """``--model`` (a fine-tuned model's directory, another local embedding model, or None: the
    default) and the labels or taxonomy a job asks of it, checked before any model loads: files,
    checksums and shapes without torch, so a broken model is one line, not a traceback after
    the model (or Ray) started. Returns a fine-tuned model's version, which a job records: a
    model retrained in place keeps its path, and a resumed job mixed two models' rows."""
    if model is not None:
        check_model_dir(model, settings.models_dir)
    fine_tuned = model is not None and is_classifier_dir(model)  # ModelLoadError when unreadable
    if options.labels is not None:
        check_labels(options.labels, settings.max_labels, unique=not fine_tuned)  # its own: picked, once each
    if model is not None and fine_tuned:
        if options.taxonomy:
            raise NewstagError(f"--model {model.name} has its own labels: a taxonomy does not apply")
        # the service's checks of the directory (files, checksums, values)
        return read_classifier_dir(model, base_search_path(settings.multilingual_model)).version
    check_startup(replace(settings, model=model) if model is not None else settings)  # the server's, files only
    if options.labels is None:
        TaxonomyRegistry.load(settings.taxonomies_dir).get(options.taxonomy or settings.taxonomy)  # names those there
    return None


def taxonomy_fingerprint(settings: Settings, options: TagOptions, model: Path | None) -> str | None:
    """A digest of the taxonomy a job tags with (its topics' names, descriptions, keywords,
    codes, parents and thresholds), which a bulk job records: a file in NEWSTAG_TAXONOMIES_DIR
    edited in place keeps its name and directory, so a job run again after the edit kept the
    old topics' shards beside the new ones' (or, finished, found nothing to do). None with
    ``--labels`` or a fine-tuned model's own labels."""
    if options.labels is not None or (model is not None and is_classifier_dir(model)):
        return None
    taxonomy = TaxonomyRegistry.load(settings.taxonomies_dir).get(options.taxonomy or settings.taxonomy)
    content = {name: value for name, value in asdict(taxonomy).items() if name != "source"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]


def tagger_for(settings: Settings, model: Path | None, *, lazy: bool = False) -> Tagger:
    """The default model, another local embedding model, or a fine-tuned model's directory
    (``lazy``: the multilingual model loaded when a text first goes to it, routing.load_tagger)."""
    options = (replace(settings, model=model) if model is not None else settings).engine_options()
    try:
        if model is not None and is_classifier_dir(model):
            backend = ClassifierBackend.load(model, options.model.encoder,
                                             search=base_search_path(options.multilingual_model))
            return Tagger(backend, TaxonomyRegistry.load(settings.taxonomies_dir), options.tagger)
        return Tagger.load(options, lazy=lazy)
    except NewstagError:
        raise
    except Exception as exc:  # a directory of the user's that fails in a library (a truncated file, a bad value)
        if model is None:
            raise
        raise ModelLoadError(f"--model {model} cannot be loaded: {type(exc).__name__}: {str(exc)[:200]}") from exc


def result_settings(settings: Settings) -> dict[str, Any]:
    """The NEWSTAG_* settings that change a job's results, as its job file records them: a
    resumed job run under other ones (routing off, another text limit) mixed two kinds of rows."""
    engine = settings.engine_options()
    model, tagger = engine.model, engine.tagger
    return {"engine": model.engine, "model": str(model.model or "default"), "matcher": model.matcher,
            "nli_model": str(model.nli_model) if model.nli_model else None, "nli_hypothesis": model.nli_hypothesis,
            "max_tokens": model.max_tokens, "genre_check": model.genre_check, "precision": model.encoder.precision,
            "runtime": model.encoder.runtime, "multilingual_model": engine.multilingual_model,
            "taxonomies_dir": str(engine.taxonomies_dir) if engine.taxonomies_dir else None,
            "taxonomy": tagger.taxonomy, "threshold": tagger.threshold, "keyword_weight": tagger.keyword_weight,
            "evidence_per_topic": tagger.evidence_per_topic, "max_text_chars": tagger.max_text_chars,
            "max_labels": tagger.max_labels}


def job_changes(earlier: dict[str, Any], job: dict[str, Any]) -> list[str]:
    """The fields of a recorded job that differ from this run's (batch's job file, bulk's)."""
    return sorted(k for k in set(job) | set(earlier) if job.get(k) != earlier.get(k))


@functools.cache
def code_fingerprint() -> str:
    """A digest of this newstag's own files (its code, built-in taxonomies, calibration and
    matcher weights), which a batch or bulk job records beside the version: the version stays
    0.1.0 from one commit to the next, so an output resumed after an upgrade in place mixed
    two versions' rows without a word (up to a quarter of the labels differed)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix != ".pyc"):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def job_difference(earlier: dict[str, Any], job: dict[str, Any]) -> str | None:
    """Why a recorded job is not this run's, in words (None: it is). A job file written by
    another newstag is named as such: its fields may have moved, and its rows beside this
    version's would mix two versions' results. So is one written by other code under the same
    version number (an upgrade in place; job files before session 44 record no ``code``)."""
    if earlier.get("newstag") != job.get("newstag"):
        writer = f"newstag {earlier['newstag']}" if "newstag" in earlier else "an older newstag"
        return f"was written by {writer} (this is newstag {job.get('newstag')})"
    if earlier.get("code") != job.get("code"):
        return (f"was written by another build of newstag {job.get('newstag')} (its code differs from this one's, "
                "so its rows and this run's would not agree)")
    changed = job_changes(earlier, job)
    if changed == ["taxonomy_content"]:
        return ("was written with another version of the taxonomy (its file was edited since: topics, descriptions, "
                "keywords or thresholds)")
    retrained = " (the model in that directory was retrained since)" if changed == ["model_version"] else ""
    return f"was written with other {', '.join(changed)}{retrained}" if changed else None


def text_problem(text: Any, settings: Settings) -> str | None:
    """Why ``text`` cannot be tagged (the API's rules, engine/validation.py), or None when it can."""
    complaint = validation.text_problem(text, settings.max_text_chars)
    return None if complaint is None else f"'text' {complaint}"


def tag_texts(tagger: Tagger, texts: list[str], options: TagOptions) -> list[TagResult | InvalidInputError]:
    """Each text's result, or the error that text alone raises; the others are still tagged."""
    if not texts:
        return []
    labels = list(options.labels) if options.labels is not None else None
    try:
        return list(tagger.tag(texts, labels, **options.tag_kwargs()))
    except InvalidInputError:
        pass
    results: list[TagResult | InvalidInputError] = []
    for text in texts:  # one by one, to find the bad text(s) without losing the rest
        try:
            results.append(tagger.tag([text], labels, **options.tag_kwargs())[0])
        except InvalidInputError as exc:
            results.append(exc)
    return results
