"""Sentence-aligned windows under the model's token limit.

Each article is tokenized once. Sentences are packed into windows of balanced size, so
a 3,000-word article becomes several windows of about equal length and its last
paragraphs weigh as much as its first. A sentence longer than a window is cut into
pieces at token boundaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .sentences import Span, split_sentences


@dataclass(frozen=True)
class PreparedDocument:
    """A text cut into sentences (with their token ids) and windows of whole sentences."""

    text: str
    sentences: tuple[Span, ...]
    sentence_token_ids: tuple[tuple[int, ...], ...]
    windows: tuple[range, ...]  # each a range of sentence indices

    def window_token_ids(self, window: range) -> list[int]:
        return [t for i in window for t in self.sentence_token_ids[i]]

    def window_text_span(self, window: range) -> Span:
        return Span(self.sentences[window.start].start, self.sentences[window.stop - 1].end)


def _tokens_per_sentence(text: str, spans: list[Span], tokenizer: Any) -> list[list[tuple[int, int, int]]]:
    """(token id, char start, char end) of each sentence's tokens, from one tokenizer call."""
    encoded = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    per_sentence: list[list[tuple[int, int, int]]] = [[] for _ in spans]
    index = 0
    for token_id, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        while index < len(spans) and start >= spans[index].end:
            index += 1
        if index == len(spans):
            break
        if end > spans[index].start:
            per_sentence[index].append((token_id, start, end))
    return per_sentence


def _cut_long(span: Span, tokens: list[tuple[int, int, int]], budget: int):
    """Yield (span, token ids) pieces of at most ``budget`` tokens."""
    if len(tokens) <= budget:
        yield span, tuple(t[0] for t in tokens)
        return
    for i in range(0, len(tokens), budget):
        piece = tokens[i : i + budget]
        yield Span(piece[0][1], piece[-1][2]), tuple(t[0] for t in piece)


def _pack(lengths: list[int], budget: int) -> list[range]:
    """Group consecutive sentences into windows of at most ``budget`` tokens, balanced."""
    total = sum(lengths)
    if total == 0:
        return [range(0, len(lengths))] if lengths else []
    target = total / math.ceil(total / budget)
    windows: list[range] = []
    start, size = 0, 0
    for i, length in enumerate(lengths):
        if size and (size + length > budget or size + length / 2 > target):
            windows.append(range(start, i))
            start, size = i, 0
        size += length
    windows.append(range(start, len(lengths)))
    return windows


def prepare_document(text: str, tokenizer: Any, max_tokens: int) -> PreparedDocument:
    """Split ``text`` into sentences and windows of at most ``max_tokens`` tokens each.

    ``max_tokens`` includes the two special tokens ([CLS], [SEP]) the encoder adds.
    """
    budget = max_tokens - 2
    spans = split_sentences(text)
    sentences: list[Span] = []
    token_ids: list[tuple[int, ...]] = []
    for span, tokens in zip(spans, _tokens_per_sentence(text, spans, tokenizer), strict=True):
        if not tokens:  # punctuation-only or characters the tokenizer drops
            continue
        for piece, ids in _cut_long(span, tokens, budget):
            sentences.append(piece)
            token_ids.append(ids)
    windows = _pack([len(ids) for ids in token_ids], budget)
    return PreparedDocument(text, tuple(sentences), tuple(token_ids), tuple(windows))
