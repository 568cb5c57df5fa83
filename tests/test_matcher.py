"""The topic matcher: training.matcher writes an adapter, the service verifies and merges it."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from transformers import AutoModel, AutoTokenizer

from service.config import Settings
from service.engine.adapter import ADAPTER_MANIFEST, ADAPTER_WEIGHTS, merge_adapter, read_adapter
from service.engine.encoder import SentenceEncoder
from service.engine.loading import load_backend
from service.engine.model_files import (
    DEFAULT_MODEL_SHA256,
    MATCHER_DIR,
    MATCHER_SHA256,
    default_model_dir,
    sha256_of,
    verify_matcher,
)
from service.errors import ModelLoadError
from service.preflight import check_startup
from training import matcher
from training.data import DataFileError
from training.lora import adapter_tensors, with_lora, write_adapter_dir
from training.matcher_data import MatcherSet, interleaved_batches, load_sets, read_names
from training.matcher_eval import names_only_macro_f1

ROOT = Path(__file__).resolve().parent.parent
TRAIN_SMALL = ROOT / "seeds" / "train-small.jsonl"


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The seed training set, and the same texts under coded labels with a names file."""
    where = tmp_path_factory.mktemp("matcher-data")
    rows = [json.loads(line) for line in TRAIN_SMALL.read_text().splitlines() if line.strip()]
    coded = where / "coded.jsonl"
    coded.write_text("".join(json.dumps({"text": r["text"], "labels": [f"c{len(x)}-{x}" for x in r["labels"]]}) + "\n"
                             for r in rows))
    names = where / "names.json"
    names.write_text(json.dumps({f"c{len(x)}-{x}": x.title() for r in rows for x in r["labels"]}))
    return TRAIN_SMALL, coded, names


@pytest.fixture(scope="module")
def tiny_adapter(tiny_model_dir, two_sets, tmp_path_factory) -> Path:
    first, coded, names = two_sets
    output = tmp_path_factory.mktemp("adapters") / "tiny-matcher"
    code = matcher.main(["--data", str(first), "--data", str(coded), "--names", str(names), "--base",
                         str(tiny_model_dir), "--output", str(output), "--epochs", "2", "--batch-size", "8"])
    assert code == 0
    return output


def test_each_file_is_its_own_label_space_with_readable_names(two_sets):
    first, coded, names = two_sets
    sets = load_sets([first, coded], read_names([names]), None, seed=0)
    assert sets[0].labels == sets[0].names == ["climate", "economy", "health", "sport"]
    assert sets[1].labels[0] == "c5-sport" and sets[1].names[0] == "Sport"  # sorted by the label as written
    assert sets[1].prompts[0] == "news about Sport"
    batches = interleaved_batches(sets, batch_size=8, seed=1)
    assert {s for s, _ in batches} == {0, 1}
    for s in (0, 1):  # every row once per epoch, each batch from one set
        assert sorted(i for b, rows in batches if b == s for i in rows) == list(range(40))


def test_a_multi_label_row_spreads_its_target_over_its_labels():
    from training.data import Example

    matcher_set = MatcherSet("x", [], ["a", "b", "c"], ["a", "b", "c"])
    assert matcher_set.targets(Example("t", ("a", "c"))) == [0.5, 0.0, 0.5]


def test_training_writes_a_checksummed_adapter_with_its_card(tiny_adapter, tiny_model_dir):
    files = sorted(p.name for p in tiny_adapter.iterdir())
    assert files == ["README.md", ADAPTER_MANIFEST, ADAPTER_WEIGHTS]  # nothing pickled, no stray files
    manifest = json.loads((tiny_adapter / ADAPTER_MANIFEST).read_text())
    assert manifest["sha256"][ADAPTER_WEIGHTS] == sha256_of(tiny_adapter / ADAPTER_WEIGHTS)
    assert manifest["base_sha256"] == sha256_of(tiny_model_dir / "model.safetensors")
    assert [s["name"] for s in manifest["training"]["sets"]] == ["train-small", "coded"]
    assert "peft" in manifest["library_versions"]
    card = (tiny_adapter / "README.md").read_text()
    assert card.startswith("---\n") and "| coded | 40 | 4 |" in card and "--epochs 2" in card
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["datasets"] == ["train-small", "coded"] and "model-index" not in front  # no notes: nothing measured
    assert "## Results" not in card and "{" not in card.replace("{name}", "").replace("{label name}", "")
    adapter = read_adapter(tiny_adapter, manifest["sha256"][ADAPTER_WEIGHTS])
    # 2 layers x (q, k, v, attention output, intermediate, output), not the pooler
    assert len(adapter.pairs) == 12 and not any("pooler" in m for m in adapter.pairs)


def test_training_moves_the_embeddings_and_the_same_seed_gives_the_same_adapter(tiny_adapter, tiny_model_dir,
                                                                               two_sets, tmp_path):
    plain = SentenceEncoder(tiny_model_dir)
    adapted = SentenceEncoder(tiny_model_dir, adapter=read_adapter(tiny_adapter))
    texts = ["Parliament passed the budget.", "The striker scored twice."]
    assert not np.allclose(plain.encode_texts(texts), adapted.encode_texts(texts), atol=1e-4)
    first, coded, names = two_sets
    again = tmp_path / "again"
    matcher.main(["--data", str(first), "--data", str(coded), "--names", str(names), "--base", str(tiny_model_dir),
                  "--output", str(again), "--epochs", "2", "--batch-size", "8"])
    assert sha256_of(again / ADAPTER_WEIGHTS) == sha256_of(tiny_adapter / ADAPTER_WEIGHTS)


def _norm(tensors: dict[str, torch.Tensor], part: str) -> float:
    return float(sum(t.double().norm() ** 2 for name, t in tensors.items() if name.endswith(part)) ** 0.5)


def test_the_shared_training_loop_gives_the_adapter_the_matcher_gave_before_it(tiny_adapter):
    """Measured with training/matcher.py's own loop (commit a128c67) on this run: the tiny model
    (conftest), the two seed sets, 2 epochs of batch 8. The shared loop gave byte-identical
    weights there; the tolerance leaves room for another CPU's float rounding."""
    from safetensors.torch import load_file

    tensors = load_file(str(tiny_adapter / ADAPTER_WEIGHTS))
    assert _norm(tensors, "lora_A") == pytest.approx(8.088697756624645, rel=1e-4)  # seeded init, then trained
    assert _norm(tensors, "lora_B") == pytest.approx(0.14765762052741663, rel=1e-3)  # zero at init: all training
    record = json.loads((tiny_adapter / ADAPTER_MANIFEST).read_text())["training"]
    assert record["final_loss"] == pytest.approx(1.4459, abs=1e-3)
    assert record["config"] == {"epochs": 2, "batch_size": 8, "max_length": 128, "lr": 5e-4, "rank": 16,
                                "alpha": 32, "dropout": 0.1, "temperature": 0.05, "max_per_set": 500,
                                "max_per_file": {}, "seed": 42}


def _signal_at_step(monkeypatch, step: int, signum: int) -> list[int]:
    """Make the process send itself ``signum`` while computing the loss of training step ``step``."""
    real_loss, calls = matcher._loss, []

    def loss(*args, **kwargs):
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signum)
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(matcher, "_loss", loss)
    return calls


def test_an_interrupted_matcher_run_resumes_to_the_uninterrupted_adapter(tiny_adapter, tiny_model_dir, two_sets,
                                                                         tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    first, coded, names = two_sets
    output = tmp_path / "resumed"
    args = ["--data", str(first), "--data", str(coded), "--names", str(names), "--base", str(tiny_model_dir),
            "--output", str(output), "--epochs", "2", "--batch-size", "8"]
    calls = _signal_at_step(monkeypatch, 4, signal.SIGTERM)  # in the first epoch (10 steps each)
    assert matcher.main(args) == 130
    assert "checkpoint in" in capsys.readouterr().err
    checkpoint = tmp_path / ".resumed.checkpoint"
    assert json.loads((checkpoint / "state.json").read_text())["progress"]["global_step"] == 4
    assert not output.exists()  # never a half-written adapter
    monkeypatch.undo()

    assert matcher.main([*args, "--resume"]) == 0
    assert "resuming from" in capsys.readouterr().err
    assert len(calls) == 4  # the resumed run ran the real loss
    assert not checkpoint.exists()
    resumed, reference = (load_file(str(d / ADAPTER_WEIGHTS)) for d in (output, tiny_adapter))
    assert resumed.keys() == reference.keys()
    for name in reference:  # the torch random state (LoRA dropout) resumes too
        assert torch.allclose(resumed[name], reference[name], rtol=0, atol=1e-6), name
    final = [json.loads((d / ADAPTER_MANIFEST).read_text())["training"]["final_loss"] for d in (output, tiny_adapter)]
    assert final[0] == final[1]


def test_a_checkpoint_of_other_data_is_not_resumed(tiny_model_dir, two_sets, tmp_path, monkeypatch, capsys):
    first, coded, names = two_sets
    output = tmp_path / "out"
    _signal_at_step(monkeypatch, 1, signal.SIGINT)
    assert matcher.main(["--data", str(first), "--base", str(tiny_model_dir), "--output", str(output),
                         "--batch-size", "8"]) == 130
    monkeypatch.undo()
    assert matcher.main(["--data", str(coded), "--names", str(names), "--base", str(tiny_model_dir),
                         "--output", str(output), "--batch-size", "8", "--resume"]) == 2
    assert "other training data" in capsys.readouterr().err and not output.exists()


@pytest.mark.parametrize("option, value", [("--lr", "nan"), ("--lr", "-1"), ("--temperature", "0"),
                                           ("--temperature", "inf")])
def test_a_learning_rate_or_temperature_that_is_not_a_finite_positive_number_is_refused(tmp_path, capsys, option,
                                                                                       value):
    assert matcher.main(["--data", str(TRAIN_SMALL), "--output", str(tmp_path / "out"), option, value]) == 2
    assert option in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_matcher_run_whose_loss_stops_being_finite_writes_no_adapter(tiny_model_dir, two_sets, tmp_path, capsys):
    """A temperature this small makes the softmax's inputs infinite: the adapter was written, "final loss nan"."""
    first, _, _ = two_sets
    assert matcher.main(["--data", str(first), "--base", str(tiny_model_dir), "--output", str(tmp_path / "out"),
                         "--batch-size", "8", "--temperature", "1e-45"]) == 2
    assert "training diverged" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_checkpoint_made_with_other_settings_is_not_resumed(tiny_model_dir, two_sets, tmp_path, monkeypatch,
                                                              capsys):
    first, _, _ = two_sets
    args = ["--data", str(first), "--base", str(tiny_model_dir), "--output", str(tmp_path / "out"), "--batch-size", "8"]
    _signal_at_step(monkeypatch, 1, signal.SIGINT)
    assert matcher.main(args) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert matcher.main([*args, "--lr", "0.001", "--rank", "8", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--lr 0.001 (checkpoint: 0.0005); --rank 8 (checkpoint: 16)" in err and not (tmp_path / "out").exists()


def test_sigterm_or_ctrl_c_outside_the_training_loop_is_an_interruption(tiny_model_dir, two_sets, tmp_path,
                                                                        monkeypatch, capsys):
    """While the model loads: SIGTERM ended the run with 143 and no word, Ctrl-C with a traceback."""
    first, _, _ = two_sets
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # the test process survives without the fix
    monkeypatch.setattr(matcher, "resolve_base", lambda base: os.kill(os.getpid(), signal.SIGTERM))
    try:
        assert matcher.main(["--data", str(first), "--base", str(tiny_model_dir), "--output",
                             str(tmp_path / "out")]) == 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "interrupted before" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_data_file_inside_the_adapter_directory_it_replaces_is_refused(tmp_path, capsys):
    output = tmp_path / "adapter"
    output.mkdir()
    (output / ADAPTER_MANIFEST).write_text("{}")  # an earlier adapter
    shutil.copy(TRAIN_SMALL, output / "data.jsonl")
    assert matcher.main(["--data", str(output / "data.jsonl"), "--output", str(output)]) == 2
    assert "--data" in capsys.readouterr().err and (output / "data.jsonl").is_file()


def test_a_max_length_beyond_the_base_models_positions_is_refused(tiny_model_dir, tmp_path, capsys):
    assert matcher.main(["--data", str(TRAIN_SMALL), "--base", str(tiny_model_dir), "--max-length", "200",
                         "--output", str(tmp_path / "out")]) == 2
    assert "--max-length 200 is more than the base model reads at once (128" in capsys.readouterr().err


def test_the_merge_matches_peft_merge_and_unload(tiny_model_dir, tmp_path):
    torch.manual_seed(3)
    peft_model = with_lora(AutoModel.from_pretrained(tiny_model_dir), rank=4, alpha=8, dropout=0.0)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; a real adapter has moved it
            torch.nn.init.normal_(param, std=0.05)
    write_adapter_dir(tmp_path / "a", adapter_tensors(peft_model), 8.0 / 4,
                      {"base_sha256": "x", "base_model": "tiny", "sets": [], "command": "", "train_seconds": 0,
                       "final_loss": None, "config": {"rank": 4, "alpha": 8, "epochs": 1, "batch_size": 1,
                                                      "max_length": 8, "lr": 0.1, "temperature": 0.1,
                                                      "max_per_set": None, "seed": 0}})
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = tokenizer(["a text about the economy"], return_tensors="pt")
    with torch.no_grad():
        expected = peft_model.merge_and_unload()(**batch).last_hidden_state
        ours = AutoModel.from_pretrained(tiny_model_dir).eval()
        merge_adapter(ours, read_adapter(tmp_path / "a"))
        plain = AutoModel.from_pretrained(tiny_model_dir).eval()(**batch).last_hidden_state
    assert torch.allclose(ours(**batch).last_hidden_state, expected, atol=1e-5)
    assert not torch.allclose(plain, expected, atol=1e-3)


@pytest.mark.parametrize("damage, message", [
    ("flip", "fails its SHA-256 check"),
    ("no-weights", "adapter file is missing"),
    ("no-manifest", "adapter file is missing"),
    ("kind", "adapter manifest is not valid"),
])
def test_a_damaged_adapter_is_refused_with_one_clear_line(tiny_adapter, tmp_path, damage, message):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_adapter, copy)
    expected = sha256_of(copy / ADAPTER_WEIGHTS)
    if damage == "flip":
        data = bytearray((copy / ADAPTER_WEIGHTS).read_bytes())
        data[-1] ^= 0xFF
        (copy / ADAPTER_WEIGHTS).write_bytes(bytes(data))
    elif damage == "no-weights":
        (copy / ADAPTER_WEIGHTS).unlink()
    elif damage == "no-manifest":
        (copy / ADAPTER_MANIFEST).unlink()
    else:
        manifest = json.loads((copy / ADAPTER_MANIFEST).read_text())
        (copy / ADAPTER_MANIFEST).write_text(json.dumps({**manifest, "kind": "something else"}))
    with pytest.raises(ModelLoadError, match=message) as caught:
        read_adapter(copy, expected)
    assert "\n" not in str(caught.value)


def test_an_adapter_for_another_model_does_not_merge(tiny_adapter):
    real = AutoModel.from_pretrained(default_model_dir())  # 384 wide, not the tiny model's 32
    with pytest.raises(ModelLoadError, match="does not fit this model"):
        merge_adapter(real, read_adapter(tiny_adapter))


def test_bad_matcher_data_is_an_error_not_a_traceback(tmp_path, capsys):
    one_label = tmp_path / "one.jsonl"
    one_label.write_text(json.dumps({"text": "a", "labels": ["x"]}) + "\n")
    assert matcher.main(["--data", str(one_label), "--output", str(tmp_path / "out")]) == 2
    assert "at least two labels" in capsys.readouterr().err
    surrogate = tmp_path / "surrogate.jsonl"  # valid JSON: the tokenizer raised a TypeError on it
    surrogate.write_text('{"text": "a", "labels": ["x"]}\n{"text": "b \\ud800", "labels": ["y"]}\n')
    assert matcher.main(["--data", str(surrogate), "--output", str(tmp_path / "out")]) == 2
    assert f"{surrogate}:2: 'text' is not valid Unicode" in capsys.readouterr().err
    assert matcher.main(["--data", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "out")]) == 2
    assert matcher.main(["--data", str(TRAIN_SMALL), "--dropout", "1.5", "--output", str(tmp_path / "out")]) == 2
    assert "--dropout" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# The shipped adapter, on the real embedded model.

def test_the_shipped_adapter_is_verified_and_merged_by_default(tagger):
    verify_matcher()  # the committed file matches the pinned checksum
    encoder = tagger.backend.encoder
    assert encoder.adapter is not None and encoder.adapter.path == MATCHER_DIR
    assert encoder.adapter.base_sha256 == DEFAULT_MODEL_SHA256
    assert tagger.backend.model_version == f"{DEFAULT_MODEL_SHA256[:12]}+{MATCHER_SHA256[:8]}"
    assert (MATCHER_DIR / ADAPTER_WEIGHTS).stat().st_size < 4_000_000  # a few MB at most


def test_matcher_off_serves_the_plain_model(tagger):
    off = Settings.from_env({"NEWSTAG_MATCHER": "off", "NEWSTAG_PRECISION": "fp32"})
    plain = load_backend(off.engine_options().model)
    assert plain.encoder.adapter is None and plain.model_version == DEFAULT_MODEL_SHA256[:12]
    adapted = load_backend(Settings.from_env({"NEWSTAG_PRECISION": "fp32"}).engine_options().model)
    texts = ["The central bank raised interest rates."]
    assert not np.allclose(plain.encoder.encode_texts(texts), adapted.encoder.encode_texts(texts), atol=1e-3)


def test_a_tampered_shipped_adapter_stops_the_server_at_start(tmp_path, monkeypatch):
    copy = tmp_path / "matcher"
    shutil.copytree(MATCHER_DIR, copy)
    data = bytearray((copy / ADAPTER_WEIGHTS).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / ADAPTER_WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="matcher adapter weights file fails its SHA-256 check"):
        verify_matcher(copy)
    import service.preflight as preflight

    monkeypatch.setattr(preflight, "verify_matcher", lambda: verify_matcher(copy))
    with pytest.raises(ModelLoadError):
        check_startup(Settings.from_env({}))
    check_startup(Settings.from_env({"NEWSTAG_MATCHER": "off"}))  # off: the adapter is not needed


def test_the_shipped_adapters_two_cards_are_one_card_rendered_from_its_record():
    from training import matcher_card

    card = matcher_card.shipped_card()
    for path in matcher_card.SHIPPED[0].cards:  # service/matcher/README.md and model_cards/newstag-matcher.md
        assert path.read_text(encoding="utf-8") == card, f"{path} is stale: run python -m training.matcher_card"
    assert matcher_card.main(["--check"]) == 0
    record = json.loads((MATCHER_DIR / ADAPTER_MANIFEST).read_text())
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["base_model"] == record["training"]["base_model"] and front["library_name"] == "peft"
    assert front["model-index"][0]["results"][0]["metrics"][1]["value"] == 0.834  # merged from the notes
    assert f"SHA-256 `{record['base_sha256']}`" in card and record["training"]["command"] in card
    assert "663,552 parameters; rank 16, alpha 32," in card and "final loss 0.6421" in card
    assert card.index("## How it was trained") < card.index("## Training data and licences") < card.index(
        "## Results") < card.index("## Limitations")


def test_a_stale_shipped_card_is_reported_and_rewritten(tmp_path, monkeypatch, capsys):
    from training import matcher_card

    shipped = matcher_card.SHIPPED[0]
    (tmp_path / "adapter").mkdir()
    shutil.copy(shipped.directory / ADAPTER_MANIFEST, tmp_path / "adapter" / ADAPTER_MANIFEST)
    copy = matcher_card.ShippedAdapter(tmp_path / "adapter", shipped.notes, tmp_path / "newstag-matcher.md")
    copies = copy.cards
    copies[0].write_text(matcher_card.shipped_card())
    copies[1].write_text(matcher_card.shipped_card().replace("0.834", "0.9"))
    monkeypatch.setattr(matcher_card, "SHIPPED", (copy,))
    assert matcher_card.main(["--check"]) == 1
    assert "newstag-matcher.md is stale" in capsys.readouterr().err
    assert matcher_card.main([]) == 0 and copies[1].read_text() == matcher_card.shipped_card()


def test_zero_shot_evaluation_scores_the_top_label(tagger, two_sets):
    first, _, _ = two_sets
    seed_set = load_sets([first], {}, None, seed=0)[0]
    # The seed examples are plain, one-topic sentences: the real model gets most of them.
    assert names_only_macro_f1(tagger.backend.encoder, seed_set) > 0.7


def test_the_matcher_embeds_labels_as_the_engine_does_through_dense_layers_and_prompts(tiny_st_dir):
    """A base with a pipeline after pooling (EmbeddingGemma's Dense layers) and prompts: training reads
    a label exactly as the service will, so the adapter learns the vectors that are served."""
    from conftest import PROMPTS

    from service.engine.model_profiles import PromptNames
    from service.engine.st_modules import read_pipeline

    served = SentenceEncoder(tiny_st_dir, prompts=PromptNames(None, "query"))
    tokenizer = AutoTokenizer.from_pretrained(tiny_st_dir)
    model = AutoModel.from_pretrained(tiny_st_dir, use_safetensors=True).eval()
    pipeline = read_pipeline(tiny_st_dir)
    labels = ["news about sports", "news about the economy"]
    with torch.no_grad():
        trained = matcher._embed(model, tokenizer, [PROMPTS["query"] + t for t in labels], 128, pipeline)
        without = matcher._embed(model, tokenizer, labels, 128, pipeline)
    assert trained.shape == (2, 8)  # the Dense layers' width, not the transformer's 32
    assert np.allclose(served.encode_texts(labels), trained.numpy(), atol=1e-5)
    assert not np.allclose(served.encode_texts(labels), without.numpy(), atol=1e-3)  # the prompt counts


@pytest.fixture(scope="module")
def st_adapter(tiny_st_dir, two_sets, tmp_path_factory) -> Path:
    first, _, _ = two_sets
    output = tmp_path_factory.mktemp("st-adapters") / "st-matcher"
    assert matcher.main(["--data", str(first), "--base", str(tiny_st_dir), "--output", str(output),
                         "--batch-size", "8", "--lr", "5e-3", "--dropout", "0"]) == 0
    assert json.loads((output / ADAPTER_MANIFEST).read_text())["training"]["config"]["dropout"] == 0.0
    return output


def test_a_base_with_dense_layers_trains_an_adapter_that_moves_its_served_vectors(tiny_st_dir, st_adapter):
    texts = ["Parliament passed the budget.", "The striker scored twice."]
    plain = SentenceEncoder(tiny_st_dir).encode_texts(texts)
    adapted = SentenceEncoder(tiny_st_dir, adapter=read_adapter(st_adapter)).encode_texts(texts)
    assert plain.shape == adapted.shape == (2, 8)
    assert not np.allclose(plain, adapted, atol=1e-4)


def test_a_model_profiles_matcher_is_verified_merged_and_named_unless_off(tiny_st_dir, st_adapter, monkeypatch,
                                                                         tmp_path):
    """EmbeddingGemma's route: its profile names its adapter; the model version names the pair,
    which pins the calibration and genre check; an adapter of other weights is refused."""
    import service.engine.model_profiles as profiles
    from service.engine.model_profiles import ModelProfile

    digest = sha256_of(tiny_st_dir / "model.safetensors")
    pinned = sha256_of(st_adapter / ADAPTER_WEIGHTS)
    monkeypatch.setitem(profiles.PROFILES, digest[:12], ModelProfile(matcher=(st_adapter, pinned)))
    on = load_backend(Settings.from_env({"NEWSTAG_MATCHER": "on"}, model=tiny_st_dir).engine_options().model)
    off = load_backend(Settings.from_env({"NEWSTAG_MATCHER": "off"}, model=tiny_st_dir).engine_options().model)
    assert on.encoder.adapter is not None and on.encoder.adapter.path == st_adapter
    assert on.model_version == f"{digest[:12]}+{pinned[:8]}" and off.model_version == digest[:12]
    texts = ["The central bank raised interest rates."]
    assert not np.allclose(on.encoder.encode_texts(texts), off.encoder.encode_texts(texts), atol=1e-4)
    other = tmp_path / "other"  # the same adapter, recorded as trained on other weights
    shutil.copytree(st_adapter, other)
    manifest = json.loads((other / ADAPTER_MANIFEST).read_text())
    (other / ADAPTER_MANIFEST).write_text(json.dumps({**manifest, "base_sha256": "f" * 64}))
    monkeypatch.setitem(profiles.PROFILES, digest[:12], ModelProfile(matcher=(other, pinned)))
    with pytest.raises(ModelLoadError, match="trained on other base weights"):
        load_backend(Settings.from_env({}, model=tiny_st_dir).engine_options().model)
    monkeypatch.setitem(profiles.PROFILES, digest[:12], ModelProfile(matcher=(st_adapter, "0" * 64)))
    with pytest.raises(ModelLoadError, match="SHA-256"):
        load_backend(Settings.from_env({}, model=tiny_st_dir).engine_options().model)


def test_phrasing_follows_the_model_profile_sentences_and_articles():
    from service.engine.model_files import MULTILINGUAL_SHA256
    from service.engine.st_modules import Pipeline

    pipeline = Pipeline(prompts=PROMPTS_GEMMA)
    gemma = matcher.Phrasing.of(pipeline, MULTILINGUAL_SHA256)
    assert (gemma.text_prompt, gemma.label_prompt) == (PROMPTS_GEMMA["document"], PROMPTS_GEMMA["query"])
    assert gemma.template_for("The minister met his counterpart.") == "This news article is about {}."
    article = "The minister arrived. He met his counterpart. They signed two agreements. Talks go on."
    assert gemma.template_for(article) == "news about {}"
    plain = matcher.Phrasing.of(Pipeline(), DEFAULT_MODEL_SHA256)
    assert (plain.text_prompt, plain.label_prompt) == ("", "")
    assert plain.template_for("One sentence.") == plain.template_for(article) == "news about {}"


GERMAN_SIB_NAMES = ["Wissenschaft/Technologie", "Reisen", "Politik", "Sport", "Gesundheit", "Unterhaltung", "Geografie"]


def test_phrasing_reads_labels_named_in_german_as_the_engine_does():
    # The engine reads sentences against German-named labels in its German template
    # (EmbeddingBackend.phrasing_for); a matcher trained on such a set must see the same phrases.
    from service.engine.model_files import MULTILINGUAL_SHA256
    from service.engine.st_modules import Pipeline

    gemma = matcher.Phrasing.of(Pipeline(prompts=PROMPTS_GEMMA), MULTILINGUAL_SHA256)
    assert gemma.labels_language(GERMAN_SIB_NAMES) == "de"
    assert gemma.labels_language(["politics", "sports", "health", "travel"]) == "und"
    sentence = "Der Minister traf seinen Amtskollegen."
    assert gemma.template_for(sentence, "de") == "Dieser Nachrichtenartikel handelt von {}."
    assert gemma.template_for(sentence, "es") == gemma.template_for(sentence) == "This news article is about {}."
    article = ("Der Minister kam an. Er traf seinen Kollegen. Sie unterzeichneten zwei Abkommen. "
               "Die Gespräche gehen weiter.")
    assert gemma.template_for(article, "de") == "news about {}"
    plain = matcher.Phrasing.of(Pipeline(), DEFAULT_MODEL_SHA256)
    assert plain.labels_language(GERMAN_SIB_NAMES) == "und"


def test_loss_phrases_a_german_named_set_in_german(monkeypatch):
    from service.engine.model_files import MULTILINGUAL_SHA256
    from service.engine.st_modules import Pipeline
    from training.data import Example

    embedded: list[str] = []

    def fake_embed(model, tokenizer, texts, max_length, pipeline=None):
        embedded.extend(texts)
        return torch.nn.functional.normalize(torch.ones(len(texts), 4), dim=-1)

    monkeypatch.setattr(matcher, "_embed", fake_embed)
    gemma = matcher.Phrasing.of(Pipeline(prompts=PROMPTS_GEMMA), MULTILINGUAL_SHA256)
    labels = sorted(GERMAN_SIB_NAMES)
    matcher_set = MatcherSet("sib-own-deu_Latn", [Example("Der Minister traf seinen Amtskollegen.", ("Politik",))],
                             labels, labels)
    config = matcher.MatcherConfig(data=[], output=Path("unused"))  # temperature and lengths only
    matcher._loss(None, None, matcher_set, [0], config, None, gemma)
    assert PROMPTS_GEMMA["query"] + "Dieser Nachrichtenartikel handelt von Politik." in embedded
    assert not any("This news article is about" in text for text in embedded)


PROMPTS_GEMMA = {"document": "title: none | text: ", "query": "task: search result | query: "}


def test_held_out_splits_are_not_trained_on_and_each_language_is_its_own_set(tmp_path):
    rows = [{"text": f"{lang} {split} {i}", "labels": ["a" if i % 2 else "b"], "split": split, "lang": lang}
            for lang in ("fra_Latn", "rus_Cyrl") for split in ("train", "validation", "test") for i in range(6)]
    path = tmp_path / "multi.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sets = load_sets([path], {}, 4, seed=0)
    assert [s.name for s in sets] == ["multi-fra_Latn", "multi-rus_Cyrl"]
    for matcher_set, lang in zip(sets, ("fra_Latn", "rus_Cyrl"), strict=True):
        assert len(matcher_set.examples) == 4  # sampled from the 6 train rows of its language
        assert all(e.text.startswith(f"{lang} train") for e in matcher_set.examples)
        assert matcher_set.source == path


def test_a_file_can_have_its_own_cap_and_a_cap_for_no_file_is_refused(tmp_path):
    def write(name, count):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"text": f"{name} {i}", "labels": ["a" if i % 2 else "b"]}) + "\n"
                                for i in range(count)))
        return path

    news, sentences = write("news", 10), write("sentences", 10)
    sets = load_sets([news, sentences], {}, 8, seed=0, max_per_file={"news": 3})
    assert [len(s.examples) for s in sets] == [3, 8]
    with pytest.raises(DataFileError, match="newz"):
        load_sets([news, sentences], {}, 8, seed=0, max_per_file={"newz": 3})
    assert matcher.main(["--data", str(news), "--output", str(tmp_path / "out"), "--max-per-file", "news=0"]) == 2
    # A negative cap was "Sample larger than population or is negative" from random.sample.
    assert matcher.main(["--data", str(news), "--output", str(tmp_path / "out"), "--max-per-set", "-5"]) == 2


def test_embeddinggemmas_matcher_ships_checksummed_for_its_weights_with_the_gemma_notice():
    """Checked without the model (CI has none): the file, its record, its notice, its profile entry,
    and the calibration and genre check pinned for the pair."""
    from service.engine.calibration_fits import PINNED_CALIBRATIONS
    from service.engine.genre import file_for
    from service.engine.model_files import (
        MULTILINGUAL_MATCHER_DIR,
        MULTILINGUAL_MATCHER_SHA256,
        MULTILINGUAL_SHA256,
        verify_file,
    )
    from service.engine.model_profiles import profile_for

    verify_file(MULTILINGUAL_MATCHER_DIR / ADAPTER_WEIGHTS, MULTILINGUAL_MATCHER_SHA256, "matcher adapter weights")
    adapter = read_adapter(MULTILINGUAL_MATCHER_DIR, MULTILINGUAL_MATCHER_SHA256)
    assert adapter.base_sha256 == MULTILINGUAL_SHA256
    # 24 layers x (q, k, v, o, gate, up, down), rank 8
    assert len(adapter.pairs) == 168 and {a.shape[0] for a, _ in adapter.pairs.values()} == {8}
    assert "layers.0.self_attn.q_proj" in adapter.pairs and "layers.23.mlp.down_proj" in adapter.pairs
    assert "Gemma Terms of Use" in (MULTILINGUAL_MATCHER_DIR / "NOTICE").read_text()
    assert profile_for(MULTILINGUAL_SHA256).matcher == (MULTILINGUAL_MATCHER_DIR, MULTILINGUAL_MATCHER_SHA256)
    version = f"{MULTILINGUAL_SHA256[:12]}+{MULTILINGUAL_MATCHER_SHA256[:8]}"
    assert version in PINNED_CALIBRATIONS and file_for(version).is_file()
    record = json.loads((MULTILINGUAL_MATCHER_DIR / ADAPTER_MANIFEST).read_text())
    assert record["training"]["base_model"] == "google/embeddinggemma-300m"
    assert all(s["rows"] <= 300 for s in record["training"]["sets"])  # of train rows only (matcher_data.py)


def test_embeddinggemmas_matcher_card_is_rendered_from_its_record_under_the_gemma_terms():
    from training import matcher_card

    shipped = matcher_card.SHIPPED[1]
    card = matcher_card.shipped_card(shipped)
    for path in shipped.cards:
        assert path.read_text(encoding="utf-8") == card, f"{path} is stale: run python -m training.matcher_card"
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "gemma" and front["base_model"] == "google/embeddinggemma-300m"
    assert "Gemma Terms of Use" in card and "--base base-models/embeddinggemma-300m" in card
