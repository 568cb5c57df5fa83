"""Which language an article is written in, from py3langid's model (bundled in its wheel).

py3langid (adbar's maintained fork of langid.py) is naive Bayes over byte n-grams:
deterministic, about 1 ms for a 500-word article, 140 languages, no pickle. lingua was
no more accurate and ten times slower (or 1.2 GiB in its high-accuracy mode); langdetect
is random unless seeded and has no Azerbaijani. Measurements: docs/benchmarks.md, "Language detection"
(``python -m bench.language``).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

UNDETERMINED = "und"
MIN_CONFIDENCE = 0.5  # below this the best language is a guess (short words, names)
MIN_LETTERS = 4  # fewer letters than this is not text ("...", "12345", emoji)
MIN_LETTER_SHARE = 0.5  # of letters and digits together; tables of figures fall below
MAX_CHARS = 10_000  # an article's language is settled long before; bounds the cost of huge inputs

# Model labels that are not ISO 639-1 codes. Regional varieties fold into their
# macrolanguage; the others (Acehnese, Nigerian Pidgin, ...) have no two-letter code, so
# their probability counts for nobody and such a text comes out "und".
_FOLD = {"arz": "ar", "ary": "ar", "wuu": "zh", "yue": "zh", "uzs": "uz", "sdh": "ku", "gug": "gn", "fuv": "ff",
         "kik": "ki"}

_lock = threading.Lock()
_identifier: Any = None


@dataclass(frozen=True)
class DetectedLanguage:
    code: str  # ISO 639-1 ("en", "az", "zh"), or "und" when the text does not say
    confidence: float  # 0..1, the model's probability of ``code`` (of the best guess for "und")


def _get_identifier() -> Any:
    """The model, loaded once per process on first use.

    Takes 0.4 s and 74 MiB; loading briefly writes a 65 MB decompressed copy to a temporary file.
    """
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                # norm_probs turns the naive Bayes scores into probabilities we can threshold.
                # Never call set_languages on it: that mutates the shared model across threads.
                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def _has_letters(text: str) -> bool:
    # Punctuation is left out of the share: Chinese has no spaces, so its punctuation is dense.
    letters = sum(map(str.isalpha, text))
    digits = sum(map(str.isdigit, text))
    return letters >= MIN_LETTERS and letters >= MIN_LETTER_SHARE * (letters + digits)


def detect_language(text: str) -> DetectedLanguage:
    """The language of ``text``, or "und" when it has too little signal to tell.

    Deterministic and safe to call from many threads at once.

    Args:
        text: any text; only its first ``MAX_CHARS`` characters are read.

    Returns:
        The ISO 639-1 code and the model's probability for it.

    Example:
        >>> detect_language("Президент прибыл в Баку, где встретился с министром.").code
        'ru'
    """
    # Hebrew points and Arabic vowel marks are optional: the identifier learnt text without them, and
    # pointed Hebrew ("שָׂרֵי הַחוּץ דָּנוּ ...") came out "und" where the same words unpointed are 0.99997 "he".
    text = _OPTIONAL_MARKS.sub("", text[:MAX_CHARS])
    if not _has_letters(text):
        return DetectedLanguage(UNDETERMINED, 0.0)
    scores: dict[str, float] = {}
    for label, probability in _get_identifier().rank(text):
        code = _FOLD.get(label, label)
        if len(code) == 2:
            scores[code] = scores.get(code, 0.0) + probability
    code, confidence = max(scores.items(), key=lambda item: (item[1], item[0]))
    confidence = min(1.0, max(0.0, confidence))
    if confidence < MIN_CONFIDENCE:
        return DetectedLanguage(UNDETERMINED, confidence)
    return DetectedLanguage(code, confidence)


@lru_cache(maxsize=1024)
def label_set_language(names: tuple[str, ...]) -> str:
    """The language a label set is named in, or "und" (English names mostly come out "und").

    One name says too little ("Sport" is German, English and French), so the names are read
    together: newstag's translations of SIB-200's seven labels into German, French, Spanish,
    Turkish, Russian, Arabic and Chinese, and five French news sections, were each detected
    as their language at 0.71-1.00 (docs/benchmarks.md, "The labels' own language, as shipped").
    """
    # Lowercased: capitals read as English to the identifier ("Économie, Sport, Politique" came
    # out "und", "économie, sport, politique" French).
    return detect_language(", ".join(name.lower() for name in names)).code


_OPTIONAL_MARKS = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"  # Hebrew points, cantillation
                             "\u0610-\u061a\u064b-\u0652\u0656-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")


def label_words(labels: Iterable[Any]) -> tuple[str, ...]:
    """What a model reads of each label: its name, description and keywords (a name alone for a
    string). English names with Russian keywords were read by the English model, keywords and
    all, with no warning: "finance" fell from 0.99 to 0.36 on an English text."""
    out: list[str] = []
    for lab in labels:
        if isinstance(lab, str):
            out.append(lab)
        else:
            out += [lab.name, *([lab.description] if getattr(lab, "description", "") else []),
                    *getattr(lab, "keywords", ())]
    return tuple(out)


def label_set_language_among(names: tuple[str, ...], languages: Collection[str]) -> str:
    """label_set_language, kept when it is one of ``languages`` (those a model phrases labels
    in); else "und". The engine and the matcher's training choose templates by it alike."""
    if not languages or not names:
        return UNDETERMINED
    language = label_set_language(names)
    return language if language in languages else UNDETERMINED


# Languages written in Latin letters (ISO 639-1): a model that reads only these cannot read a
# Cyrillic, Arabic or Chinese text, however short.
LATIN_SCRIPT_LANGUAGES = frozenset(
    "af az br bs ca cs cy da de en eo es et eu fi fo fr ga gl hr ht hu id is it jv ku la lb lt lv mg ms mt nb "
    "nl nn no oc pl pt qu ro rw sk sl so sq sv sw tl tr vi vo wa xh yo zu".split())


def mostly_latin(text: str) -> bool:
    """Whether most letters of ``text`` are Latin: a text too short for its language to be told
    ("und") still shows its script, and a Cyrillic or Arabic headline is not English."""
    letters = [c for c in text[:MAX_CHARS] if c.isalpha()]
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return latin * 2 >= len(letters)
