"""Sentence-aligned windows under the model's token limit.

Each article is tokenized once. Sentences are packed into windows of about equal size
that prefer to end where a paragraph ends, so a 3,000-word article becomes several
windows and its last paragraphs weigh as much as its first. A sentence longer than a
window is cut into pieces at token boundaries.

A model that reads a prompt before each text (EmbeddingGemma's "task: classification |
query: ") gets it tokenized together with the text, as sentence-transformers does, so the
first word's token is the same; the prompt's tokens are kept apart and come before each
window, and the windows are shorter by as much.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any

from .sentences import Span, split_sentences

PARAGRAPH_FILL = 0.6  # a window may close at a paragraph break once this full (of its target)
MIN_TAIL = 0.3  # what is left after a window must be this big (of the target) to stand alone


@dataclass(frozen=True)
class PreparedDocument:
    """A text cut into sentences (with their token ids) and windows of whole sentences."""

    text: str
    sentences: tuple[Span, ...]
    sentence_token_ids: tuple[tuple[int, ...], ...]
    windows: tuple[range, ...]  # each a range of sentence indices
    prompt_ids: tuple[int, ...] = ()  # the prompt's tokens, read before each window
    special_tokens: int = 2  # around each window: [CLS] and [SEP], or <bos> and <eos>

    @property
    def token_count(self) -> int:
        """Tokens the model reads for this document, special and prompt tokens of each window included."""
        per_window = self.special_tokens + len(self.prompt_ids)
        return sum(len(ids) for ids in self.sentence_token_ids) + per_window * len(self.windows)

    def window_token_ids(self, window: range) -> list[int]:
        return [t for i in window for t in self.sentence_token_ids[i]]

    def window_text_span(self, window: range) -> Span:
        return Span(self.sentences[window.start].start, self.sentences[window.stop - 1].end)


def _tokens_per_sentence(text: str, spans: list[Span], tokenizer: Any,
                         prompt: str = "") -> tuple[list[list[tuple[int, int, int]]], tuple[int, ...]]:
    """(token id, char start, char end) of each sentence's tokens, and the prompt's token ids.

    One tokenizer call on ``prompt + text``; a token that starts in the prompt and ends in
    the text (SentencePiece's "▁Hello" after "query: ") belongs to the text.
    """
    encoded = tokenizer(
        prompt + text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    shift = len(prompt)
    per_sentence: list[list[tuple[int, int, int]]] = [[] for _ in spans]
    prompt_ids: list[int] = []
    index = 0
    for token_id, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        if shift and end <= shift:
            prompt_ids.append(token_id)
            continue
        start, end = max(start - shift, 0), end - shift
        while index < len(spans) and start >= spans[index].end:
            index += 1
        if index == len(spans):
            break
        if end > spans[index].start:
            per_sentence[index].append((token_id, start, end))
    return per_sentence, tuple(prompt_ids)


def _starts_word(text: str, start: int) -> bool:
    """Whether a token starting at ``start`` begins a word: whitespace before it, or (SentencePiece's
    "▁word") the token holds that whitespace itself."""
    return start == 0 or text[start - 1].isspace() or text[start].isspace()


def _cut_long(text: str, span: Span, tokens: list[tuple[int, int, int]], budget: int):
    """Yield (span, token ids) pieces of at most ``budget`` tokens, cut between words where the
    piece has a word start to cut at (text without spaces, Chinese or Japanese, is cut anywhere)."""
    if len(tokens) <= budget:
        yield span, tuple(t[0] for t in tokens)
        return
    i = 0
    while i < len(tokens):
        stop = min(i + budget, len(tokens))
        # A cut inside a word ("hyperinfl" | "ation") left evidence quoting half words: back to the
        # last word start in the piece.
        stop = next((k for k in range(stop, i, -1) if k == len(tokens) or _starts_word(text, tokens[k][1])), stop)
        piece = tokens[i:stop]
        start = piece[0][1]
        while start < piece[0][2] and text[start].isspace():  # the space a "▁word" token holds is not the piece's
            start += 1
        # The tokenizer composes text (NFC), so a decomposed letter's mark lies after its token's
        # end: kept with the piece, not left out of both ("...и" quoted for "...й").
        end = piece[-1][2]
        while end < span.end and unicodedata.combining(text[end]):
            end += 1
        yield Span(start, end), tuple(t[0] for t in piece)
        i = stop


def _pack(lengths: list[int], breaks: list[bool], budget: int) -> list[range]:
    """Group consecutive sentences into windows of at most ``budget`` tokens.

    Windows aim at equal size (the article's tokens over the fewest windows that fit),
    and close early at a paragraph break once they are ``PARAGRAPH_FILL`` of that size,
    since a paragraph is news writing's unit of topic.
    """
    total = sum(lengths)
    if not lengths:
        return []
    target = total / max(1, math.ceil(total / budget))
    windows: list[range] = []
    start, size, remaining = 0, 0, total
    for i, length in enumerate(lengths):
        full = size + length > budget
        at_paragraph = breaks[i] and size >= PARAGRAPH_FILL * target
        balanced = size + length / 2 > target and not _break_within(breaks, i, lengths, target - size)
        # A short last paragraph joins the window before it rather than stand alone.
        small_tail = remaining < MIN_TAIL * target
        if size and (full or (not small_tail and (at_paragraph or balanced))):
            windows.append(range(start, i))
            start, size = i, 0
        size += length
        remaining -= length
    windows.append(range(start, len(lengths)))
    return windows


def _break_within(breaks: list[bool], i: int, lengths: list[int], room: float) -> bool:
    """True when a paragraph break comes within ``room`` more tokens after sentence ``i``."""
    used = 0
    for j in range(i + 1, len(lengths)):
        used += lengths[j - 1]
        if used > room:
            return False
        if breaks[j]:
            return True
    return False


def prepare_document(text: str, tokenizer: Any, max_tokens: int, *, prompt: str = "",
                     special_tokens: int = 2) -> PreparedDocument:
    """Split ``text`` into sentences and windows of at most ``max_tokens`` tokens each.

    ``max_tokens`` includes the special tokens the encoder adds around each window
    (``special_tokens``: [CLS] and [SEP]) and the ``prompt``'s tokens before it.
    """
    spans = split_sentences(text)
    per_sentence, prompt_ids = _tokens_per_sentence(text, spans, tokenizer, prompt)
    budget = max(max_tokens - special_tokens - len(prompt_ids), 1)
    sentences: list[Span] = []
    token_ids: list[tuple[int, ...]] = []
    breaks: list[bool] = []  # does the sentence start a new paragraph?
    for span, tokens in zip(spans, per_sentence, strict=True):
        if not tokens:  # punctuation-only or characters the tokenizer drops
            continue
        previous_end = sentences[-1].end if sentences else 0
        for k, (piece, ids) in enumerate(_cut_long(text, span, tokens, budget)):
            breaks.append(k == 0 and "\n" in text[previous_end:span.start])
            sentences.append(piece)
            token_ids.append(ids)
    windows = _pack([len(ids) for ids in token_ids], breaks, budget)
    return PreparedDocument(text, tuple(sentences), tuple(token_ids), tuple(windows), prompt_ids, special_tokens)
