"""One loaded encoder for every fine-tuned model on the same base.

Head and hybrid models leave their base's encoder unchanged and name it instead of copying it
(base_models.py). Loaded one per model, a server with three desk models on EmbeddingGemma held
three copies of the same 1.2 GB of weights (and three batching threads, each running its own
model's windows in batches of its own). Models that read with the same base, window and
runtime options share one encoder instead: its batching thread merges their windows, and its
document cache serves all of them. Counted by reference, so a reload that replaces one model
keeps the encoder for the others, and the last model's close stops its batching thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..options import EncoderOptions
from .encoder import SentenceEncoder

Key = tuple[Path, str, int, EncoderOptions]

_lock = threading.Lock()
_shared: dict[Key, tuple[SentenceEncoder, int]] = {}


def acquire(key: Key, load: Callable[[], SentenceEncoder]) -> SentenceEncoder:
    """The encoder for ``key`` (base directory, weights SHA-256, window, options), loaded once."""
    with _lock:  # loading under the lock: a second model on the same base waits, then shares
        if key in _shared:
            encoder, users = _shared[key]
            _shared[key] = (encoder, users + 1)
            return encoder
        encoder = load()
        _shared[key] = (encoder, 1)
        return encoder


def release(encoder: SentenceEncoder) -> None:
    """One model no longer uses ``encoder``; the last one stops its batching thread (queued work
    is done first, MicroBatcher.close), and the registry forgets it so it can be freed."""
    with _lock:
        for key, (held, users) in list(_shared.items()):
            if held is encoder:
                if users > 1:
                    _shared[key] = (held, users - 1)
                    return
                del _shared[key]
                break
    if encoder.batcher is not None:
        encoder.batcher.close()


def users(encoder: SentenceEncoder) -> int:
    """How many models hold ``encoder`` through this registry (0: not shared)."""
    with _lock:
        return next((n for held, n in _shared.values() if held is encoder), 0)


def held() -> list[tuple[SentenceEncoder, int]]:
    """Every shared encoder and how many models hold it."""
    with _lock:
        return list(_shared.values())
