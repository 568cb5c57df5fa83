"""A sentence-embedding model loaded with transformers from a local directory.

Embeddings are mean-pooled, run through the model's sentence-transformers modules after
pooling (Dense layers, st_modules.py) and L2-normalised, as the model was trained. A
document's windows go through the model once; each sentence's vector is the mean of its
own (contextualised) tokens in that pass, so evidence costs no extra forward pass. A
model may read a prompt before each text (model_profiles.py): windows carry it, and a
window's mean includes its tokens when the model's pooling does (``include_prompt``),
but a sentence's vector is always the mean of the sentence's own tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from transformers import AutoModel
from transformers.utils import logging as hf_logging

from ..errors import ConfigError, ModelLoadError
from ..options import EncoderOptions
from .adapter import Adapter, merge_adapter
from .batching import MicroBatcher, length_batches
from .cache import BoundedCache
from .chunking import PreparedDocument, prepare_document
from .int8_kernels import FULL, int8_kernels, int8_range
from .model_profiles import PromptNames
from .onnx_cache import GraphSource, default_onnx_dir, load_graph
from .onnx_runtime import SUPPORTED_MODEL_TYPES, OnnxHiddenStates, graph_precision, onnxruntime_available
from .pooling import mean_pool, pad_batch, segment_means, unit
from .precision import Precision
from .st_modules import read_pipeline
from .tokenizer import load_tokenizer

log = logging.getLogger("newstag.encoder")
T = TypeVar("T")
PAD_TO = 32  # batch widths are multiples of this (up to the window size)


@dataclass(frozen=True)
class _WindowMeans:
    window: torch.Tensor  # mean of all its tokens, [CLS] and [SEP] (and the prompt, if pooled) included
    sentences: torch.Tensor  # [n_sentences, dim] mean of each sentence's own tokens


@dataclass(frozen=True)
class DocumentVectors:
    """Unit vectors of one document: each window and each sentence."""

    windows: np.ndarray  # [n_windows, dim]
    sentences: np.ndarray  # [n_sentences, dim]


def token_limit(model_dir: Path, tokenizer, model, cap: int | None) -> int:
    """The sequence length the model was trained at (sentence-transformers config), capped."""
    limit = int(getattr(model.config, "max_position_embeddings", 512))
    st_config = model_dir / "sentence_bert_config.json"
    if st_config.is_file():
        limit = min(limit, int(json.loads(st_config.read_text()).get("max_seq_length", limit)))
    limit = min(limit, int(tokenizer.model_max_length))
    if cap and cap > limit:
        log.warning("NEWSTAG_MAX_TOKENS=%d is more than %s reads at once: windows of %d tokens", cap, model_dir.name,
                    limit)
    return min(limit, cap) if cap else limit


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The tokens the tokenizer puts before and after a text: [CLS] … [SEP], <bos> … <eos>."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for i in range(len(full) - len(bare) + 1):
        if full[i : i + len(bare)] == bare:
            return full[:i], full[i + len(bare):]
    raise ModelLoadError("the tokenizer's special tokens around a text could not be found")


DOCUMENT_CACHE_BYTES = 64 * 2**20  # the document cache's vectors, at most (a 600-sentence article: 0.9 MB)


def _nbytes(document: DocumentVectors) -> int:
    return int(document.windows.nbytes + document.sentences.nbytes)


def _unit(vectors: torch.Tensor) -> np.ndarray:
    return unit(vectors.float()).numpy()


class SentenceEncoder:
    """Embeds texts, labels and windowed documents with one local model."""

    def __init__(self, model_dir: Path, *, max_tokens: int | None = None, options: EncoderOptions | None = None,
                 adapter: Adapter | None = None, prompts: PromptNames | None = None,
                 weights_sha256: str | None = None, adapter_sha256: str | None = None):
        """``prompts`` names the prompts before texts and labels; None: the model's default prompt.

        ``weights_sha256`` (and ``adapter_sha256``, when an adapter is merged) are the
        verified checksums an ONNX graph is exported from and checked against; without
        them the encoder runs torch whatever NEWSTAG_RUNTIME says.
        """
        options = options or EncoderOptions()
        hf_logging.disable_progress_bar()  # "Loading weights" on every fine-tuned model's load is noise
        try:
            self.tokenizer = load_tokenizer(model_dir)
            self.model = AutoModel.from_pretrained(
                model_dir, local_files_only=True, use_safetensors=True, trust_remote_code=False
            ).eval()
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load the model in {model_dir}: {exc}") from exc
        if not self.tokenizer.is_fast:
            raise ModelLoadError(f"{model_dir} needs a fast tokenizer (tokenizer.json) for offsets")
        self.model_dir = model_dir
        self.max_tokens = token_limit(model_dir, self.tokenizer, self.model, max_tokens)
        self.max_batch_tokens = max(options.max_batch_tokens, self.max_tokens)
        self.pipeline = read_pipeline(model_dir)
        self.head, self.tail = special_tokens(self.tokenizer)
        default = self.pipeline.default_prompt_name
        names = prompts if prompts is not None else PromptNames(default, default)
        # Bounded by size too: one text of 50,000 short sentences holds 77 MB of vectors, and
        # 256 of them would have held 19 GB (a worker grew by 630 MB in five requests).
        self.documents = BoundedCache[str, DocumentVectors](options.document_cache, max_bytes=DOCUMENT_CACHE_BYTES,
                                                             size=_nbytes)
        self.use_prompts(names)
        self.dim = self.pipeline.dim or int(self.model.config.hidden_size)
        self.adapter = adapter
        if adapter is not None:  # merged in fp32, before any cast to a lower precision
            merge_adapter(self.model, adapter)
        self.precision = Precision(options.precision)
        self.runtime = "torch"
        self.int8_weights_range: str | None = None  # an ONNX int8 graph's: full or reduced (int8_kernels.py)
        self._onnx: OnnxHiddenStates | None = None
        if weights_sha256 is not None:
            self._onnx = self._onnx_runner(options, weights_sha256, adapter_sha256)
        if self._onnx is None:
            self.model = self.precision.prepare(self.model)
        else:  # the graph holds its own weights: torch's copy would sit unused in every worker (62-84 MB here)
            self.model = self.model.to("meta")
        # One batching thread merges concurrent callers' windows (the HTTP service); without
        # it, each call runs its own batches in the caller's thread.
        self.batcher = (MicroBatcher(self._run_batch, self.max_batch_tokens, self._width)
                        if options.batching else None)

    def _onnx_runner(self, options: EncoderOptions, weights_sha256: str,
                     adapter_sha256: str | None) -> OnnxHiddenStates | None:
        """The ONNX Runtime graph NEWSTAG_RUNTIME asks for, or None: torch runs the model."""
        if options.runtime == "torch":
            return None
        precision = graph_precision(self.precision.requested, self.precision.name, options.runtime)
        if options.runtime == "auto" and (precision is None or not onnxruntime_available()):
            return None
        if not onnxruntime_available():
            raise ConfigError("NEWSTAG_RUNTIME=onnx needs onnxruntime (pip install -r requirements-serve.txt)")
        if self.model.config.model_type not in SUPPORTED_MODEL_TYPES:
            log.warning("no ONNX export for %s models (%s): running torch", self.model.config.model_type,
                        self.model_dir.name)
            return None
        assert precision is not None  # graph_precision raised for runtime=onnx otherwise
        weights_range = int8_range(options.onnx_int8_range) if precision == "int8" else None
        if weights_range == FULL and int8_kernels() == "u8s8":
            log.warning("NEWSTAG_ONNX_INT8_RANGE=full on a CPU without VNNI: its int8 kernels may saturate")
        source = GraphSource(weights_sha256, adapter_sha256, precision, weights_range)
        cache = options.onnx_dir or default_onnx_dir()
        if cache.exists() and not cache.is_dir():
            raise ConfigError(f"NEWSTAG_ONNX_DIR={str(cache)!r} is a file, not a directory")
        graph = load_graph(self.model, cache, source, may_export=options.runtime == "onnx")
        if graph is None:
            return None
        try:
            hidden = OnnxHiddenStates(graph, torch.get_num_threads())
        except Exception as exc:  # a graph that passes its checksum but ONNX Runtime cannot read
            raise ModelLoadError(f"ONNX Runtime cannot load the graph in {cache / source.directory_name()}: "
                                 f"{type(exc).__name__}: {str(exc)[:200]} (remove it; newstag export-onnx "
                                 "makes it again)") from None
        self.precision, self.runtime = Precision(precision), "onnx"
        self.int8_weights_range = weights_range
        log.info("the encoder runs on ONNX Runtime (%s graph from %s)", precision, cache / source.directory_name())
        return hidden

    def use_prompts(self, prompts: PromptNames) -> None:
        """Read these prompts from now on (benchmarks compare them); the document cache is emptied."""
        self.text_prompt, self.label_prompt = self._prompt(prompts.text), self._prompt(prompts.label)
        self.documents.clear()

    def _prompt(self, name: str | None) -> str:
        if name is None:
            return ""
        if name not in self.pipeline.prompts:
            raise ModelLoadError(f"{self.model_dir} has no prompt named {name!r} in config_sentence_transformers.json")
        return self.pipeline.prompts[name]

    def prepare(self, text: str) -> PreparedDocument:
        return prepare_document(text, self.tokenizer, self.max_tokens, prompt=self.text_prompt,
                                special_tokens=len(self.head) + len(self.tail))

    def _width(self, length: int) -> int:
        """The padded width of a sequence of ``length`` tokens (special tokens included).

        Widths go in steps of PAD_TO: every new input shape makes the CPU kernels build and
        keep code for it, and with exact widths a worker's memory grew 81% in a 60 s soak
        (docs/reliability.md). Batches are sized by padded width too, so the number of shapes
        stays small (172 at the defaults) and every batch keeps within NEWSTAG_MAX_BATCH_TOKENS.
        """
        return max(length, min(-(-length // PAD_TO) * PAD_TO, self.max_tokens))

    def _run_batch(self, ids: list[list[int]]) -> torch.Tensor:
        """Hidden states of padded sequences (special tokens included): [batch, width, dim]."""
        input_ids, mask = pad_batch(ids, self.tokenizer.pad_token_id or 0, self._width(max(len(x) for x in ids)))
        if self._onnx is not None:
            return self._onnx(input_ids, mask)
        with torch.inference_mode(), self.precision.autocast():
            return self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()

    def _forward(self, sequences: list[list[int]], pool: Callable[[int, torch.Tensor], T],
                 deadline: float | None = None) -> list[T]:
        """Run every sequence (with the special tokens added) and pool its hidden states.

        ``pool(i, states)`` gets sequence ``i``'s unpadded hidden states; only what it
        returns is kept, so memory holds one batch of hidden states at a time. With a
        micro-batcher, sequences of concurrent callers share batches, and a caller still
        waiting at ``deadline`` (a ``time.monotonic()`` instant) gets DeadlineExceeded.
        """
        ids = [[*self.head, *seq, *self.tail] for seq in sequences]
        if self.batcher is not None:
            return self.batcher.run(ids, pool, deadline)
        pooled: list[T | None] = [None] * len(ids)
        for batch in length_batches([self._width(len(x)) for x in ids], self.max_batch_tokens):
            states = self._run_batch([ids[i] for i in batch])
            for row, i in enumerate(batch):
                pooled[i] = pool(i, states[row, : len(ids[i])])
        return pooled  # type: ignore[return-value]  # every slot was filled

    def encode_texts(self, texts: list[str], deadline: float | None = None) -> np.ndarray:
        """Unit vectors for short texts (labels, queries), truncated to the token limit."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        budget = self.max_tokens - len(self.head) - len(self.tail)
        prompt = self.label_prompt
        sequences, skip = [], []
        for t in texts:
            encoded = self.tokenizer(prompt + t, add_special_tokens=False, return_offsets_mapping=bool(prompt),
                                     verbose=False)
            sequences.append(encoded["input_ids"][:budget])
            in_prompt = sum(end <= len(prompt) for _, end in encoded["offset_mapping"]) if prompt else 0
            skip.append(0 if self.pipeline.include_prompt else len(self.head) + in_prompt)
        pooled = self._forward(sequences, lambda i, states: mean_pool(states[skip[i]:]), deadline)
        return _unit(self.pipeline(torch.stack(pooled)))

    def encode_documents(self, docs: list[PreparedDocument], deadline: float | None = None) -> list[DocumentVectors]:
        """Embed every window of every document in shared, length-sorted batches.

        A text seen recently (the same characters) is taken from the document cache.
        """
        if not self.documents.enabled:
            return self._encode_documents(docs, deadline)
        keys = [hashlib.sha256(doc.text.encode("utf-8", "surrogatepass")).hexdigest() for doc in docs]
        out = [self.documents.get(key) for key in keys]
        todo = [d for d, vectors in enumerate(out) if vectors is None]
        for d, vectors in zip(todo, self._encode_documents([docs[d] for d in todo], deadline), strict=True):
            out[d] = vectors
            self.documents.put(keys[d], vectors)
        return out  # type: ignore[return-value]  # every slot was filled

    def _encode_documents(self, docs: list[PreparedDocument], deadline: float | None) -> list[DocumentVectors]:
        if not docs:
            return []
        windows = [(d, w) for d, doc in enumerate(docs) for w in doc.windows]

        def pool(k: int, states: torch.Tensor) -> _WindowMeans:
            d, window = windows[k]
            offset = len(self.head) + len(docs[d].prompt_ids)  # the sentences start after these
            whole = states if self.pipeline.include_prompt else states[offset:]
            lengths = [len(docs[d].sentence_token_ids[i]) for i in window]
            # numpy, one call per window: small torch ops each woke torch's thread pool
            sentences = segment_means(states[offset:].numpy(), lengths)
            return _WindowMeans(torch.from_numpy(whole.numpy().mean(0)), torch.from_numpy(sentences))

        pooled = self._forward([[*docs[d].prompt_ids, *docs[d].window_token_ids(w)] for d, w in windows], pool,
                               deadline)
        per_doc: list[list[_WindowMeans]] = [[] for _ in docs]
        for (d, _), means in zip(windows, pooled, strict=True):
            per_doc[d].append(means)
        return [self._document(parts) for parts in per_doc]

    def _document(self, parts: list[_WindowMeans]) -> DocumentVectors:
        if not parts:
            empty = np.zeros((0, self.dim), dtype=np.float32)
            return DocumentVectors(empty, empty)
        windows = torch.stack([p.window for p in parts])
        if all(p.sentences.dtype == torch.float32 for p in parts):
            # numpy joins hundreds of small blocks in milliseconds where torch.cat, with two
            # threads on busy cores, took seconds for a text of 50,000 one-character sentences.
            sentences = torch.from_numpy(np.concatenate([p.sentences.numpy() for p in parts]))
        else:
            sentences = torch.cat([p.sentences for p in parts])
        return DocumentVectors(_unit(self.pipeline(windows)), _unit(self.pipeline(sentences)))
