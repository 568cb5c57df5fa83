"""The hybrid recipe: a linear model over the frozen encoder's article vector and TF-IDF.

Each article is the mean of its window vectors (the engine's encoder, frozen) beside its
TF-IDF word and bigram features (sublinear tf, L2 norm). One class-balanced linear SVM
per label (one-vs-rest) learns from both: TF-IDF carries the rare labels' exact terms
(a label with five examples still has its vocabulary), the embedding the paraphrases.
Scores are the margins through a sigmoid (multi-label) or softmax (single-label), and
each label's threshold comes from out-of-fold scores on the training split
(thresholds.py; the mean of its cuts on three draws of the folds), with a fallback for
labels with fewer than ``min_positives`` articles: 0.5 multi-label (the SVM's own
boundary), the median of the fitted ones single-label. The same
out-of-fold scores choose how much the article vector weighs beside TF-IDF, and whether
the label names below help.

Each label's SVM may read the TF-IDF columns scaled by their log-count ratio for that label
(``nb_ratios``, Wang & Manning's NBSVM, smoothed by ``settings.nb_alpha``; whether it does is
chosen out of fold too): a term the label's articles contain far more often than the others'
starts out weighing more, so the SVM needs a smaller weight norm to use it. The scale folds
into the label's TF-IDF weights, so the served model is unchanged.

Each label's SVM also sees one feature of its own: the article vector's dot product with
the label name's vector (the zero-shot similarity, ``label_vectors``), scaled by
``settings.label_prior``. A label with a handful of examples then starts from what its
name means instead of from nothing. The feature is linear in the article vector, so its
weight folds into the label's row of ``embedding_weight``: the served model is unchanged.

Why these choices: docs/benchmarks.md, "Hybrid head (issue #20)".
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold
from sklearn.svm import LinearSVC

from service.engine.classifier import at_least_one, hybrid_embedding, probabilities
from service.engine.lexical import TOKEN_PATTERN, LexicalHead, TfidfSpec
from service.progress import progress_bar

from .data import Example
from .hybrid_settings import HybridSettings
from .thresholds import OUT_OF_FOLD, Thresholds, calibrate_with_fallback, fallback_threshold, mean_thresholds


@dataclass
class SvmTally:
    """SVM fits, and those liblinear stopped at its iteration limit short of convergence.

    On Reuters about one fit in forty stops there (a warning each: 94 in one training run,
    burying the progress bars); the recipe's figures were all measured with those fits as they
    are, so they are kept, counted, and reported in one line by :func:`train_hybrid`.
    """

    fits: int = 0
    stopped: int = 0


SVM_FITS = SvmTally()
_TALLY_LOCK = threading.Lock()


def _fit_svm(features: sparse.csr_matrix, y: np.ndarray, c: float) -> tuple[LinearSVC, bool]:
    """A class-balanced linear SVM (a label's few positives weigh as much as its many negatives),
    and whether liblinear stopped it at its iteration limit (the condition it warns on)."""
    svm = LinearSVC(C=c, class_weight="balanced").fit(features, y)
    return svm, bool(np.max(svm.n_iter_) >= svm.max_iter)


@dataclass(frozen=True)
class HybridModel:
    embedding_weight: np.ndarray  # [labels, dim], the scale folded in
    lexical: LexicalHead
    bias: np.ndarray  # [labels]
    article_weight: float  # the article vector's scale it was fitted with
    label_prior: float  # the scale of each label's own-name feature it was fitted with (0: none)
    nb_alpha: float = 0.0  # the smoothing of the log-count ratios its TF-IDF weights were fitted with (0: none)

    def logits(self, texts: list[str], embeddings: np.ndarray) -> np.ndarray:
        """[texts, labels] margins, computed the way the service computes them (classifier.py)."""
        return embeddings @ self.embedding_weight.T + self.bias + self.lexical.logits(texts)


def fit_hybrid(texts: list[str], embeddings: np.ndarray, targets: np.ndarray, settings: HybridSettings,
               desc: str | None = None, label_vectors: np.ndarray | None = None) -> HybridModel:
    """One class-balanced linear SVM per label (one-vs-rest) over TF-IDF and the article vectors.

    ``label_vectors`` ([labels, dim], the label names' unit vectors from the same encoder):
    each label's SVM also sees the article's similarity to its own name (the module's docstring).
    """
    weight = settings.embedding_weight
    assert weight is not None and settings.label_prior is not None and settings.nb_alpha is not None, \
        "fit_hybrid needs a chosen embedding weight, label prior and nb_alpha (train_hybrid chooses them)"
    vectorizer = TfidfVectorizer(ngram_range=(1, settings.ngram_max), sublinear_tf=True, min_df=settings.min_df,
                                 token_pattern=TOKEN_PATTERN, lowercase=True, dtype=np.float64)
    try:
        tfidf = vectorizer.fit_transform(texts)
    except ValueError:  # too few articles for min_df: keep every term
        vectorizer.set_params(min_df=1)
        tfidf = vectorizer.fit_transform(texts)
    embedded = sparse.csr_matrix(embeddings * weight)
    alpha = settings.nb_alpha
    present = (tfidf > 0).astype(np.float64).tocsr() if alpha else None
    n_terms, n_labels = tfidf.shape[1], targets.shape[1]
    n_features = n_terms + embedded.shape[1]
    prior = settings.label_prior if label_vectors is not None else 0.0
    own_similarity = embeddings @ label_vectors.T * prior if label_vectors is not None and prior else None
    coef = np.zeros((n_labels, n_features))
    prior_coef = np.zeros(n_labels)
    bias = np.full(n_labels, -1.0)  # a label with no positives here is never predicted

    def fit_label(j: int) -> None:
        y = targets[:, j]
        positives = int(y.sum())
        if positives == len(y):
            bias[j] = 1.0
        if not 0 < positives < len(y):
            return
        ratios = None if present is None else nb_ratios(present, y, alpha)
        lexical = tfidf if ratios is None else tfidf @ sparse.diags(ratios)
        own = [] if own_similarity is None else [sparse.csr_matrix(own_similarity[:, j:j + 1])]  # last column
        svm, stopped = _fit_svm(sparse.hstack([lexical, embedded, *own]).tocsr(), y, settings.c)
        coef[j], bias[j] = svm.coef_[0, :n_features], svm.intercept_[0]
        if ratios is not None:  # folded in: (w * r) . tfidf = w . (r * tfidf)
            coef[j, :n_terms] *= ratios
        if own_similarity is not None:
            prior_coef[j] = svm.coef_[0, -1]
        with _TALLY_LOCK:
            SVM_FITS.fits += 1
            SVM_FITS.stopped += stopped

    # liblinear trains without the GIL: labels fitted on a few threads use every core (it is
    # single-threaded itself). Its warnings are counted instead (SVM_FITS); the filters are
    # process-wide, so they are set here, around the threads, not in them.
    with warnings.catch_warnings(), ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        warnings.simplefilter("ignore", ConvergenceWarning)
        done = pool.map(fit_label, range(n_labels))
        for _ in progress_bar(done, total=n_labels, desc=desc, unit="label", file=sys.stderr) if desc else done:
            pass
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    spec = TfidfSpec(tuple(vocabulary), np.asarray(vectorizer.idf_, dtype=np.float64), settings.ngram_max)
    embedding_weight = coef[:, n_terms:] * weight
    if own_similarity is not None and label_vectors is not None:  # folded in: (e . v_j) * prior * w_j = e . (...)
        embedding_weight = embedding_weight + (prior_coef * prior)[:, None] * label_vectors
    return HybridModel(embedding_weight.astype(np.float32),
                       LexicalHead(spec, coef[:, :n_terms].astype(np.float32)), bias.astype(np.float32), weight,
                       prior, settings.nb_alpha)


def nb_ratios(present: sparse.csr_matrix, y: np.ndarray, alpha: float) -> np.ndarray:
    """[terms] each term's log-count ratio for one label: log of its smoothed share among the
    label's articles over its share among the others (``present``: [articles, terms] 0/1)."""
    p = alpha + np.asarray(present[np.flatnonzero(y)].sum(axis=0)).ravel()
    q = alpha + np.asarray(present[np.flatnonzero(y == 0)].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def out_of_fold_logits(texts: list[str], embeddings: np.ndarray, targets: np.ndarray,
                       settings: HybridSettings, seed: int, label_vectors: np.ndarray | None = None) -> np.ndarray:
    """Each training article scored by a model that did not see it (``settings.folds`` folds)."""
    out = np.zeros(targets.shape, dtype=np.float64)
    folds = KFold(settings.folds, shuffle=True, random_state=seed).split(texts)
    desc = f"out-of-fold scores (article vector weight {settings.embedding_weight:g}, label prior " \
           f"{settings.label_prior:g}, nb_alpha {settings.nb_alpha:g})"
    for fit_rows, held in progress_bar(list(folds), desc=desc, unit="fold", file=sys.stderr):
        model = fit_hybrid([texts[i] for i in fit_rows], embeddings[fit_rows], targets[fit_rows], settings, None,
                           label_vectors)
        out[held] = model.logits([texts[i] for i in held], embeddings[held])
    return out


def out_of_fold_quality(probs: np.ndarray, targets: np.ndarray, multi_label: bool, settings: HybridSettings) -> float:
    """How well out-of-fold scores decide, as the served model would decide with them.

    Single-label: macro-F1 of the best label. Multi-label: the mean of micro- and macro-F1
    with per-label thresholds fitted on these scores (and "at least one label" where every
    article has one), so a weight is judged on its frequent and its rare labels alike.
    """
    if multi_label:
        thresholds = np.asarray(calibrate_with_fallback(probs, targets, settings.min_positives).values)
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


def choose_mix(texts: list[str], embeddings: np.ndarray, targets: np.ndarray, multi_label: bool,
               settings: HybridSettings, seed: int, label_vectors: np.ndarray | None = None
               ) -> tuple[HybridSettings, np.ndarray, dict[tuple[float, float, float], float]]:
    """(the settings with the chosen article vector weight, label prior and nb_alpha, their
    out-of-fold probabilities, each candidate (weight, prior, nb_alpha)'s out-of-fold quality).

    What ``settings`` leaves open (None) is chosen: every candidate is scored out of fold
    (the same folds) and the best kept, ties to the larger weight, the smaller prior and no
    log-count ratios. How much the article vectors should weigh beside TF-IDF differs between
    label sets (BBC News gains from less; Reuters' rare labels from more), and so does whether
    the label names help (Reuters' rare labels gain, BBC News's five big ones lose a little)
    and whether the log-count ratios do (Reuters and English sets from 16 articles a label
    gain, French few-shot sets lose): docs/benchmarks.md. Without ``label_vectors`` the prior is 0.
    """
    weights = settings.embedding_weights if settings.embedding_weight is None else (settings.embedding_weight,)
    priors = (0.0,) if label_vectors is None else (
        settings.label_priors if settings.label_prior is None else (settings.label_prior,))
    alphas = settings.nb_alphas if settings.nb_alpha is None else (settings.nb_alpha,)
    candidates = [(w, p, a) for w in weights for p in priors for a in alphas]
    oof = {(w, p, a): probabilities(out_of_fold_logits(
        texts, embeddings, targets, replace(settings, embedding_weight=w, label_prior=p, nb_alpha=a), seed,
        label_vectors), multi_label) for w, p, a in candidates}
    quality = {c: out_of_fold_quality(oof[c], targets, multi_label, settings) for c in candidates}
    best = max(candidates, key=lambda c: (quality[c], c[0], -c[1], -c[2]))
    return replace(settings, embedding_weight=best[0], label_prior=best[1], nb_alpha=best[2]), oof[best], quality


def train_hybrid(texts: list[str], embeddings: np.ndarray, targets: np.ndarray, multi_label: bool,
                 settings: HybridSettings, seed: int,
                 label_vectors: np.ndarray | None = None) -> tuple[HybridModel, Thresholds]:
    """The model on all of ``texts``, and each label's threshold from out-of-fold scores
    (``label_vectors``: the label names' vectors, for each label's own-name feature)."""
    fits, stopped = SVM_FITS.fits, SVM_FITS.stopped
    trained = _model_and_thresholds(texts, embeddings, targets, multi_label, settings, seed, label_vectors)
    fits, stopped = SVM_FITS.fits - fits, SVM_FITS.stopped - stopped
    if stopped:
        print(f"hybrid head: liblinear stopped {stopped} of its {fits} SVM fits at its iteration limit short of "
              "convergence; they are kept as they are (as in every figure in docs/benchmarks.md)",
              file=sys.stderr, flush=True)
    return trained


def _model_and_thresholds(texts: list[str], embeddings: np.ndarray, targets: np.ndarray, multi_label: bool,
                          settings: HybridSettings, seed: int,
                          label_vectors: np.ndarray | None) -> tuple[HybridModel, Thresholds]:
    desc = "hybrid head (linear SVM per label)"
    if len(texts) < 2 * settings.folds:  # too few to score out of fold: the largest candidates, the fallback
        chosen = replace(settings, embedding_weight=max(settings.embedding_weights)
                         if settings.embedding_weight is None else settings.embedding_weight,
                         label_prior=max(settings.label_priors) if settings.label_prior is None
                         else settings.label_prior,
                         # ratios from a handful of articles make chance words look telling
                         nb_alpha=0.0 if settings.nb_alpha is None else settings.nb_alpha)
        n_labels = targets.shape[1]
        fallback = fallback_threshold([0.5] * n_labels, [False] * n_labels, multi_label)
        return fit_hybrid(texts, embeddings, targets, chosen, desc, label_vectors), Thresholds(
            [fallback.value] * n_labels, [int(n) for n in np.asarray(targets).sum(axis=0)], settings.min_positives,
            fallback, OUT_OF_FOLD)
    chosen, oof, quality = choose_mix(texts, embeddings, targets, multi_label, settings, seed, label_vectors)
    if len(quality) > 1:
        print("article vector weight / label prior / nb_alpha, out-of-fold quality: " + ", ".join(
            f"{w:g}/{p:g}/{a:g}: {q:.4f}" for (w, p, a), q in quality.items())
            + f"; chosen {chosen.embedding_weight:g}/{chosen.label_prior:g}/{chosen.nb_alpha:g}",
            file=sys.stderr, flush=True)
    model = fit_hybrid(texts, embeddings, targets, chosen, desc, label_vectors)
    # The chosen mix scored on more draws of the folds, so no label's cut rests on one draw.
    draws = [oof] + [probabilities(out_of_fold_logits(texts, embeddings, targets, chosen, seed + k, label_vectors),
                                   multi_label) for k in range(1, settings.threshold_draws)]
    return model, mean_thresholds([calibrate_with_fallback(p, targets, settings.min_positives, multi_label)
                                   for p in draws])


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


def mix_of(model: HybridModel, settings: HybridSettings) -> HybridSettings:
    """``settings`` with the mix ``model`` was fitted with fixed, so that a refit chooses nothing."""
    return replace(settings, embedding_weight=model.article_weight, label_prior=model.label_prior,
                   nb_alpha=model.nb_alpha)
