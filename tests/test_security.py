"""Security properties: nothing pickled is ever loaded, no remote code, no internals in answers."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest
import torch

from service import create_app
from service.config import Settings
from service.engine import Tagger
from service.engine.classifier import ClassifierBackend

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for d in ("service", "training", "bench") for p in (ROOT / d).rglob("*.py"))


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_code_never_unpickles_or_allows_remote_code(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            assert not {"pickle", "dill", "joblib", "cloudpickle"} & set(names), f"{path}: imports a pickler"
    for call, name in _calls(tree):
        assert name not in {"torch.load", "np.load", "numpy.load"}, f"{path}:{call.lineno}: {name} can unpickle"
        for keyword in call.keywords:
            if keyword.arg == "trust_remote_code":
                assert isinstance(keyword.value, ast.Constant) and keyword.value.value is False, \
                    f"{path}:{call.lineno}: trust_remote_code must be the literal False"
        if name.endswith("from_pretrained") and "save" not in name:
            args = {k.arg: k.value for k in call.keywords}
            assert isinstance(args.get("local_files_only"), ast.Constant) and args["local_files_only"].value, \
                f"{path}:{call.lineno}: from_pretrained without local_files_only=True"


def test_loading_and_tagging_never_touch_pickle(monkeypatch, tiny_model_dir, trained_model_dir):
    """Every unpickling entry point raises; the default model, a local model and a
    fine-tuned classifier still load and tag."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("something tried to unpickle")

    for target, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")]:
        monkeypatch.setattr(target, name, refuse)
    for settings in (Settings.from_env({}), Settings.from_env({}, model=tiny_model_dir)):
        assert Tagger.load(settings.engine_options()).tag(["Ministers met to discuss the economy."])
    classifier = ClassifierBackend.load(trained_model_dir)
    tagger = Tagger(classifier, Tagger.load(Settings.from_env({}, model=tiny_model_dir).engine_options()).taxonomies,
                    Settings.from_env({}).engine_options().tagger)
    assert tagger.tag(["The match ended in a draw."])


def test_an_unexpected_error_answers_500_without_internals(tagger, monkeypatch):
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False})

    def explode(*_args, **_kwargs):
        raise RuntimeError("/srv/secret/path/model.safetensors: boom in module service.engine.encoder")

    monkeypatch.setattr(tagger, "tag", explode)
    response = app.test_client().post("/v1/classify", json={"text": "Anything."})
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    for leak in ("/srv/secret", "Traceback", "service.engine", "boom", str(ROOT)):
        assert leak not in body
