from __future__ import annotations

import random

import pytest

from service.engine.sentences import split_sentences


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
])
def test_abbreviations_initials_and_quotes(text, expected):
    assert texts(split_sentences(text), text) == expected


def test_blank_lines_always_split_and_whitespace_is_trimmed():
    text = "  Headline without a period\n\n   First sentence of the body.\r\n\r\nlast line  \n"
    assert texts(split_sentences(text), text) == [
        "Headline without a period", "First sentence of the body.", "last line"]


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
