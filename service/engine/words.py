"""How many words a sentence has, in scripts written with spaces and in scripts without.

Counting spaces undercounts Chinese, Japanese, Thai, Lao, Khmer and Myanmar to one word
per sentence, so a length rule on words ("a sentence of fewer than 4 words says too
little alone", sentence_support.py) shut those languages out entirely. Their characters
count here as words at CHARS_PER_WORD characters a word instead. A segmenter (jieba for
Chinese, MeCab for Japanese, PyThaiNLP for Thai) would count exactly, but each covers one
language, ships a dictionary and costs load time on every worker, for a rule that only
needs the order of magnitude: is this a phrase or a sentence?
"""

from __future__ import annotations

import re

# CJK ideographs (with extension A, the compatibility block and the supplementary planes)
# and Hiragana. A Chinese word is about 1.5-1.7 characters in running text, more in news
# (names transliterate into 3-4 characters: 拜拉莫夫); at 1.8 the sentences of
# tests/test_words.py come within a third of their segmented counts.
_CJK = re.compile("[\u3040-\u309f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
CHARS_PER_WORD = 1.8
# Katakana writes loanwords and foreign names, one run a word (ベラルーシ, 5 characters).
_KATAKANA_RUN = re.compile("[\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]+")
# Thai, Lao, Myanmar and Khmer write words without spaces too, in code points that spell
# vowels and tones apart: about 4 a word (an estimate from a few Thai words, not measured
# on a corpus; Korean writes spaces and counts as spaced).
_SOUTHEAST = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")
SOUTHEAST_CHARS_PER_WORD = 4.0


def word_count(text: str) -> float:
    """Words in ``text``: its whitespace-separated tokens, with unspaced scripts' characters
    counted at CHARS_PER_WORD a word (a token mixing both: "COP29会议" is 1 + 2/1.8).

    A text without unspaced scripts gets exactly ``len(text.split())``.
    """
    count = 0.0
    for token in text.split():
        cjk, katakana = len(_CJK.findall(token)), len(_KATAKANA_RUN.findall(token))
        southeast = len(_SOUTHEAST.findall(token))
        if not cjk and not katakana and not southeast:
            count += 1
            continue
        count += cjk / CHARS_PER_WORD + katakana + southeast / SOUTHEAST_CHARS_PER_WORD
        # The rest of the token (Latin letters, digits) is one more word if it holds any.
        rest = _SOUTHEAST.sub("", _KATAKANA_RUN.sub("", _CJK.sub("", token)))
        if any(ch.isalnum() for ch in rest):
            count += 1
    return count
