"""Fine-tuned models found in a directory, loaded at start and rescanned on reload.

A rescan builds a new name -> Tagger mapping and swaps it in one assignment, so a
request sees either the old set or the new one; the taggers it no longer holds are then
closed, so their models can be freed. A model whose directory is unchanged (same
checksums, newstag.json, metrics.json and labels) is reused; one whose directory is now
broken or tampered with keeps serving its loaded version, and the error is reported. So
do all of them when the models directory itself is missing or unreadable at a rescan.
Which models a worker offers, and when it looks again, is a serving concern: this lives
beside the runtime, and the engine only ever loads the one directory it is given.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from ..engine import Tagger, TaxonomyRegistry
from ..engine.classifier import ClassifierBackend
from ..engine.classifier_dir import MANIFEST_FILE, ClassifierFiles, is_classifier_dir, read_classifier_dir
from ..engine.routing import base_search_path
from ..errors import NewstagError
from ..options import EngineOptions

log = logging.getLogger("newstag.models")


class TrainedModels:
    def __init__(self, directory: Path, options: EngineOptions, taxonomies: TaxonomyRegistry):
        self.directory = directory
        self.options = options
        self.taxonomies = taxonomies
        self._models: dict[str, Tagger] = {}
        self._lock = threading.Lock()  # one rescan at a time
        self._bases = base_search_path(options.multilingual_model)  # where a referenced base may be

    def taggers(self) -> dict[str, Tagger]:
        return self._models

    def scan(self, reserved: set[str] | None = None) -> dict[str, str]:
        """Rescan the directory; returns {model name: error} for directories not loaded."""
        with self._lock:
            current = self._models
            found: dict[str, Tagger] = {}
            errors: dict[str, str] = {}
            try:
                listed = sorted(p for p in self.directory.iterdir() if not p.name.startswith("."))
            except OSError as exc:
                # Missing for a moment (a deploy swapping it) or unreadable: the models loaded
                # keep serving, as a broken directory's does, and the error is listed.
                why = "is not a directory" if isinstance(exc, FileNotFoundError | NotADirectoryError) \
                    else f"cannot be read: {type(exc).__name__}: {exc.strerror or exc}"
                kept = f"; the models loaded keep serving ({', '.join(sorted(current))})" if current else ""
                errors["(models directory)"] = f"{self.directory} {why}{kept}"
                log.error("models directory %s %s%s", self.directory, why, kept)
                return errors
            for path in listed:
                name = path.name
                try:  # reading the entry can fail too (a directory this user cannot search: PermissionError)
                    if not path.is_dir():
                        continue
                    if reserved and name in reserved:
                        errors[name] = "the name of the default (or multilingual) model; rename the directory"
                        continue
                    if not is_classifier_dir(path):
                        errors[name] = f"not a newstag model directory (no {MANIFEST_FILE})"
                        continue
                    found[name] = self._load(path, current.get(name))
                except Exception as exc:  # one bad directory must not stop the others, or the service
                    errors[name] = str(exc) if isinstance(exc, NewstagError) else \
                        f"cannot be loaded: {type(exc).__name__}: {exc}"
                    if isinstance(exc, NewstagError):
                        log.error("model %s rejected: %s", name, exc)
                    else:
                        log.exception("model %s rejected", name)
                    if name in current:
                        found[name] = current[name]  # the loaded version keeps serving
            self._models = found  # the swap: one assignment
            self._close_unused(current, found)
            return errors

    @staticmethod
    def _close_unused(old: dict[str, Tagger], new: dict[str, Tagger]) -> None:
        """Close the taggers the swap replaced or removed: their batching threads end once the
        work queued for them is done, and their models can be freed (each held ~70 MB and a
        thread for as long as the process lived). A request that picked one just before the
        swap still gets its answer, computed in its own thread (MicroBatcher.close)."""
        kept = set(map(id, new.values()))
        for tagger in old.values():
            if id(tagger) not in kept:
                tagger.close()

    def _load(self, path: Path, loaded: Tagger | None) -> Tagger:
        files = read_classifier_dir(path, self._bases)  # checks the checksums, every rescan
        if (loaded is not None and isinstance(loaded.backend, ClassifierBackend)
                and _same_model(files, loaded.backend.files)):
            return loaded  # the same files: keep the loaded model
        backend = ClassifierBackend.load(path, self.options.model.encoder, files)
        tagger = Tagger(backend, self.taxonomies, self.options.tagger)
        try:
            tagger.tag(["Warm-up text for a newly loaded model."])
        except BaseException:
            tagger.close()  # its batching thread started with the warm-up: it would keep the model alive
            raise
        log.info("model loaded: %s", path.name)
        return tagger


def _same_model(new: ClassifierFiles, loaded: ClassifierFiles) -> bool:
    """Does a rescan find what is loaded? The checksums cover the weights and labels, but
    newstag.json's other settings (max_tokens) and metrics.json are read as they stand: a
    change to them alone must load the model again too (it was kept, serving the old ones)."""
    return (_canonical(new.manifest) == _canonical(loaded.manifest)
            and _canonical(new.metrics) == _canonical(loaded.metrics)
            and new.labels == loaded.labels and new.multi_label == loaded.multi_label
            and new.at_least_one == loaded.at_least_one)


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True)  # NaN written as NaN: equal to itself, unlike the float
