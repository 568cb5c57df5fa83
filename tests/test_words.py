"""Word counts in scripts with and without spaces (service/engine/words.py)."""

from __future__ import annotations

import pytest

from service.engine.model_profiles import SentenceRules
from service.engine.words import word_count

MIN_WORDS = SentenceRules().min_words


@pytest.mark.parametrize("text", [
    "Azerbaijani Foreign Minister Jeyhun Bayramov met with his Belarusian counterpart.",
    "Министр иностранных дел Азербайджана встретился с белорусским коллегой.",
    "This site uses cookies. Got it!", "  spaced   out\ttext\n", "", "COP29",
])
def test_text_without_unspaced_scripts_counts_as_it_always_did(text):
    assert word_count(text) == len(text.split())  # English and the default model's figures stay put


# Real sentences with their word counts segmented finely (as jieba's search mode and MeCab
# cut: particles and suffixes are words of their own). The count may be off by a third.
@pytest.mark.parametrize(("text", "words"), [
    ("外交部长拜拉莫夫在明斯克会见了白俄罗斯外交部长。", 10),  # 外交/部长/拜拉莫夫/在/明斯克/会见/了/白俄罗斯/外交/部长
    ("双方讨论了农业、交通和旅游领域的合作前景。", 11),  # 双方/讨论/了/农业/交通/和/旅游/领域/的/合作/前景
    ("拜拉莫夫向同事详细介绍了该地区的地雷威胁。", 11),  # 拜拉莫夫/向/同事/详细/介绍/了/该/地区/的/地雷/威胁
    # 外務/大臣/は/ミンスク/で/ベラルーシ/の/外相/と/会談/し/た
    ("外務大臣はミンスクでベラルーシの外相と会談した。", 12),
    ("地雷の脅威について詳しく説明した。", 9),  # 地雷/の/脅威/に/つい/て/詳しく/説明/し/た (10) or について (8)
])
def test_chinese_and_japanese_sentences_count_about_their_words(text, words):
    assert abs(word_count(text) - words) <= words / 3, word_count(text)
    assert word_count(text) >= MIN_WORDS  # a real sentence can bring a topic in


@pytest.mark.parametrize("text", ["好消息！", "谢谢！", "你好", "ありがとう！", "了解です"])
def test_short_chinese_and_japanese_phrases_stay_under_the_minimum(text):
    assert word_count(text) < MIN_WORDS


def test_mixed_tokens_count_their_latin_part_as_one_word():
    assert word_count("COP29会议") == pytest.approx(1 + 2 / 1.8)
    assert word_count("会议。") == pytest.approx(2 / 1.8)  # punctuation is no word


def test_a_katakana_loanword_is_one_word():
    assert word_count("ベラルーシ") == 1
