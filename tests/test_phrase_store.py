"""Taxonomies' label vectors kept on disk between starts (service/engine/phrase_store.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from service.engine import Tagger
from service.engine.label_vectors import label_phrasings
from service.engine.phrase_store import PhraseStore

TEXT = "The central bank raised interest rates again on Thursday. Markets fell in early trading."
REPO = Path(__file__).resolve().parent.parent


def _load(model_dir: Path, cache: Path) -> Tagger:
    return Tagger.load(Settings.from_env({}, model=model_dir, label_cache=str(cache)).engine_options())


def _encoded(tagger: Tagger, monkeypatch) -> list[str]:
    """The short texts (label phrasings) the tagger's encoder is asked to embed from now on."""
    encoder, seen = tagger.backend.encoder, []
    original = encoder.encode_texts

    def counting(texts, deadline=None):
        seen.extend(texts)
        return original(texts, deadline)

    monkeypatch.setattr(encoder, "encode_texts", counting)
    return seen


def _scores(tagger: Tagger, **kwargs) -> list[tuple[str, float]]:
    [result] = tagger.tag([TEXT], threshold=0.0, evidence=False, **kwargs)
    return [(t.label, t.score) for t in result.topics]


def test_a_taxonomys_label_vectors_are_read_back_at_the_next_start(tiny_model_dir, tmp_path, monkeypatch):
    cache = tmp_path / "label-vectors"
    first = _load(tiny_model_dir, cache)
    first_seen = _encoded(first, monkeypatch)
    before = _scores(first)
    assert first_seen, "the first start embeds the taxonomy's phrasings"
    [written] = cache.glob("*.safetensors")
    assert written.name.startswith(first.backend.model_version)

    again = _load(tiny_model_dir, cache)
    seen = _encoded(again, monkeypatch)
    assert _scores(again) == before  # the same vectors, to the last bit
    topics = again.taxonomies.get("news").labels
    phrasings = {p for topic in topics for p in label_phrasings(topic, again.backend.label_vectors.template)}
    assert not phrasings & set(seen), "the second start read every topic's phrasings from the file"

    # A caller's labels are embedded each time and never written down.
    _scores(again, labels=["zebra crossings", "harbour pilots"])
    assert "news about zebra crossings" in seen
    assert not any("zebra" in key for key in PhraseStore(written, again.backend.encoder.dim)._vectors)


def test_a_damaged_file_is_passed_over_and_written_anew(tiny_model_dir, tmp_path, caplog):
    cache = tmp_path / "label-vectors"
    before = _scores(_load(tiny_model_dir, cache))
    [written] = cache.glob("*.safetensors")
    written.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    with caplog.at_level(logging.WARNING, logger="newstag.engine"):
        after = _scores(_load(tiny_model_dir, cache))
    assert after == before
    assert "are not read" in caplog.text
    assert len(PhraseStore(written, 32)) > 0  # written whole again


def test_a_directory_that_cannot_be_written_is_passed_over(tiny_model_dir, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    assert _scores(_load(tiny_model_dir, blocked / "label-vectors")) == _scores(_load(tiny_model_dir, tmp_path / "x"))
    assert blocked.read_text() == "not a directory"


def test_auto_keeps_them_under_the_users_cache_and_off_keeps_none(tmp_path):
    code = ("from service.engine.phrase_store import store_dir; "
            "print(store_dir('auto')); print(store_dir('off')); print(store_dir('~/lv'))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [str(tmp_path / "xdg" / "newstag" / "label-vectors"), "None", str(tmp_path / "home" / "lv")]


def test_an_empty_setting_is_refused():
    from service.errors import ConfigError

    with pytest.raises(ConfigError, match="NEWSTAG_LABEL_CACHE"):
        Settings.from_env({}, label_cache=" ")


def test_vectors_made_by_other_engine_code_are_not_read(tiny_model_dir, tmp_path, monkeypatch):
    """A change to pooling or to the tokenizer's normalisation must not meet the old vectors."""
    from service.engine import phrase_store

    cache = tmp_path / "label-vectors"
    _scores(_load(tiny_model_dir, cache))
    monkeypatch.setattr(phrase_store, "engine_code_version", lambda: "changed0")
    changed = _load(tiny_model_dir, cache)
    seen = _encoded(changed, monkeypatch)
    _scores(changed)
    assert seen, "the taxonomy was embedded again"
    assert len(list(cache.glob("*.safetensors"))) == 2


def test_vectors_made_with_another_cpus_bf16_units_are_not_read(tiny_model_dir, tmp_path, monkeypatch):
    """AMX and AVX512-BF16 round bf16 products differently: a directory several machines share
    must not give one the other's vectors."""
    from service.engine import loading

    cache = tmp_path / "label-vectors"

    def load_bf16() -> Tagger:
        return Tagger.load(Settings.from_env({}, model=tiny_model_dir, label_cache=str(cache),
                                             precision="bf16").engine_options())

    monkeypatch.setattr(loading, "bf16_units", lambda: "amx")
    _scores(load_bf16())
    monkeypatch.setattr(loading, "bf16_units", lambda: "avx512")
    other = load_bf16()
    seen = _encoded(other, monkeypatch)
    _scores(other)
    assert seen, "the taxonomy was embedded again"
    assert sorted("bf16amx" in f.name for f in cache.glob("*.safetensors")) == [False, True]


@pytest.mark.parametrize("precision, weights_range, expected", [
    ("int8", "reduced", "reduced"), ("int8", "full", "full"), ("fp32", None, "any")])
def test_an_onnx_int8_graphs_weight_range_names_its_file(precision, weights_range, expected):
    """The file named the NEWSTAG_ONNX_INT8_RANGE setting (auto), not the range the graph has:
    a 7-bit graph (a CPU without VNNI) read a full-range graph's vectors from a shared directory."""
    from types import SimpleNamespace

    from service.engine.loading import _kernels
    from service.engine.precision import Precision

    encoder = SimpleNamespace(precision=Precision(precision), int8_weights_range=weights_range)
    assert _kernels(encoder) == expected


def test_a_written_file_takes_the_users_umask_so_others_sharing_the_directory_read_it(tiny_model_dir, tmp_path):
    """It was written 0600 (a temporary file's mode): a directory shared by machines or users (the
    documented use) gave the others nothing to read, and they embedded the taxonomies at every start."""
    cache = tmp_path / "label-vectors"
    _load(tiny_model_dir, cache).tag([TEXT])
    umask = os.umask(0)
    os.umask(umask)
    written = list(cache.glob("*.safetensors"))
    assert written and {p.stat().st_mode & 0o777 for p in written} == {0o666 & ~umask}
