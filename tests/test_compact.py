"""A page's reading copy without its long blank runs: what sentence splitting sees is kept, offsets map back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.compact import LONGEST_RUN, compacted
from service.engine.sentences import split_sentences

_WORDS = st.sampled_from(["Rates rose.", "Markets", "fell", "The bank", "said.", "Übersee", "今天。", "x"])
_BLANKS = st.one_of(st.just(" "), st.just("\n"), st.text(alphabet=" \t\n\u2029", min_size=LONGEST_RUN - 2,
                                                              max_size=3 * LONGEST_RUN))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_WORDS, _BLANKS), max_size=12))
def test_every_shown_character_maps_back_to_itself_and_sentences_to_the_same_words(parts):
    text = "".join(word + blank for word, blank in parts)
    copy = compacted(text)
    assert len(copy.text) <= len(text)
    mapped = [copy.original(p) for p in range(len(copy.text) + 1)]
    assert mapped == sorted(mapped) and mapped[-1] == len(text)
    for p, char in enumerate(copy.text):
        if not char.isspace():
            assert text[mapped[p]] == char
    # The copy's sentences are the text's: the same words, each found where the offsets say.
    ours = [(copy.original(s.start), copy.original(s.end)) for s in split_sentences(copy.text)]
    theirs = [(s.start, s.end) for s in split_sentences(text)]
    assert ours == theirs


def test_a_text_without_long_runs_is_its_own_copy():
    text = "The bank raised rates.\n\nMarkets fell.   Then rose."
    copy = compacted(text)
    assert copy.text is text and copy.original(10) == 10


def test_a_run_keeps_what_it_means_to_sentences():
    blank = " " * LONGEST_RUN
    assert compacted(f"a{blank}b").text == "a b"
    assert compacted(f"a{blank}\n{blank}b").text == "a\nb"
    assert compacted(f"a{blank}\n{blank}\n{blank}b").text == "a\n\nb"
    assert compacted(f"a{blank}\u2029b").text == "a\n\nb"
