"""Sentence splitters side by side: newstag's against pysbd, sentencex, blingfire and syntok.

Usage:
    python -m bench.language --splitters [--data ../shared/data]

Each splitter cuts the cases below (22 in 16 languages, sliced by its own offsets) and 200
BBC News articles of about 500 words (milliseconds per article); the libraries it
compares against are not dependencies of newstag: whichever is not installed is said so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from .language import articles_500, ms_per_text

# (language, text, expected sentences): the cases newstag's splitter must get right.
SPLIT_CASES = [
    ("en", "Mr. Aliyev met Dr. Lukashenko. Talks went well.", ["Mr. Aliyev met Dr. Lukashenko.", "Talks went well."]),
    ("en", "U.S. shares rose 2.5% on Monday. Bonds fell.", ["U.S. shares rose 2.5% on Monday.", "Bonds fell."]),
    ("en", "J. R. Smith scored. The crowd cheered.", ["J. R. Smith scored.", "The crowd cheered."]),
    ("en", '"We agree," he said. "Good." She left.', ['"We agree," he said.', '"Good."', "She left."]),
    ("en", "Headline without a period\n\nFirst sentence.  Second one?", ["Headline without a period",
                                                                      "First sentence.", "Second one?"]),
    ("en", "The processfor approval.It resumed on Monday.", ["The processfor approval.It resumed on Monday."]),
    ("ru", "Президент прибыл в Баку. Он встретился с министром.", ["Президент прибыл в Баку.",
                                                              "Он встретился с министром."]),
    ("ru", "В. В. Путин прибыл на ул. Ленина. «Всё хорошо», — сказал он.", [
        "В. В. Путин прибыл на ул. Ленина.", "«Всё хорошо», — сказал он."]),
    ("uk", "Верховна Рада ухвалила закон. Президент його підписав.", ["Верховна Рада ухвалила закон.",
                                                                  "Президент його підписав."]),
    ("az", "Prezident İlham Əliyev Bakıda nazirlə görüşüb. Əliyev bildirib ki, danışıqlar uğurlu keçib.", [
        "Prezident İlham Əliyev Bakıda nazirlə görüşüb.", "Əliyev bildirib ki, danışıqlar uğurlu keçib."]),
    ("ar", "وصل الرئيس إلى باكو. هل التقى بالوزير؟ نعم، التقى به.", ["وصل الرئيس إلى باكو.",
                                                               "هل التقى بالوزير؟", "نعم، التقى به."]),
    ("ur", "صدر باکو پہنچے۔ انہوں نے وزیر سے ملاقات کی۔", ["صدر باکو پہنچے۔", "انہوں نے وزیر سے ملاقات کی۔"]),
    ("zh", "今天天气很好。我们去公园！你来吗？", ["今天天气很好。", "我们去公园！", "你来吗？"]),
    ("ja", "東京は晴れです。明日は雨でしょう。", ["東京は晴れです。", "明日は雨でしょう。"]),
    ("hi", "राष्ट्रपति आज दिल्ली पहुंचे। उन्होंने मंत्री से मुलाकात की।", ["राष्ट्रपति आज दिल्ली पहुंचे।",
                                                                "उन्होंने मंत्री से मुलाकात की।"]),
    ("el", "Ο πρόεδρος έφτασε στην Αθήνα. Συναντήθηκε με τον υπουργό.", ["Ο πρόεδρος έφτασε στην Αθήνα.",
                                                                     "Συναντήθηκε με τον υπουργό."]),
    ("he", "הנשיא הגיע לירושלים. הוא נפגש עם השר.", ["הנשיא הגיע לירושלים.", "הוא נפגש עם השר."]),
    ("hy", "Նախագահը ժամանեց Երևան։ Նա հանդիպեց նախարարին։", ["Նախագահը ժամանեց Երևան։", "Նա հանդիպեց նախարարին։"]),
    ("az", "Prezident İ. Əliyev gəlib. Sonra gedib.", ["Prezident İ. Əliyev gəlib.", "Sonra gedib."]),
    ("ru", "Т. е. всё ясно. Итак, решено.", ["Т. е. всё ясно.", "Итак, решено."]),
    # Two that newstag's splitter gets wrong: a German ordinal date, a Japanese quote and its particle.
    ("de", "Am 3. Oktober feiern wir. Alle kommen.", ["Am 3. Oktober feiern wir.", "Alle kommen."]),
    ("ja", "「はい。」と彼は言った。", ["「はい。」と彼は言った。"]),
]


def splitter(name: str) -> Callable[[str, str], list[tuple[int, int]]]:
    """(language, text) -> spans, for one splitter; the language is given, as the libraries need it."""
    if name == "newstag":
        from service.engine.sentences import split_sentences

        return lambda _lang, text: [(s.start, s.end) for s in split_sentences(text)]
    if name == "pysbd":
        import pysbd

        # pysbd has no az, uk, he or tr rules; English's stand in.
        supported = {"en", "hi", "mr", "zh", "es", "am", "ar", "hy", "bg", "ur", "ru", "pl", "fa", "nl", "da",
                     "fr", "my", "el", "it", "ja", "de", "kk", "sk"}
        segmenters = {lang: pysbd.Segmenter(language=lang, clean=False, char_span=True) for lang in supported}
        return lambda lang, text: [(s.start, s.end) for s in segmenters.get(lang, segmenters["en"]).segment(text)]
    if name == "sentencex":
        import sentencex

        return lambda lang, text: [(b["start_index"], b["end_index"])
                                   for b in sentencex.get_sentence_boundaries(lang, text)]
    if name == "blingfire":
        import blingfire

        return lambda _lang, text: list(blingfire.text_to_sentences_and_offsets(text)[1])
    if name == "syntok":
        from syntok import segmenter

        return lambda _lang, text: [(s[0].offset, s[-1].offset + len(s[-1].value))
                                    for paragraph in segmenter.analyze(text) for s in paragraph]
    raise ValueError(name)


def compare_splitters(data: Path) -> None:
    articles = articles_500(data, 200)
    print(f"| splitter | cases right (of {len(SPLIT_CASES)}) | wrong | ms/500-word article p50 (mean) |")
    print("|---|---|---|---|")
    for name in ("newstag", "pysbd", "sentencex", "blingfire", "syntok"):
        try:
            split = splitter(name)
        except ImportError:
            print(f"| {name} | not installed | | |")
            continue
        wrong: list[str] = []
        for lang, text, expected in SPLIT_CASES:
            sentences = [text[start:end].strip() for start, end in split(lang, text)]
            if [sentence for sentence in sentences if sentence] != expected:  # blank spans forgiven
                wrong.append(lang)
        p50, mean = ms_per_text(functools.partial(split, "en"), articles)
        print(f"| {name} | {len(SPLIT_CASES) - len(wrong)} | {' '.join(wrong)} | {p50:.2f} ({mean:.2f}) |")
