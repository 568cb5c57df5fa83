from __future__ import annotations

import random
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from service.engine.chunking import prepare_document
from service.engine.model_files import default_model_dir


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)


def window_sizes(doc):
    return [len(doc.window_token_ids(w)) for w in doc.windows]


def test_every_sentence_is_in_exactly_one_window_in_order(tokenizer, seed_text):
    doc = prepare_document(seed_text, tokenizer, max_tokens=64)
    covered = [i for w in doc.windows for i in w]
    assert covered == list(range(len(doc.sentences)))
    assert all(size <= 62 for size in window_sizes(doc))


def test_long_article_windows_are_balanced_and_under_the_limit(tokenizer, seed_text):
    article = "\n\n".join([seed_text] * 12)  # about 3,600 words
    doc = prepare_document(article, tokenizer, max_tokens=256)
    sizes = window_sizes(doc)
    assert len(doc.windows) >= 10
    assert max(sizes) <= 254
    # Balanced packing: no tiny window that would weigh as much as a full one.
    assert min(sizes) >= 0.3 * max(sizes)
    # The end of the article is in a window like the start.
    assert doc.windows[-1].stop == len(doc.sentences)
    assert doc.sentences[-1].end == len(article.rstrip())


def test_windows_end_where_paragraphs_end(tokenizer):
    paragraph = "A sentence about one thing fills some tokens. Another sentence follows it here."
    text = "\n\n".join(f"{paragraph} Paragraph {i}." for i in range(12))
    doc = prepare_document(text, tokenizer, max_tokens=64)
    for window in doc.windows[:-1]:
        end = doc.sentences[window.stop - 1].end
        assert text[end:end + 2] == "\n\n"


def test_a_sentence_longer_than_a_window_is_cut_at_token_boundaries(tokenizer):
    text = "word " * 300 + "end."
    doc = prepare_document(text, tokenizer, max_tokens=32)
    assert len(doc.sentences) > 1
    assert all(len(ids) <= 30 for ids in doc.sentence_token_ids)
    assert all(size <= 30 for size in window_sizes(doc))
    for span in doc.sentences:
        assert text[span.start:span.end].strip() == text[span.start:span.end]


def test_sentence_token_ids_match_the_tokenizer(tokenizer):
    text = "Azerbaijan and Belarus met. The mine threat was discussed."
    doc = prepare_document(text, tokenizer, max_tokens=128)
    for span, ids in zip(doc.sentences, doc.sentence_token_ids, strict=True):
        assert list(ids) == tokenizer(text[span.start:span.end], add_special_tokens=False)["input_ids"]


def test_text_with_nothing_to_tokenize_has_no_windows(tokenizer):
    doc = prepare_document("   \n\n  ", tokenizer, max_tokens=64)
    assert doc.sentences == () and doc.windows == ()


_GEMMA = Path(__file__).resolve().parent.parent / "base-models" / "embeddinggemma-300m"
_LONG_WORDS = ("the intergovernmental commission discussed decarbonisation and electrification of transportation "
               "infrastructure with representatives of municipalities and telecommunications conglomerates amid "
               "hyperinflation").split()


@pytest.mark.parametrize("model", [
    "default",
    pytest.param("gemma", marks=pytest.mark.skipif(not (_GEMMA / "tokenizer.json").is_file(),
                                                   reason=f"EmbeddingGemma is not installed in {_GEMMA}")),
])
def test_a_long_sentence_is_cut_between_words(model):
    """A paragraph with no sentence end the splitter knows (lower-case scraped text, a transcript) was cut
    every window's worth of tokens wherever that fell: 5 of 16 pieces ended inside a word ("intergovern" |
    "mental"), and EmbeddingGemma's began with the space its word token holds; evidence quoted them so."""
    path = default_model_dir() if model == "default" else _GEMMA
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    rng = random.Random(3)
    text = " ".join(rng.choice(_LONG_WORDS) for _ in range(600))
    doc = prepare_document(text, tokenizer, max_tokens=64)
    assert len(doc.sentences) > 5 and all(len(ids) <= 62 for ids in doc.sentence_token_ids)
    for span in doc.sentences:
        assert text[span.start:span.end] == text[span.start:span.end].strip()
        assert span.start == 0 or text[span.start - 1] == " ", text[span.start - 10:span.start + 10]
        assert span.end == len(text) or text[span.end] == " ", text[span.end - 10:span.end + 10]
    assert [i for w in doc.windows for i in w] == list(range(len(doc.sentences)))
