"""What one request costs the model in every pass, not only its article's windows.

A request reads the article's windows, then (for evidence, and for topics an article
covers in one sentence) candidate sentences alone, a second forward pass
(service/engine/sentence_support.py). bench.window_costs counts the windows from the
chunking alone; which sentences are read depends on the scores, so this tags the article
once in this process, as a server with the same environment would (taxonomy, matcher,
evidence; batching and the document cache off), and counts the tokens of every sequence
the encoder runs. FLOPs per sequence are bench.window_costs's a·n + b·n², so the two
counts agree on the windows. Label vectors are computed once per label set and cached in
a server, so the warm-up call takes them out of the count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.window_costs import window_flops
from service.config import Settings
from service.engine import Tagger


@dataclass(frozen=True)
class RequestCost:
    sequences: int  # every sequence the model ran, the windows included
    tokens: int  # their tokens, special tokens included, padding not
    flops: float


class RequestCosts:
    """Tags texts in this process (torch fp32) and counts what the model reads for each."""

    def __init__(self, model_dir: Path | None = None, warm_up: str = "The minister met her counterpart."):
        self.model_dir = model_dir
        self.warm_up = warm_up
        self._tagger: Tagger | None = None  # loaded on the first count: a run with no rows needs none
        self._lengths: list[int] = []
        self._memo: dict[str, RequestCost] = {}

    def _loaded(self) -> Tagger:
        if self._tagger is None:
            settings = Settings.from_env(runtime="torch", precision="fp32", batching=False, document_cache=0)
            tagger = Tagger.load(settings.engine_options())
            for each in getattr(tagger, "models", {"": tagger}).values():
                encoder = getattr(each.backend, "encoder", None)
                if encoder is not None:  # every forward pass goes through the encoder's _run_batch
                    encoder._run_batch = self._counting(encoder._run_batch)
            tagger.tag([self.warm_up])
            self._tagger = tagger
        return self._tagger

    def _counting(self, run: Callable) -> Callable:
        def counted(ids: list[list[int]]):
            self._lengths.extend(len(x) for x in ids)
            return run(ids)
        return counted

    def __call__(self, text: str) -> RequestCost:
        if text not in self._memo:
            tagger = self._loaded()
            self._lengths.clear()
            tagger.tag([text])
            lengths = list(self._lengths)
            self._memo[text] = RequestCost(len(lengths), sum(lengths),
                                           sum(window_flops(n, self.model_dir) for n in lengths))
        return self._memo[text]

    def counted(self) -> list[RequestCost]:
        """The costs of every text counted so far."""
        return list(self._memo.values())
