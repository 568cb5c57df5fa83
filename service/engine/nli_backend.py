"""Zero-shot scoring by natural language inference, for users with an NLI model on disk.

bart-large-mnli, a DeBERTa NLI model, ...: each window of the article is a premise and
"This article is about {label}." the hypothesis; a label's score is its entailment
probability in its best window, entailment weighed against contradiction (softmax over
those two logits, as transformers' zero-shot pipeline does in multi-label mode; a
two-class model's other class is its contradiction). Every (premise, label) pair costs a
forward pass, so evidence sentences are read only against the labels they are candidates
for (``pairwise``), and the request's deadline is checked between batches of pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from ..errors import DeadlineExceeded, ModelLoadError
from .chunking import PreparedDocument, prepare_document
from .model_profiles import SentenceRules
from .nli_config import check_nli_config, class_ids
from .tokenizer import load_tokenizer
from .types import Label

# Room left in each window for the hypothesis and the separator tokens.
HYPOTHESIS_TOKENS = 48
# Fewest tokens of article a window may hold beside the hypothesis: fewer cut words apart.
MIN_PREMISE_TOKENS = 16
PAIRS_PER_BATCH = 16  # (premise, hypothesis) pairs per forward pass; the deadline is checked between them
_PRECISIONS = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


@dataclass
class NLIScores:
    label_scores: np.ndarray
    doc: PreparedDocument
    names: list[str]
    best_window: list[int]  # per label, index of its best window
    backend: NLIBackend
    deadline: float | None = None
    _cache: dict[int, np.ndarray] = field(default_factory=dict)
    best_window_scores: None = None  # each sentence costs a pass per label: single sentences never lift a topic
    label_prior: None = None  # no label-specific offsets in its scores
    news_probability: None = None  # no genre check (a fine-tuned model has its domain check, domain.py)
    outside_domain: bool = False

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        out = np.zeros((len(self.doc.sentences), len(label_indices)))
        for column, j in enumerate(label_indices):
            if j not in self._cache:
                window = self.doc.windows[self.best_window[j]]
                premises = [self.doc.text[s.start:s.end] for s in self.doc.sentences[window.start:window.stop]]
                scores = np.zeros(len(self.doc.sentences))
                scores[window.start:window.stop] = self.backend.entailment(premises, [self.names[j]],
                                                                           self.deadline)[:, 0]
                self._cache[j] = scores
            out[:, column] = self._cache[j]
        return out


class NLIBackend:
    kind = "nli"
    pairwise = True  # a label's score does not depend on the others: read only the pairs asked for
    model_version = ""  # set by loading.load_backend
    languages: frozenset[str] | None = None  # set by loading.load_backend when the model card says
    fixed_labels: tuple[Label, ...] | None = None  # zero-shot: any labels
    validation_metrics: dict | None = None
    sentence_rules = SentenceRules()  # the defaults: sentences do not bring topics in with NLI

    def __init__(self, model_dir: Path, hypothesis_template: str, max_tokens: int | None = None):
        check_nli_config(model_dir)  # before transformers loads it (and prints its load report)
        try:
            tokenizer = load_tokenizer(model_dir)
            model, info = AutoModelForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True, use_safetensors=True, trust_remote_code=False,
                output_loading_info=True)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load the NLI model in {model_dir}: {exc}") from exc
        self.entail_id, self.contra_id = class_ids(model.config.label2id, model_dir)
        missing = [key for key in info.get("missing_keys", ()) if not key.endswith("position_ids")]
        if missing:
            # transformers fills missing weights at random: each start would score differently.
            raise ModelLoadError(f"{model_dir} lacks weights its architecture needs ({', '.join(sorted(missing)[:3])}"
                                 f"{', ...' if len(missing) > 3 else ''}): not a trained NLI classifier")
        if not tokenizer.is_fast:
            raise ModelLoadError(f"{model_dir} needs a fast tokenizer (tokenizer.json) for offsets")
        self.tokenizer = tokenizer
        self.model = model.eval()
        self.precision = _PRECISIONS.get(model.dtype, str(model.dtype))  # as the checkpoint was saved
        self.pair_limit = min(int(tokenizer.model_max_length), int(getattr(model.config, "max_position_embeddings",
                                                                          512)))
        self.max_tokens = min(self.pair_limit, max_tokens or self.pair_limit) - HYPOTHESIS_TOKENS
        if self.max_tokens < MIN_PREMISE_TOKENS:
            raise ModelLoadError(f"a window of {min(self.pair_limit, max_tokens or self.pair_limit)} tokens leaves "
                                 f"no room for the article beside the hypothesis ({HYPOTHESIS_TOKENS} tokens): "
                                 f"set NEWSTAG_MAX_TOKENS to at least {HYPOTHESIS_TOKENS + MIN_PREMISE_TOKENS}")
        self.template = hypothesis_template
        self.model_name = model_dir.name

    def prepare(self, text: str) -> PreparedDocument:
        return prepare_document(text, self.tokenizer, self.max_tokens)

    def entailment(self, premises: list[str], names: list[str], deadline: float | None = None) -> np.ndarray:
        """[n_premises, n_labels] entailment probabilities, in the order of ``names``."""
        pairs = [(p, self.template.format(name)) for p in premises for name in names]
        out = np.zeros(len(pairs))
        for start in range(0, len(pairs), PAIRS_PER_BATCH):
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("the NLI model ran past the request time limit")
            batch = pairs[start:start + PAIRS_PER_BATCH]
            inputs = self.tokenizer([p for p, _ in batch], [h for _, h in batch], truncation=True,
                                    max_length=self.pair_limit, padding=True, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**inputs).logits.float()
            two = torch.softmax(logits[:, [self.contra_id, self.entail_id]], dim=-1)
            out[start:start + len(batch)] = two[:, 1].numpy()
        return out.reshape(len(premises), len(names))

    def score(self, docs: list[PreparedDocument], labels: list[Label],
              deadline: float | None = None) -> list[NLIScores]:
        # The pairs run in the caller's thread, not through the micro-batcher; the deadline is
        # checked between batches of pairs.
        names = [label.name for label in labels]
        out: list[NLIScores] = []
        seen: dict[str, NLIScores] = {}  # the same text twice in one call is read once
        for doc in docs:
            if doc.text in seen:
                out.append(seen[doc.text])
                continue
            windows = [doc.window_text_span(w) for w in doc.windows]
            per_window = self.entailment([doc.text[s.start:s.end] for s in windows], names, deadline)
            if per_window.shape[0] == 0:
                scores = NLIScores(np.zeros(len(names)), doc, names, [0] * len(names), self, deadline)
            else:
                scores = NLIScores(per_window.max(axis=0), doc, names, list(per_window.argmax(axis=0)), self, deadline)
            seen[doc.text] = scores
            out.append(scores)
        return out

    def score_pairs(self, docs: list[PreparedDocument], labels: list[Label], wanted: list[list[int]],
                    deadline: float | None = None) -> list[np.ndarray]:
        """Each document read against only the labels ``wanted`` names for it: [len(wanted[i])] each."""
        out = []
        for doc, columns in zip(docs, wanted, strict=True):
            names = [labels[j].name for j in columns]
            windows = [doc.window_text_span(w) for w in doc.windows]
            per_window = self.entailment([doc.text[s.start:s.end] for s in windows], names, deadline)
            out.append(per_window.max(axis=0) if per_window.shape[0] else np.zeros(len(names)))
        return out
