"""Label phrasings' vectors kept on disk between starts, for one model as it runs.

Every start embeds the installed taxonomies' topics (name, description, each keyword) and
the reference topics of the calibration. With EmbeddingGemma that took over two minutes
on 2 cores, so ``newstag tag`` of one sentence waited that long each time, and a server
as long before it was ready. The vectors depend only on the weights, the precision, the
runtime, the window size, the prompt and the engine's code, which the file's name and each
phrase's key (the prompt and the phrase) carry, so they are read back instead of computed again.

Only what a taxonomy or the calibration names is kept (callers' labels are not written
down). The file is safetensors (no pickle), written whole and renamed into place, so two
workers saving at once leave one complete file; one that cannot be read or written is
passed over with a log line: the vectors are then computed as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from .cache import user_cache_dir
from .model_files import apply_umask

log = logging.getLogger("newstag.engine")
AUTO, OFF = "auto", "off"
FORMAT = "1"


def default_store_dir() -> Path | None:
    """$XDG_CACHE_HOME/newstag/label-vectors (~/.cache/...), or None where there is no home."""
    try:
        return user_cache_dir("label-vectors")
    except RuntimeError:  # no home directory for this user (a container's uid)
        return None


def store_dir(setting: str) -> Path | None:
    """NEWSTAG_LABEL_CACHE: auto (the default directory), off, or a directory."""
    setting = setting.strip()
    if setting.lower() == OFF:
        return None
    if setting.lower() == AUTO:
        return default_store_dir()
    return Path(setting).expanduser()


class PhraseStore:
    """Vectors of label phrasings (each keyed by the prompt before it and the phrase), one file."""

    def __init__(self, path: Path, dim: int):
        self.path = path
        self.dim = dim
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._warned = False
        self._read()

    def __len__(self) -> int:
        return len(self._vectors)

    def _read(self) -> None:
        if not self.path.is_file():
            return
        try:
            with safe_open(self.path, framework="np") as handle:
                meta = handle.metadata() or {}
                vectors = handle.get_tensor("vectors")
            phrases = json.loads(meta["phrases"])  # in the rows' order
            if (meta.get("format") != FORMAT or not isinstance(phrases, list)
                    or not all(isinstance(p, str) for p in phrases)
                    or vectors.shape != (len(phrases), self.dim) or not np.isfinite(vectors).all()):
                raise ValueError("not a label-vector file of this model")
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
            log.warning("label vectors in %s are not read (%s); they are computed again", self.path, exc)
            return
        self._vectors = {p: vectors[i].astype(np.float32) for i, p in enumerate(phrases)}

    def get(self, keys: list[str]) -> list[np.ndarray | None]:
        with self._lock:
            return [self._vectors.get(k) for k in keys]

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        """Keep these too, and write the file whole, renamed into place (a directory that cannot be
        written is passed over)."""
        with self._lock:
            for key, vector in zip(keys, vectors, strict=True):
                self._vectors.setdefault(key, np.asarray(vector, dtype=np.float32))
            phrases = list(self._vectors)
            matrix = np.stack([self._vectors[p] for p in phrases]) if phrases else np.zeros((0, self.dim), np.float32)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".label-vectors-", suffix=".tmp")
            os.close(fd)
            try:
                save_file({"vectors": matrix}, temporary,
                          metadata={"format": FORMAT, "phrases": json.dumps(phrases, ensure_ascii=False)})
                # mkstemp's 0600 kept every other user of a shared directory (another machine's
                # service user, the image's uid 10001) from reading it: they embedded at each start.
                apply_umask(Path(temporary))
                os.replace(temporary, self.path)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        except OSError as exc:
            if not self._warned:  # once: a read-only image says so at every start otherwise
                log.info("label vectors not kept in %s (%s): they are computed at each start", self.path.parent, exc)
                self._warned = True


@functools.cache
def engine_code_version() -> str:
    """A digest of the engine's source: vectors made by other code (a change to pooling, the
    tokenizer's normalisation, a pipeline module) are never read back, on a developer's machine either."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:8]


_STORE_NAME = re.compile(r"-(?P<code>[0-9a-f]{8})-v(?P<format>[^-]+)\.safetensors$")
_OLD_NAME = re.compile(r"-v\d+\.safetensors$")


def stale_store(name: str) -> str | None:
    """Why this build never reads the file ``name`` of a label-vector directory (None: it may; not
    a file of ours). Files are named by the engine code that made them, so every upgrade leaves
    the last build's behind (0.6 MB a model and setting)."""
    if name.startswith(".label-vectors-") and name.endswith(".tmp"):
        return "left by an interrupted write"
    found = _STORE_NAME.search(name)
    if found is None:
        return "named by an older build (no engine code in its name)" if _OLD_NAME.search(name) else None
    if found["format"] != FORMAT:
        return f"file format v{found['format']}; this build reads v{FORMAT}"
    if found["code"] != engine_code_version():
        return f"made by another build's engine code ({found['code']}; this one's is {engine_code_version()})"
    return None


def open_store(directory: Path | None, model_version: str, how: str, dim: int) -> PhraseStore | None:
    """The store of one model as it runs (``how``: its precision, runtime and window size; None: none kept)."""
    if directory is None or not model_version:
        return None
    name = f"{model_version}-{how}-{engine_code_version()}-v{FORMAT}.safetensors"
    return PhraseStore(directory / name, dim)
