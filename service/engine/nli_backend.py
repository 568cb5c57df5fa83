"""Zero-shot scoring by natural language inference, through transformers' pipeline.

For users who have an NLI model (bart-large-mnli, a DeBERTa NLI model, ...) on disk.
Each window of the article is a premise and "This article is about {label}." the
hypothesis; a label's score is its entailment probability (entailment against
contradiction, as the pipeline's multi-label mode computes it) in its best window.
Evidence sentences are scored the same way, only for the labels that are returned and
only within each label's best window, since every (sentence, label) pair costs one
forward pass of the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from ..errors import ModelLoadError
from .chunking import PreparedDocument, prepare_document
from .model_profiles import SentenceRules
from .types import Label

# Room left in each window for the hypothesis and the separator tokens.
HYPOTHESIS_TOKENS = 48


def _entailment(pipe, premises: list[str], names: list[str], template: str) -> np.ndarray:
    """[n_premises, n_labels] entailment probabilities, in the order of ``names``."""
    if not premises or not names:
        return np.zeros((len(premises), len(names)))
    outputs = pipe(premises, candidate_labels=names, hypothesis_template=template, multi_label=True)
    if isinstance(outputs, dict):
        outputs = [outputs]
    column = {name: j for j, name in enumerate(names)}
    matrix = np.zeros((len(premises), len(names)))
    for i, output in enumerate(outputs):
        for name, score in zip(output["labels"], output["scores"], strict=True):
            matrix[i, column[name]] = score
    return matrix


@dataclass
class NLIScores:
    label_scores: np.ndarray
    doc: PreparedDocument
    names: list[str]
    best_window: list[int]  # per label, index of its best window
    backend: NLIBackend
    _cache: dict[int, np.ndarray] = field(default_factory=dict)
    best_window_scores: None = None  # each sentence costs a pass per label: single sentences never lift a topic
    label_prior: None = None  # no label-specific offsets in its scores
    news_probability: None = None  # no genre check (a fine-tuned model has its domain check, domain.py)

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        out = np.zeros((len(self.doc.sentences), len(label_indices)))
        for column, j in enumerate(label_indices):
            if j not in self._cache:
                window = self.doc.windows[self.best_window[j]]
                premises = [self.doc.text[s.start:s.end] for s in self.doc.sentences[window.start:window.stop]]
                scores = np.zeros(len(self.doc.sentences))
                scores[window.start:window.stop] = self.backend.entailment(premises, [self.names[j]])[:, 0]
                self._cache[j] = scores
            out[:, column] = self._cache[j]
        return out


class NLIBackend:
    kind = "nli"
    model_version = ""  # set by loading.load_backend
    languages: frozenset[str] | None = None  # set by loading.load_backend when the model card says
    fixed_labels: tuple[Label, ...] | None = None  # zero-shot: any labels
    validation_metrics: dict | None = None
    sentence_rules = SentenceRules()  # the defaults: sentences do not bring topics in with NLI
    precision = "fp32"  # the pipeline runs as loaded

    def __init__(self, model_dir: Path, hypothesis_template: str, max_tokens: int | None = None):
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True, use_safetensors=True, trust_remote_code=False
            ).eval()
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load the NLI model in {model_dir}: {exc}") from exc
        labels = {name.lower() for name in model.config.label2id}
        if not any(name.startswith("entail") for name in labels):
            raise ModelLoadError(f"{model_dir} is not an NLI model: no 'entailment' in its label2id")
        if not tokenizer.is_fast:
            raise ModelLoadError(f"{model_dir} needs a fast tokenizer (tokenizer.json) for offsets")
        self.tokenizer = tokenizer
        self.pipe = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=-1)
        limit = min(int(tokenizer.model_max_length), int(getattr(model.config, "max_position_embeddings", 512)))
        self.max_tokens = min(limit, max_tokens or limit) - HYPOTHESIS_TOKENS
        self.template = hypothesis_template
        self.model_name = model_dir.name

    def prepare(self, text: str) -> PreparedDocument:
        return prepare_document(text, self.tokenizer, self.max_tokens)

    def entailment(self, premises: list[str], names: list[str]) -> np.ndarray:
        return _entailment(self.pipe, premises, names, self.template)

    def score(self, docs: list[PreparedDocument], labels: list[Label],
              deadline: float | None = None) -> list[NLIScores]:
        # The NLI pipeline runs in the caller's thread, not through the micro-batcher: there
        # is no queue to give up on, so the deadline does not apply.
        names = [label.name for label in labels]
        out = []
        for doc in docs:
            windows = [doc.window_text_span(w) for w in doc.windows]
            per_window = self.entailment([doc.text[s.start:s.end] for s in windows], names)
            if per_window.shape[0] == 0:
                out.append(NLIScores(np.zeros(len(names)), doc, names, [0] * len(names), self))
                continue
            out.append(NLIScores(per_window.max(axis=0), doc, names, list(per_window.argmax(axis=0)), self))
        return out
