"""Label names in the texts' own languages: newstag's translations of SIB-200's seven topics
and MasakhaNEWS French's five sections, with a news-article sentence in each language.

Read by bench.label_language (which template suits labels named in the text's language) and
bench.own_names (training files with the labels renamed, for the topic matcher).
"""

from __future__ import annotations

# Per SIB-200 language: the template, and its 7 labels' names in the same order as SIB_LABELS.
SIB_LABELS = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]
TEMPLATES: dict[str, tuple[str, list[str]]] = {
    "deu_Latn": ("Dieser Nachrichtenartikel handelt von {}.",
                 ["Wissenschaft/Technologie", "Reisen", "Politik", "Sport", "Gesundheit", "Unterhaltung",
                  "Geografie"]),
    "fra_Latn": ("Cet article d'actualité porte sur {}.",
                 ["science/technologie", "voyages", "politique", "sport", "santé", "divertissement", "géographie"]),
    "rus_Cyrl": ("Тема этой новостной статьи: {}.",
                 ["наука/технологии", "путешествия", "политика", "спорт", "здоровье", "развлечения", "география"]),
    "spa_Latn": ("Este artículo de noticias trata sobre {}.",
                 ["ciencia/tecnología", "viajes", "política", "deportes", "salud", "entretenimiento", "geografía"]),
    "tur_Latn": ("Bu haber makalesi {} hakkındadır.",
                 ["bilim/teknoloji", "seyahat", "siyaset", "spor", "sağlık", "eğlence", "coğrafya"]),
    "arb_Arab": ("هذا المقال الإخباري يتحدث عن {}.",
                 ["العلوم/التكنولوجيا", "السفر", "السياسة", "الرياضة", "الصحة", "الترفيه", "الجغرافيا"]),
    "zho_Hans": ("这篇新闻文章是关于{}的。", ["科学/技术", "旅游", "政治", "体育", "健康", "娱乐", "地理"]),
}
# MasakhaNEWS French sections, named as a French newsroom would.
FRENCH_NEWS = ("Cet article d'actualité porte sur {}.",
               {"business": "économie", "health": "santé", "politics": "politique", "sports": "sport",
                "technology": "technologie"})
