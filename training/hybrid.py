"""The hybrid recipe: a linear model over the frozen encoder's article vector and TF-IDF.

Each article is the mean of its window vectors (the engine's encoder, frozen) beside its
TF-IDF word and bigram features (sublinear tf, L2 norm). One class-balanced linear SVM
per label (one-vs-rest) learns from both: TF-IDF carries the rare labels' exact terms
(a label with five examples still has its vocabulary), the embedding the paraphrases.
Scores are the margins through a sigmoid (multi-label) or softmax (single-label), and
each label's threshold comes from out-of-fold scores on the training split
(thresholds.py), falling back to 0.5 (the SVM's own boundary) for rare labels. The same
out-of-fold scores choose how much the article vector weighs beside TF-IDF.

Why these choices: docs/benchmarks.md, "Hybrid head (issue #20)".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold
from sklearn.svm import LinearSVC

from service.engine.classifier import at_least_one, hybrid_embedding, probabilities
from service.engine.lexical import TOKEN_PATTERN, LexicalHead, TfidfSpec
from service.progress import progress_bar

from .data import Example
from .hybrid_settings import HybridSettings
from .thresholds import calibrate_with_fallback


@dataclass(frozen=True)
class HybridModel:
    embedding_weight: np.ndarray  # [labels, dim], the scale folded in
    lexical: LexicalHead
    bias: np.ndarray  # [labels]
    article_weight: float  # the article vector's scale it was fitted with

    def logits(self, texts: list[str], embeddings: np.ndarray) -> np.ndarray:
        """[texts, labels] margins, computed the way the service computes them (classifier.py)."""
        return embeddings @ self.embedding_weight.T + self.bias + self.lexical.logits(texts)


def fit_hybrid(texts: list[str], embeddings: np.ndarray, targets: np.ndarray, settings: HybridSettings,
               desc: str | None = None) -> HybridModel:
    """One class-balanced linear SVM per label (one-vs-rest) over TF-IDF and the article vectors."""
    weight = settings.embedding_weight
    assert weight is not None, "fit_hybrid needs a chosen embedding weight (train_hybrid chooses one)"
    vectorizer = TfidfVectorizer(ngram_range=(1, settings.ngram_max), sublinear_tf=True, min_df=settings.min_df,
                                 token_pattern=TOKEN_PATTERN, lowercase=True, dtype=np.float64)
    try:
        tfidf = vectorizer.fit_transform(texts)
    except ValueError:  # too few articles for min_df: keep every term
        vectorizer.set_params(min_df=1)
        tfidf = vectorizer.fit_transform(texts)
    features = sparse.hstack([tfidf, sparse.csr_matrix(embeddings * weight)]).tocsr()
    n_terms, n_labels = tfidf.shape[1], targets.shape[1]
    coef = np.zeros((n_labels, features.shape[1]))
    bias = np.full(n_labels, -1.0)  # a label with no positives here is never predicted
    columns = range(n_labels)
    for j in progress_bar(columns, desc=desc, unit="label", file=sys.stderr) if desc else columns:
        y = targets[:, j]
        if 0 < y.sum() < len(y):
            # class-balanced: a label's few positives weigh as much as its many negatives
            svm = LinearSVC(C=settings.c, class_weight="balanced").fit(features, y)
            coef[j], bias[j] = svm.coef_[0], svm.intercept_[0]
        elif y.sum() == len(y):
            bias[j] = 1.0
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    spec = TfidfSpec(tuple(vocabulary), np.asarray(vectorizer.idf_, dtype=np.float64), settings.ngram_max)
    return HybridModel((coef[:, n_terms:] * weight).astype(np.float32),
                       LexicalHead(spec, coef[:, :n_terms].astype(np.float32)), bias.astype(np.float32), weight)


def out_of_fold_logits(texts: list[str], embeddings: np.ndarray, targets: np.ndarray,
                       settings: HybridSettings, seed: int) -> np.ndarray:
    """Each training article scored by a model that did not see it (``settings.folds`` folds)."""
    out = np.zeros(targets.shape, dtype=np.float64)
    folds = KFold(settings.folds, shuffle=True, random_state=seed).split(texts)
    desc = f"out-of-fold scores (article vector weight {settings.embedding_weight:g})"
    for fit_rows, held in progress_bar(list(folds), desc=desc, unit="fold", file=sys.stderr):
        model = fit_hybrid([texts[i] for i in fit_rows], embeddings[fit_rows], targets[fit_rows], settings, None)
        out[held] = model.logits([texts[i] for i in held], embeddings[held])
    return out


def out_of_fold_quality(probs: np.ndarray, targets: np.ndarray, multi_label: bool, settings: HybridSettings) -> float:
    """How well out-of-fold scores decide, as the served model would decide with them.

    Single-label: macro-F1 of the best label. Multi-label: the mean of micro- and macro-F1
    with per-label thresholds fitted on these scores (and "at least one label" where every
    article has one), so a weight is judged on its frequent and its rare labels alike.
    """
    if multi_label:
        thresholds = np.asarray(calibrate_with_fallback(probs, targets, settings.min_positives))
        if settings.at_least_one and targets.sum(axis=1).min() > 0:
            probs = at_least_one(probs, thresholds)
        predicted = (probs >= thresholds).astype(targets.dtype)
    else:
        predicted = np.zeros_like(targets)
        predicted[np.arange(len(targets)), probs.argmax(axis=1)] = 1
    present = (targets.sum(axis=0) + predicted.sum(axis=0)) > 0  # macro-F1 as training.metrics counts it
    macro = float(f1_score(targets[:, present], predicted[:, present], average="macro", zero_division=0))
    if not multi_label:
        return macro
    return (float(f1_score(targets, predicted, average="micro", zero_division=0)) + macro) / 2


def choose_embedding_weight(texts: list[str], embeddings: np.ndarray, targets: np.ndarray, multi_label: bool,
                            settings: HybridSettings, seed: int) -> tuple[float, np.ndarray, dict[float, float]]:
    """(weight, its out-of-fold probabilities, each candidate's out-of-fold quality).

    Without a fixed ``settings.embedding_weight`` each candidate is scored out of fold (the
    same folds) and the best kept, ties to the larger: how much the article vectors should
    weigh beside TF-IDF differs between label sets (BBC News gains from less; Reuters'
    rare labels from more; docs/benchmarks.md).
    """
    candidates = settings.embedding_weights if settings.embedding_weight is None else (settings.embedding_weight,)
    oof = {w: probabilities(out_of_fold_logits(texts, embeddings, targets, replace(settings, embedding_weight=w),
                                               seed), multi_label) for w in candidates}
    quality = {w: out_of_fold_quality(oof[w], targets, multi_label, settings) for w in candidates}
    best = max(candidates, key=lambda w: (quality[w], w))
    return best, oof[best], quality


def train_hybrid(texts: list[str], embeddings: np.ndarray, targets: np.ndarray, multi_label: bool,
                 settings: HybridSettings, seed: int) -> tuple[HybridModel, list[float]]:
    """The model on all of ``texts``, and each label's threshold from out-of-fold scores."""
    desc = "hybrid head (linear SVM per label)"
    if len(texts) < 2 * settings.folds:  # too few to score out of fold: the largest candidate, threshold 0.5
        weight = settings.embedding_weight if settings.embedding_weight is not None else max(settings.embedding_weights)
        return fit_hybrid(texts, embeddings, targets, replace(settings, embedding_weight=weight), desc), \
            [0.5] * targets.shape[1]
    weight, oof, quality = choose_embedding_weight(texts, embeddings, targets, multi_label, settings, seed)
    if len(quality) > 1:
        print("article vector weight, out-of-fold quality: " + ", ".join(f"{w:g}: {q:.4f}" for w, q in
              quality.items()) + f"; chosen {weight:g}", file=sys.stderr, flush=True)
    model = fit_hybrid(texts, embeddings, targets, replace(settings, embedding_weight=weight), desc)
    return model, calibrate_with_fallback(oof, targets, settings.min_positives)


def article_vectors(windows: list[torch.Tensor]) -> np.ndarray:
    """[articles, dim]: each article's mean window vector, as the service computes it."""
    return np.stack([hybrid_embedding(w.numpy()) for w in windows]).astype(np.float32)


def targets_matrix(examples: list[Example], labels: list[str]) -> np.ndarray:
    """[articles, labels] 0/1, for single-label data too (one-vs-rest)."""
    index = {name: j for j, name in enumerate(labels)}
    out = np.zeros((len(examples), len(labels)), dtype=np.int64)
    for i, e in enumerate(examples):
        out[i, [index[x] for x in e.labels]] = 1
    return out


def hybrid_stage(frozen: dict[str, list[torch.Tensor]], examples: dict[str, list[Example]], labels: list[str],
                 multi_label: bool, settings: HybridSettings,
                 seed: int) -> tuple[HybridModel, list[float], np.ndarray]:
    """Train on "train" from its frozen window vectors: (model, thresholds, validation probabilities)."""
    train_vectors, validation_vectors = article_vectors(frozen["train"]), article_vectors(frozen["validation"])
    model, thresholds = train_hybrid([e.text for e in examples["train"]], train_vectors,
                                     targets_matrix(examples["train"], labels), multi_label, settings, seed)
    logits = model.logits([e.text for e in examples["validation"]], validation_vectors)
    return model, thresholds, probabilities(logits, multi_label)
