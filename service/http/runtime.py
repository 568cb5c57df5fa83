"""The per-worker tagging runtime: loads the model off the request path, tracks readiness,
and admits requests behind a bounded queue with a time limit.

The model itself runs one forward pass at a time per worker, because torch already uses
every core it was given (gunicorn.conf.py sizes torch threads per worker): with batching
on, the encoder's batching thread merges concurrent requests' windows; with it off, one
request at a time has the model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from ..config import Settings
from ..engine import NewstagError, Tagger, TaxonomyRegistry
from ..engine.batching import deadline, remaining_time
from ..engine.errors import DeadlineExceeded
from ..engine.routing import RoutedTagger
from ..engine.trained_models import TrainedModels
from .problems import NotFound, NotReady, Overloaded

T = TypeVar("T")
log = logging.getLogger("newstag.runtime")
WARM_UP_TEXT = "Ministers met to discuss trade and the economy. The football season starts next week."


class TaggerRuntime:
    def __init__(self, settings: Settings, tagger: Tagger | None = None):
        self.settings = settings
        # Taxonomies load now, so a broken file stops start-up with its name.
        self.taxonomies = tagger.taxonomies if tagger else TaxonomyRegistry.load(settings.taxonomies_dir)
        self.taxonomies.get(settings.taxonomy)
        self._tagger = tagger
        self.trained = TrainedModels(settings.models_dir, settings, self.taxonomies) if settings.models_dir else None
        self.model_errors: dict[str, str] = {}
        self._generation = 0  # the last reload generation this worker has applied
        self._ready = threading.Event()
        self.error: str | None = None
        self._slot = threading.Semaphore(1)
        self._waiting = 0
        self._waiting_lock = threading.Lock()

    # Loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model (unless given) and run one warm-up inference; never raises."""
        try:
            if self._tagger is None:
                from ..engine.routing import load_tagger

                self._tagger = load_tagger(self.settings, self.taxonomies)
            for tagger in self._served().values():
                tagger.tag([WARM_UP_TEXT])
            self._generation = self._shared_generation()
            self._scan_trained()
        except NewstagError as exc:
            self.error = str(exc)
            log.error("model failed to load: %s", exc)
            return
        except Exception as exc:  # a worker must keep answering /readyz with the reason
            self.error = f"model failed to load: {type(exc).__name__}"
            log.exception("model failed to load")
            return
        self._ready.set()
        log.info("model ready: %s, precision %s", self._tagger.backend.model_name, self._tagger.backend.precision)

    def start_loading(self) -> None:
        threading.Thread(target=self.load, name="newstag-model-loader", daemon=True).start()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    # Models --------------------------------------------------------------------------

    @property
    def default_name(self) -> str | None:
        return self._tagger.backend.model_name if self._tagger else None

    def _served(self) -> dict[str, Tagger]:
        """The default model's tagger and, with routing by language, the multilingual one's, by name."""
        if self._tagger is None:
            return {}
        return dict(self._tagger.models) if isinstance(self._tagger, RoutedTagger) else {
            self._tagger.backend.model_name: self._tagger}

    def taggers(self) -> dict[str, Tagger]:
        """Loaded, ready taggers by model name: the default one, the multilingual one, then fine-tuned ones.

        Each tags with its own model only; the tagger that routes by language is ``get(None)``.
        """
        if not self._tagger or not self.ready:
            return {}
        return {**self._served(), **(self.trained.taggers() if self.trained else {})}

    # Reloading fine-tuned models -----------------------------------------------------

    def _scan_trained(self) -> None:
        if self.trained is not None:
            self.model_errors = self.trained.scan(set(self._served()))

    def _generation_file(self):
        return self.settings.run_dir / "models-generation" if self.settings.run_dir else None

    def _shared_generation(self) -> int:
        path = self._generation_file()
        try:
            return int(path.read_text()) if path else 0
        except (OSError, ValueError):
            return 0

    def reload(self) -> dict[str, str]:
        """Rescan the models directory here, and tell the other workers to do the same."""
        self._scan_trained()
        path = self._generation_file()
        if path is not None:
            with self._waiting_lock:
                self._generation = self._shared_generation() + 1
                tmp = path.with_suffix(f".{threading.get_ident()}")
                tmp.write_text(str(self._generation))
                tmp.replace(path)  # atomic, so no worker reads half a number
        return self.model_errors

    def _follow_reloads(self) -> None:
        """Apply a reload another worker announced (one stat and a tiny read per request)."""
        if self.settings.run_dir is None or self.trained is None:
            return
        shared = self._shared_generation()
        if shared > self._generation:
            self._generation = shared
            self._scan_trained()

    def get(self, name: str | None) -> Tagger:
        # A request that reaches a worker still loading its model waits for it (within the
        # request timeout) rather than fail: another worker may already have said ready.
        if not self.ready and self.error is None:
            self.wait_ready(self.settings.request_timeout)
        if not self.ready or self._tagger is None:
            raise NotReady(self.error or "the model is still loading; retry shortly",
                           headers={"Retry-After": "5"})
        self._follow_reloads()
        taggers = self.taggers()
        if name is None:
            return self._tagger
        if name not in taggers:
            raise NotFound(f"no loaded model named {name!r} (loaded: {', '.join(sorted(taggers))})")
        return taggers[name]

    # Admission -----------------------------------------------------------------------

    def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` within the request time limit; 503 when too many wait or time runs out.

        With batching on, concurrent jobs run together: the encoder's batching thread merges
        their windows into shared forward passes. With it off, one job at a time has the model.
        """
        with self._waiting_lock:
            if self._waiting >= self.settings.max_queue:
                raise Overloaded(f"{self._waiting} requests are already waiting; retry shortly",
                                 headers={"Retry-After": "1"})
            self._waiting += 1
        try:
            with deadline(self.settings.request_timeout):
                return job() if self.settings.batching else self._one_at_a_time(job)
        except DeadlineExceeded:
            raise Overloaded(f"the model was busy for {self.settings.request_timeout:g} s; retry shortly",
                             headers={"Retry-After": "2"}) from None
        finally:
            with self._waiting_lock:
                self._waiting -= 1

    def _one_at_a_time(self, job: Callable[[], T]) -> T:
        left = remaining_time()
        if not self._slot.acquire(timeout=None if left is None else max(left, 0.0)):
            raise DeadlineExceeded("the model stayed busy past the request time limit")
        try:
            return job()
        finally:
            self._slot.release()
