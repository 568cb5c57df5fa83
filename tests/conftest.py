"""Shared fixtures: the real embedded model for behaviour, tiny random models for mechanics."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

from service.config import Settings
from service.engine import Tagger
from service.engine.model_files import default_model_dir

ROOT = Path(__file__).resolve().parent.parent
SEED_ARTICLE = ROOT / "seeds" / "000_61fd793a4efa8984.txt"
EXAMPLES = ROOT / "seeds" / "examples.jsonl"


def _tiny_config(**extra) -> BertConfig:
    return BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, **extra)


def _save_tokenizer(target: Path) -> None:
    AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True).save_pretrained(target)


@pytest.fixture(scope="session", autouse=True)
def _no_installed_multilingual_model(tmp_path_factory):
    """A developer's installed EmbeddingGemma (base-models/) must not change what the suite
    checks: tests route by language only to a multilingual model they name, as on CI. The
    servers tests start (gunicorn, the CLI) inherit NEWSTAG_MULTILINGUAL_MODEL=off."""
    from service.engine import routing

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(routing, "DEFAULT_MULTILINGUAL_DIR", tmp_path_factory.mktemp("none") / "embeddinggemma-300m")
        patch.setenv("NEWSTAG_MULTILINGUAL_MODEL", "off")
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_label_vectors_kept_between_runs():
    """Label vectors read back from a developer's ~/.cache (or an earlier test) would skip the
    embedding some tests time or count: tests keep them only where they name a directory
    (tests/test_phrase_store.py). The servers tests start inherit NEWSTAG_LABEL_CACHE=off."""
    from service.engine import phrase_store

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phrase_store, "default_store_dir", lambda: None)
        patch.setenv("NEWSTAG_LABEL_CACHE", "off")
        yield


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT encoder with the real tokenizer, saved locally."""
    target = tmp_path_factory.mktemp("tiny-encoder")
    torch.manual_seed(0)
    BertModel(_tiny_config()).save_pretrained(target, safe_serialization=True)
    _save_tokenizer(target)
    return target


PROMPTS = {"Classification": "task: classification | query: ", "document": "title: none | text: ",
           "query": "task: search result | query: "}


@pytest.fixture(scope="session")
def tiny_st_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny encoder as a sentence-transformers pipeline, saved by sentence-transformers itself:
    mean Pooling, Dense 32→16 (tanh, bias), Dense 16→8 (no bias), Normalize, and two prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    target = tmp_path_factory.mktemp("tiny-st")
    torch.manual_seed(1)
    modules = [models.Transformer(str(tiny_model_dir), max_seq_length=128), models.Pooling(32, "mean"),
               models.Dense(32, 16, activation_function=torch.nn.Tanh()),
               models.Dense(16, 8, bias=False, activation_function=torch.nn.Identity()), models.Normalize()]
    SentenceTransformer(modules=modules, prompts=PROMPTS, device="cpu").save(str(target))
    return target


@pytest.fixture(scope="session")
def tiny_nli_dir(tmp_path_factory) -> Path:
    """A randomly initialised NLI classifier (entailment, neutral, contradiction), saved locally."""
    target = tmp_path_factory.mktemp("tiny-nli")
    torch.manual_seed(0)
    config = _tiny_config(num_labels=3, id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
                          label2id={"entailment": 0, "neutral": 1, "contradiction": 2})
    BertForSequenceClassification(config).save_pretrained(target, safe_serialization=True)
    _save_tokenizer(target)
    return target


@pytest.fixture(scope="session")
def tiny_tagger(tiny_model_dir) -> Tagger:
    return Tagger.load(Settings.from_env({}, model=tiny_model_dir).engine_options())


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    """The real embedded all-MiniLM-L6-v2, loaded once for the whole session."""
    return Tagger.load(Settings.from_env({}).engine_options())


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_ARTICLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def builtin_topic_counts() -> dict[str, int]:
    """Topics in each built-in taxonomy, read from its YAML file (what listings must report)."""
    from service.engine.taxonomy import BUILTIN_DIR
    return {path.stem: len(yaml.safe_load(path.read_text(encoding="utf-8"))["topics"])
            for path in BUILTIN_DIR.glob("*.yaml")}


@pytest.fixture(scope="session")
def examples() -> list[dict]:
    return [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture()
def app(tagger):
    """A fresh app per test around the session's real tagger (no reload)."""
    from service import create_app

    return create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False})


@pytest.fixture()
def client(app):
    return app.test_client()


TRAIN_SMALL = ROOT / "seeds" / "train-small.jsonl"


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory) -> Path:
    """A classifier fine-tuned (head mode, real encoder) on the seeds' 40 examples."""
    from training.finetune import main

    target = tmp_path_factory.mktemp("trained") / "desk-topics"
    assert main(["--train", str(TRAIN_SMALL), "--output", str(target), "--mode", "head", "--epochs", "30",
                 "--seed", "7"]) == 0
    return target


@pytest.fixture(scope="session")
def retrained_model_dir(tmp_path_factory) -> Path:
    """desk-topics retrained in place: its 'climate' became 'environment' (two epochs: only its labels matter)."""
    from training.finetune import main

    folder = tmp_path_factory.mktemp("retrained")
    rows = [json.loads(line) for line in TRAIN_SMALL.read_text(encoding="utf-8").splitlines() if line.strip()]
    data = folder / "train.jsonl"
    data.write_text("".join(json.dumps({**r, "labels": ["environment" if x == "climate" else x for x in r["labels"]]})
                            + "\n" for r in rows), encoding="utf-8")
    target = folder / "desk-topics"
    assert main(["--train", str(data), "--output", str(target), "--mode", "head", "--epochs", "2",
                 "--seed", "7"]) == 0
    return target


@pytest.fixture()
def models_dir(tmp_path, trained_model_dir) -> Path:
    """A NEWSTAG_MODELS_DIR holding one copy of trained_model_dir, "desk-topics"."""
    directory = tmp_path / "models"
    directory.mkdir()
    shutil.copytree(trained_model_dir, directory / "desk-topics")
    return directory


def required_here() -> bool:
    """CI (and NEWSTAG_REQUIRE_E2E=1) must run the browser and PostgreSQL tests, never skip them."""
    return bool(os.environ.get("CI") or os.environ.get("NEWSTAG_REQUIRE_E2E"))


def unwritable_dir(tmp_path: Path) -> Path:
    """A directory this process cannot write: chmod for a user, a read-only mount for root."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    for candidate in (locked, Path("/proc/sys")):
        if candidate.is_dir() and not os.access(candidate, os.W_OK):
            return candidate
    pytest.skip("no directory here that this process cannot write")


def skip_unless_required(reason: str) -> None:
    if required_here():
        pytest.fail(f"{reason} (required here: CI or NEWSTAG_REQUIRE_E2E is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A PostgreSQL server of our own for the session, or a skip that says why not."""
    from tests.pg_cluster import Cluster, ClusterUnavailable

    try:
        cluster = Cluster()
    except ClusterUnavailable as exc:
        skip_unless_required(f"no PostgreSQL server could be started: {exc}")
    try:
        cluster.start()
    except ClusterUnavailable as exc:
        cluster.stop()
        skip_unless_required(f"no PostgreSQL server could be started: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def postgres_url(postgres_cluster, request) -> str:
    """A fresh, empty database on the session's server, one per test."""
    from sqlalchemy import create_engine

    name = f"t{abs(hash(request.node.nodeid)) % 10**12}"
    engine = create_engine(postgres_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return postgres_cluster.url(name)


def interrupted(how: str, what: str) -> None:
    """A long step the user interrupts: Ctrl-C raises KeyboardInterrupt; SIGTERM is sent to this
    process, whose handler (the command's, installed by it) must interrupt the sleep at once."""
    import signal
    import time

    if how == "ctrl-c":
        raise KeyboardInterrupt
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
    pytest.fail(f"SIGTERM did not stop the {what}")

