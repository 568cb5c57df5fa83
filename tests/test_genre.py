"""The genre check (service/engine/genre.py): its file, its pinning, and what the Tagger does with it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from service.engine import Label, genre
from service.engine.genre import GenreCheck, genre_check_for
from service.engine.model_files import sha256_of
from service.errors import ModelLoadError

TEXT = "Stocks fell in Tokyo. The central bank met on Friday.\n\nFootball fans celebrated the win."
LABELS = ["markets", "central banks", "football", "weather"]


def _check(dim: int, bias: float) -> GenreCheck:
    weights = np.zeros(dim, dtype=np.float32)
    weights[0] = 2.0
    return GenreCheck(weights, bias)


def test_news_probability_is_the_logistic_of_the_text_vector():
    check = _check(4, bias=-1.0)
    assert check.news_probability(np.array([1.0, 0, 0, 0])) == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert check.news_probability(np.array([0.0, 1, 0, 0])) == pytest.approx(1 / (1 + np.exp(1.0)))


def test_a_text_as_close_as_the_cutoff_to_the_bare_word_news_is_not_news_whatever_the_logistic_says():
    bare = np.array([0.0, 1.0, 0, 0], dtype=np.float32)
    check = replace(_check(4, bias=5.0), bare_news=(bare, 0.6))
    assert check.news_probability(np.array([0.0, 1.0, 0, 0])) == 0.0
    assert check.news_probability(np.array([0.6, 0.8, 0, 0])) == 0.0  # cosine 0.8
    assert check.news_probability(np.array([0.8, 0.6, 0, 0])) == 0.0  # at the cut-off
    assert check.news_probability(np.array([0.82, 0.57, 0, 0])) > 0.99  # under it: the logistic
    # nearer to a label it is asked about than to the bare word: not "only news"
    assert check.news_probability(np.array([0.6, 0.8, 0, 0]), best_label_cosine=0.85) > 0.99
    assert check.news_probability(np.array([0.6, 0.8, 0, 0]), best_label_cosine=0.75) == 0.0


def test_the_default_model_measures_texts_against_the_bare_word_as_it_embeds_any_text(tagger):
    """The cut-off is pinned for the default model's version; the word's vector is its text vector."""
    from service.engine.domain import document_vector

    check = tagger.backend.genre_check
    assert check.bare_news is not None and check.bare_news[1] == genre.BARE_NEWS_COSINE[tagger.backend.model_version]
    [vectors] = tagger.backend.encoder.encode_documents([tagger.backend.prepare("news")])
    assert float(document_vector(vectors.windows) @ check.bare_news[0]) == pytest.approx(1.0, abs=1e-5)


def test_a_saved_check_loads_back_only_with_its_pinned_hash_and_shape(tmp_path):
    import os

    path = tmp_path / "v.safetensors"
    previous = os.umask(0o022)
    try:
        _check(4, bias=0.5).save(path)
    finally:
        os.umask(previous)
    loaded = GenreCheck.load(path, sha256_of(path), dim=4)
    assert path.stat().st_mode & 0o777 == 0o644  # readable by the image's service user, as the umask says
    assert loaded.bias == pytest.approx(0.5) and loaded.weights.tolist() == [2.0, 0, 0, 0]
    with pytest.raises(ModelLoadError, match="needs weights"):
        GenreCheck.load(path, sha256_of(path), dim=8)
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(ModelLoadError, match="SHA-256"):
        GenreCheck.load(path, "0" * 64, dim=4)


def test_a_model_without_a_pinned_check_is_not_checked():
    assert genre_check_for("0123456789ab", 384) is None


def test_every_pinned_check_is_shipped_and_matches_its_hash():
    assert genre.PINNED_GENRE_CHECKS, "the default model ships with a genre check"
    for version, sha in genre.PINNED_GENRE_CHECKS.items():
        path = genre.file_for(version)
        assert path.is_file() and sha256_of(path) == sha


@pytest.fixture()
def checked_tagger(tiny_tagger, monkeypatch):
    """The tiny tagger with a genre check; ``set(bias)`` makes every text news (high) or not (low)."""
    backend = tiny_tagger.backend
    dim = backend.encoder.dim

    def set_bias(bias: float) -> None:
        monkeypatch.setattr(backend, "genre_check", GenreCheck(np.zeros(dim, dtype=np.float32), bias))

    return tiny_tagger, set_bias


def test_a_text_called_non_news_gets_no_topic_and_a_warning_in_multi_label_mode(checked_tagger):
    tagger, set_bias = checked_tagger
    set_bias(-3.0)
    [result] = tagger.tag([TEXT], LABELS, threshold=0.0)
    assert result.topics == ()
    assert [w.code for w in result.warnings] == ["not-news"]
    assert "0.05" in result.warnings[0].message  # sigmoid(-3), as the message says


def test_a_text_called_non_news_still_gets_its_best_label_when_one_is_asked_for(checked_tagger):
    tagger, set_bias = checked_tagger
    set_bias(-3.0)
    [result] = tagger.tag([TEXT], LABELS, multi_label=False)
    assert len(result.topics) == 1 and [w.code for w in result.warnings] == ["not-news"]


def test_a_text_called_news_is_tagged_as_without_a_check(checked_tagger):
    tagger, set_bias = checked_tagger
    assert tagger.backend.genre_check is None  # the tiny model has none pinned
    [unchecked] = tagger.tag([TEXT], LABELS, threshold=0.0)
    set_bias(3.0)
    [checked] = tagger.tag([TEXT], LABELS, threshold=0.0)
    assert checked.warnings == () and len(checked.topics) == len(LABELS)
    assert checked.topics == unchecked.topics


NEWS = [
    "The striker scored twice as United beat Chelsea 2-0 in the Premier League.",
    "Shares in the carmaker fell 8 percent after it cut its profit forecast.",
    "Police arrested two men after a robbery in the city centre.",
]
NOT_NEWS = [
    "We use cookies to give you the best experience on our website. By clicking Accept you agree "
    "to our use of cookies. Manage preferences.",
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software, "
    "to deal in the Software without restriction.",
    "def main():\n    print('hello world')\n    return 0",
    "thanks, see you tomorrow!",
]


def test_the_default_model_tells_news_from_boilerplate(tagger, seed_text):
    """The shipped check on the real model: news articles and short news items pass, boilerplate does not."""
    backend = tagger.backend
    assert backend.genre_check is not None
    scored = backend.score([backend.prepare(t) for t in [seed_text, *NEWS, *NOT_NEWS]], [Label("economy")])
    probabilities = [s.news_probability for s in scored]
    assert all(p >= genre.NEWS_THRESHOLD for p in probabilities[:1 + len(NEWS)]), probabilities
    assert all(p < genre.NEWS_THRESHOLD for p in probabilities[1 + len(NEWS):]), probabilities
    results = tagger.tag(NOT_NEWS)
    assert all(r.topics == () and [w.code for w in r.warnings] == ["not-news"] for r in results)


def called_non_news(tagger, seeds_file: str) -> tuple[list[str], list[str]]:
    """The texts of seeds/trust/``seeds_file``, and those the default model's check calls non-news."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "seeds" / "trust" / seeds_file
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    backend = tagger.backend
    scored = backend.score([backend.prepare(t) for t in texts], [Label("economy")])
    return texts, [t for t, s in zip(texts, scored, strict=True) if genre.called_non_news(s.news_probability)]


def test_the_default_model_reads_short_news_items_alone_as_news(tagger):
    """Headlines and one-sentence local news, as a monitoring feed sends them (newstag's own 40,
    in no fit): fitted on whole articles only, the check called 6 of them non-news."""
    texts, called = called_non_news(tagger, "short-news-bench.jsonl")
    assert len(texts) == 40 and len(called) <= 2, called


def test_the_default_model_reads_technology_and_offbeat_news_as_news(tagger):
    """Outages, app features, security flaws, odd news and columns reported as news (newstag's own
    60, written apart from the fit's 150): the check called 7 of them non-news before its fit read
    such items as news (session 49), beside app descriptions and release notes as non-news."""
    texts, called = called_non_news(tagger, "tech-news-bench.jsonl")
    assert len(texts) == 60 and len(called) <= 5, called


def test_the_genre_check_can_be_turned_off(tmp_path):
    from service.config import Settings
    from service.engine.loading import load_backend

    on = load_backend(Settings.from_env({}).engine_options().model)
    off = load_backend(Settings.from_env({"NEWSTAG_GENRE_CHECK": "off"}).engine_options().model)
    assert on.genre_check is not None and off.genre_check is None  # type: ignore[attr-defined]


FLOOR_TAXONOMY = """\
name: floor
threshold: 1.0
at_least_one_topic: {flag}
topics:
  - name: markets
  - name: central banks
  - name: football
"""


@pytest.fixture()
def floor_tagger(checked_tagger, tmp_path):
    """The tiny checked tagger with two copies of a taxonomy no score reaches (threshold 1.0),
    one with ``at_least_one_topic`` and one without."""
    from service.engine import Tagger
    from service.engine.taxonomy import TaxonomyRegistry

    tagger, set_bias = checked_tagger
    (tmp_path / "floor.yaml").write_text(FLOOR_TAXONOMY.format(flag="true"), encoding="utf-8")
    (tmp_path / "plain.yaml").write_text(FLOOR_TAXONOMY.format(flag="false").replace("floor", "plain", 1),
                                         encoding="utf-8")
    return Tagger(tagger.backend, TaxonomyRegistry([tmp_path]), tagger.options), set_bias


def test_a_text_sure_to_be_news_gets_its_best_topic_when_none_reaches_the_threshold(floor_tagger):
    tagger, set_bias = floor_tagger
    set_bias(3.0)  # P(news) 0.95, over genre.SURE_NEWS
    [result] = tagger.tag([TEXT], taxonomy="floor")
    [ranked] = tagger.tag([TEXT], taxonomy="floor", threshold=0.0)
    assert [(t.label, t.score) for t in result.topics] == [(ranked.topics[0].label, ranked.topics[0].score)]
    assert result.topics[0].score < 1.0  # its own score, not raised to the threshold
    assert [w.code for w in result.warnings] == ["below-threshold"]
    assert repr(ranked.topics[0].label) in result.warnings[0].message and "0.95" in result.warnings[0].message


@pytest.mark.parametrize("case", ["unsure of the genre", "taxonomy without the flag", "caller's threshold",
                                  "non-news"])
def test_no_best_topic_anyway_unless_the_taxonomy_asks_and_the_check_is_sure(floor_tagger, case):
    tagger, set_bias = floor_tagger
    set_bias({"unsure of the genre": 0.0, "non-news": -3.0}.get(case, 3.0))  # P(news) 0.5, 0.05, else 0.95
    options = {"threshold": 1.0} if case == "caller's threshold" else {}
    [result] = tagger.tag([TEXT], taxonomy="plain" if case == "taxonomy without the flag" else "floor", **options)
    assert result.topics == ()
    assert "below-threshold" not in [w.code for w in result.warnings]


def test_the_news_taxonomy_gives_a_plain_sports_item_its_topic(tagger):
    """The real model: a short, plainly sports item whose `sports` score stays under 0.5 (no
    sports keyword in it) gets `sports` with its own score and a warning; junk still gets nothing."""
    item = ("The Eagles signed their second-year cornerback to a six-year contract extension on Thursday, "
            "keeping him in Philadelphia through 2011.")
    [result] = tagger.tag([item])
    [strict] = tagger.tag([item], threshold=0.5)
    assert [t.label for t in result.topics] == ["sports"] and result.topics[0].score < 0.5
    assert [w.code for w in result.warnings] == ["below-threshold"]
    assert strict.topics == ()
    for junk in ["Hello", "thanks, see you tomorrow!", NOT_NEWS[0]]:
        [r] = tagger.tag([junk])
        assert r.topics == () and "below-threshold" not in [w.code for w in r.warnings], junk
