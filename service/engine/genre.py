"""Does a text read like news at all? A check of genre, before any topic is given.

The calibration (calibration.py) scores a label against a text from the text's topic: a
cookie banner is about technology, a flashlight app's description too. Telling a news
report from boilerplate on the same subject is a question of genre, and the text's vector
as a whole carries it: a logistic regression on the mean of the text's window vectors
(normalised), fitted on the calibration fit's articles (and, for all-MiniLM-L6-v2 since
session 39, their headlines alone and newstag's own short news items,
seeds/trust/news-fit-short.jsonl; since session 49 its technology, science and offbeat news
items and columns, news-fit-tech.jsonl) against newstag's own non-news texts
(seeds/trust/non-news-fit.jsonl), class-balanced. At NEWS_THRESHOLD it rejects 0.91
of the trust benchmark's held-out junk and keeps 0.99-1.00 of each news set's articles
(docs/benchmarks.md, "Trust", session 9). A text it calls non-news gets no topic in
multi-label mode and a ``not-news`` warning in every mode.

The weights belong to the model that made the vectors: one file per model version
(base weights' SHA-256 and merged adapter), its own SHA-256 pinned here, fitted by
``python -m training.fit_calibration --write-genre-check``. Models without one are not checked.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from ..errors import ModelLoadError
from .model_files import apply_umask, verify_file

GENRE_DIR = Path(__file__).with_name("genre_checks")
# Below this probability of news, a text is called non-news. At 0.5 the check alone took
# topics from 5% of the fit's tweets and 4% of its SIB-200 sentences that had a right one;
# at 0.3, 1.3% each, and the trust benchmark's junk still got no topic 0.982 of the time (the
# calibration keeps out what passes between 0.3 and 0.5; docs/benchmarks.md, "Trust").
NEWS_THRESHOLD = 0.3
# model version (as loading.load_backend names it) -> SHA-256 of its genre check file. The default
# model's two were refitted in session 32, news sites' own prompts and software licences added to
# the fit's texts: with the matcher at C 4 (fit_calibration's default), without it at C 1
# (`--genre-c 1`: at 4 it let three more of the trust benchmark's 113 junk texts through). The
# two were refitted in session 39 with headlines and short news items as news (headlines alone
# called non-news 2-12% -> 1-5%; docs/benchmarks.md, "Short news items alone"), the plain one
# still at C 1; EmbeddingGemma's are reproduced with `--articles-only`. Both refitted in session 49
# with newstag's own technology, science and offbeat news items as news: AG News called non-news
# 60 -> 56 of 7,600, Inshorts 26 -> 16 of 5,128, the trust benchmark's junk as before
# (docs/benchmarks.md, "Session 49: technology and offbeat news in the genre check's fit").
# EmbeddingGemma's without its matcher is session 20's (C 1, the fit's texts as they were then); with
# its matcher, session 37's (C 1, the fit's texts of session 32 and its non-news in 21 other languages).
PINNED_GENRE_CHECKS: dict[str, str] = {
    # all-MiniLM-L6-v2 with the topic matcher merged (the default model)
    "53aa51172d14+1e58afed": "1b55934c8d61e3a70aeed4534b396e732417c496409398f4343fc08e5d1989c6",
    # all-MiniLM-L6-v2 without the matcher (NEWSTAG_MATCHER=off)
    "53aa51172d14": "34046e2ffddb20c1303ba39829d4e59214e522ae0570acf129526234ad39bb4e",
    # EmbeddingGemma-300m (the multilingual model), its articles phrased as model_profiles.py says
    "cbf5a78393b6": "fa34ad3254c4728e71685e23b4d3bdcfae9c8a0ce04266bda4cb5950c11022d8",
    # EmbeddingGemma-300m with its own topic matcher merged (as it is served unless NEWSTAG_MATCHER=off)
    "cbf5a78393b6+4897f92c": "6cda3843a74f504b27cdb1f29f40e575aefc0dc083e0fd465c9f8e04bb753ba1",
}


# At or above this probability of news, a taxonomy with ``at_least_one_topic`` gives a text
# its best topic when none reached its threshold (tagger.py). In the window-only replay
# (bench.trust_features --at-least-one P): a right section topic on AG News 0.893 -> 0.930,
# Inshorts 0.860 -> 0.903 at 0.7 as at 0.5, but at 0.5 one more junk text of 113 got a
# topic; at 0.9 the gain was a point smaller (docs/benchmarks.md, "Trust", session 22).
SURE_NEWS = 0.7


def called_non_news(news_probability: float | None) -> bool:
    """Does the genre check call the text non-news? (None: the model has no check.)"""
    return news_probability is not None and news_probability < NEWS_THRESHOLD


def sure_news(news_probability: float | None) -> bool:
    """Is the genre check sure enough the text is news to give it a best topic? (None: no check, never.)"""
    return news_probability is not None and news_probability >= SURE_NEWS


# A text as close as this to the bare word "news" (cosine of the text vectors) says nothing
# but "news": "Breaking news", "Click here for more news", "Back to news". The linear check
# reads them as news (they point where news points), and every label, phrased "news about
# ...", then scored high: "latest news" got 11 topics of `news`. A text nearer one of its labels
# than the word keeps them ("Election news": `elections`). Set per model just above the
# highest of the shared corpora's texts (13,173 headlines alone, 5,948 articles, 1,000 tweets,
# 1,004 SIB-200 sentences; one 20 Newsgroups subject line "newss" aside): 0.573 with the
# matcher merged, 0.602 without (docs/benchmarks.md, "Texts that say only 'news'").
BARE_NEWS_COSINE: dict[str, float] = {
    "53aa51172d14+1e58afed": 0.6,  # all-MiniLM-L6-v2 with the topic matcher merged (the default)
    "53aa51172d14": 0.62,  # all-MiniLM-L6-v2 without it (NEWSTAG_MATCHER=off)
}
BARE_NEWS = "news"


@dataclass(frozen=True)
class GenreCheck:
    """``P(news) = sigmoid(weights · v + bias)``, v the text's normalised mean window vector;
    0 for a text that says nothing but "news" (``bare_news``, when measured for the model): as
    close to the bare word as the cut-off, and closer to it than to any label asked about."""

    weights: np.ndarray  # [dim]
    bias: float
    bare_news: tuple[np.ndarray, float] | None = None  # the text vector of BARE_NEWS, and its cosine cut-off

    def news_probability(self, text_vector: np.ndarray, best_label_cosine: float | None = None) -> float:
        """The probability that a text is news, from its normalised mean window vector
        (domain.document_vector; [dim]); ``best_label_cosine``: the text vector's cosine with
        the closest label it is asked about, when known."""
        if self._says_only_news(text_vector, best_label_cosine):
            return 0.0
        logit = float(text_vector.astype(np.float32) @ self.weights) + self.bias
        return float(1.0 / (1.0 + np.exp(-logit)))

    def _says_only_news(self, text_vector: np.ndarray, best_label_cosine: float | None) -> bool:
        # Closer to the bare word than to every label asked about: "Election news" is nearer to
        # `elections` than to "news" and keeps its topic, "Back to news" is nearer to "news".
        if self.bare_news is None:
            return False
        bare = float(text_vector @ self.bare_news[0])
        return bare >= self.bare_news[1] and (best_label_cosine is None or bare > best_label_cosine)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"weights": self.weights.astype(np.float32), "bias": np.array([self.bias], dtype=np.float32)},
                  str(path))
        apply_umask(path)  # shipped in the image: readable by the service's user

    @classmethod
    def load(cls, path: Path, sha256: str, dim: int) -> GenreCheck:
        verify_file(path, sha256, "genre check")
        tensors = load_file(str(path))
        weights, bias = tensors.get("weights"), tensors.get("bias")
        if weights is None or bias is None or weights.shape != (dim,) or bias.shape != (1,):
            raise ModelLoadError(f"{path}: needs weights [{dim}] and a bias")
        return cls(weights.astype(np.float32), float(bias[0]))


def file_for(model_version: str) -> Path:
    return GENRE_DIR / f"{model_version.replace('+', '-')}.safetensors"


@functools.cache
def genre_check_for(model_version: str, dim: int) -> GenreCheck | None:
    """The genre check pinned for this model version (checked against its SHA-256), or None."""
    sha256 = PINNED_GENRE_CHECKS.get(model_version)
    return GenreCheck.load(file_for(model_version), sha256, dim) if sha256 is not None else None
