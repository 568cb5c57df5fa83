"""Sentence-transformers pipelines (Dense, Normalize, prompts) on a tiny random model: mechanics."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from service.config import Settings
from service.engine import ModelLoadError, Tagger
from service.engine.encoder import EncoderOptions, SentenceEncoder
from service.engine.model_profiles import PromptNames
from tests.conftest import PROMPTS

ONE = "The central bank raised interest rates by half a point on Tuesday."
TWO = "The minister resigned. Parliament will vote on a successor next week."
CLASSIFY = PromptNames("Classification", "Classification")


def _reference(path, texts, prompt_name=None) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True).encode(texts, prompt_name=prompt_name)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def encoder(tiny_st_dir) -> SentenceEncoder:
    return SentenceEncoder(tiny_st_dir, options=EncoderOptions(precision="fp32"), prompts=CLASSIFY)


def test_dense_layers_set_the_width_and_vectors_are_unit_length(encoder):
    assert encoder.dim == 8 and len(encoder.pipeline.steps) == 2  # the final Normalize is the encoder's own
    [doc] = encoder.encode_documents([encoder.prepare(TWO)])
    assert doc.windows.shape == (1, 8) and doc.sentences.shape == (2, 8)
    assert np.allclose(np.linalg.norm(doc.sentences, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("prompts, prompt_name", [(CLASSIFY, "Classification"), (PromptNames(None, None), None)])
def test_a_one_sentence_text_embeds_as_sentence_transformers_does(tiny_st_dir, prompts, prompt_name):
    encoder = SentenceEncoder(tiny_st_dir, options=EncoderOptions(precision="fp32"), prompts=prompts)
    expected = _reference(tiny_st_dir, [ONE, "news about economy"], prompt_name)
    [doc] = encoder.encode_documents([encoder.prepare(ONE)])
    assert _cosines(doc.windows, expected[:1])[0] > 1 - 1e-4
    assert (_cosines(encoder.encode_texts([ONE, "news about economy"]), expected) > 1 - 1e-4).all()


def test_windows_read_the_prompt_and_sentences_pool_only_their_own_tokens(encoder):
    doc = encoder.prepare(TWO)
    prompt = encoder.tokenizer(PROMPTS["Classification"], add_special_tokens=False)["input_ids"]
    assert list(doc.prompt_ids) == prompt and doc.special_tokens == 2
    assert doc.token_count == 2 + len(prompt) + sum(len(ids) for ids in doc.sentence_token_ids)
    # The same forward pass by hand: [CLS] prompt sentence-1 sentence-2 [SEP].
    first, second = (list(ids) for ids in doc.sentence_token_ids)
    ids = torch.tensor([[encoder.tokenizer.cls_token_id, *prompt, *first, *second, encoder.tokenizer.sep_token_id]])
    with torch.inference_mode():
        states = encoder.model(input_ids=ids).last_hidden_state[0]
    start = 1 + len(prompt) + len(first)
    own = encoder.pipeline(states[start:start + len(second)].mean(0, keepdim=True))
    [vectors] = encoder.encode_documents([doc])
    assert _cosines(vectors.sentences[1:], own.numpy())[0] > 1 - 1e-5


def test_windows_stay_within_the_token_limit_with_the_prompt(tiny_st_dir):
    encoder = SentenceEncoder(tiny_st_dir, max_tokens=32, prompts=CLASSIFY)
    doc = encoder.prepare(" ".join([TWO] * 20))
    assert len(doc.windows) > 1
    sizes = [2 + len(doc.prompt_ids) + len(doc.window_token_ids(w)) for w in doc.windows]
    assert max(sizes) <= 32


def test_a_pooling_without_the_prompt_leaves_it_out_as_sentence_transformers_does(tiny_st_dir, tmp_path):
    target = shutil.copytree(tiny_st_dir, tmp_path / "m")
    config = json.loads((target / "1_Pooling" / "config.json").read_text())
    (target / "1_Pooling" / "config.json").write_text(json.dumps({**config, "include_prompt": False}))
    encoder = SentenceEncoder(target, options=EncoderOptions(precision="fp32"), prompts=CLASSIFY)
    expected = _reference(target, [ONE], "Classification")
    [doc] = encoder.encode_documents([encoder.prepare(ONE)])
    assert _cosines(doc.windows, expected)[0] > 1 - 1e-4
    assert _cosines(encoder.encode_texts([ONE]), expected)[0] > 1 - 1e-4


def _edit(path, **changes):
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("break_it, message", [
    (lambda m: _edit(m / "1_Pooling" / "config.json", pooling_mode="cls"), "pooling cls is not supported"),
    (lambda m: (m / "modules.json").write_text(json.dumps([{"idx": 0, "path": "", "type": "my_code.Module"}])),
     "is not supported"),
    (lambda m: _edit(m / "2_Dense" / "config.json", activation_function="os.system"), "activation"),
    (lambda m: (m / "2_Dense" / "model.safetensors").rename(m / "2_Dense" / "pytorch_model.bin"), "safetensors only"),
    (lambda m: (m / "3_Dense" / "model.safetensors").write_bytes(b"truncated"), "truncated or corrupt"),
    (lambda m: _edit(m / "3_Dense" / "config.json", out_features=9), "not 9x16"),
])
def test_pipelines_newstag_cannot_run_are_refused_clearly(tiny_st_dir, tmp_path, break_it, message):
    target = shutil.copytree(tiny_st_dir, tmp_path / "m")
    break_it(target)
    with pytest.raises(ModelLoadError, match=message):
        SentenceEncoder(target)


def test_an_unknown_prompt_name_is_refused(tiny_st_dir):
    with pytest.raises(ModelLoadError, match="no prompt named 'Clustering'"):
        SentenceEncoder(tiny_st_dir, prompts=PromptNames("Clustering", None))


def test_newstag_model_tags_with_a_dense_pipeline(tiny_st_dir):
    tagger = Tagger.load(Settings.from_env({"NEWSTAG_MODEL": str(tiny_st_dir)}).engine_options())
    encoder = tagger.backend.encoder  # type: ignore[attr-defined]
    assert encoder.dim == 8 and encoder.text_prompt == encoder.label_prompt == ""  # no default prompt
    [result] = tagger.tag([TWO], ["politics", "sport"], threshold=0.0)
    assert [t.label for t in result.topics] and result.tokens > 0
