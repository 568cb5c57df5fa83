"""Fine-tuned classifier models: scoring an article with a checked classifier directory
(its format and checks: classifier_dir.py).

The model reads an article the way the zero-shot engine does: sentence-aligned windows,
each embedded (mean-pooled, L2-normalised). A window head's label logit is its best
window's; a hybrid head scores the mean of the windows plus the text's TF-IDF features
(a linear model over both, training/hybrid.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError
from . import shared_encoders
from .calibration import sigmoid
from .chunking import PreparedDocument
from .classifier_dir import HEAD_FILE, KIND, ClassifierFiles, classifier_languages, read_classifier_dir
from .encoder import DocumentVectors, EncoderOptions, SentenceEncoder
from .model_profiles import PromptNames, SentenceRules
from .types import Label


def probabilities(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    if multi_label:
        return sigmoid(logits)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def at_least_one(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``probs`` [..., labels] where a row with no label at its threshold has its best label
    raised to that label's threshold, so it is returned (the lowest score a returned label has).

    For a multi-label model whose every training article had a label: an article is then
    never left without one (measured: docs/benchmarks.md, "Hybrid head (issue #20)").
    """
    out = np.array(probs, dtype=np.float64)
    rows = out.reshape(-1, out.shape[-1])  # a view: writes go to ``out``
    empty = np.flatnonzero(~(rows >= thresholds).any(axis=1))
    best = rows[empty].argmax(axis=1)
    rows[empty, best] = thresholds[best]
    return out


@dataclass
class ClassifierScores:
    label_scores: np.ndarray
    _sentence_scores: np.ndarray
    best_window_scores: None = None  # a fine-tuned model's scores are not lifted by single sentences
    label_prior: None = None  # no label-specific offsets in its scores
    news_probability: None = None  # no genre check (a fine-tuned model has its domain check, domain.py)
    outside_domain: bool = False  # its domain check called the text unlike every label's training articles

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        return self._sentence_scores[:, label_indices]


class ClassifierBackend:
    """Scores a fine-tuned model's own labels; other labels cannot be asked of it."""

    kind = KIND
    # Ranks evidence only (its labels are never sentence topics). No discount: the zero-shot
    # engine's (a sentence alone at 0.78 supports a topic at 0.5) is for the best of many tries
    # against a calibration; a fine-tuned model's thresholds were fitted to its own scores, and
    # with the discount no sentence of the default recipe's models ever supported its topic.
    # A sentence is evidence when its score alone reaches its label's threshold.
    sentence_rules = SentenceRules(discount=0.0)

    def __init__(self, files: ClassifierFiles, encoder: SentenceEncoder, *, shared: bool = False):
        self.files = files
        self.encoder = encoder
        self._shared = shared  # held through shared_encoders: released, not closed
        self._closed = False
        self.labels = files.labels
        self.fixed_labels: tuple[Label, ...] | None = files.labels
        self.validation_metrics: dict | None = files.metrics
        self.model_name = files.directory.name
        self.model_version = files.version
        # None (not known): no language-unsupported warnings
        self.languages: frozenset[str] | None = classifier_languages(files)
        self._thresholds = np.array([label.threshold or 0.0 for label in files.labels], dtype=np.float64)

    @classmethod
    def load(cls, directory: Path, options: EncoderOptions | None = None,
             files: ClassifierFiles | None = None, search: Sequence[Path] = ()) -> ClassifierBackend:
        """Load a classifier; ``files`` skips reading (and checksumming) the directory again;
        ``search``: where a base model it references may be installed (base_models.py)."""
        files = files or read_classifier_dir(directory, search)
        # NEWSTAG_RUNTIME applies as to the default model: on the base, the export without the
        # matcher (the head was trained on the base as it ships), shared by every such model.
        # No prompts: training read none (a referenced base's config_sentence_transformers.json
        # names EmbeddingGemma's, which a copied encoder never carried).
        max_tokens = files.manifest.get("max_tokens", 256)

        def load_encoder() -> SentenceEncoder:
            return SentenceEncoder(files.encoder_dir, max_tokens=max_tokens, options=options,
                                   weights_sha256=files.encoder_sha256, prompts=PromptNames())

        referenced = files.encoder_dir != files.directory  # a base's encoder, unchanged: one for all its models
        encoder = shared_encoders.acquire(
            (files.encoder_dir.resolve(), files.encoder_sha256, max_tokens, options or EncoderOptions()),
            load_encoder) if referenced else load_encoder()
        backend = cls(files, encoder, shared=referenced)
        if encoder.dim != files.weight.shape[1]:
            backend.close()
            raise ModelLoadError(
                f"{directory / HEAD_FILE}: head width {files.weight.shape[1]} != encoder width {encoder.dim}")
        return backend

    def close(self) -> None:
        """This model is no longer served: its encoder's batching thread stops once queued work is
        done (a shared encoder's, when no other model holds it). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._shared:
            shared_encoders.release(self.encoder)
        elif self.encoder.batcher is not None:
            self.encoder.batcher.close()

    @property
    def precision(self) -> str:
        return self.encoder.precision.name

    @property
    def runtime(self) -> str:
        """What runs the encoder: "torch" or "onnx" (NEWSTAG_RUNTIME)."""
        return self.encoder.runtime

    def prepare(self, text: str) -> PreparedDocument:
        return self.encoder.prepare(text)

    def score(self, docs: list[PreparedDocument], labels: list[Label],
              deadline: float | None = None) -> list[ClassifierScores]:
        columns = [self.labels.index(label) for label in labels]  # the Tagger only asks for own labels
        out = []
        for doc, vectors in zip(docs, self.encoder.encode_documents(docs, deadline), strict=True):
            if vectors.windows.shape[0] == 0:  # nothing to read: "none of these"
                out.append(ClassifierScores(np.zeros(len(labels)), np.zeros((vectors.sentences.shape[0], len(labels)))))
                continue
            domain = self.files.domain
            # Unlike every label's training articles: the Tagger gives it no topic in multi-label calls,
            # and a single-label call its best label by these scores (with zeros it was the first label).
            outside = domain is not None and not domain.contains(vectors.windows)
            doc_logits, sentence_logits = self._logits(doc, vectors)
            doc_probs = probabilities(doc_logits, self.files.multi_label)
            if self.files.at_least_one:  # over all its labels: asking for some of them filters the same answer
                doc_probs = at_least_one(doc_probs, self._thresholds)
            out.append(ClassifierScores(doc_probs[columns],
                                        probabilities(sentence_logits, self.files.multi_label)[:, columns],
                                        outside_domain=outside))
        return out

    def _logits(self, doc: PreparedDocument, vectors: DocumentVectors) -> tuple[np.ndarray, np.ndarray]:
        """The document's label logits [labels] and each sentence's [sentences, labels]."""
        weight, bias, lexical = self.files.weight, self.files.bias, self.files.lexical
        sentences = vectors.sentences @ weight.T + bias
        if lexical is None:
            return (vectors.windows @ weight.T + bias).max(axis=0), sentences
        # Hybrid: the mean window (as training.hybrid embeds an article) plus the text's TF-IDF.
        texts = [doc.text, *(doc.text[s.start:s.end] for s in doc.sentences)]
        lexical_logits = lexical.logits(texts)
        return (hybrid_embedding(vectors.windows) @ weight.T + bias + lexical_logits[0],
                sentences + lexical_logits[1:])


def hybrid_embedding(windows: np.ndarray) -> np.ndarray:
    """A hybrid model's article vector: the mean of its unit window vectors (training uses this too)."""
    return windows.mean(axis=0) if len(windows) else np.zeros(windows.shape[1], dtype=np.float32)
