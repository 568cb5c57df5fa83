"""Optional Arabic marks are left out by the tokenizer, with offsets into the caller's text.

A tokenizer without an accent-stripping normalizer (SentencePiece-style, as EmbeddingGemma's)
is built here from a few words, so the test runs without any installed model.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from service.engine.tokenizer import OPTIONAL_MARKS, load_tokenizer

MARKED = "وَقَّعَتِ الحُكُومَةُ اتِّفَاقِيَّةً جَدِيدَةً لِلتِّجَارَةِ مَعَ الدُّوَلِ المُجَاوِرَةِ"
PLAIN = re.sub(OPTIONAL_MARKS, "", MARKED)
COMPOSED = "Prezident İlham Əliyev Bakıda görüşüb; l'économie française; Россия и Украина; мой край новый"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A byte-pair tokenizer trained on the text with and without its marks, and no normalizer."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<pad>"])
    texts = [MARKED, PLAIN, "פֿאַר פּאָר פאר آب اب", "The government signed a trade agreement.", COMPOSED]
    tokenizer.train_from_iterator(texts * 20, trainer)
    directory = tmp_path_factory.mktemp("bpe")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>").save_pretrained(directory)
    return directory


def test_the_plain_tokenizer_reads_a_marked_word_as_other_tokens(model_dir):
    plain = PreTrainedTokenizerFast.from_pretrained(model_dir)
    assert plain(MARKED)["input_ids"] != plain(PLAIN)["input_ids"]  # what the normalizer step is for


def test_marked_and_plain_text_give_the_same_tokens_with_offsets_into_the_marked_text(model_dir):
    tokenizer = load_tokenizer(model_dir)
    marked = tokenizer(MARKED, add_special_tokens=False, return_offsets_mapping=True)
    assert marked["input_ids"] == tokenizer(PLAIN, add_special_tokens=False)["input_ids"]
    pieces = [MARKED[start:end] for start, end in marked["offset_mapping"]]
    assert "".join(re.sub(OPTIONAL_MARKS, "", p) for p in pieces) == PLAIN.replace(" ", "")
    assert any(re.search(OPTIONAL_MARKS, p) for p in pieces)  # the offsets are the marked text's


def test_tatweel_is_left_out_and_marks_that_make_letters_are_kept(model_dir):
    tokenizer = load_tokenizer(model_dir)
    ids = [tokenizer(word)["input_ids"] for word in ("פֿאַר", "פּאָר", "פאר")]  # Yiddish: "for", "pair", bare
    assert ids[0] != ids[2] and ids[1] != ids[2] and ids[0] != ids[1]  # its spelling needs the points
    # Persian "water" with its alef-maddah written decomposed (alef + U+0653) is not "ab"
    assert tokenizer("\u0627\u0653\u0628")["input_ids"] != tokenizer("\u0627\u0628")["input_ids"]
    assert tokenizer("الحـــكومة")["input_ids"] == tokenizer("الحكومة")["input_ids"]
    english = "The government signed a trade agreement."
    assert tokenizer(english)["input_ids"] == PreTrainedTokenizerFast.from_pretrained(model_dir)(english)["input_ids"]


def test_a_tokenizer_saved_with_the_step_does_not_get_it_twice(model_dir, tmp_path):
    load_tokenizer(model_dir).save_pretrained(tmp_path)  # as fine-tuning saves its base's tokenizer
    again = load_tokenizer(tmp_path).backend_tokenizer.normalizer.__getstate__()
    assert again.count(OPTIONAL_MARKS.encode()) == 1 and again.count(b'"NFC"') == 1
    assert load_tokenizer(tmp_path)(MARKED)["input_ids"] == load_tokenizer(model_dir)(MARKED)["input_ids"]


def test_decomposed_text_gives_the_tokens_of_composed_text_with_offsets_into_it(model_dir):
    """Accents typed decomposed (NFD: "ö" as "o" and U+0308, "й" as "и" and U+0306, as some
    systems paste them) were cut into other pieces: an Azerbaijani article lost climate
    change (0.82) through EmbeddingGemma, whose tokenizer does not compose them (a helper's audit)."""
    decomposed = unicodedata.normalize("NFD", COMPOSED)
    tokenizer = load_tokenizer(model_dir)
    read = tokenizer(decomposed, add_special_tokens=False, return_offsets_mapping=True)
    assert read["input_ids"] == tokenizer(COMPOSED, add_special_tokens=False)["input_ids"]
    pieces = [decomposed[start:end] for start, end in read["offset_mapping"]]
    # Offsets into the decomposed text, at letters: a letter's mark may lie after its token's end.
    assert not any(unicodedata.combining(piece[0]) for piece in pieces) and len("".join(pieces)) > len(COMPOSED) // 2


def test_a_long_decomposed_sentence_cut_into_pieces_keeps_every_mark_in_a_piece(model_dir):
    """Composed by the tokenizer, a letter's decomposed mark lies after its token's end: a long
    sentence cut at that token left the mark out of both pieces (evidence "...и" for "...й")."""
    from service.engine.chunking import prepare_document

    text = unicodedata.normalize("NFD", " ".join(["мой край новый"] * 12) + ".")  # each word ends in "й"
    doc = prepare_document(text, load_tokenizer(model_dir), 4, special_tokens=0)
    assert len(doc.sentences) > 2  # one sentence, cut into pieces
    kept = {i for s in doc.sentences for i in range(s.start, s.end)}
    assert [c for i, c in enumerate(text) if unicodedata.combining(c) and i not in kept] == []


ASCII_TEXT = "The government signed a trade agreement."
FULL_WIDTH_TEXT = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in ASCII_TEXT)


def test_full_width_forms_are_folded_only_for_a_vocabulary_without_them(model_dir, tmp_path):
    """all-MiniLM-L6-v2 has no token for "Ａ" (its letters read as [UNK]): folded to ASCII, offsets
    kept. A vocabulary that has them (EmbeddingGemma's) reads them as it was trained to."""
    folded = load_tokenizer(model_dir)  # trained on ASCII and Arabic: "Ａ" is <unk>
    encoded = folded(FULL_WIDTH_TEXT, return_offsets_mapping=True, add_special_tokens=False)
    plain = folded(ASCII_TEXT, return_offsets_mapping=True, add_special_tokens=False)
    assert folded.unk_token_id not in encoded["input_ids"] and encoded["input_ids"] == plain["input_ids"]
    assert encoded["offset_mapping"] == plain["offset_mapping"]  # one code point for one
    # Saved (as fine-tuning saves it) and loaded again: folded once, the same reading.
    folded.save_pretrained(tmp_path / "saved")
    again = load_tokenizer(tmp_path / "saved")
    assert again(FULL_WIDTH_TEXT, add_special_tokens=False)["input_ids"] == encoded["input_ids"]
    assert len(again.backend_tokenizer.normalizer.__getstate__()) == len(
        folded.backend_tokenizer.normalizer.__getstate__())

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    alphabet = " ".join(chr(c) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)])
    tokenizer.train_from_iterator([FULL_WIDTH_TEXT, ASCII_TEXT, alphabet] * 20,
                                  trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<pad>"]))
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>").save_pretrained(
        tmp_path / "has-them")
    kept = load_tokenizer(tmp_path / "has-them")
    assert "Ｔ" in "".join(kept.tokenize(FULL_WIDTH_TEXT))  # not folded


def test_word_joiners_and_soft_hyphens_are_left_out_with_offsets_into_the_text(model_dir, tmp_path):
    """A reading copy puts word joiners where an entity or a tag stood inside a word ("r&eacute;forme");
    a tokenizer that reads them (EmbeddingGemma's: "ré", three joiners, "forme") cut the word."""
    joined = "The govern\u2060\u2060\u2060ment signed a trade agree\u00adment."
    plain = "The government signed a trade agreement."
    raw = PreTrainedTokenizerFast.from_pretrained(model_dir)
    assert raw(joined)["input_ids"] != raw(plain)["input_ids"]  # what the step is for
    tokenizer = load_tokenizer(model_dir)
    read = tokenizer(joined, add_special_tokens=False, return_offsets_mapping=True)
    assert read["input_ids"] == tokenizer(plain, add_special_tokens=False)["input_ids"]
    assert "".join(joined[s:e] for s, e in read["offset_mapping"]).replace("\u2060", "").replace("\u00ad", "") \
        == plain.replace(" ", "")
    tokenizer.save_pretrained(tmp_path)
    assert load_tokenizer(tmp_path).backend_tokenizer.normalizer.__getstate__().count("[\u2060\u00ad]".encode()) == 1
