from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from service.engine.calibration import (
    FEATURES,
    HUB_NEIGHBOURS,
    Calibration,
    label_hubness,
    reference_topics,
    rivals,
    text_features,
    topical_reference_count,
)
from service.engine.calibration_fits import DEFAULT_CALIBRATION, MATCHER_CALIBRATION, MULTILINGUAL_CALIBRATION
from service.engine.keywords import combine, document_hits, keyword_hits
from service.engine.markup import readable
from service.engine.sentences import split_sentences
from service.engine.types import Label


def test_keywords_match_whole_words_case_insensitively_and_count_distinct():
    text = "The MINE threat is real. A gold mine opened. Landmines and the mine threat again."
    labels = [Label("demining", keywords=("mine threat", "landmines")), Label("other")]
    hits = keyword_hits(text, tuple(split_sentences(text)), labels)
    assert hits[:, 0].tolist() == [1, 0, 2]
    assert hits[:, 1].tolist() == [0, 0, 0]
    assert document_hits(text, labels).tolist() == [2, 0]


def test_keyword_regex_characters_are_literal():
    text = "Prices (in U.S.$) rose."
    labels = [Label("x", keywords=("U.S.$", "(in"))]
    assert document_hits(text, labels).tolist() == [2]
    assert document_hits("USA", [Label("y", keywords=("U.S.",))]).tolist() == [0]


@pytest.mark.parametrize("text", [
    "NATO SUMMIT in Vilnius; the Foreign Minister spoke of foreign policy.",
    "İSTANBUL NATO SUMMİT: DIŞİŞLERİ",  # a capital dotted I, which casefold() spells with a combining dot
    "The ﬁnance ministry said the STOCK MARKET fell; Straße closed; ΣΟΦΙΑ.",
    "landmines,landmines;LANDMINES mine threat",
])
def test_the_substring_prefilter_finds_every_label_the_patterns_find(text):
    """keywords._candidates skips labels with no keyword as a substring; it must never skip one
    whose word-boundary pattern matches (each label's pattern run on its own is the reference)."""
    from service.engine import keywords
    from service.engine.taxonomy import TaxonomyRegistry

    registry = TaxonomyRegistry([])
    labels = [*registry.get("news").labels, Label("demining", keywords=("mine threat", "landmines")),
              Label("summits", keywords=("nato summit", "Summit"))]
    reference = [len({m.group().casefold() for m in keywords._pattern(lab.keywords).finditer(text)})
                 if lab.keywords else 0 for lab in labels]
    assert document_hits(text, labels).tolist() == reference
    assert any(reference)  # each text holds some keyword
    sentences = tuple(split_sentences(text))
    assert (keyword_hits(text, sentences, labels).sum(axis=0) > 0).tolist() == [r > 0 for r in reference]


def test_the_substring_prefilter_folds_every_letter_the_pattern_matches_without_case():
    """Python's IGNORECASE matches some letters that casefold() keeps apart (a dotless ı with i
    and I: "Kıbrıs" in "KIBRIS"); the prefilter must not skip a label whose pattern matches."""
    from re import _casefix

    pairs = [(chr(a), chr(b)) for a, others in _casefix._EXTRA_CASES.items() for b in others]
    pairs += [(c, d) for c in map(chr, range(0x3000)) for d in {c.upper(), c.lower(), c.title()}
              if len(d) == 1 and d != c]
    for a, b in pairs:
        if not a.isalpha() or not re.fullmatch(re.escape(a), b, re.IGNORECASE):
            continue
        assert document_hits(f"x {b}b x", [Label("t", keywords=(f"{a}b",))]).tolist() == [1], (a, b)
    assert document_hits("KIBRIS ELECTIONS", [Label("cyprus", keywords=("Kıbrıs",))]).tolist() == [1]
    assert document_hits("ıstanbul", [Label("city", keywords=("Istanbul",))]).tolist() == [1]


@pytest.mark.parametrize("text, keyword, hits", [
    ("欧洲央行宣布加息。", "加息", 1),  # no spaces between Chinese words: no boundary to find
    ("本塁打を打った。", "本塁打", 1),
    ("ฟุตบอลโลกเริ่มแล้ว", "ฟุตบอล", 1),
    ("L'e\u0301conomie ralentit.", "économie", 1),  # decomposed text, composed keyword
    ("L'économie ralentit.", "e\u0301conomie", 1),
    ("İqtisadiyyat naziri danışdı.", "İqtisadiyyat", 1),  # the dot of a capital İ folds away on both sides
    ("The coal mine closed; it was determined.", "mine", 1),  # Latin keeps its word boundaries
    ("It was determined.", "mine", 0),
])
def test_keywords_match_in_every_script_and_either_unicode_form(text, keyword, hits):
    assert document_hits(text, [Label("x", keywords=(keyword,))]).tolist() == [hits]


def test_keywords_add_a_bounded_boost_that_cannot_decide_alone():
    model = np.array([0.0, 0.2, 0.9, 0.39, 0.45])
    hits = np.array([0, 1, 1, 9, 1])
    combined = combine(model, hits, weight=0.05)
    assert combined.tolist() == pytest.approx([0.0, 0.25, 0.95, 0.49, 0.5])  # beyond two hits count as two
    assert np.all(combined >= model) and np.all(combined <= model + 0.1 + 1e-12)
    assert combine(np.array([0.97]), np.array([2]), 0.05)[0] == 1.0  # never above 1


def _features(sims, reference=None, competing=None, hubness=None):
    sims = np.asarray(sims, dtype=float)
    reference = np.zeros((sims.shape[0], 3)) if reference is None else np.asarray(reference, dtype=float)
    hubness = np.zeros(sims.shape[1]) if hubness is None else np.asarray(hubness, dtype=float)
    return dict(zip(FEATURES, text_features(sims, reference, hubness, competing).T, strict=True))


def test_features_gap_margin_and_reference_rank():
    f = _features([[0.50, 0.45, 0.20]], reference=[[0.10, 0.30, 0.47]])
    assert f["sim"] == pytest.approx([0.50, 0.45, 0.20])
    assert f["gap"] == pytest.approx([0.0, -0.05, -0.30])
    assert f["margin"] == pytest.approx([0.05, 0.0, 0.0])
    assert f["log_labels"] == pytest.approx([np.log(3)] * 3)
    assert f["reference_rank"] == pytest.approx([1.0, 2 / 3, 1 / 3], abs=0.05)


def test_a_text_whose_cosines_all_sit_lower_moves_only_sim():
    """Another language than the labels lowers a text's cosine with every label and reference
    topic alike: relative_sim (and every feature but sim) reads it as the same text."""
    rng = np.random.default_rng(0)
    n_reference = topical_reference_count() + 5  # the topical reference topics and some kinds of non-news text
    sims, reference = rng.uniform(0.0, 0.6, (2, 4)), rng.uniform(0.0, 0.5, (2, n_reference))
    same = _features(sims, reference)
    lower = _features(sims - 0.08, reference - 0.08)
    assert lower["sim"] == pytest.approx(same["sim"] - 0.08)
    for name in FEATURES[1:]:
        assert lower[name] == pytest.approx(same[name], abs=1e-9), name
    assert same["relative_sim"] == pytest.approx(sims.mean(0) - reference[:, :topical_reference_count()].mean())


def test_reference_rank_is_smooth_so_rounding_cannot_flip_a_score():
    """A tie broken by the last bit of a cosine (which BLAS rounding can do) moves nothing."""
    tie = _features([[0.30]], reference=[[0.30, 0.1, 0.5]])["reference_rank"]
    nudged = _features([[0.30 + 1e-6]], reference=[[0.30, 0.1, 0.5]])["reference_rank"]
    assert abs(nudged[0] - tie[0]) < 1e-3


def test_a_label_far_under_a_reference_topic_ranks_zero_without_a_warning():
    """exp(-x) overflows for a cosine far below a reference topic; the rank is 0, and quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        far = _features([[-0.9]], reference=[[0.9, 0.95, 0.99]])["reference_rank"]
    assert far[0] == 0.0


def test_a_text_takes_each_feature_as_its_mean_over_windows():
    f = _features([[0.50, 0.10], [0.20, 0.40], [0.50, 0.10]])
    assert f["sim"] == pytest.approx([0.40, 0.20])
    assert f["gap"] == pytest.approx([-0.2 / 3, -0.8 / 3])  # each label trails in some window
    assert f["margin"] == pytest.approx([0.8 / 3, 0.2 / 3])


def test_a_single_label_has_no_rival():
    f = _features([[0.3]])
    assert f["gap"] == [0.0] and f["margin"] == [0.0] and f["log_labels"] == [0.0]


def test_topics_do_not_compete_with_their_ancestors_descendants_or_siblings():
    labels = [Label("climate change"), Label("COP29", parent="climate change"), Label("sports"),
              Label("trade", parent="economy"), Label("energy", parent="economy")]
    competing = rivals(labels)
    assert not competing[0, 1] and not competing[1, 0]  # parent and child
    assert not competing[3, 4]  # siblings under a parent that is not in the set
    assert competing[1, 2] and competing[0, 3]
    f = _features([[0.60, 0.55, 0.20, 0.1, 0.1]], competing=competing)
    assert f["gap"][1] == 0.0  # COP29 is not held back by climate change
    assert rivals([Label("a"), Label("b")]) is None  # no hierarchy: everyone competes


def test_a_parent_cycle_in_a_taxonomy_does_not_hang():
    labels = [Label("a", parent="b"), Label("b", parent="a"), Label("c")]
    competing = rivals(labels)
    assert not competing[0, 1] and competing[0, 2]


def test_calibration_formula():
    calibration = Calibration(weights=(2.0, 10.0, 0.0, 0.0, 1.0, -4.0, 0.5, 3.0), bias=-1.0)
    features = np.array([[0.5, -0.1, 0.0, 0.0, 0.5, 0.25, 0.2, 0.1]])
    assert calibration.scores(features) == pytest.approx(1 / (1 + np.exp(-(1.0 - 1.0 + 0.5 - 1.0 + 0.1 + 0.3 - 1.0))))


def test_a_calibration_with_the_wrong_number_of_weights_is_refused():
    with pytest.raises(ValueError, match="needs 8 weights"):
        Calibration(weights=(1.0, 2.0), bias=0.0)


def test_nonnews_lead_is_how_far_the_closest_kind_of_non_news_text_is_ahead():
    topical = topical_reference_count()
    reference = np.full((2, topical + 2), 0.1)
    reference[0, topical:] = [0.3, 0.6]  # window 0: a kind of non-news text at 0.6
    f = _features([[0.5, 0.7], [0.5, 0.7]], reference=reference)
    # window 0: 0.6 - 0.5 = 0.1 and 0 (0.7 is ahead); window 1: nothing ahead; the mean over windows
    assert f["nonnews_lead"] == pytest.approx([0.05, 0.0])


def test_label_prior_is_the_broadness_part_of_the_logit_centred_on_the_label_set():
    weights = [0.0] * len(FEATURES)
    weights[FEATURES.index("label_hubness")] = 4.0
    calibration = Calibration(weights=tuple(weights), bias=0.0)
    assert calibration.label_prior(np.array([0.6, 0.5, 0.4])) == pytest.approx([0.4, 0.0, -0.4])
    assert calibration.label_prior(np.zeros(0)).shape == (0,)


def test_label_hubness_is_the_mean_of_the_nearest_reference_topics_and_the_same_in_every_row():
    rng = np.random.default_rng(0)
    label_reference = rng.uniform(-1, 1, size=(3, 40))
    nearest = np.sort(label_reference, axis=1)[:, -HUB_NEIGHBOURS:].mean(axis=1)
    assert label_hubness(label_reference) == pytest.approx(nearest)
    f = _features([[0.5, 0.2, 0.1], [0.1, 0.4, 0.3]], hubness=[0.7, 0.5, 0.3])
    assert f["label_hubness"] == pytest.approx([0.7, 0.5, 0.3])


def test_label_hubness_counts_only_the_topical_reference_topics_and_a_topic_takes_its_ancestors():
    from service.engine.calibration import topical_reference_count

    n = topical_reference_count()
    assert "greetings and small talk" not in reference_topics()[:n] and "geography" in reference_topics()[:n]
    label_reference = np.zeros((3, len(reference_topics())))
    label_reference[0, n:] = 1.0  # near only kinds of non-news text: not broad at all
    label_reference[1, :HUB_NEIGHBOURS] = 0.8  # near several topics
    labels = [Label("a"), Label("b"), Label("c", parent="b")]
    assert label_hubness(label_reference, labels) == pytest.approx([0.0, 0.8, 0.8])  # c is as broad as b


@pytest.mark.parametrize("calibration", [DEFAULT_CALIBRATION, MATCHER_CALIBRATION, MULTILINGUAL_CALIBRATION])
def test_pinned_calibrations_can_say_none_of_these(calibration):
    """A label far behind its rivals, or one that beats few reference topics, scores low."""
    hubness = np.array([0.65, 0.65])  # about a typical label's
    leading = calibration.text_scores(np.array([[0.60, 0.30]]), np.full((1, 4), 0.2), hubness)
    assert leading[0] > 0.5 > leading[1]
    junk = calibration.text_scores(np.array([[0.15, 0.12]]), np.array([[0.4, 0.3, 0.2, 0.35]]), hubness)
    assert junk.max() < 0.5


def test_flat_set_scores_rescale_only_the_labels_another_label_outscores():
    calibration = Calibration(weights=(0.0,) * len(FEATURES), bias=0.0, outscored=(0.5, -1.0))
    scores = np.array([0.9, 0.8, 0.3, 0.9])
    out = calibration.flat_set_scores(scores)

    def rescaled(p):
        return 1 / (1 + np.exp(-(0.5 * np.log(p / (1 - p)) - 1.0)))

    assert out[[0, 3]] == pytest.approx([0.9, 0.9])  # the best labels (a tie) keep their scores
    assert out[1] == pytest.approx(rescaled(0.8)) and out[1] < 0.5  # a close second no longer passes
    assert out[2] == pytest.approx(rescaled(0.3)) and out[2] < 0.5
    assert scores.tolist() == [0.9, 0.8, 0.3, 0.9]  # the input is left alone
    assert calibration.flat_set_scores(np.array([0.8])) == pytest.approx([0.8])  # one label: nothing outscores it


def test_the_default_outscored_rescaling_changes_nothing():
    calibration = Calibration(weights=(0.0,) * len(FEATURES), bias=0.0)
    scores = np.array([0.9, 0.8, 0.3])
    assert calibration.flat_set_scores(scores).tolist() == scores.tolist()


def test_keyword_passes_keep_the_request_time_limit_and_read_only_the_labels_asked_for():
    """Caller keywords cost text length x keywords: 100 labels of ten accented vowels on a
    100,000-character text ran 57 s past a 30 s limit and still answered 200."""
    import time

    from service.errors import DeadlineExceeded

    text = "The central bank raised rates. Inflation eased in the euro area."
    labels = [Label("economy", keywords=("central bank", "inflation")), Label("sport", keywords=("rates",))]
    with pytest.raises(DeadlineExceeded):
        document_hits(text, labels, deadline=time.monotonic() - 1)
    assert document_hits(text, labels, deadline=time.monotonic() + 60).tolist() == [2, 1]
    sentences = tuple(split_sentences(text))
    assert keyword_hits(text, sentences, labels).tolist() == [[1, 1], [1, 0]]
    assert keyword_hits(text, sentences, labels, columns=[0]).tolist() == [[1, 0], [1, 0]]


def test_one_boundary_test_around_many_keywords_finds_what_one_per_keyword_found():
    labels = [Label("x", keywords=("á", "a", "é", "e-commerce", "加息", "U.S.", "économie"))]
    for text, expected in [("á a é", 3), ("aáa", 0), ("e-commerce boom in the U.S. now", 2), ("欧洲央行宣布加息", 1),
                           ("L'e\u0301conomie va mieux", 1), ("ab é", 1)]:
        assert document_hits(text, labels).tolist() == [expected], text


@pytest.mark.parametrize("keywords_, text, document, per_sentence", [
    # Longest first across scripts: a spaced keyword must not win over a longer one ending in Chinese.
    (("Fed", "Fed 加息"), "Fed 加息 was expected, and the Fed did it.", 2, [2]),
    # A keyword across a sentence split: each sentence still finds what it holds alone.
    (("Yahoo! Japan", "Yahoo", "Japan"), "Shares of Yahoo! Japan rose on Monday. Nothing else.", 1, [1, 1, 0]),
    (("Yahoo! Japan", "Japan"), "Shares of Yahoo! Japan rose on Monday. Nothing else.", 1, [0, 1, 0]),
])
def test_keyword_hits_are_what_each_keyword_searched_alone_in_each_sentence_finds(keywords_, text, document,
                                                                                    per_sentence):
    """Found by review of the one-pass matching: both cases had fewer hits than before."""
    labels = [Label("x", keywords=keywords_)]
    assert document_hits(text, labels).tolist() == [document]
    assert keyword_hits(text, tuple(split_sentences(text)), labels)[:, 0].tolist() == per_sentence


def _reference_hits(text: str, sentences, labels) -> tuple[list[int], list[list[int]]]:
    """The matching as it was, one keyword after another, longest first, in each sentence alone."""
    import unicodedata

    def unspaced(char: str) -> bool:
        return unicodedata.name(char, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER",
                                                       "MYANMAR", "TIBETAN"))

    from service.engine.keywords import _candidates

    chosen = {j for j, _ in _candidates(text, labels)}  # the substring test before any pattern, as it was
    document, per_sentence = [], []
    for j, label in enumerate(labels):
        if j not in chosen:
            document.append(0)
            per_sentence.append([0] * len(sentences))
            continue
        forms = sorted({f for k in label.keywords for f in (k, unicodedata.normalize("NFC", k),
                                                             unicodedata.normalize("NFD", k))},
                       key=lambda k: (-len(k), k))
        # A keyword's words with any spacing short of a paragraph break between them, counted as one keyword.
        pattern = re.compile("|".join(("" if unspaced(k[0]) else r"(?<!\w)")
                                      + r"(?:[^\S\n]+|[^\S\n]*\n[^\S\n]*)".join(map(re.escape, k.split()))
                                      + ("" if unspaced(k[-1]) else r"(?!\w)") for k in forms), re.IGNORECASE)

        def key(m: re.Match[str]) -> str:
            return " ".join(m.group().casefold().split())

        document.append(len({key(m) for m in pattern.finditer(text)}))
        per_sentence.append([len({key(m) for m in pattern.finditer(text, s.start, s.end)}) for s in sentences])
    return document, [list(row) for row in zip(*per_sentence, strict=True)] if sentences else []


def test_keyword_matching_agrees_with_one_keyword_at_a_time_on_random_texts():
    import random

    rng = random.Random(7)
    alphabet = list("ab é.!? ") + ["加", "息", "\n", "A", "B", "e\u0301", "。", "-"]
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        labels = [Label(f"L{n}", keywords=tuple(sorted({k for k in ("".join(rng.choice(alphabet) for _ in
                                                                          range(rng.randint(1, 5))).strip()
                                                                  for _ in range(rng.randint(1, 4))) if k})))
                  for n in range(rng.randint(1, 3))]
        sentences = tuple(split_sentences(text))
        document, per_sentence = _reference_hits(text, sentences, labels)
        assert document_hits(text, labels).tolist() == document, (text, labels)
        assert keyword_hits(text, sentences, labels).tolist() == per_sentence, (text, labels)


@pytest.mark.parametrize("text, hits", [
    ("The central\xa0bank cut rates.", 1),  # a no-break space, as a scraper's get_text() leaves &nbsp;
    # HTML's reading copy: tags and entities are blanks
    ("The <b>central</b> bank cut rates, said the central&nbsp;bank.", 1),
    ("The central  bank cut rates.", 1),
    ("The central\r\nbank cut rates.", 1),  # hard-wrapped
    ("The central bank and the Central\xa0Bank.", 1),  # one keyword, however it is spaced
    ("We met the central.\n\nBank holidays start.", 0),  # not across a paragraph
])
def test_a_keyword_of_several_words_matches_however_the_text_spaces_them(text, hits):
    """The words of "central bank" matched only with one plain space between them: a no-break space, two
    spaces, a line break, or the blanks of HTML's reading copy (a tag or an entity between them) missed it,
    and the same article scored 0.05 a keyword lower as HTML or as scraped text than as plain text."""
    reading = readable(text)
    labels = [Label("economy", keywords=("central bank",))]
    assert document_hits(reading, labels).tolist() == [hits]
    assert keyword_hits(reading, tuple(split_sentences(reading)), labels)[:, 0].sum() == hits


def test_keywords_are_found_in_words_an_entity_or_a_tag_cut():
    """"La r&eacute;forme des retraites" reads "ré", word joiners, "forme" (markup.py): the keyword was missed."""
    html_text = "<p>Les syndicats contestent la r&eacute;forme des retraites.</p><p>La gr<i>è</i>ve continue.</p>"
    text = readable(html_text)
    labels = [Label("pensions", keywords=("réforme des retraites",)), Label("labour", keywords=("grève",))]
    sentences = tuple(split_sentences(text))
    assert [text[s.start:s.end].replace("\u2060", "") for s in sentences] == [
        "Les syndicats contestent la réforme des retraites.", "La grève continue."]
    assert keyword_hits(text, sentences, labels).tolist() == [[1, 0], [0, 1]]
    assert document_hits(text, labels).tolist() == [1, 1]
