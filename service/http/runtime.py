"""The per-worker tagging runtime: loads the model off the request path, tracks readiness,
and says which models this worker serves.

Its two helpers have a module each: admission.py (the bounded queue and the request's
deadline) and reloads.py (telling the other workers that the models directory changed);
trained_models.py holds the fine-tuned models found in NEWSTAG_MODELS_DIR.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ..config import Settings
from ..engine import NewstagError, Tagger
from ..engine.routing import RoutedTagger
from ..engine.taxonomy import served_taxonomies
from .admission import Admission
from .problems import NotFound, NotReady
from .reloads import ReloadSignal
from .trained_models import TrainedModels

T = TypeVar("T")
log = logging.getLogger("newstag.runtime")
WARM_UP_TEXT = "Ministers met to discuss trade and the economy. The football season starts next week."
# Three sentences: read as an article, whose label phrasings a model's profile may keep apart.
WARM_UP_ARTICLE = WARM_UP_TEXT + " Prices rose in the shops."


class TaggerRuntime:
    def __init__(self, settings: Settings, tagger: Tagger | None = None):
        self.settings = settings
        self.options = settings.engine_options()
        # Taxonomies load now, so a broken file stops start-up with its name; under gunicorn, as
        # the master read them before forking (a file broken since cannot stop a restarted worker).
        self.taxonomies = (tagger.taxonomies if tagger
                           else served_taxonomies(settings.taxonomies_dir, settings.taxonomy))
        self.taxonomies.get(settings.taxonomy)
        self._tagger = tagger
        self.trained = (TrainedModels(settings.models_dir, self.options, self.taxonomies)
                        if settings.models_dir else None)
        self.model_errors: dict[str, str] = {}
        self.reloads = ReloadSignal(settings.run_dir)
        self._reload_lock = threading.Lock()
        self.admission = Admission(settings.max_queue, settings.request_timeout, settings.batching)
        self._ready = threading.Event()
        self.error: str | None = None
        self._failure_lock = threading.Lock()
        self._on_failure: Callable[[str], None] | None = None

    # Loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model (unless given) and run one warm-up inference; never raises."""
        try:
            if self._tagger is None:
                from ..engine.routing import load_tagger

                self._tagger = load_tagger(self.options, self.taxonomies)
            for tagger in self._served().values():
                self._warm_up_taxonomy(tagger, tagger.options.taxonomy, evidence=True)  # the model, evidence too
                if tagger.backend.kind == "embedding":
                    # Every other taxonomy's topic vectors now, not on a request's clock: a user's
                    # taxonomy of 2,000 topics took 15-40 s to embed, past the request time limit.
                    for name in self.taxonomies.names():
                        if name != tagger.options.taxonomy:
                            self._warm_up_taxonomy(tagger, name, evidence=False)
            self.reloads.catch_up()
            self._scan_trained()
        except NewstagError as exc:
            log.error("model failed to load: %s", exc)
            self._failed(str(exc))
            return
        except Exception as exc:  # a worker must keep answering /readyz with the reason
            log.exception("model failed to load")
            first_line = (str(exc).strip().splitlines() or [""])[0][:200]
            self._failed(f"model failed to load: {type(exc).__name__}" + (f": {first_line}" if first_line else ""))
            return
        self._ready.set()
        log.info("model ready: %s, precision %s, runtime %s", self._tagger.backend.model_name,
                 self._tagger.backend.precision, getattr(self._tagger.backend, "runtime", "torch"))

    def _warm_up_taxonomy(self, tagger: Tagger, name: str, evidence: bool) -> None:
        """Embed a taxonomy's phrasings now, saying so: each keyword is one more phrasing, and a
        taxonomy of thousands of them kept /readyz at 503 for minutes with nothing in the log."""
        labels = self.taxonomies.get(name).labels
        keywords = sum(len(label.keywords) for label in labels)
        started = time.monotonic()
        log.info("%s: embedding taxonomy %r (%d topics, %d keywords)", tagger.backend.model_name, name,
                 len(labels), keywords)
        tagger.tag([WARM_UP_TEXT, WARM_UP_ARTICLE], taxonomy=name, evidence=evidence)
        log.info("%s: taxonomy %r embedded in %.1f s", tagger.backend.model_name, name, time.monotonic() - started)

    def _failed(self, reason: str) -> None:
        with self._failure_lock:
            self.error = reason
            callback = self._on_failure
        if callback is not None:
            callback(reason)

    def when_load_fails(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` once the load has failed (at once if it already has). gunicorn's
        worker stops on it: a worker that can never be ready answered /healthz 200 and /readyz 503
        for ever, a pod no probe would restart and no log line after the first would explain."""
        with self._failure_lock:
            self._on_failure = callback
            reason = self.error
        if reason is not None:
            callback(reason)

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
        A reload another worker announced is applied first, so every endpoint of every worker
        answers with the same models once a reload has answered.
        """
        if not self._tagger or not self.ready:
            return {}
        self.apply_reloads()
        return {**self._served(), **(self.trained.taggers() if self.trained else {})}

    def apply_reloads(self) -> None:
        """Rescan if another worker announced a reload since this one last did. Called before
        a request's time limit starts (api.py) as well: loading new models is not its work."""
        # One thread rescans while this worker's others wait for it (they would otherwise go
        # on with the old models); the generation counts as applied only once the scan is done.
        if self.trained is None or not self.ready or self.reloads.behind() is None:
            return
        with self._reload_lock:
            generation = self.reloads.behind()
            if generation is not None:
                self._scan_trained()
                self.reloads.applied(generation)

    def get(self, name: str | None, deadline: float | None = None) -> Tagger:
        """The tagger for a model name (None: the default, routing by language).

        A request that reaches a worker still loading its model waits for it (until
        ``deadline``, else the request timeout) rather than fail: another worker may already
        have said ready.
        """
        if not self.ready and self.error is None:
            wait = self.settings.request_timeout if deadline is None else deadline - time.monotonic()
            self.wait_ready(max(wait, 0.0))
        if not self.ready or self._tagger is None:
            raise NotReady(self.error or "the model is still loading; retry shortly",
                           headers={"Retry-After": "5"})
        taggers = self.taggers()
        if name is None:
            return self._tagger
        if name not in taggers:
            failed = (f"; its directory did not load: {self.model_errors[name]}" if name in self.model_errors
                      else "")
            raise NotFound(f"no loaded model named {name!r} (loaded: {', '.join(sorted(taggers))}){failed}")
        return taggers[name]

    def _scan_trained(self) -> None:
        # The multilingual model left out at load (int8 without its graph, say) is named too: the
        # listing said nothing of it while every text in another language stayed on the default.
        left_out = dict(self._tagger.left_out) if self._tagger is not None else {}
        self.model_errors = {**left_out, **(self.trained.scan(set(self._served())) if self.trained else {})}

    def reload(self) -> dict[str, str]:
        """Rescan the models directory here, and tell the other workers to do the same."""
        self._scan_trained()
        self.reloads.announce()
        return self.model_errors

    # Admission -----------------------------------------------------------------------

    def run(self, job: Callable[[float], T]) -> T:
        """Run ``job(deadline)`` behind the queue and time limit (admission.py)."""
        return self.admission.run(job)
