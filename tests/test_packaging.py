"""The package: the wheel `pip install .` builds, what serving imports, and `newstag serve`."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_FILES = ["pyproject.toml", "requirements-serve.txt", "requirements-model.txt", "requirements-train.txt",
               "requirements-bulk.txt"]
# What requirements-train.txt brings (and scipy, through scikit-learn and sentence-transformers),
# by import name, the checkout's training and benchmark code, and the bulk job's Ray, pyarrow
# and pandas (requirements-bulk.txt): serving needs none of them.
TRAINING_STACK = ["sklearn", "scipy", "peft", "accelerate", "psutil", "matplotlib", "sentence_transformers",
                  "training", "bench", "ray", "pyarrow", "pandas"]


def pins(name: str) -> list[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel of a clean copy of the sources, built offline with the installed setuptools."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_FILES:
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "service", source / "service", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--wheel-dir", str(out), str(source)], check=True)
    [built] = out.glob("newstag-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_every_file_of_the_service_and_nothing_else(wheel):
    """Every module and every file the service reads (taxonomies, the matcher adapter, the
    reference topics, the editor's page) is in it: a new data file must be declared."""
    names = set(wheel.namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "service").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert {"service/taxonomies/news.yaml", "service/matcher/adapter.safetensors",
            "service/http/static/editor.js", "service/engine/reference_topics.txt"} <= sources
    assert sources - names == set()
    packaged = {n for n in names if ".dist-info/" not in n}
    assert packaged == sources  # no training/, bench/, tests/ or build leftovers


def test_the_wheel_declares_the_newstag_command_and_the_serving_pins(wheel):
    [dist_info] = {n.split("/")[0] for n in wheel.namelist() if ".dist-info/" in n}
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(f"{dist_info}/entry_points.txt").decode())
    assert dict(entry_points["console_scripts"]) == {"newstag": "service.__main__:main"}
    metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
    requires = metadata.get_all("Requires-Dist")
    serving = [r for r in requires if "extra ==" not in r]
    assert serving == pins("requirements-serve.txt") + pins("requirements-model.txt")
    assert "torch==2.13.0" in serving  # an unpinned torch pulls a CUDA build
    train = [r.split(";")[0].strip() for r in requires if 'extra == "train"' in r]
    assert train == pins("requirements-train.txt")
    assert not {r.split("==")[0] for r in serving} & {r.split("==")[0] for r in train}
    bulk = [r.split(";")[0].strip() for r in requires if 'extra == "bulk"' in r]
    assert [r.replace(" ", "") for r in bulk] == pins("requirements-bulk.txt")
    assert not {r.split("==")[0] for r in serving} & {r.split("[")[0].split("==")[0] for r in bulk}


@pytest.mark.slow  # a fresh interpreter loads torch and the real model
def test_serving_imports_nothing_from_the_training_stack(tmp_path):
    """The app, a tag call, the command line and the batch job with the training stack absent
    (as in the image): each is marked missing in sys.modules, so an import of it fails."""
    code = textwrap.dedent(f"""
        import sys
        for name in {TRAINING_STACK!r}:
            sys.modules[name] = None
        from service import create_app
        from service.config import Settings
        from service.engine import Tagger
        import service.batch, service.cli, service.drift.__main__, service.drift.plot
        tagger = Tagger.load(Settings.from_env({{}}).engine_options())
        client = create_app({{"TAGGER": tagger, "LOAD_IN_BACKGROUND": False,
                              "database_url": "sqlite:///{tmp_path}/fb.db"}}).test_client()
        answer = client.post("/v1/classify", json={{"text": "Oil prices rose after OPEC cut output."}})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert "energy" in [t["label"] for t in answer.get_json()["topics"]]
        assert client.post("/v1/feedback", json={{"text": "Oil.", "labels": ["energy"],
                                                  "taxonomy": "news"}}).status_code == 201
        print("served")
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "served"


def test_newstag_serve_runs_gunicorn_with_the_packaged_settings(tmp_path):
    """What the image runs: gunicorn's resolved settings, printed (the app is imported, no worker starts)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path), "PORT": "8123"}
    done = subprocess.run([sys.executable, "-m", "service", "serve", "--print-config"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    settings = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    settings = {k.strip(): v.strip() for k, v in settings.items()}
    assert settings["config"] == "python:service.gunicorn_config"
    assert settings["wsgi_app"] == "service:create_app()"
    assert settings["preload_app"] == "False" and settings["worker_class"] == "service.gunicorn_worker.ThreadWorker"
    assert settings["bind"] == "['0.0.0.0:8123']"
    assert settings["on_starting"] == "<on_starting()>"  # the preflight check runs before workers fork
