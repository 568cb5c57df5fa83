from __future__ import annotations

import dataclasses
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from service.engine.language import DetectedLanguage, detect_language, label_set_language, mostly_latin
from service.engine.markup import readable

# Real news-style sentences, two per language newstag claims by name.
SENTENCES = {
    "en": ["The central bank raised interest rates for the third time this year to curb inflation.",
           "Thousands of people gathered in the capital on Sunday to protest against the new law."],
    "ru": ["Президент прибыл в Баку, где встретился с министром иностранных дел.",
           "Центральный банк сохранил ключевую ставку на прежнем уровне."],
    "az": ["Prezident İlham Əliyev bu gün Bakıda Avropa İttifaqının nümayəndə heyətini qəbul edib.",
           "Mərkəzi Bank manatın rəsmi məzənnəsini dəyişməz saxlayıb."],
    "uk": ["Верховна Рада ухвалила закон про державний бюджет на наступний рік.",
           "Синоптики прогнозують сильні дощі та грози на заході країни."],
    "ar": ["وصل الرئيس إلى باكو حيث التقى بوزير الخارجية لبحث العلاقات الثنائية.",
           "رفع البنك المركزي أسعار الفائدة للمرة الثالثة هذا العام."],
    "fr": ["Le gouvernement a annoncé mardi de nouvelles mesures pour lutter contre l'inflation.",
           "Des milliers de personnes ont manifesté dimanche dans les rues de la capitale."],
    "de": ["Die Regierung hat am Dienstag neue Maßnahmen gegen die hohe Inflation angekündigt.",
           "Tausende Menschen demonstrierten am Sonntag in der Hauptstadt gegen das neue Gesetz."],
    "es": ["El gobierno anunció el martes nuevas medidas para combatir la inflación.",
           "Miles de personas se manifestaron el domingo en las calles de la capital."],
    "tr": ["Hükümet salı günü enflasyonla mücadele için yeni önlemler açıkladı.",
           "Binlerce kişi pazar günü başkentin sokaklarında yeni yasayı protesto etti."],
    "zh": ["中国政府周二宣布了一系列新措施，以应对持续上涨的通货膨胀。",
           "数千人星期天聚集在首都街头，抗议新通过的法律。"],
    "ja": ["政府は火曜日、物価上昇に対応するための新たな対策を発表した。",
           "日本銀行は金融政策の現状維持を決めました。"],
    "hi": ["सरकार ने मंगलवार को महंगाई से निपटने के लिए नए उपायों की घोषणा की।",
           "रविवार को हज़ारों लोगों ने राजधानी में नए कानून के खिलाफ प्रदर्शन किया।"],
    "he": ["הממשלה הודיעה ביום שלישי על צעדים חדשים למאבק באינפלציה.",
           "אלפי אנשים הפגינו ביום ראשון ברחובות הבירה נגד החוק החדש."],
    "el": ["Η κυβέρνηση ανακοίνωσε την Τρίτη νέα μέτρα για την αντιμετώπιση του πληθωρισμού.",
           "Χιλιάδες άνθρωποι διαδήλωσαν την Κυριακή στους δρόμους της πρωτεύουσας."],
    "ko": ["정부는 화요일 물가 상승에 대응하기 위한 새로운 대책을 발표했다.",
           "수천 명의 시민들이 일요일 수도에서 새 법안에 반대하는 시위를 벌였다."],
    "fa": ["دولت روز سه‌شنبه اقدامات تازه‌ای برای مقابله با تورم اعلام کرد.",
           "هزاران نفر روز یکشنبه در خیابان‌های پایتخت تظاهرات کردند."],
    "pl": ["Rząd ogłosił we wtorek nowe działania mające na celu walkę z inflacją.",
           "Tysiące ludzi protestowało w niedzielę na ulicach stolicy przeciwko nowej ustawie."],
    "it": ["Il governo ha annunciato martedì nuove misure per combattere l'inflazione.",
           "Migliaia di persone hanno manifestato domenica nelle strade della capitale."],
    "pt": ["O governo anunciou na terça-feira novas medidas para combater a inflação.",
           "Milhares de pessoas protestaram no domingo nas ruas da capital contra a nova lei."],
}
JUNK = ["", "   ", "Hello", "...", "12345", "😀😀😀", "🔥🔥 👍", "+994 12 345 67 89", "2024-05-01 12:00:00",
        "def f(x): return x + 1", "https://example.com/a/b?c=1", "<div class=\"x\"></div>"]
ENGLISH_NEWS = (
    "The European Central Bank left interest rates unchanged on Thursday, saying inflation in the euro zone "
    "was falling faster than expected but that it was too early to declare victory. Markets had priced in a "
    "cut by the summer, and the bank's president told reporters that the governing council would decide "
    "meeting by meeting, guided by the data on wages, prices and growth."
)


@pytest.mark.parametrize("code, text", [(code, text) for code, texts in SENTENCES.items() for text in texts])
def test_detects_each_claimed_language(code, text):
    found = detect_language(text)
    assert found.code == code, found
    assert 0.5 <= found.confidence <= 1.0


@pytest.mark.parametrize("text", JUNK)
def test_too_little_signal_is_und(text):
    found = detect_language(text)
    assert found.code == "und"
    assert 0.0 <= found.confidence < 0.5


def test_english_news_paragraph_is_confidently_english():
    found = detect_language(ENGLISH_NEWS)
    assert found == DetectedLanguage("en", found.confidence) and found.confidence > 0.9


def test_result_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        detect_language(ENGLISH_NEWS).code = "fr"  # type: ignore[misc]


def test_deterministic_and_thread_safe():
    texts = [text for group in SENTENCES.values() for text in group] + JUNK + [ENGLISH_NEWS]
    expected = [detect_language(text) for text in texts]
    assert [detect_language(text) for text in texts] == expected
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(detect_language, texts)) == expected


def test_very_long_text_is_read_in_part():
    assert detect_language(ENGLISH_NEWS * 2000).code == "en"


def test_import_does_not_load_the_model():
    code = ("import sys, service.engine.language; assert 'py3langid' not in sys.modules; "
            "assert 'fasttext' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


@pytest.mark.parametrize(("text", "code"), [
    # py3langid alone: Afrikaans 0.11, Scottish Gaelic 0.30, English 0.28, und for each
    ("Barack Obama met Angela Merkel in Berlin on Tuesday.", "en"),
    ("Roger Federer beat Rafael Nadal 6-4, 6-3, 7-6 to win the Wimbledon title.", "en"),
    ("Prime minister resigns after losing confidence vote", "en"),
    ("Central bank leaves interest rates unchanged", "en"),
    ("Los Sundarbans son la cadena de", "es"),  # py3langid: Occitan 0.50
    ("Затем Лакха Сингх взял на себя", "ru"),  # py3langid: Bulgarian 0.51
])
def test_headlines_and_short_openings_are_told(text, code):
    """Most English headlines came out "und" (AG News: 0.36 told), a few short openings wrong."""
    assert detect_language(text).code == code


def test_a_language_model_file_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    from service.engine import language
    from service.errors import ModelLoadError

    changed = tmp_path / "lid.176.ftz"
    pinned = language.fasttext_model_path().read_bytes()
    changed.write_bytes(pinned[:-1] + bytes([pinned[-1] ^ 1]))
    monkeypatch.setattr(language, "_fasttext", None)
    monkeypatch.setattr(language, "fasttext_model_path", lambda: changed)
    with pytest.raises(ModelLoadError, match="not the pinned fastText language model"):
        language.detect_language("Prime minister resigns after losing confidence vote")


@pytest.mark.parametrize(("names", "code"), [
    (("Wirtschaft", "Politik", "Sport", "Kultur", "Wissenschaft"), "de"),
    (("économie", "santé", "politique", "sport", "technologie"), "fr"),
    (("ciencia/tecnología", "viajes", "política", "deportes", "salud", "entretenimiento", "geografía"), "es"),
    (("bilim/teknoloji", "seyahat", "siyaset", "spor", "sağlık", "eğlence", "coğrafya"), "tr"),
    # English names mostly say too little to be called English; either way they are not another language.
    (("World", "Sports", "Business", "Sci/Tech"), "und"),
    (("bilateral relations", "COP29", "demining", "economy"), "und"),
])
def test_a_label_set_is_named_in_the_language_of_its_names_read_together(names, code):
    assert label_set_language(names) == code


def test_pointed_hebrew_and_vowelled_arabic_are_told_as_without_their_marks():
    """Pointed Hebrew came out "und" (the identifier learnt unpointed text): its metrics and
    `language` were wrong, though routing still sent it to the multilingual model."""
    pointed = "שָׂרֵי הַחוּץ דָּנוּ בְּהֵכָנוֹת לְ-COP29 בְּבָאקוּ. שיתוף הפעולה הכלכלי בין המדינות גדל."
    assert detect_language(pointed).code == "he"
    assert detect_language("ناقَشَ الوزيرانِ العلاقاتِ الثنائيةَ في باكو.").code == "ar"


FULL_WIDTH_ENGLISH = "ＴＯＫＹＯ　ｓｔｏｃｋｓ ｒｏｓｅ ｔｏｄａｙ ｏｎ ｅｘｐｏｒｔ ｄａｔａ"


def test_full_width_latin_is_told_by_its_words_not_by_its_bytes():
    """Its UTF-8 bytes are CJK's: it came out Kannada (fastText) and Chinese (py3langid), and went
    to the multilingual model with a warning that it is not in Latin letters."""
    assert detect_language(FULL_WIDTH_ENGLISH).code == "en"
    assert detect_language("Ｌｅｓ ｍａｒｃｈéｓ ｏｎｔ ｍｏｎｔé ａｕｊｏｕｒｄ'ｈｕｉ à Ｐａｒｉｓ").code == "fr"
    assert mostly_latin("ＴＯＫＹＯ") and mostly_latin(FULL_WIDTH_ENGLISH)


@pytest.mark.parametrize(("text", "code"), [
    ("東京株式市場は今日、輸出データを受けて上昇した。日経平均株価は２％高で取引を終えた！", "ja"),
    ("トヨタ自動車は（７日）、新型ＥＶを発表した。価格は３００万円から。", "ja"),
    ("ｿﾆｰは新しいｹﾞｰﾑ機を発売すると発表した。", "ja"),  # half-width katakana
    ("国务院总理今天在北京会见了来访的法国外交部长，双方就气候变化问题交换了意见。", "zh"),
    ("美国总统拜登（Ｊｏｅ　Ｂｉｄｅｎ）周二表示，经济增长强劲。", "zh"),
    ("記者（ＡＢＣ）報道：今年ＧＤＰ增長５．２％。", "zh"),
    ("서울 증시는 오늘 수출 데이터에 힘입어 상승했다．", "ko"),
])
def test_chinese_japanese_and_korean_with_full_width_forms_are_told_as_before(text, code):
    assert detect_language(text).code == code
    assert not mostly_latin(text)


# A scraped page as sent: a head with 20 KB of inline script (a tag manager, the page's state as JSON) before the body.
_HEAD = "<html><head><script>" + "window.dataLayer.push({'event': 'view'});" * 500 + "</script>"


@pytest.mark.parametrize("title, body, code", [
    ("Ukraine passes record defence budget", "Ukraine's parliament on Thursday approved a budget that raises defence "
     "spending to a record share of output, the finance minister told lawmakers in Kyiv.", "en"),
    ("Budget 2027", "Le gouvernement français a présenté jeudi un projet de budget qui prévoit une hausse des dépenses "
     "militaires et une baisse du déficit public, a indiqué le ministre de l'Économie.", "fr"),
])
def test_an_html_pages_language_is_told_by_its_text_past_a_long_head(title, body, code):
    """The detector read the reading copy's first 10,000 characters, which for a scraped page are its
    head's scripts blanked: both pages were "und" (confidence 0.0); with the title first, the French one was
    told by its title alone (0.47)."""
    page = f"{_HEAD}<title>{title}</title></head><body><article><p>{body}</p></article></body></html>"
    assert len(page) > 20_000
    detected = detect_language(readable(page))
    assert detected.code == code and detected.confidence > 0.9, detected
