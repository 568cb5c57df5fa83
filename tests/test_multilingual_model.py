"""EmbeddingGemma-300m as newstag runs it, when it is installed (make model-multilingual); else skipped.

CI runs on a fresh clone without it: these tests skip there, and run wherever a developer
installed it in base-models/embeddinggemma-300m.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.config import Settings
from service.engine import ConfigError
from service.engine.calibration_fits import MULTILINGUAL_CALIBRATION, MULTILINGUAL_MATCHER_CALIBRATION
from service.engine.chunking import prepare_document
from service.engine.model_files import MULTILINGUAL_MATCHER_DIR, MULTILINGUAL_MATCHER_SHA256, MULTILINGUAL_SHA256
from service.engine.model_profiles import profile_for

GEMMA = Path(__file__).resolve().parent.parent / "base-models" / "embeddinggemma-300m"
pytestmark = [
    pytest.mark.skipif(not (GEMMA / "model.safetensors").is_file(),
                       reason=f"EmbeddingGemma is not installed in {GEMMA}"),
    pytest.mark.slow,
]
TEXTS = ["Turkey is encircled by seas on three sides.",
         "Le match de football a été gagné par Marseille samedi soir."]


@pytest.fixture(scope="module")
def backend():
    """As the service runs it: its own topic matcher merged in."""
    from service.engine.loading import load_backend

    return load_backend(Settings.from_env({}, model=GEMMA, precision="fp32").engine_options().model)


@pytest.fixture(scope="module")
def plain_backend():
    """NEWSTAG_MATCHER=off: the upstream weights as they are."""
    from service.engine.loading import load_backend

    return load_backend(Settings.from_env({}, model=GEMMA, precision="fp32", matcher=False).engine_options().model)


def test_the_installed_model_loads_with_its_manifest_prompts_windows_matcher_and_calibration(backend, plain_backend):
    assert backend.model_version == f"{MULTILINGUAL_SHA256[:12]}+{MULTILINGUAL_MATCHER_SHA256[:8]}"
    assert backend.encoder.adapter is not None and backend.encoder.adapter.path == MULTILINGUAL_MATCHER_DIR
    assert backend.calibration is MULTILINGUAL_MATCHER_CALIBRATION and backend.genre_check is not None
    assert plain_backend.model_version == MULTILINGUAL_SHA256[:12] and plain_backend.encoder.adapter is None
    assert plain_backend.calibration is MULTILINGUAL_CALIBRATION
    prompts = profile_for(MULTILINGUAL_SHA256).prompts
    assert prompts is not None
    encoder = backend.encoder
    assert encoder.text_prompt == encoder.pipeline.prompts[prompts.text]
    assert encoder.label_prompt == encoder.pipeline.prompts[prompts.label]
    assert encoder.max_tokens == 256 and encoder.dim == 768 and len(encoder.pipeline.steps) == 2
    assert "fr" in backend.languages and "az" in backend.languages


def test_a_one_sentence_text_embeds_as_sentence_transformers_does(plain_backend):
    from sentence_transformers import SentenceTransformer

    encoder = plain_backend.encoder
    model = SentenceTransformer(str(GEMMA), device="cpu", local_files_only=True)
    texts = model.encode([encoder.text_prompt + t for t in TEXTS])
    labels = model.encode([encoder.label_prompt + t for t in TEXTS])
    windows = np.concatenate([d.windows for d in encoder.encode_documents([encoder.prepare(t) for t in TEXTS])])
    assert ((windows * texts).sum(1) > 1 - 1e-4).all()
    assert ((encoder.encode_texts(TEXTS) * labels).sum(1) > 1 - 1e-4).all()


def test_the_first_word_after_the_prompt_is_tokenized_as_in_one_string(backend):
    """SentencePiece joins the prompt's last space to the next word ("▁Turkey")."""
    encoder = backend.encoder
    doc = prepare_document(TEXTS[0], encoder.tokenizer, 256, prompt=encoder.text_prompt, special_tokens=2)
    whole = encoder.tokenizer(encoder.text_prompt + TEXTS[0], add_special_tokens=False)["input_ids"]
    assert [*doc.prompt_ids, *doc.sentence_token_ids[0]] == whole


def test_int8_is_refused_for_this_model():
    from service.engine.loading import load_backend

    with pytest.raises(ConfigError, match="NEWSTAG_PRECISION=int8 is not supported for embeddinggemma-300m"):
        load_backend(Settings.from_env({}, model=GEMMA, precision="int8").engine_options().model)


SEED_RU = Path(__file__).resolve().parent.parent / "seeds" / "000_61fd793a4efa8984.ru.txt"
MISSION_TOPICS = {"bilateral relations", "economy", "COP29", "demining"}


@pytest.fixture(scope="module")
def routed(backend, tagger):
    """The default model, routing other languages to EmbeddingGemma (as load_tagger builds it)."""
    from service.engine import Tagger
    from service.engine.routing import RoutedTagger

    return RoutedTagger(tagger, Tagger(backend, tagger.taxonomies, tagger.options))


def test_english_stays_on_the_default_model_and_russian_goes_to_gemma(routed, seed_text):
    russian = SEED_RU.read_text(encoding="utf-8")
    english, translated = routed.tag([seed_text, russian])
    assert (english.model, english.language) == ("all-MiniLM-L6-v2", "en")
    assert (translated.model, translated.language, translated.warnings) == ("embeddinggemma-300m", "ru", ())
    assert english.topics == routed.default.tag([seed_text])[0].topics  # English through the default, unchanged


def test_the_russian_founding_article_gets_three_mission_topics_with_evidence(routed):
    [result] = routed.tag([SEED_RU.read_text(encoding="utf-8")])
    topics = {t.label: t for t in result.topics}
    # economy came with session 10's calibration (relative_sim): before it, Russian missed it.
    assert {"COP29", "bilateral relations", "economy"} <= set(topics), [(t.label, t.score) for t in result.topics]
    assert not set(topics) & {"sports", "health", "crime", "technology"}, set(topics)
    assert "COP29" in topics["COP29"].evidence[0].text
    assert any("двусторонн" in ev.text for ev in topics["bilateral relations"].evidence)
    assert any("экономи" in ev.text for ev in topics["economy"].evidence)


SEED_AZ = SEED_RU.with_name("000_61fd793a4efa8984.az.txt")


def test_the_azerbaijani_founding_article_gets_three_mission_topics_with_evidence(routed):
    [result] = routed.tag([SEED_AZ.read_text(encoding="utf-8")])
    assert (result.model, result.language) == ("embeddinggemma-300m", "az")
    topics = {t.label: t for t in result.topics}
    assert {"COP29", "bilateral relations", "economy"} <= set(topics), [(t.label, t.score) for t in result.topics]
    assert not set(topics) & {"sports", "health", "crime", "technology"}, set(topics)
    assert any("iqtisadi" in ev.text for ev in topics["economy"].evidence)


@pytest.mark.xfail(strict=True, reason="demining is in one sentence, which EmbeddingGemma read alone as armed "
                   "conflict (Russian, 0.90 with its topic matcher) or as nothing (Azerbaijani), never demining "
                   "(docs/benchmarks.md, 'Multilingual': 'The founding article in Russian' and "
                   "'EmbeddingGemma's topic matcher')")
@pytest.mark.parametrize("seed", [SEED_RU, SEED_AZ], ids=["ru", "az"])
def test_the_translated_founding_article_gets_the_four_mission_topics(routed, seed):
    [result] = routed.tag([seed.read_text(encoding="utf-8")])
    assert MISSION_TOPICS <= {t.label for t in result.topics}


def test_german_sections_read_the_german_template_and_find_each_sentences_section(backend, routed):
    from service.engine import Label

    sections = [Label(n) for n in ("Wirtschaft", "Politik", "Sport", "Kultur", "Wissenschaft")]
    assert backend.labels_language(sections) == "de"
    assert backend.label_cache("de").template == "Dieser Nachrichtenartikel handelt von {}."
    texts = {"Die Nationalmannschaft gewann das Finale gegen Spanien mit zwei zu eins.": "Sport",
             "Die Zentralbank hob den Leitzins um einen halben Prozentpunkt an.": "Wirtschaft",
             "Der Bundestag stimmte dem neuen Einwanderungsgesetz mit knapper Mehrheit zu.": "Politik"}
    results = routed.tag(list(texts), sections, multi_label=False, evidence=False)
    assert [(r.language, r.model) for r in results] == [("de", backend.model_name)] * 3
    assert [r.topics[0].label for r in results] == list(texts.values())


ARABIC_MARKED = ("وَقَّعَتِ الحُكُومَةُ اتِّفَاقِيَّةً جَدِيدَةً لِلتِّجَارَةِ مَعَ الدُّوَلِ المُجَاوِرَةِ. "
                 "وَقَالَ وَزِيرُ الاقتِصَادِ إِنَّ الاتِّفَاقِيَّةَ سَتُخَفِّضُ الرُّسُومَ الجُمرُكِيَّةَ عَلَى السِّلَعِ "
                 "الزِّرَاعِيَّةِ. وَيَتَوَقَّعُ الخُبَرَاءُ أَنْ تَرتَفِعَ الصَّادِرَاتُ بِنِسبَةِ عِشرِينَ فِي المِئَةِ "
                 "خِلَالَ العَامِ المُقبِلِ.")


def test_an_arabic_article_with_its_vowel_marks_reads_as_without_them(routed):
    """Harakat are optional in Arabic writing; EmbeddingGemma's tokenizer cut marked words into
    other pieces (35 tokens for the first sentence against 9), so the same article moved topics."""
    import re

    from service.engine.tokenizer import OPTIONAL_MARKS

    plain = re.sub(OPTIONAL_MARKS, "", ARABIC_MARKED)
    marked_result, plain_result = routed.tag([ARABIC_MARKED, plain])
    assert (marked_result.model, marked_result.language) == ("embeddinggemma-300m", "ar")
    assert [(t.label, t.score) for t in marked_result.topics] == [(t.label, t.score) for t in plain_result.topics]
    assert marked_result.topics, "a trade agreement between governments gets some topic"
    for topic in marked_result.topics:
        for ev in topic.evidence:  # offsets into the text as sent, marks and all
            assert ev.text == ARABIC_MARKED[ev.start:ev.end] and re.search(OPTIONAL_MARKS, ev.text)


JUNK_OTHER_LANGUAGES = Path(__file__).resolve().parent.parent / "seeds" / "trust" / "non-news-multilingual.jsonl"


def test_non_news_text_in_other_languages_gets_no_topic_from_the_news_taxonomy(routed):
    """The trust benchmark's 59 (written apart from the fit's non-news): before the fit read non-news in
    other languages too (session 37), a Japanese chat message got transport and an Azerbaijani
    copyright line technology."""
    import json

    rows = [json.loads(line) for line in JUNK_OTHER_LANGUAGES.read_text(encoding="utf-8").splitlines()]
    results = routed.tag([r["text"] for r in rows], evidence=False)
    tagged = [(r["lang"], r["text"][:40], [t.label for t in res.topics])
              for r, res in zip(rows, results, strict=True) if res.topics]
    assert not tagged


def test_a_right_to_left_mark_after_each_full_stop_changes_no_topic(routed):
    """Arabic from a content system with U+200F after each full stop was one sentence: economy and
    trade (0.93, 0.76 without the marks) were lost and every evidence span was the whole text."""
    sentences = ["ناقش وزيرا خارجية البلدين التحضيرات لمؤتمر COP29 في باكو.",
                 "كما ناقشا إزالة الألغام التي خلفتها الحرب.", "ويتنامى التعاون الاقتصادي بين البلدين."]
    plain, marked = routed.tag([" ".join(sentences), "\u200f ".join(sentences) + "\u200f"])
    assert {t.label for t in marked.topics} == {t.label for t in plain.topics}
    assert {"economy", "trade"} <= {t.label for t in marked.topics}
    assert all(ev.end - ev.start < 70 for t in marked.topics for ev in t.evidence)  # sentences, not the text
