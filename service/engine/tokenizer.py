"""The tokenizer a model reads text through, with optional Arabic-script marks left out.

Arabic short-vowel marks (harakat), the dagger alif, Qur'anic annotation signs and the
tatweel that stretches a word are optional in writing: most news omits them, some texts
carry a few, a quotation, a poem or a school text carries them all. A tokenizer that keeps
them (SentencePiece: EmbeddingGemma, XLM-R) cuts a marked word into other, smaller pieces,
so the same sentence with and without its marks reads as two different texts (35 tokens
against 9 for one Arabic sentence with EmbeddingGemma). BERT's uncased normalizer already
drops them (they are combining marks). They are removed by the tokenizer's own
normalizer, so every token's offsets stay those of the caller's text and evidence offsets
do not move.

Kept: maddah and hamza above and below (U+0653-U+0655), which written decomposed are part
of a letter (آ, أ, ئ), and Hebrew points, which Yiddish spelling needs (פֿ, פּ and פ are
three letters), so pointed Hebrew still reads apart from unpointed.

Text is composed (NFC) first, the same way: accents typed decomposed ("ö" as "o" and
U+0308, "й" as "и" and U+0306, as some systems paste them) were cut into other pieces by a
tokenizer that does not compose them, so an NFD article read as another text (an
Azerbaijani article lost climate change, 0.82, through EmbeddingGemma).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import Regex, normalizers
from transformers import AutoTokenizer

# Arabic script: honorific signs, tatweel, harakat (U+064B-U+0652, U+0656-U+065F), dagger alif,
# Qur'anic annotations.
OPTIONAL_MARKS = "[\u0610-\u061a\u0640\u064b-\u0652\u0656-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]"


def load_tokenizer(model_dir: Path | str) -> Any:
    """The model directory's tokenizer (local files only), text composed and optional marks left
    out when it is a fast one."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if tokenizer.is_fast:
        leave_out_optional_marks(tokenizer)
        fold_full_width_forms(tokenizer)
        leave_out_word_joiners(tokenizer)
    return tokenizer


# Invisible inside a word: the word joiners a reading copy puts where a tag or an entity stood inside a
# word (markup.py: "r&eacute;forme", "Euro<b>pean</b>"), and soft hyphens ("Bundes&shy;regierung").
INVISIBLE_IN_WORDS = "[\u2060\u00ad]"


def leave_out_word_joiners(tokenizer: Any) -> None:
    """Leave word joiners and soft hyphens out, when the tokenizer reads them: EmbeddingGemma's cut
    "ré" + joiners + "forme" into five tokens, and "Bundes\u00adregierung" into three; BERT's
    normalizer (all-MiniLM-L6-v2) drops them already, and is left as it is. Offsets stay those of
    the caller's text. Once: a tokenizer saved by fine-tuning carries the step already."""
    if tokenizer.tokenize("ré\u2060forme Bundes\u00adregierung") == tokenizer.tokenize("réforme Bundesregierung"):
        return
    backend = tokenizer.backend_tokenizer
    current = backend.normalizer
    if current is not None and INVISIBLE_IN_WORDS.encode() in current.__getstate__():
        return
    step = normalizers.Replace(Regex(INVISIBLE_IN_WORDS), "")
    backend.normalizer = normalizers.Sequence([step, *([current] if current is not None else [])])


# Full-width ASCII (U+FF01-U+FF5E) and the ideographic space, as East Asian text and some
# systems type Latin letters and digits: "ＴＯＫＹＯ ｓｔｏｃｋｓ", "ＧＤＰ ２．１％".
FULL_WIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]


def fold_full_width_forms(tokenizer: Any) -> None:
    """Read full-width forms as their ASCII letters, digits and signs when the vocabulary has no
    token for them: all-MiniLM-L6-v2 read "ＴＯＫＹＯ ｓｔｏｃｋｓ ｒｏｓｅ" as [UNK] [UNK] [UNK] (the
    genre check then called it non-news, probability 0.04), where its ASCII form is business
    0.93. A vocabulary that has most of the letters and digits (EmbeddingGemma's has every one)
    reads them as it was trained to.

    Each form is one code point for one, so every token's offsets stay those of the caller's
    text. Once: a tokenizer saved by fine-tuning carries the fold in its normalizer already.
    """
    unknown = tokenizer.unk_token
    alphanumerics = [form for form in FULL_WIDTH if form.isalnum()]
    if unknown is None or tokenizer.tokenize(" ".join(alphanumerics)).count(unknown) < len(alphanumerics) / 2:
        return
    backend = tokenizer.backend_tokenizer
    current = backend.normalizer
    if current is not None and FULL_WIDTH[0].encode() in current.__getstate__():
        return
    steps = [normalizers.Replace(form, " " if form == "\u3000" else chr(ord(form) - 0xFEE0)) for form in FULL_WIDTH]
    backend.normalizer = normalizers.Sequence([*steps, *([current] if current is not None else [])])


def leave_out_optional_marks(tokenizer: Any) -> None:
    """Put composition (NFC) and the removal of optional marks first in a fast tokenizer's
    normalizer (once: a tokenizer saved with them, by fine-tuning, keeps them and does not get
    them twice; one saved with the marks' step alone, before composition, gets composition)."""
    backend = tokenizer.backend_tokenizer
    current = backend.normalizer
    state = current.__getstate__() if current is not None else b""
    marks = normalizers.Replace(Regex(OPTIONAL_MARKS), "")
    steps = [step for step, there in ((normalizers.NFC(), b'"NFC"' in state), (marks, OPTIONAL_MARKS.encode() in state))
             if not there]
    if steps:
        backend.normalizer = normalizers.Sequence([*steps, *([current] if current is not None else [])])
