"""Base models a fine-tuned model names by checksum instead of carrying a copy.

Head and hybrid models leave their encoder as the base shipped it. On the embedded default
that saves 90 MB a model; on EmbeddingGemma (``--base``, installed by ``make
model-multilingual``) 1.2 GB a model, and a rescan no longer hashes that copy for every model.
newstag.json's ``encoder`` names the base's weights by SHA-256 and, for the multilingual base,
every other file the encoder reads (config, tokenizer, pooling, Dense layers) too, with where
the base was when the model was trained. At load, the first directory whose files all match
is the encoder; where none does, the model is not served, with what to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import ModelLoadError
from .model_files import (
    DEFAULT_MODEL_SHA256,
    MULTILINGUAL_MODEL_NAME,
    MULTILINGUAL_SHA256,
    WEIGHTS_FILE,
    default_model_dir,
    sha256_of,
    sha256_unless_unchanged,
    verify_manifest,
    verify_weights,
)

# The pinned bases a model may reference, by their weights' SHA-256.
DEFAULT_BASE = "all-MiniLM-L6-v2 (embedded)"
REFERABLE_BASES = {DEFAULT_MODEL_SHA256: DEFAULT_BASE, MULTILINGUAL_SHA256: MULTILINGUAL_MODEL_NAME}
# Where `make model-multilingual` installs EmbeddingGemma-300m, relative to the working
# directory (the repository for `make serve`, /app in the image).
MULTILINGUAL_INSTALL_DIR = Path("base-models") / "embeddinggemma-300m"
# The same beside the code, for a process whose working directory is elsewhere (a Ray worker,
# a service manager's unit): the repository or /app.
_BESIDE_CODE = Path(__file__).resolve().parents[2]
# The files besides the weights that decide what an encoder reads: its configuration, tokenizer
# and sentence-transformers steps (pooling, Dense layers; config_sentence_transformers.json's
# prompts are not read: training read none, so serving reads none).
_READ_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
               "tokenizer.model", "added_tokens.json", "modules.json", "sentence_bert_config.json")


def base_reference(base_dir: Path) -> dict | None:
    """newstag.json's ``encoder`` for a model whose frozen encoder is ``base_dir`` as it ships,
    or None when ``base_dir`` is not a pinned base (its encoder is then copied)."""
    weights_sha256 = sha256_unless_unchanged(base_dir / WEIGHTS_FILE)
    name = REFERABLE_BASES.get(weights_sha256)
    if name is None:
        return None
    if weights_sha256 == DEFAULT_MODEL_SHA256:
        if base_dir.resolve() != default_model_dir().resolve():
            return None  # a copy elsewhere may carry other config or tokenizer files: copied as before
        return {"base": name, "sha256": weights_sha256}
    verify_manifest(base_dir, weights_sha256)  # installed by make model-multilingual: its Dense weights too
    return {"base": name, "sha256": weights_sha256, "path": str(base_dir.resolve()),
            "files": _read_files(base_dir)}


def _read_files(base_dir: Path) -> dict[str, str]:
    names = [n for n in _READ_FILES if (base_dir / n).is_file()]
    names += [str(p.relative_to(base_dir).as_posix()) for p in sorted(base_dir.glob("[0-9]_*/*"))
              if p.is_file()]  # 1_Pooling/config.json, 2_Dense/model.safetensors, ...
    return {name: sha256_of(base_dir / name) for name in names}


def find_base(reference: object, where: str, search: Sequence[Path] = ()) -> Path:
    """The directory of the base ``reference`` (newstag.json's ``encoder``) names, checked.

    ``search``: directories to try before the one recorded at training (the service's
    NEWSTAG_MULTILINGUAL_MODEL, its default install directory). ``where`` names the manifest
    in errors.
    """
    if not isinstance(reference, dict) or reference.get("sha256") not in REFERABLE_BASES:
        names = (f"{str(reference.get('base'))[:100]!r}, SHA-256 {str(reference.get('sha256'))[:12]}...; "
                    if isinstance(reference, dict) else "")  # which base it names: an upgrade may have moved on
        raise ModelLoadError(f"{where}: its encoder is a base model newstag does not have ({names}only the embedded "
                             f"default, SHA-256 {DEFAULT_MODEL_SHA256[:12]}..., and {MULTILINGUAL_MODEL_NAME}, "
                             f"{MULTILINGUAL_SHA256[:12]}..., can be referenced): serve it with the newstag that "
                             "trained it, or train it again with this one (python -m training.finetune)")
    weights_sha256 = str(reference["sha256"])
    if weights_sha256 == DEFAULT_MODEL_SHA256:
        base = default_model_dir()
        verify_weights(base, DEFAULT_MODEL_SHA256, once=True)  # not re-hashed per model and rescan while unchanged
        return base
    files = reference.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ModelLoadError(f"{where}: its encoder reference needs 'files', a map of file names to SHA-256")
    recorded = reference.get("path")
    candidates = [*search, *([Path(recorded)] if isinstance(recorded, str) else []), MULTILINGUAL_INSTALL_DIR,
                  _BESIDE_CODE / MULTILINGUAL_INSTALL_DIR]
    tried: list[str] = []
    for directory in dict.fromkeys(c.expanduser().absolute() for c in candidates):  # in order, each once
        problem = _mismatch(directory, weights_sha256, files)
        if problem is None:
            return directory
        tried.append(f"{directory} ({problem})")
    raise ModelLoadError(
        f"{where}: its encoder is {reference.get('base', MULTILINGUAL_MODEL_NAME)} (SHA-256 {weights_sha256[:12]}...), "
        f"which the model names instead of carrying a copy, and it is not installed here: tried "
        f"{'; '.join(tried)}. Install it with `make model-multilingual` (or the image's build argument), or set "
        f"NEWSTAG_MULTILINGUAL_MODEL to its directory")


def _mismatch(directory: Path, weights_sha256: str, files: dict[str, str]) -> str | None:
    """Why ``directory`` is not the base (None: it is)."""
    weights = directory / WEIGHTS_FILE
    try:
        if not weights.is_file():
            return "not there"
        if sha256_unless_unchanged(weights) != weights_sha256:
            return "other weights"
        for name, digest in files.items():
            path = directory / name
            if Path(name).is_absolute() or ".." in Path(name).parts:
                return f"names a file outside it: {name}"
            if not path.is_file():
                return f"no {name}"
            if sha256_unless_unchanged(path) != digest:  # once per process while unchanged, at every rescan
                return f"{name} differs"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return None
