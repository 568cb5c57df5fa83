"""newstag's measured choices for particular model weights: the prompts they read, their windows.

A sentence-transformers model may name prompts in ``config_sentence_transformers.json``
(EmbeddingGemma: ``Classification``, ``document``, ``query``, ``STS``, ...). Which one
newstag puts before texts and before labels was measured (bench/multilingual.py,
docs/benchmarks.md "Multilingual"), so it is pinned here by the weights' SHA-256, as the
calibration is in calibration_fits.py. Weights not listed get the model's own
``default_prompt_name`` for both (what sentence-transformers' ``encode`` does), usually none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .model_files import MULTILINGUAL_MATCHER_DIR, MULTILINGUAL_MATCHER_SHA256, MULTILINGUAL_SHA256


@dataclass(frozen=True)
class PromptNames:
    """Names of prompts in the model's config_sentence_transformers.json; None: no prompt."""

    text: str | None = None  # before each document window
    label: str | None = None  # before each label phrasing and reference topic


@dataclass(frozen=True)
class SentenceRules:
    """When a sentence read alone may bring a topic in, and how much it says (sentence_support.py).

    The defaults were measured with all-MiniLM-L6-v2 and its calibration (docs/benchmarks.md, "Trust").
    """

    route_min: float = 0.15  # a sentence scoring below this in context is not read alone for its label
    # A label's sentences count only when the article leans to it somewhere: its score in the
    # window that favours it most is at least this. Junk gives a sentence like "Good news!"
    # read alone a topic (COP29) its text as a whole gives no chance; the founding article's
    # mission topics have 0.2-0.9 in their windows.
    route_min_window: float = 0.05
    min_words: float = 4.0  # a shorter sentence says too little alone to bring a topic in (words.py counts)
    # sentence_support.support(); 0.6 with the calibrations before label_hubness and
    # nonnews_lead (EmbeddingGemma's still is one: its profile pins 0.6).
    discount: float = 0.55


@dataclass(frozen=True)
class ModelProfile:
    prompts: PromptNames | None = None  # None: the model's default_prompt_name for both
    # How a label's name and keywords are phrased; None: label_vectors.TEMPLATE, "news about {}".
    # Several templates: the name's phrasings by each are averaged (label_vectors.py).
    label_template: str | tuple[str, ...] | None = None
    # How articles, texts of article_min_sentences sentences or more, read labels, when not as label_template.
    article_template: str | tuple[str, ...] | None = None
    # Labels named in one of these languages (detected from their names read together) are
    # phrased by this template in that language for texts read as sentences; articles keep
    # article_template when there is one (embedding_backend.py).
    own_language_templates: dict[str, str] = field(default_factory=dict)
    article_min_sentences: int = 3
    # Window size when NEWSTAG_MAX_TOKENS is unset (None: the model's own limit). The
    # calibration takes each feature's mean over windows, so windows the size it was
    # fitted with (256 tokens, as all-MiniLM-L6-v2's limit) keep its scores meaningful.
    window_tokens: int | None = None
    # NEWSTAG_PRECISION values these weights are refused at on torch, and why (measured); an
    # ONNX graph is checked on its own (onnx_graph.INT8_FP32_PRODUCTS).
    refused_precisions: dict[str, str] = field(default_factory=dict)
    sentence_rules: SentenceRules = SentenceRules()
    # A topic matcher adapter trained for these weights (its directory, its pinned SHA-256),
    # merged at load unless NEWSTAG_MATCHER=off; the calibration and genre check are pinned for the pair.
    matcher: tuple[Path, str] | None = None


PROFILES: dict[str, ModelProfile] = {
    # EmbeddingGemma-300m (model_cards/embeddinggemma-300m.md). Its retrieval pair, texts as
    # documents ("title: none | text: ") and labels as queries ("task: search result |
    # query: "), did best over SIB-200 and French news together of the nine pairs of no
    # prompt, Classification and document (texts) with no prompt, query and Classification
    # (labels), by bench/multilingual.py's prompt comparison in an earlier session (commit
    # 4a708be); its table did not reach docs/benchmarks.md and was not measured again since.
    # Its labels read "This news article is about {name}.": of six templates, the best mean
    # SIB-200 macro-F1 (0.747; "This text is about {}." 0.744, "news about {}" 0.714) and
    # the best French news figure among those that keep SIB-200 above its target (0.792;
    # "news about {}" 0.827, "This text is about {}." 0.760): same section, "Label templates".
    # Articles of three sentences or more read "news about {name}" (session 9: French news
    # 0.792 -> 0.819, SIB-200 mean 0.747 -> 0.746; same section, "Articles read labels as news").
    MULTILINGUAL_SHA256[:12]: ModelProfile(
        PromptNames("document", "query"), label_template="This news article is about {}.", window_tokens=256,
        article_template="news about {}",
        # Labels named in German, French or Turkish read this sentence in their language when a text is
        # read as sentences (SIB-200, own-language names, 100 sentences each, multi-label F1 at 0.5:
        # German 0.597 -> 0.696, French 0.658 -> 0.692, Turkish 0.570 -> 0.699; Spanish 0.754 -> 0.696,
        # Russian, Arabic and Chinese lower too: left English). Articles keep "news about {}": with
        # French section names it read MasakhaNEWS French better than the French sentence (top-1
        # 0.820 against 0.800). docs/benchmarks.md, "The labels' own language, as shipped".
        own_language_templates={"de": "Dieser Nachrichtenartikel handelt von {}.",
                                "fr": "Cet article d'actualité porte sur {}.",
                                "tr": "Bu haber makalesi {} hakkındadır."},
        # Its activations have outliers that torch's per-tensor int8 cannot hold: window vectors
        # came out at cosine 0.94 of fp32's, sentence vectors as low as 0.79. bf16 keeps
        # 0.99998 (the upstream card: float32 or bfloat16, never float16). ONNX Runtime's int8
        # graph keeps the MLP's output projection and the end layers in fp32 (onnx_graph.py).
        refused_precisions={"int8": "torch's int8 moves its vectors to cosine 0.94 of fp32's; use "
                                    "NEWSTAG_RUNTIME=onnx for int8, or fp32, bf16 or auto"},
        # Session 6's default rules (discount 0.6), kept on measurement (bench/sentence_rules.py, docs/benchmarks.md
        # "Multilingual"): no junk gets a topic at any discount down to 0.2, but below 0.6 the
        # sentences that come in are as likely wrong as right (at 0.2 Russian economy comes at
        # 0.505, and a French article on green energy gets COP29 at 0.500), and the Russian and
        # Azerbaijani demining sentences score 0.42 and 0.32 alone: under 0.5 at any discount.
        # Measured again with session 10's calibration (docs/benchmarks.md, "Texts in another
        # language than their labels"): 0.55 adds a right section to 2 of 60 French articles
        # for 0.15 more topics each; demining scores 0.39 and 0.11 alone. Kept.
        sentence_rules=SentenceRules(route_min=0.15, route_min_window=0.05, min_words=4.0, discount=0.6),
        # Its own topic matcher (docs/benchmarks.md, "EmbeddingGemma's topic matcher").
        matcher=(MULTILINGUAL_MATCHER_DIR, MULTILINGUAL_MATCHER_SHA256)),
}


def profile_for(weights_sha256: str) -> ModelProfile:
    """newstag's choices for these weights, or none (the model's own defaults)."""
    return PROFILES.get(weights_sha256[:12], ModelProfile())
