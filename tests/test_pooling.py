"""One pooling for engine and training: the vectors a model trains on are the ones it is served with."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from service.engine.encoder import SentenceEncoder
from service.engine.model_files import default_model_dir
from service.engine.pooling import embed_padded, mean_pool, pad_batch
from training.matcher import _embed
from training.model import WindowClassifier, window_batch

TEXTS = ["Foreign ministers discussed COP29 preparations.",
         "They also discussed the clearance of landmines left by the war.",
         "The striker scored twice.",
         "Parliament passed the budget after a long night of votes on spending and taxes."]


def test_padding_pads_right_and_masks_the_padding():
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = pad_batch([[5]], pad_id=9, width=4)
    assert ids.tolist() == [[5, 9, 9, 9]] and mask.tolist() == [[1, 0, 0, 0]]


def test_the_masked_mean_ignores_padding_and_equals_the_mean_of_the_real_tokens():
    torch.manual_seed(0)
    states = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pooled = mean_pool(states, mask)
    assert torch.allclose(pooled[0], mean_pool(states[0, :3]))
    assert torch.allclose(pooled[1], states[1].mean(0))
    states[0, 3:] = 1e6  # what padding holds does not matter
    assert torch.allclose(mean_pool(states, mask)[0], pooled[0])


@pytest.fixture(scope="module")
def real_model():
    """The embedded all-MiniLM-L6-v2 without the matcher adapter: engine and training both start here."""
    directory = default_model_dir()
    encoder = SentenceEncoder(directory, max_tokens=64)  # windows of 64 tokens, as finetune --max-length 64
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = AutoModel.from_pretrained(directory, local_files_only=True, use_safetensors=True).eval()
    return encoder, tokenizer, model


def test_the_engine_and_the_matcher_training_embed_texts_alike(real_model):
    encoder, tokenizer, model = real_model
    served = torch.from_numpy(encoder.encode_texts(TEXTS))
    with torch.inference_mode():
        trained = _embed(model, tokenizer, TEXTS, max_length=128)
    # The engine pads to multiples of 32, training to the longest text: padding must not count.
    assert torch.allclose(served, trained, atol=1e-5)
    sims = served @ served.T
    assert sims[0, 1] < 0.9  # different texts: the check above compares real vectors, not one repeated


def test_the_engine_and_the_classifier_training_embed_windows_alike(real_model):
    encoder, tokenizer, model = real_model
    article = " ".join(TEXTS * 6)  # several windows of 64 tokens
    docs = [encoder.prepare(article), encoder.prepare(TEXTS[2])]
    # Training reads the windows the engine cut (training/finetune.py, step 3) at the same length.
    served = [torch.from_numpy(v.windows) for v in encoder.encode_documents(docs)]
    batch = window_batch(docs, tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)
    with torch.inference_mode():
        trained = WindowClassifier(model, 384, 2).window_vectors(batch)
    assert len(served[0]) > 1 and [e - s for s, e in batch.spans] == [len(v) for v in served]
    assert torch.allclose(torch.cat(served), trained, atol=1e-5)
    with torch.inference_mode():
        assert torch.allclose(trained, embed_padded(model, batch.input_ids, batch.attention_mask))


def test_windows_through_dense_layers_are_embedded_alike_in_training_and_serving(tiny_st_dir):
    """A base whose pipeline runs Dense layers after pooling (EmbeddingGemma's shape, tiny)."""
    from service.engine.encoder import special_tokens
    from service.engine.st_modules import read_pipeline

    encoder = SentenceEncoder(tiny_st_dir, max_tokens=64)
    tokenizer = AutoTokenizer.from_pretrained(tiny_st_dir, local_files_only=True)
    model = AutoModel.from_pretrained(tiny_st_dir, local_files_only=True, use_safetensors=True).eval()
    docs = [encoder.prepare(" ".join(TEXTS * 6)), encoder.prepare(TEXTS[2])]
    served = torch.cat([torch.from_numpy(v.windows) for v in encoder.encode_documents(docs)])
    batch = window_batch(docs, *special_tokens(tokenizer), tokenizer.pad_token_id)
    pipeline = read_pipeline(tiny_st_dir)
    with torch.inference_mode():
        trained = WindowClassifier(model, 8, 2, pipeline).window_vectors(batch)
        plain = WindowClassifier(model, 32, 2).window_vectors(batch)
    assert served.shape == trained.shape == (len(served), 8)
    assert torch.allclose(served, trained, atol=1e-5)
    assert plain.shape[1] == 32  # without the pipeline: the transformer's width, other vectors


def test_segment_means_are_the_means_of_consecutive_runs():
    from service.engine.pooling import segment_means

    states = np.arange(24, dtype=np.float32).reshape(8, 3)
    got = segment_means(states, [2, 1, 4])  # the 8th row is not in any run
    expected = np.stack([states[0:2].mean(0), states[2:3].mean(0), states[3:7].mean(0)])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert segment_means(states, []).shape == (0, 3)
