"""Zero-shot scoring by sentence embeddings: cosine similarity of windows and labels.

Each window is compared with every label and with a fixed bank of reference topics; the
calibration (calibration.py) turns those similarities into a score per label, each
feature averaged over the text's windows. Sentence similarities come from the same
forward pass, rank the candidate evidence and, in taxonomies with sentence topics, let
a passage bring in a topic the article as a whole does not lean to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .calibration import (
    Calibration,
    label_hubness,
    logit,
    over_windows,
    pair_features,
    reference_topics,
    rivals,
)
from .calibration_fits import DEFAULT_CALIBRATION
from .chunking import PreparedDocument
from .domain import document_vector
from .encoder import DocumentVectors, SentenceEncoder
from .genre import GenreCheck
from .label_vectors import TEMPLATE, LabelVectorCache, Template
from .language import UNDETERMINED, label_set_language_among
from .model_profiles import SentenceRules
from .phrase_store import PhraseStore
from .types import Label


@dataclass(frozen=True)
class Similarities:
    """Raw cosines of one document: windows and sentences against labels and reference topics."""

    windows: np.ndarray  # [n_windows, n_labels]
    sentences: np.ndarray  # [n_sentences, n_labels]
    window_reference: np.ndarray  # [n_windows, n_reference]
    sentence_reference: np.ndarray  # [n_sentences, n_reference]
    label_hubness: np.ndarray  # [n_labels] each label's closeness to the reference topics
    text_vector: np.ndarray  # [dim] the normalised mean of the window vectors (domain.document_vector)
    news_probability: float | None = None  # the genre check's (genre.py); None: not checked


@dataclass
class EmbeddingScores:
    label_scores: np.ndarray
    similarities: Similarities
    calibration: Calibration
    competing: np.ndarray | None
    best_window_scores: np.ndarray  # [n_labels] each label's score in the window that favours it most
    # [n_labels] what Calibration.flat_set_scores took off each label's logit (0 for the best label
    # and outside flat sets): it says where a label stands among the others, not what the text says
    rank_offsets: np.ndarray | None = None
    outside_domain: bool = False  # the zero-shot engine has no training articles to be unlike

    @property
    def news_probability(self) -> float | None:
        return self.similarities.news_probability

    @cached_property
    def label_prior(self) -> np.ndarray:
        # A single-label choice leaves out both the labels' broadness and the flat-set rescaling:
        # with the rescaling, AG News label-name macro-F1 fell 0.8509 -> 0.8485 (docs/benchmarks.md, "Trust").
        prior = self.calibration.label_prior(self.similarities.label_hubness)
        return prior if self.rank_offsets is None else prior + self.rank_offsets

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        """Each sentence in context, scored as if it were a text of its own (ranks evidence)."""
        return self._all_sentence_scores[:, label_indices]

    @cached_property
    def _all_sentence_scores(self) -> np.ndarray:
        # Every label at once (gap and margin need them all), once per document.
        s = self.similarities
        if s.sentences.shape[0] == 0:
            return np.zeros((0, s.windows.shape[1]))
        return self.calibration.row_scores(s.sentences, s.sentence_reference, s.label_hubness, self.competing)


class EmbeddingBackend:
    kind = "embedding"
    model_version = ""  # set by loading.load_backend
    languages: frozenset[str] | None = None  # set by loading.load_backend when the model card says
    fixed_labels: tuple[Label, ...] | None = None  # zero-shot: any labels
    validation_metrics: dict | None = None
    sentence_rules = SentenceRules()  # loading.load_backend sets the profile's
    genre_check: GenreCheck | None = None  # loading.load_backend sets the one pinned for the weights

    def __init__(self, encoder: SentenceEncoder, model_name: str, calibration: Calibration = DEFAULT_CALIBRATION,
                 label_template: Template = TEMPLATE, article_template: Template | None = None,
                 article_min_sentences: int = 3, own_language_templates: Mapping[str, Template] | None = None):
        self.encoder = encoder
        self.model_name = model_name
        self.calibration = calibration
        self.label_vectors = LabelVectorCache(encoder, template=label_template)
        # Articles (texts of article_min_sentences or more) may read labels phrased another way (model_profiles.py).
        self.article_vectors = (LabelVectorCache(encoder, template=article_template)
                                if article_template is not None else None)
        self.article_min_sentences = article_min_sentences
        # Labels named in one of these languages read the template in that language, as sentences.
        self.own_language_vectors = {language: LabelVectorCache(encoder, template=template)
                                     for language, template in (own_language_templates or {}).items()}
        self._reference: dict[str, np.ndarray] = {}

    def rephrased(self, label_template: Template, article_template: Template | None,
                  own_language_templates: Mapping[str, Template] | None = None) -> EmbeddingBackend:
        """The same model, calibration, rules and genre check with labels phrased anew (fresh label
        vectors): how benchmarks compare templates and prompts on one loaded model."""
        fresh = EmbeddingBackend(self.encoder, self.model_name, self.calibration, label_template, article_template,
                                 self.article_min_sentences, own_language_templates)
        fresh.model_version, fresh.languages = self.model_version, self.languages
        fresh.sentence_rules, fresh.genre_check = self.sentence_rules, self.genre_check
        return fresh

    @property
    def precision(self) -> str:
        return self.encoder.precision.name

    @property
    def runtime(self) -> str:
        """What runs the encoder: "torch" or "onnx" (NEWSTAG_RUNTIME, engine/onnx_runtime.py)."""
        return self.encoder.runtime

    def keep_labels(self, labels: Iterable[Label]) -> None:
        """Keep these labels' vectors for good once computed, in every phrasing (an installed
        taxonomy's topics: never evicted by the labels callers name)."""
        labels = tuple(labels)
        for cache in (self.label_vectors, self.article_vectors, *self.own_language_vectors.values()):
            if cache is not None:
                cache.keep(labels)

    def keep_phrasings_in(self, store: PhraseStore | None) -> None:
        """Read and add the taxonomies' and reference topics' phrasings in ``store`` (loading.py)."""
        for cache in (self.label_vectors, self.article_vectors, *self.own_language_vectors.values()):
            if cache is not None:
                cache.store = store

    def label_cache(self, phrasing: str = "sentence") -> LabelVectorCache:
        """The label vectors texts read as a sentence, or as an article (when the profile phrases them
        apart), or those phrased in the labels' own language (a language code)."""
        if phrasing in self.own_language_vectors:
            return self.own_language_vectors[phrasing]
        if phrasing == "article" and self.article_vectors is not None:
            return self.article_vectors
        return self.label_vectors

    def reference_matrix(self, deadline: float | None = None, phrasing: str = "sentence") -> np.ndarray:
        """[n_reference, dim] unit vectors of the reference topics phrased as labels, embedded once."""
        if phrasing not in self._reference:
            topics = [Label(name) for name in reference_topics()]
            self._reference[phrasing] = self.label_cache(phrasing).embed(topics, deadline, stored=True)
        return self._reference[phrasing]

    def prepare(self, text: str) -> PreparedDocument:
        return self.encoder.prepare(text)

    def labels_language(self, labels: list[Label]) -> str:
        """The language the labels are named in, when the profile phrases labels in it; else "und"."""
        return label_set_language_among(tuple(lab.name for lab in labels), self.own_language_vectors)

    def phrasing_for(self, doc: PreparedDocument, labels_language: str = UNDETERMINED) -> str:
        """How a document reads its labels: "article" (article_min_sentences or more, when the
        profile phrases labels apart for articles); else in the labels' language (its code),
        when the profile has a template in it; else "sentence"."""
        if self.article_vectors is not None and len(doc.sentences) >= self.article_min_sentences:
            return "article"
        return labels_language if labels_language in self.own_language_vectors else "sentence"

    def similarities(self, docs: list[PreparedDocument], labels: list[Label],
                     deadline: float | None = None) -> list[Similarities]:
        language = self.labels_language(labels)
        kinds = [self.phrasing_for(doc, language) for doc in docs]
        phrased = {}
        for kind in dict.fromkeys(kinds):
            label_matrix = self.label_cache(kind).vectors(labels, deadline)
            reference = self.reference_matrix(deadline, kind)
            phrased[kind] = (label_matrix, reference, label_hubness(label_matrix @ reference.T, labels))
        return [self._similarities(v, *phrased[kind])
                for kind, v in zip(kinds, self.encoder.encode_documents(docs, deadline), strict=True)]

    def _similarities(self, vectors: DocumentVectors, labels: np.ndarray, reference: np.ndarray,
                      hubness: np.ndarray) -> Similarities:
        text = document_vector(vectors.windows) if len(vectors.windows) else np.zeros(labels.shape[1], np.float32)
        best_label = float((text @ labels.T).max()) if labels.shape[0] else None
        news = self.genre_check.news_probability(text, best_label) if self.genre_check is not None else None
        return Similarities(vectors.windows @ labels.T, vectors.sentences @ labels.T,
                            vectors.windows @ reference.T, vectors.sentences @ reference.T, hubness, text, news)

    def score(self, docs: list[PreparedDocument], labels: list[Label],
              deadline: float | None = None) -> list[EmbeddingScores]:
        out = []
        competing = rivals(labels)
        for sims in self.similarities(docs, labels, deadline):
            if sims.windows.shape[0] == 0:  # nothing the tokenizer could read: no topic
                scores = best_window = np.zeros(len(labels))
            else:
                per_window = pair_features(sims.windows, sims.window_reference, sims.label_hubness, competing)
                scores = self.calibration.scores(over_windows(per_window))
                best_window = self.calibration.scores(per_window).max(axis=0)
            offsets = None
            if competing is None:  # a flat label set: labels behind the best are mostly alternatives to it
                rescaled = self.calibration.flat_set_scores(scores)
                offsets, scores = logit(rescaled) - logit(scores), rescaled
            out.append(EmbeddingScores(scores, sims, self.calibration, competing, best_window, offsets))
        return out
