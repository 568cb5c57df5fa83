"""The ONNX graph cache: each export checksummed in a directory named by what it was exported from.

Each export sits in its own directory, named by the weights, the adapter, the precision
(for int8, the weights' range the CPU needs: int8_kernels.py) and the onnxruntime version,
with ``manifest.json`` beside the graph: its SHA-256 and what it was exported from. The
graph is read once, hashed and handed to ONNX Runtime from the same bytes, so a graph that
fails its check is never loaded: it is exported again when the directory is writable, else
the service refuses to start. A read-only, empty directory
runs torch, with a log line that says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelLoadError
from .cache import user_cache_dir
from .int8_kernels import FULL, REDUCED, int8_kernels

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger("newstag.onnx")

GRAPH_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
# Bumped whenever the export changes (rewrites, optimizer, quantisation): older graphs are
# then not found (a new directory name) and are exported again, or auto runs torch.
# 2: int8 graphs' weight range chosen by CPU (int8_kernels.py); 3: EmbeddingGemma's int8
# graph keeps its end layers in fp32 (onnx_graph.INT8_FP32_PRODUCTS); 4: BERT graphs keep
# residual Add + LayerNormalization unfused (onnx_runtime.DISABLED_OPTIMIZERS).
EXPORT_FORMAT = 4

@dataclass(frozen=True)
class GraphSource:
    """What a graph is exported from: these are the names checked against its manifest."""

    weights_sha256: str
    adapter_sha256: str | None
    precision: str  # "fp32" or "int8"
    int8_range: str | None = None  # int8: "full" (8-bit weights) or "reduced" (7-bit); fp32: None

    def directory_name(self) -> str:
        adapter = f"+{self.adapter_sha256[:8]}" if self.adapter_sha256 else ""
        weights = "-7bit" if self.int8_range == REDUCED else ""
        return (f"{self.weights_sha256[:12]}{adapter}-{self.precision}{weights}-ort{_ort_version()}"
                f"-v{EXPORT_FORMAT}")


def _ort_version() -> str:
    # The installed distribution's version, without importing it: gunicorn's master checks graphs
    # before it forks (check_graphs_at_start) and imports neither torch nor ONNX Runtime.
    return version("onnxruntime")


_GRAPH_NAME = re.compile(r"-ort(?P<ort>.+)-v(?P<format>\d+)$")
_STAGING_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.tmp$")


def stale_graph(name: str) -> str | None:
    """Why this build never loads the entry ``name`` of an ONNX cache directory (None: it may; not
    an entry of ours). A graph is named by its export format and ONNX Runtime version, so an
    upgrade of either leaves the old graphs behind: 87 MB (fp32) and 22 MB (int8) for the default
    model, 1.2 GB and 300 MB for EmbeddingGemma."""
    staging = _STAGING_NAME.match(name)
    if staging is not None:
        return None if _running(int(staging["pid"])) else "left by an interrupted export"
    found = _GRAPH_NAME.search(name)
    if found is None:
        return None
    if int(found["format"]) != EXPORT_FORMAT:
        return f"export format v{found['format']}; this build reads v{EXPORT_FORMAT}"
    if found["ort"] != _ort_version():
        return f"exported for onnxruntime {found['ort']}; this is {_ort_version()}"
    return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def default_onnx_dir() -> Path:
    """$XDG_CACHE_HOME/newstag/onnx (~/.cache/newstag/onnx) unless NEWSTAG_ONNX_DIR says otherwise."""
    return user_cache_dir("onnx")


def verified_graph(directory: Path, source: GraphSource) -> bytes:
    """The graph's bytes, after its manifest and SHA-256 are checked; ModelLoadError otherwise."""
    manifest_file, graph_file = directory / MANIFEST_FILE, directory / GRAPH_FILE
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        expected, recorded = str(manifest["sha256"]), manifest["source"]
        fmt = manifest["format"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"the ONNX graph's manifest {manifest_file} cannot be read: {exc!r}") from None
    if recorded != asdict(source) or fmt != EXPORT_FORMAT:
        raise ModelLoadError(f"the ONNX graph in {directory} was exported from other weights or settings "
                             f"({recorded}, format {fmt})")
    try:
        data = graph_file.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"the ONNX graph file cannot be read: {graph_file} ({exc})") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ModelLoadError(f"the ONNX graph fails its SHA-256 check: {graph_file} "
                             f"(expected {expected[:12]}…, got {actual[:12]}…)")
    return data


def check_graphs_at_start(cache_dir: Path, weights_sha256: list[str], may_replace: bool) -> None:
    """Refuse, before the server forks, a graph of these weights in ``cache_dir`` that fails its
    SHA-256 check and that no worker may replace (NEWSTAG_RUNTIME=auto, or a read-only cache).
    A worker found it only as it loaded, and the server then ran without ever being ready."""
    if not cache_dir.is_dir() or (may_replace and writable(cache_dir)):
        return
    from .model_files import sha256_of

    suffix = f"-ort{_ort_version()}-v{EXPORT_FORMAT}"  # graphs of another version are never read
    for directory in sorted(cache_dir.iterdir()):
        if not (directory.name.endswith(suffix) and directory.name[:12] in {w[:12] for w in weights_sha256}):
            continue
        try:
            expected = str(json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))["sha256"])
            actual = sha256_of(directory / GRAPH_FILE)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"the ONNX graph in {directory} cannot be read ({exc!r}); remove it, or export "
                                 "it again: newstag export-onnx") from None
        if actual != expected:
            raise ModelLoadError(f"the ONNX graph fails its SHA-256 check: {directory / GRAPH_FILE} (expected "
                                 f"{expected[:12]}…, got {actual[:12]}…); remove it, or export it again: "
                                 "newstag export-onnx")


def writable(directory: Path) -> bool:
    """The directory exists (made if need be) and this process may write in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


@contextlib.contextmanager
def _export_lock(cache_dir: Path) -> Iterator[None]:
    """One exporter at a time: the workers of one server start together."""
    with (cache_dir / ".export.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def export_to_cache(model: PreTrainedModel, cache_dir: Path, source: GraphSource) -> Path:
    """Export ``model`` (fp32, adapter merged) into its cache directory with its manifest."""
    from .model_files import sha256_of
    from .onnx_graph import export_graph

    target = cache_dir / source.directory_name()
    staging = cache_dir / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        fused = export_graph(model, staging / GRAPH_FILE, source.precision,
                             reduce_range=source.int8_range == REDUCED)
        manifest = {"format": EXPORT_FORMAT, "graph": GRAPH_FILE, "sha256": sha256_of(staging / GRAPH_FILE),
                    "source": asdict(source), "fused_operators": fused,
                    "onnxruntime": _ort_version(), "torch": version("torch")}
        if source.precision == "int8":  # what it was quantised for, and on which CPU's kernels
            manifest["int8"] = {"range": source.int8_range, "reduce_range": source.int8_range == REDUCED,
                                "exported_on": int8_kernels()}
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("exported the ONNX graph (%s, fused %s) to %s", source.precision, fused, target)
    return target


def load_graph(model: PreTrainedModel, cache_dir: Path, source: GraphSource, *, may_export: bool) -> bytes | None:
    """The verified graph for ``source``; exported first when missing or failing its check and
    ``may_export`` and the directory is writable. None: there is none and none can be made
    (the caller runs torch). ModelLoadError: a graph is there but fails its check, and
    cannot be replaced."""
    target = cache_dir / source.directory_name()
    if target.exists():
        try:
            return verified_graph(target, source)
        except ModelLoadError as exc:
            if not may_export:  # NEWSTAG_RUNTIME=auto only loads what is there
                raise ModelLoadError(f"{exc}; refusing to load it (remove {target}, or export it again: "
                                     "newstag export-onnx)") from None
            if not writable(cache_dir):
                raise ModelLoadError(f"{exc}; refusing to load it (remove {target} or make "
                                     f"{cache_dir} writable, so it is exported again)") from None
            log.warning("%s: exporting it again", exc)
    elif not may_export:
        # a warning when graphs of these weights are there but not this one (an upgrade in place
        # changed the export or the shipped matcher): the operator exported them to run ONNX
        why = _why_none(cache_dir, source)
        log.log(logging.WARNING if why else logging.INFO,
                "no ONNX graph for these weights in %s%s: running torch (newstag export-onnx makes one)",
                cache_dir, why)
        return None
    elif not writable(cache_dir):
        log.warning("no ONNX graph for these weights in %s%s and the directory is not writable: running torch "
                    "(export one at build time: newstag export-onnx)", cache_dir, _why_none(cache_dir, source))
        return None
    with _export_lock(cache_dir):
        _remove_abandoned_staging(cache_dir)
        try:  # another worker may have exported it while this one waited
            return verified_graph(target, source)
        except ModelLoadError:
            export_to_cache(model, cache_dir, source)
            _give_back_memory()
    return verified_graph(target, source)


def _give_back_memory() -> None:
    """Return what the export freed to the system: the exporter, optimizer and quantizer leave
    hundreds of MB in malloc's free lists, which a serving worker that exported at its first
    start kept for its whole life (1,037 MB against 668 for one that loaded the same graph)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim with
        pass


def _remove_abandoned_staging(cache_dir: Path) -> None:
    """Staging directories of exports whose process is gone (killed mid-export: each left
    tens of MB, hundreds for a large model, for good). Called under the export lock, so no
    live export's directory is among them but this process's own."""
    for staging in cache_dir.glob(".*.tmp"):
        pid = staging.name.rsplit(".", 2)[-2]
        if staging.is_dir() and pid.isdigit() and not _alive(int(pid)):
            log.info("removing %s, left by an export that did not finish", staging)
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _why_none(cache_dir: Path, source: GraphSource) -> str:
    """What is in the cache for these weights instead, if anything, for the "no graph" message."""
    return _other_range(cache_dir, source) or _other_versions(cache_dir, source)


def _other_versions(cache_dir: Path, source: GraphSource) -> str:
    """Graphs of the same weights and precision exported by another newstag (export format) or
    ONNX Runtime: not loaded, since their graph or its checks differ, and named, since "no graph"
    beside them reads like a lost cache."""
    this = source.directory_name()
    stem = this[:this.index("-ort")]
    if source.adapter_sha256:  # an earlier build's shipped matcher adapter too (30ed5b22 became 1e58afed)
        weights, rest = stem.split("+", 1)
        stem = f"{weights}+*-{rest.split('-', 1)[1]}"
    others = sorted(p.name for p in cache_dir.glob(f"{stem}-ort*") if p.is_dir() and p.name != this)
    if not others:
        return ""
    return (f" (graphs of these weights exported by another newstag or ONNX Runtime are there, {', '.join(others)}, "
            f"but {this} is wanted: export again with newstag export-onnx, and remove the old ones)")


def _other_range(cache_dir: Path, source: GraphSource) -> str:
    """Why an int8 graph that is there is not this CPU's: its weights have the other range."""
    if source.int8_range is None:
        return ""
    other = replace(source, int8_range=FULL if source.int8_range == REDUCED else REDUCED)
    if not (cache_dir / other.directory_name()).is_dir():
        return ""
    return (f" (there is one with {other.int8_range}-range int8 weights, {other.directory_name()}, but "
            f"{source.int8_range} is wanted: NEWSTAG_ONNX_INT8_RANGE, by default by the CPU's int8 kernels; "
            "newstag export-onnx --int8-range both exports both)")
