"""Write a trained model directory atomically: build it in a temporary directory beside
the target, then rename, so the service never sees a half-written model."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from service import __version__
from service.drift.reference import LABEL_SHARES_FILE
from service.engine.adapter import ADAPTER_MANIFEST
from service.engine.classifier_dir import (
    ENCODER_FILES,
    HEAD_FILE,
    KIND,
    LABELS_FILE,
    MANIFEST_FILE,
    WEIGHT_FILES,
    pipeline_weights,
)
from service.engine.domain import DOMAIN_FILE, Domain
from service.engine.lexical import LEXICAL_JSON, LEXICAL_WEIGHTS, LexicalHead
from service.engine.model_files import apply_umask, sha256_of

from .model import WindowClassifier


def library_versions() -> dict[str, str]:
    return {"newstag": __version__, **{name: version(name) for name in ("torch", "transformers", "safetensors")}}


# What a directory newstag wrote holds: a model's manifest or an adapter's.
WRITTEN_BY_NEWSTAG = (MANIFEST_FILE, ADAPTER_MANIFEST)


class OutputInUseError(ValueError):
    """The output path holds something newstag did not write: replacing it would delete it."""


def check_output(output: Path) -> None:
    """Refuse an output that is a file or a directory of other things.

    A new model replaces the directory it is written to, so ``--output models`` (a folder of
    models) or ``--output ~`` would otherwise be deleted. A missing or empty directory, or
    one holding a model or adapter newstag wrote, may be replaced. Called before training,
    so a mistake costs nothing, and again just before the replacement.
    """
    if not output.exists() and not output.is_symlink():
        return
    if output.is_symlink():
        raise OutputInUseError(f"--output {output} is a symbolic link: name the directory itself")
    if not output.is_dir():
        raise OutputInUseError(f"--output {output} is a file, not a model directory: name a new directory")
    if any(output.iterdir()) and not any((output / name).is_file() for name in WRITTEN_BY_NEWSTAG):
        raise OutputInUseError(f"--output {output} is a directory newstag did not write (no {MANIFEST_FILE} or "
                               f"{ADAPTER_MANIFEST} in it), and writing the model there would replace everything "
                               "in it: name a new directory, or an older model to replace")


def check_destination(output: Path, inputs: Sequence[tuple[str, Path | None]] = ()) -> None:
    """Before training: ``check_output``; no input file inside the output, which the new model
    replaces whole (a train.jsonl kept in the model directory was deleted); and a place the
    output can be created in, rather than a traceback once training is done."""
    check_output(output)
    for flag, path in inputs:
        if path is not None and path.resolve().is_relative_to(output.resolve()):
            raise ValueError(f"{flag} {path} is inside --output {output}, which the new model replaces: "
                             "move it out first")
    _check_creatable(output)


def _check_creatable(output: Path) -> None:
    """The nearest existing directory above ``output`` must take a new directory."""
    existing = output.absolute().parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--output {output} cannot be created: {existing} is a file, not a directory")
    try:
        tempfile.TemporaryDirectory(dir=existing, prefix=".newstag-check-").cleanup()
    except OSError as exc:
        raise ValueError(f"--output {output} cannot be created in {existing}: {exc.strerror}") from exc


@contextmanager
def atomic_directory(output: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``output``; on success it replaces ``output``
    (which ``check_output`` must accept)."""
    check_output(output)
    tmp = output.parent / f".{output.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    apply_umask(tmp)
    try:
        check_output(output)  # something may have appeared there during training
    except OutputInUseError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if output.exists():
        old = output.parent / f".{output.name}.old-{os.getpid()}"
        os.replace(output, old)
        os.replace(tmp, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output)


def copy_pipeline(base: Path, target: Path) -> None:
    """The base model's modules.json and its module directories after the Transformer (pooling, Dense).

    Not its config_sentence_transformers.json: its prompts are not read in training, so
    none must be read in serving either.
    """
    modules = base / "modules.json"
    if not modules.is_file():
        return
    shutil.copy2(modules, target / "modules.json")
    for module in json.loads(modules.read_text(encoding="utf-8")):
        path = str(module.get("path", ""))
        if path and Path(path).name == path and path != ".." and (base / path).is_dir():  # a plain name only
            shutil.copytree(base / path, target / path)


def save_encoder(encoder: Any, tokenizer: Any, target: Path, pipeline_from: Path | None) -> None:
    """A transformers encoder as a model directory the engine reads: weights (safetensors),
    tokenizer, and ``pipeline_from``'s sentence-transformers steps after pooling, if any."""
    encoder.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    if pipeline_from is not None:
        copy_pipeline(pipeline_from, target)


def write_model_dir(output: Path, model: WindowClassifier, tokenizer: Any, labels: list[str],
                    thresholds: list[float], multi_label: bool, metrics: dict[str, Any],
                    manifest: dict[str, Any], card: str, label_shares: dict[str, Any],
                    fit_domain: Callable[[Path], Domain] | None = None, base_reference: dict | None = None,
                    pipeline_from: Path | None = None, lexical: LexicalHead | None = None,
                    at_least_one: bool = False) -> None:
    """Write the model directory.

    ``base_reference``: the encoder is a pinned base's (``pipeline_from``), unchanged (head and
    hybrid modes): newstag.json names it (service/engine/base_models.py) instead of a copy
    (90 MB a model on the embedded default, 1.2 GB on EmbeddingGemma). ``fit_domain``
    (single-label models) reads articles with the encoder as saved, so the domain is the
    one the service will see. ``pipeline_from``: the base model directory whose
    sentence-transformers steps after pooling (Dense layers) the copied encoder keeps, each
    weights file checksummed in the manifest like the encoder's. ``lexical``: a hybrid
    model's TF-IDF half (lexical.py). ``at_least_one``: the served model gives every article
    its best label when none reaches its threshold (classifier.at_least_one).
    """
    with atomic_directory(output) as tmp:
        if base_reference is not None:
            assert pipeline_from is not None  # the base the reference names
            manifest = {**manifest, "encoder": base_reference}
        else:
            save_encoder(model.encoder, tokenizer, tmp, pipeline_from)
        if fit_domain is not None:
            fit_domain(pipeline_from if base_reference is not None and pipeline_from is not None else tmp).save(tmp)
        save_file({"weight": model.head.weight.detach().contiguous(), "bias": model.head.bias.detach().contiguous()},
                  str(tmp / HEAD_FILE))
        if lexical is not None:
            lexical.save(tmp)
        (tmp / LABELS_FILE).write_text(json.dumps(
            {"labels": labels, "thresholds": [round(t, 4) for t in thresholds], "multi_label": multi_label,
             **({"at_least_one": True} if at_least_one else {})}, indent=2))
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
        # What the labeled data looked like: `python -m service.drift --model` compares production with it.
        (tmp / LABEL_SHARES_FILE).write_text(json.dumps(label_shares, indent=2, ensure_ascii=False))
        digests = {name: sha256_of(tmp / name)
                   for name in (*WEIGHT_FILES, *ENCODER_FILES, DOMAIN_FILE, LEXICAL_JSON, LEXICAL_WEIGHTS, LABELS_FILE,
                                *pipeline_weights(tmp))
                   if (tmp / name).is_file()}
        (tmp / MANIFEST_FILE).write_text(json.dumps(
            {"kind": KIND, **manifest, "sha256": digests, "library_versions": library_versions()}, indent=2))
        (tmp / "README.md").write_text(card)
        for leftover in tmp.glob("*.bin"):  # nothing pickled in a model directory
            leftover.unlink()
