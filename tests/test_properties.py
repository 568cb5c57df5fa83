"""Properties of the engine that must hold for any input (hypothesis generates the inputs).

The tiny random model keeps each example fast; these properties are about mechanics
(offsets, ranges, determinism, order), which do not depend on the weights.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.config import Settings
from service.engine import InvalidInputError, Tagger

# Words from several scripts, with the whitespace, punctuation and invisible characters
# that real pasted articles carry.
WORDS = st.sampled_from([
    "minister", "economy", "talks", "COP29", "demining", "football", "Élysée", "naïve", "Москва",
    "переговоры", "外交部长", "经济", "الرئيس", "🚀", "📈", "e\u0301", "\u200b", "\u00a0", "\ufeff",
    "ß", "İstanbul", "ﬁnance", "Ω", "\u202e", "x\u0000y",
])
SEPARATORS = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", ". ", "! ", "? ", ".\n", "\r\n", "\u2028", "\u3000"])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), min_size=1, max_size=120).map(
    lambda parts: "".join(w + s for w, s in parts))
LABELS = st.lists(st.sampled_from(["economy", "sport", "diplomacy", "weather", "crime", "science", "art"]),
                  min_size=1, max_size=7, unique=True)
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fresh_tagger(tiny_model_dir) -> Tagger:
    """No document cache: determinism must come from the computation, not from a cache hit."""
    return Tagger.load(Settings.from_env({}, model=tiny_model_dir, document_cache=0, max_tokens=32).engine_options())


def _tag(tagger: Tagger, text: str, **options):
    try:
        return tagger.tag([text], **options)[0]
    except InvalidInputError:
        return None  # whitespace-only text is refused with a clear error; that is allowed


@PROPERTY_SETTINGS
@given(text=TEXTS, labels=LABELS)
def test_evidence_offsets_slice_the_original_text_and_scores_stay_in_range(fresh_tagger, text, labels):
    result = _tag(fresh_tagger, text, labels=labels, threshold=0.0)
    if result is None:
        assert not text.strip()
        return
    if any(w.code == "nothing-to-read" for w in result.warnings):  # "\u200b " holds no token: no topic, said so
        assert not result.topics and not any(c.isalnum() for c in text)
        return
    assert [t.label for t in result.topics] and {t.label for t in result.topics} <= set(labels)
    for topic in result.topics:
        assert 0.0 <= topic.score <= 1.0
        for ev in topic.evidence:
            assert text[ev.start:ev.end] == ev.text and 0.0 <= ev.score <= 1.0


@PROPERTY_SETTINGS
@given(text=TEXTS, labels=LABELS)
def test_the_same_input_gives_the_same_result(fresh_tagger, text, labels):
    assert _tag(fresh_tagger, text, labels=labels) == _tag(fresh_tagger, text, labels=labels)


@PROPERTY_SETTINGS
@given(text=TEXTS, labels=LABELS, data=st.data())
def test_label_order_does_not_change_any_score(fresh_tagger, text, labels, data):
    shuffled = data.draw(st.permutations(labels))
    first = _tag(fresh_tagger, text, labels=labels, threshold=0.0, evidence=False)
    second = _tag(fresh_tagger, text, labels=shuffled, threshold=0.0, evidence=False)
    if first is None:
        return
    assert second is not None
    assert {t.label: t.score for t in first.topics} == pytest.approx({t.label: t.score for t in second.topics},
                                                                     abs=1e-4)


@PROPERTY_SETTINGS
@given(text=TEXTS, form=st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"]))
def test_unicode_normalisation_forms_never_crash(fresh_tagger, text, form):
    variant = unicodedata.normalize(form, text)
    result = _tag(fresh_tagger, variant)
    if result is not None:
        for topic in result.topics:
            for ev in topic.evidence:
                assert variant[ev.start:ev.end] == ev.text
