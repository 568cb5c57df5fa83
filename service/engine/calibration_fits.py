"""The calibrations fitted for the models newstag ships, pinned by model version.

Each was fitted by ``python -m training.fit_calibration`` (the command beside it; the runs
are in docs/benchmarks.md); the formula and its features are in calibration.py.
"""

from __future__ import annotations

from .calibration import Calibration
from .model_files import DEFAULT_MODEL_SHA256, MATCHER_SHA256, MULTILINGUAL_MATCHER_SHA256, MULTILINGUAL_SHA256

# Fitted by `python -m training.fit_calibration` (the runs are in docs/benchmarks.md), 400
# articles per corpus, seed 1. DEFAULT_CALIBRATION is for models nothing is pinned for (a
# local model): group weights 2/1/3/12, since such a model has no genre check and the fit
# must keep non-news out itself (it is the plain model's fit before session 11). The model
# with the shipped matcher adapter merged in, whose cosines have another scale: group weights
# 2/1/3/5, its genre check (genre.py) keeps non-news out (session 9). Both were fitted before
# relative_sim, which they weigh 0 (`--drop relative_sim` reproduces them); their `outscored`
# rescaling comes from the same commands (session 11; the weights were unchanged). The
# matcher's was refitted in session 21 for the adapter retrained without SIB-200's held-out
# sentences: `python -m training.fit_calibration --drop relative_sim --write-genre-check`.
# Session 32 added news sites' own prompts and software licences to the fit's non-news texts
# and refitted the genre checks with that command; the calibration it printed (10.826,
# 13.374, ..., before the licences joined) put a right `news` section topic a point lower on AG
# News and Inshorts, so the matcher's and the plain model's calibrations stay as fitted in
# sessions 21 and 11 (docs/benchmarks.md, "News sites' own prompts").
DEFAULT_CALIBRATION = Calibration(weights=(8.536, 14.311, 8.92, -0.856, 3.119, 9.911, -0.13, 0.0), bias=-10.838,
                                  outscored=(0.384, -1.475))
MATCHER_CALIBRATION = Calibration(weights=(11.069, 13.838, 4.948, -0.541, 4.75, 7.938, 0.806, 0.0), bias=-13.043,
                                  outscored=(0.507, -1.002))
# EmbeddingGemma-300m with its prompts, label templates ("This news article is about {}.", and
# "news about {}" for articles of three sentences or more) and windows (model_profiles.py),
# fitted by
#   NEWSTAG_MODEL=base-models/embeddinggemma-300m NEWSTAG_MATCHER=off NEWSTAG_MULTILINGUAL_MODEL=off \
#       python -m training.fit_calibration --per-corpus 150 --multilingual 100
# (150 articles per English corpus and 100 SIB-200 train sentences in each of 7 other languages,
# seed 1, group weights 2/1/3/5; session 10, docs/benchmarks.md, "Multilingual"). Its genre
# check is session 9's, written by the same command without --multilingual and with
# --write-genre-check. Its `outscored` rescaling comes from the same command, rerun in session 11
# (the weights came out the same). Both were fitted before the fit read non-news in other languages
# (session 37): the command now adds those texts, and was rerun only for the matcher's below.
MULTILINGUAL_CALIBRATION = Calibration(weights=(-2.125, 21.384, 0.47, -0.681, 3.377, 12.03, 2.602, 27.676),
                                       bias=-13.332, outscored=(0.518, -1.026))
# EmbeddingGemma-300m with its own topic matcher merged (model_profiles.py; service/matcher_multilingual/),
# as it is served unless NEWSTAG_MATCHER=off, fitted (with its genre check) by
#   NEWSTAG_MODEL=base-models/embeddinggemma-300m NEWSTAG_MULTILINGUAL_MODEL=off \
#       python -m training.fit_calibration --per-corpus 150 --multilingual 100 --write-genre-check --genre-c 1
# (session 34's matcher, retrained with section names in the texts' own language too; refitted in
# session 37, 6 minutes here, when the fit's non-news texts gained newstag's own in 21 other languages:
# docs/benchmarks.md, "Non-news texts in other languages in the fit"). Some of the fit's rows are among
# those the matcher trained on (the fit samples its own).
MULTILINGUAL_MATCHER_CALIBRATION = Calibration(weights=(-2.604, 11.112, 2.057, -0.508, 4.783, 10.437, 2.084, 15.443),
                                               bias=-14.081, outscored=(0.549, -1.004))
# all-MiniLM-L6-v2 without the matcher (NEWSTAG_MATCHER=off), with a genre check of its own
# since session 11, so fitted as the matcher's is:
#   NEWSTAG_MATCHER=off python -m training.fit_calibration --drop relative_sim --write-genre-check --genre-c 1
PLAIN_CALIBRATION = Calibration(weights=(8.638, 15.588, 8.233, -0.733, 3.264, 10.358, 0.954, 0.0), bias=-11.355,
                                outscored=(0.401, -1.467))
# Other models' cosines have other scales: a calibration per model version, the first 12 hex
# digits of model.safetensors' SHA-256, and "+" the first 8 of an adapter merged into it.
# Versions not listed get DEFAULT_CALIBRATION.
PINNED_CALIBRATIONS: dict[str, Calibration] = {MULTILINGUAL_SHA256[:12]: MULTILINGUAL_CALIBRATION,
                                               DEFAULT_MODEL_SHA256[:12]: PLAIN_CALIBRATION,
                                               f"{DEFAULT_MODEL_SHA256[:12]}+{MATCHER_SHA256[:8]}": MATCHER_CALIBRATION,
                                               f"{MULTILINGUAL_SHA256[:12]}+{MULTILINGUAL_MATCHER_SHA256[:8]}":
                                                   MULTILINGUAL_MATCHER_CALIBRATION}


def calibration_for(model_version: str) -> Calibration:
    """The calibration pinned for this model version (weights[+adapter]; a full weights
    SHA-256 reads as its first 12 digits), else DEFAULT_CALIBRATION."""
    key = model_version if "+" in model_version else model_version[:12]
    return PINNED_CALIBRATIONS.get(key, DEFAULT_CALIBRATION)
