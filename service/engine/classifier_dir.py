"""A fine-tuned classifier's directory: its format and its integrity check.

A classifier directory (written by ``training.finetune``) is a Hugging Face-style model
directory plus newstag's files:

- ``config.json``, ``model.safetensors``, tokenizer files: the (fine-tuned) encoder. A
  head or hybrid model on the embedded default or the installed EmbeddingGemma leaves its
  encoder out, since it is the base's unchanged: ``newstag.json``'s ``encoder`` names the
  base by its SHA-256 (base_models.py), and the base is loaded (and checked) in its place,
  90 MB or 1.2 GB less per model;
- ``head.safetensors``: the linear head (``weight`` [labels, dim], ``bias`` [labels]);
- ``labels.json``: labels, their calibrated thresholds, single- or multi-label, and
  ``at_least_one`` (a multi-label model whose every training article had a label gives
  every article its best label when none reaches its threshold);
- ``newstag.json``: kind, window size, and the SHA-256 of each weights file (any other file
  it lists is checked too; an own encoder also needs its config.json and tokenizer files);
- ``metrics.json`` and ``README.md`` (the model card);
- ``label_shares.json``: each label's share of the labeled data, which ``python -m
  service.drift --model`` compares production tags with (not needed to serve);
- ``domain.safetensors`` (single-label models): its labels' centroids and the threshold
  under which a text is unlike all of them and gets no topic (domain.py);
- ``lexical.json`` and ``lexical.safetensors`` (hybrid models, ``newstag.json``'s
  ``head`` is ``"hybrid"``): TF-IDF vocabulary, idf and per-label weights (lexical.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from ..errors import ModelLoadError
from .base_models import find_base
from .domain import DOMAIN_FILE, Domain
from .lexical import LEXICAL_JSON, LEXICAL_WEIGHTS, LexicalHead
from .model_files import (
    DEFAULT_MODEL_HUB_NAME,
    check_config_fits_weights,
    default_model_dir,
    model_languages,
    read_json_object,
    read_model_json,
    require_local_model_dir,
    require_regular_file,
    sha256_of,
)
from .types import Label

HEAD_FILE = "head.safetensors"
LABELS_FILE = "labels.json"
MANIFEST_FILE = "newstag.json"
WEIGHT_FILES = ("model.safetensors", HEAD_FILE)
# An own encoder's configuration and tokenizer, pinned with its weights: an edited config or
# vocabulary changes what the weights read as surely as edited weights do.
ENCODER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                 "tokenizer.model", "added_tokens.json", "modules.json", "config_sentence_transformers.json",
                 "sentence_bert_config.json", "1_Pooling/config.json")  # (the window size; the pooling)
KIND = "classifier"
HYBRID = "hybrid"  # newstag.json's "head" for a hybrid model (absent: the window head)
MIN_MAX_TOKENS = 16  # newstag.json's max_tokens: training.finetune's --max-length is at least this


def is_classifier_dir(path: Path) -> bool:
    """Whether ``path`` holds newstag.json; ModelLoadError when that cannot be known (a
    directory this user may not enter: Path.is_file raises PermissionError there)."""
    try:
        return (path / MANIFEST_FILE).is_file()
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot be read ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class ClassifierFiles:
    """The checked contents of a classifier directory, before the encoder is loaded."""

    directory: Path
    manifest: dict
    labels: tuple[Label, ...]
    multi_label: bool
    weight: np.ndarray
    bias: np.ndarray
    metrics: dict
    encoder_dir: Path  # the directory itself, or the base model's when the encoder is referenced
    version: str  # 12 hex digits of the head's SHA-256
    domain: Domain | None = None  # single-label models trained since domain.py existed
    lexical: LexicalHead | None = None  # hybrid models: TF-IDF features beside the embedding
    at_least_one: bool = False  # labels.json: no article is left without a label (multi-label)

    @property
    def encoder_sha256(self) -> str:
        """The checked SHA-256 of the encoder's weights: the directory's own, or the referenced base's
        (an ONNX graph is exported from, and checked against, these: engine/onnx_cache.py)."""
        return str(self.manifest["sha256"][WEIGHT_FILES[0]]) if self.encoder_dir == self.directory \
            else str(self.manifest["encoder"]["sha256"])


def read_classifier_dir(directory: Path, search: Sequence[Path] = ()) -> ClassifierFiles:
    """Check a classifier directory (files present, checksums match, shapes agree, values
    in range); every failure is a ModelLoadError naming the file. ``search``: where a base
    model the directory references may be installed, before the path it records (base_models.py)."""
    try:
        return _read_classifier_dir(directory, search)
    except OSError as exc:  # a file this user may not read, an I/O error
        raise ModelLoadError(f"model file cannot be read: {exc.filename or directory} "
                             f"({exc.strerror or exc})") from None


def _read_classifier_dir(directory: Path, search: Sequence[Path]) -> ClassifierFiles:
    manifest = read_json_object(directory / MANIFEST_FILE)
    if manifest.get("kind") != KIND:
        raise ModelLoadError(f"{directory / MANIFEST_FILE}: kind must be {KIND!r}")
    digests = manifest.get("sha256", {})
    if not isinstance(digests, dict):
        raise ModelLoadError(f"{directory / MANIFEST_FILE}: 'sha256' must map file names to checksums")
    max_tokens = manifest.get("max_tokens", 256)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < MIN_MAX_TOKENS:
        raise ModelLoadError(f"{directory / MANIFEST_FILE}: 'max_tokens' must be a whole number of tokens, at "
                             f"least {MIN_MAX_TOKENS} (training's --max-length), not {max_tokens!r}")
    encoder_dir, weight_files = _encoder_dir(directory, manifest, search)
    if encoder_dir == directory:  # a copied encoder's Dense layers after pooling are weights too
        weight_files = (*weight_files, *pipeline_weights(directory))
    for name in weight_files:
        path = directory / name
        require_regular_file(path, "model weights file")
        if digests.get(name) != sha256_of(path):
            raise ModelLoadError(f"model weights file fails its SHA-256 check: {path}")
    hybrid = manifest.get("head") == HYBRID
    for name in (LEXICAL_JSON, LEXICAL_WEIGHTS) if hybrid else ():
        require_regular_file(directory / name)
        if digests.get(name) != sha256_of(directory / name):
            raise ModelLoadError(f"model file fails its SHA-256 check: {directory / name}")
    domain_path = directory / DOMAIN_FILE
    if DOMAIN_FILE in digests or domain_path.exists():
        require_regular_file(domain_path)
    if domain_path.is_file() and digests.get(DOMAIN_FILE) != sha256_of(domain_path):
        raise ModelLoadError(f"model file fails its SHA-256 check: {domain_path}")
    # Which label each head row is, and its threshold: checked like the weights (models
    # exported before labels.json was checksummed have no digest of it).
    require_regular_file(directory / LABELS_FILE)
    if LABELS_FILE in digests and digests[LABELS_FILE] != sha256_of(directory / LABELS_FILE):
        raise ModelLoadError(f"model file fails its SHA-256 check: {directory / LABELS_FILE}")
    _check_pinned_files(directory, digests, {*weight_files, LEXICAL_JSON, LEXICAL_WEIGHTS, DOMAIN_FILE, LABELS_FILE})
    if encoder_dir == directory:
        _check_own_encoder(directory)
    label_data = read_json_object(directory / LABELS_FILE)
    names, thresholds = label_data.get("labels"), label_data.get("thresholds")
    if not isinstance(names, list) or not isinstance(thresholds, list) or len(names) != len(thresholds) or not names:
        raise ModelLoadError(f"{directory / LABELS_FILE}: needs 'labels' and 'thresholds' of the same length")
    if not all(isinstance(t, int | float) and not isinstance(t, bool) and 0.0 <= t <= 1.0 for t in thresholds):
        raise ModelLoadError(f"{directory / LABELS_FILE}: every threshold must be a number between 0 and 1")
    if not all(isinstance(n, str) and n.strip() for n in names) or len(set(names)) != len(names):
        raise ModelLoadError(f"{directory / LABELS_FILE}: labels must be distinct, non-empty strings")
    multi_label, with_one = label_data.get("multi_label", True), label_data.get("at_least_one", False)
    for key, value in (("multi_label", multi_label), ("at_least_one", with_one)):
        if not isinstance(value, bool):  # bool("false") is True: a single-label model read as multi-label
            raise ModelLoadError(f"{directory / LABELS_FILE}: {key!r} must be true or false, not {value!r}")
    weight, bias = _read_head(directory / HEAD_FILE, len(names))
    labels = tuple(Label(str(n), threshold=float(t)) for n, t in zip(names, thresholds, strict=True))
    metrics_path = directory / "metrics.json"
    metrics = read_json_object(metrics_path) if metrics_path.exists() else {}
    domain = None if multi_label else _read_domain(directory, len(names), weight.shape[1])
    # The head's digest: every training writes a new head. An own encoder's digest was the version
    # until session 43, but --base DIR copies the frozen encoder unchanged in head and hybrid modes,
    # so a model retrained in place kept its version.
    version = digests[HEAD_FILE][:12]
    lexical = LexicalHead.load(directory, len(names)) if hybrid else None
    return ClassifierFiles(directory, manifest, labels, multi_label, weight, bias, metrics, encoder_dir, version,
                           domain, lexical, multi_label and with_one)


def _tensors(path: Path) -> dict[str, np.ndarray]:
    try:
        return load_file(str(path))
    except SafetensorError as exc:  # checksummed, but not a safetensors file
        raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from None


def _read_head(path: Path, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """The head's weight [labels, width] and bias [labels], float32 and finite (training
    refuses a run whose weights stop being finite; a NaN head scored every label NaN)."""
    head = _tensors(path)
    weight, bias = head.get("weight"), head.get("bias")
    if weight is None or bias is None:
        raise ModelLoadError(f"{path}: needs the tensors 'weight' [labels, width] and 'bias' [labels]")
    if weight.ndim != 2 or weight.shape[0] != n_labels or bias.shape != (n_labels,):
        raise ModelLoadError(f"{path}: head shape does not match {n_labels} labels: expected weight "
                             f"[{n_labels}, width] and bias [{n_labels}], found {list(weight.shape)} and "
                             f"{list(bias.shape)}")
    if not (np.issubdtype(weight.dtype, np.floating) and np.issubdtype(bias.dtype, np.floating)):
        raise ModelLoadError(f"{path}: the head's weights must be floating point, not {weight.dtype}/{bias.dtype}")
    if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
        raise ModelLoadError(f"{path}: the head's weights are not all finite (NaN or infinity)")
    return weight.astype(np.float32), bias.astype(np.float32)


def _read_domain(directory: Path, n_labels: int, dim: int) -> Domain | None:
    try:
        domain = Domain.load(directory, n_labels, dim)
    except SafetensorError as exc:
        raise ModelLoadError(f"{directory / DOMAIN_FILE}: not a readable safetensors file ({exc})") from None
    if domain is not None and not (np.isfinite(domain.centroids).all() and np.isfinite(domain.threshold)):
        raise ModelLoadError(f"{directory / DOMAIN_FILE}: its centroids and threshold are not all finite")
    return domain


def _check_pinned_files(directory: Path, digests: dict, checked: set[str]) -> None:
    """Any other file the manifest pins (an encoder's config.json or tokenizer files, when an
    export lists them) must be there and unaltered, like the weights."""
    for name in digests.keys() - checked:
        path = directory / str(name)
        if _outside(str(name)):
            raise ModelLoadError(f"{directory / MANIFEST_FILE}: 'sha256' names a file outside the directory: {name}")
        require_regular_file(path)
        if digests[name] != sha256_of(path):
            raise ModelLoadError(f"model file fails its SHA-256 check: {path}")


def _check_own_encoder(directory: Path) -> None:
    """A directory carrying its encoder needs its configuration and tokenizer: without the
    tokenizer files transformers builds a 5-word vocabulary (every word [UNK]), and a config
    that disagrees with the weights (one layer dropped) silently reads only part of them."""
    require_local_model_dir(directory)
    # transformers and sentence-transformers open whichever of these they find: none may be a FIFO.
    for path in sorted(directory.rglob("*")):
        if path.exists() and not (path.is_file() or path.is_dir()):
            raise ModelLoadError(f"model file is not a regular file: {path}")
    check_config_fits_weights(directory)


def _outside(name: str) -> bool:
    """A path a model file names that is absolute or climbs out of the directory."""
    return Path(name).is_absolute() or ".." in Path(name).parts


def pipeline_weights(directory: Path) -> list[str]:
    """The Dense weights files a model directory's modules.json names (relative, "/"-separated)."""
    modules = directory / "modules.json"
    if not modules.is_file():
        return []
    listed = read_model_json(modules, list, "a list of modules")
    dense = [m["path"] for m in listed if isinstance(m, dict) and str(m.get("type", "")).endswith("Dense")
             and m.get("path")]
    for path in dense:
        if not isinstance(path, str) or _outside(path):
            raise ModelLoadError(f"{modules}: a Dense module's path must be a directory inside the model, "
                                 f"not {path!r}")
    return [f"{path}/model.safetensors" for path in dense]


def _encoder_dir(directory: Path, manifest: dict, search: Sequence[Path]) -> tuple[Path, tuple[str, ...]]:
    """Where the encoder is, and which weight files the directory itself must hold."""
    encoder = manifest.get("encoder")
    if encoder is None:
        return directory, WEIGHT_FILES
    return find_base(encoder, str(directory / MANIFEST_FILE), search), (HEAD_FILE,)


def classifier_languages(files: ClassifierFiles) -> frozenset[str] | None:
    """The languages a fine-tuned model reads: its card's ``language:``, which training copies
    from its base's card; else its base's, when the base is the embedded default model
    (directories trained before the card said so: a head over English-only vectors reads what
    they read). None when neither is known: no warnings, which for a model on EmbeddingGemma,
    whose card names every language the detector can, is what its languages would give."""
    own = model_languages(files.directory)
    if own is not None:
        return own
    if files.encoder_dir != files.directory:  # the referenced base model
        return model_languages(files.encoder_dir)
    if files.manifest.get("base_model") == DEFAULT_MODEL_HUB_NAME:  # its own (tuned) copy of the default
        try:
            return model_languages(default_model_dir())
        except ModelLoadError:  # the default model's package is not installed: not known
            return None
    return None
