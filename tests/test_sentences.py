from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.sentences import split_sentences

_BLANK_LINE = re.compile(r"\n\s*\n")


def texts(spans, text):
    return [text[s.start:s.end] for s in spans]


def test_splits_on_sentence_ends_and_keeps_offsets():
    text = "Ministers met in Minsk. They discussed trade!  Was COP29 mentioned? Yes."
    assert texts(split_sentences(text), text) == [
        "Ministers met in Minsk.", "They discussed trade!", "Was COP29 mentioned?", "Yes."]


@pytest.mark.parametrize("text, expected", [
    ("Mr. Aliyev met Dr. Lukashenko. Talks went well.", ["Mr. Aliyev met Dr. Lukashenko.", "Talks went well."]),
    ("U.S. shares rose 2.5% on Monday. Bonds fell.", ["U.S. shares rose 2.5% on Monday.", "Bonds fell."]),
    ("J. R. Smith scored. The crowd cheered.", ["J. R. Smith scored.", "The crowd cheered."]),
    ('"We agree," he said. "Good." She left.', ['"We agree," he said.', '"Good."', "She left."]),
    # German quotes close with “ and «; French sets its closing guillemet apart with a (no-break) space.
    ("Er sagte: „Die Inflation sinkt.“ Die Börse stieg.", ["Er sagte: „Die Inflation sinkt.“", "Die Börse stieg."]),
    ("Er sagte: »Die Inflation sinkt.« Die Börse stieg.", ["Er sagte: »Die Inflation sinkt.«", "Die Börse stieg."]),
    ("Il a dit : « Elle reviendra. » Les marchés ont monté.",
     ["Il a dit : « Elle reviendra. »", "Les marchés ont monté."]),
    ("Il a dit : « Elle reviendra.\u202f» Les marchés ont monté.",
     ["Il a dit : « Elle reviendra.\u202f»", "Les marchés ont monté."]),
    ("He said. “Next year will be better,” she added.", ["He said.", "“Next year will be better,” she added."]),
    # German ordinals end in a period ("am 3. Oktober", a date in nearly every article), and
    # so do its million, billion and circa: each cut a sentence in two (a helper's audit).
    ("Der Bundestag stimmte am 15. März ab. Die Opposition protestierte.",
     ["Der Bundestag stimmte am 15. März ab.", "Die Opposition protestierte."]),
    ("Im 19. Jahrhundert war das anders. Am 3. Oktober kam er. Er kam 1996. Mai 2024 war warm.",
     ["Im 19. Jahrhundert war das anders.", "Am 3. Oktober kam er.", "Er kam 1996.", "Mai 2024 war warm."]),
    ("Der Staat zahlt 3 Mrd. Euro und 5 Mio. Euro, ca. 8 Prozent mehr. Das reicht nicht.",
     ["Der Staat zahlt 3 Mrd. Euro und 5 Mio. Euro, ca. 8 Prozent mehr.", "Das reicht nicht."]),
])
def test_abbreviations_initials_and_quotes(text, expected):
    assert texts(split_sentences(text), text) == expected


def test_blank_lines_always_split_and_whitespace_is_trimmed():
    text = "  Headline without a period\n\n   First sentence of the body.\r\n\r\nlast line  \n"
    assert texts(split_sentences(text), text) == [
        "Headline without a period", "First sentence of the body.", "last line"]


@pytest.mark.parametrize("text, expected", [
    # Word and JavaScript-built pages break with Unicode's own separators, not "\n".
    ("Minister resigns\u2029The minister resigned.", ["Minister resigns", "The minister resigned."]),
    ("By Jane Doe\u2028PARIS\u2028Talks went on.", ["By Jane Doe", "PARIS", "Talks went on."]),
    # Carriage returns alone are scraping debris inside sentences (Inshorts), not breaks.
    ("It will host \r\r\r\ntwo Tests.", ["It will host \r\r\r\ntwo Tests."]),
    ("Page one ends here\fPage two begins", ["Page one ends here", "Page two begins"]),
    # A zero-width space after a full stop is a break the page allows; one between words changes nothing.
    ("The bank raised rates.\u200bMarkets fell.", ["The bank raised rates.", "Markets fell."]),
    ("Euro\u200bzone rates rose.", ["Euro\u200bzone rates rose."]),
])
def test_unicode_line_and_paragraph_separators_split_as_line_breaks_do(text, expected):
    """U+2029 and U+2028 were read as spaces: a headline and its lead were one sentence."""
    assert texts(split_sentences(text), text) == expected


def test_empty_and_blank_texts_have_no_sentences():
    assert split_sentences("") == []
    assert split_sentences(" \n\n\t ") == []


def test_spans_are_ordered_disjoint_and_cover_every_word():
    rng = random.Random(7)
    words = ["alpha", "Beta.", "gamma!", "Delta?", "e.g.", "U.S.", "\n\n", "x", "Mr.", "(Zeta).", "9."]
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
        spans = split_sentences(text)
        covered = "".join(text[s.start:s.end] for s in spans)
        assert "".join(covered.split()) == "".join(text.split())
        for a, b in zip(spans, spans[1:], strict=False):
            assert a.end <= b.start
        for s in spans:
            assert text[s.start:s.end] == text[s.start:s.end].strip() and s.end > s.start


@pytest.mark.parametrize("text, expected", [
    pytest.param("Президент прибыл в Баку. Он встретился с министром.",
                 ["Президент прибыл в Баку.", "Он встретился с министром."], id="russian"),
    pytest.param("В. В. Путин прибыл на ул. Ленина. «Всё хорошо», — сказал он. — Завтра начнём.",
                 ["В. В. Путин прибыл на ул. Ленина.", "«Всё хорошо», — сказал он.", "— Завтра начнём."],
                 id="russian-initials-abbreviation-quotes-dialogue-dash"),
    pytest.param("Prezident İlham Əliyev Bakıda nazirlə görüşüb. Əliyev bildirib ki, danışıqlar uğurlu keçib. "
                 "Şəhərdə yeni metro açılacaq. İ. Əliyev çıxış edib. Ölkədə seçki keçirilib.",
                 ["Prezident İlham Əliyev Bakıda nazirlə görüşüb.", "Əliyev bildirib ki, danışıqlar uğurlu keçib.",
                  "Şəhərdə yeni metro açılacaq.", "İ. Əliyev çıxış edib.", "Ölkədə seçki keçirilib."],
                 id="azerbaijani"),
    pytest.param("Верховна Рада ухвалила закон. Їх підтримали депутати! Чи підпише його Президент? Є надія.",
                 ["Верховна Рада ухвалила закон.", "Їх підтримали депутати!", "Чи підпише його Президент?",
                  "Є надія."], id="ukrainian"),
    pytest.param("وصل الرئيس إلى باكو. هل التقى بالوزير؟ نعم، التقى به.",
                 ["وصل الرئيس إلى باكو.", "هل التقى بالوزير؟", "نعم، التقى به."], id="arabic"),
    pytest.param("صدر باکو پہنچے۔ انہوں نے وزیر سے ملاقات کی۔",
                 ["صدر باکو پہنچے۔", "انہوں نے وزیر سے ملاقات کی۔"], id="urdu"),
    pytest.param("今天天气很好。我们去公园！你来吗？", ["今天天气很好。", "我们去公园！", "你来吗？"], id="chinese"),
    pytest.param("他说：“我们走吧。”然后离开了。", ["他说：“我们走吧。”", "然后离开了。"], id="chinese-quote"),
    pytest.param("今天很好!我们走.明天见", ["今天很好!", "我们走.", "明天见"], id="chinese-ascii-punctuation"),
    pytest.param("東京は晴れです。明日は雨でしょうか？ 「たぶん」と彼は言った。",
                 ["東京は晴れです。", "明日は雨でしょうか？", "「たぶん」と彼は言った。"], id="japanese"),
    pytest.param("राष्ट्रपति आज दिल्ली पहुंचे। उन्होंने मंत्री से मुलाकात की। बैठक सफल रही॥",
                 ["राष्ट्रपति आज दिल्ली पहुंचे।", "उन्होंने मंत्री से मुलाकात की।", "बैठक सफल रही॥"], id="hindi"),
    pytest.param("Ο πρόεδρος έφτασε στην Αθήνα. Συναντήθηκε με τον υπουργό.",
                 ["Ο πρόεδρος έφτασε στην Αθήνα.", "Συναντήθηκε με τον υπουργό."], id="greek"),
    # NFC turns the Greek question mark (U+037E) into ";", so Greek text mostly carries ";".
    pytest.param("Πότε θα έρθει ο υπουργός; Κανείς δεν ξέρει.",
                 ["Πότε θα έρθει ο υπουργός;", "Κανείς δεν ξέρει."], id="greek-question-semicolon"),
    pytest.param("Πότε θα έρθει ο υπουργός\u037e Κανείς δεν ξέρει.",
                 ["Πότε θα έρθει ο υπουργός\u037e", "Κανείς δεν ξέρει."], id="greek-question-mark"),
    pytest.param("The minister arrived; Talks began at noon.", ["The minister arrived; Talks began at noon."],
                 id="english-semicolon-does-not-split"),
    pytest.param("הנשיא הגיע לירושלים. הוא נפגש עם השר.", ["הנשיא הגיע לירושלים.", "הוא נפגש עם השר."], id="hebrew"),
    pytest.param("Նախագահը ժամանեց Երևան։ Նա հանդիպեց նախարարին։",
                 ["Նախագահը ժամանեց Երևան։", "Նա հանդիպեց նախարարին։"], id="armenian"),
    pytest.param("პრეზიდენტი ჩავიდა თბილისში. მან შეხვდა მინისტრს.",
                 ["პრეზიდენტი ჩავიდა თბილისში.", "მან შეხვდა მინისტრს."], id="georgian"),
    pytest.param("¿Qué pasa? ¡Nada! Bien.", ["¿Qué pasa?", "¡Nada!", "Bien."], id="spanish-inverted-marks"),
    pytest.param("Он сказал: т.е. всё. И ушёл.", ["Он сказал: т.е. всё.", "И ушёл."], id="lower-case-goes-on"),
])
def test_splits_every_script(text, expected):
    assert texts(split_sentences(text), text) == expected


def test_ascii_full_stop_needs_a_space_outside_cjk():
    # Scraped text runs words together, and "U.S.Army" or "example.com" are not sentence ends.
    text = "The processfor approval.It resumed at example.com on Monday."
    assert texts(split_sentences(text), text) == [text]


_PIECES = ["Баку", "Əliyev", "İ.", "ул.", "Mr.", "今天", "我们", "。", "！", "？", "”", "«", "»", "—", "؟", "۔", "।",
           "։", ".", "!", "?", "...", "…", "a", "Z", "9", "3.5", "ვ", "ש", "\n\n", "\r\n", "\t", " ", "  "]


@given(st.lists(st.sampled_from(_PIECES), max_size=60).map("".join) | st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_offsets_slice_the_original_text(text):
    spans = split_sentences(text)
    for span in spans:
        sentence = text[span.start:span.end]
        assert sentence and sentence == sentence.strip()
        assert not _BLANK_LINE.search(sentence)
    for a, b in zip(spans, spans[1:], strict=False):
        assert a.end <= b.start
    covered = "".join(text[s.start:s.end] for s in spans)
    assert "".join(covered.split()) == "".join(text.split())


@pytest.mark.parametrize("text, expected", [
    # A right-to-left mark after the full stop (as content systems write Arabic and Hebrew): it was
    # one sentence, and evidence the whole text.
    ("ناقش الوزيران العلاقات في باكو.\u200f كما ناقشا إزالة الألغام.\u200f ويتنامى التعاون.",
     ["ناقش الوزيران العلاقات في باكو.\u200f", "كما ناقشا إزالة الألغام.\u200f", "ويتنامى التعاون."]),
    ("שרי החוץ נפגשו.\u200f \u200fהם דנו בכלכלה.", ["שרי החוץ נפגשו.\u200f", "\u200fהם דנו בכלכלה."]),
    ("He left.\u200e \u2067Then\u2069 she came.", ["He left.\u200e", "\u2067Then\u2069 she came."]),
    ("Plain text.\u200f", ["Plain text.\u200f"]),
])
def test_direction_marks_around_a_sentence_end_do_not_hide_it(text, expected):
    assert [text[s.start:s.end] for s in split_sentences(text)] == expected


@pytest.mark.parametrize(("text", "expected"), [
    # A CMS export: a byline, a dateline and a headline each on a line of its own, no end punctuation.
    ("By Jane Doe\nPARIS\nQuiksilver is in talks to buy Rossignol. It said so on Monday.",
     ["By Jane Doe", "PARIS", "Quiksilver is in talks to buy Rossignol.", "It said so on Monday."]),
    ("Villagers flee clashes, huddle in forests\nVillagers in the north fled into forests on Monday.",
     ["Villagers flee clashes, huddle in forests", "Villagers in the north fled into forests on Monday."]),
    ("22:40 GMT\nThe minister has arrived.\n22:45 GMT\nShe is speaking now",
     ["22:40 GMT", "The minister has arrived.", "22:45 GMT", "She is speaking now"]),
    ("Arsenal 2 Chelsea 1\nEverton 0 Liverpool 0", ["Arsenal 2 Chelsea 1", "Everton 0 Liverpool 0"]),
    # A line that goes on in lower case is the same sentence.
    ("The minister met\nthe press on Monday.", ["The minister met\nthe press on Monday."]),
])
def test_a_line_of_its_own_ends_a_sentence(text, expected):
    """Only blank lines split lines: the headline was glued to the lead, every live-blog entry began
    "22:40 GMT\\n", and a byline was evidence for politics."""
    assert [text[s.start:s.end] for s in split_sentences(text)] == expected


def test_hard_wrapped_text_keeps_its_sentences_across_lines():
    """Wire copy and e-mail wrapped at a width break lines inside sentences, before capitals too."""
    text = ("The finance minister said on Monday that the government would present the budget to\n"
            "Parliament next week, after talks between the central bank and the\n"
            "International Monetary Fund had ended without a deal on the deficit\n"
            "target for the coming year, and that it would not raise taxes again.\n"
            "Reporting by Jane Doe")
    assert [text[s.start:s.end] for s in split_sentences(text)] == [text[:text.index("Reporting")].strip(),
                                                                     "Reporting by Jane Doe"]


def test_a_long_run_of_blanks_with_no_line_break_after_it_is_split_quickly():
    """A page's reading copy blanks an unclosed comment or a one-line script as spaces: 32,000 of them
    took 10 s to split (the line-break search scanned the run again from each of its spaces)."""
    import time

    text = "The central bank raised rates.\nMarkets fell." + " " * 200_000
    started = time.monotonic()
    spans = split_sentences(text)
    assert time.monotonic() - started < 1.0
    assert [text[s.start:s.end] for s in spans] == ["The central bank raised rates.", "Markets fell."]
