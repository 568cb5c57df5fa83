"""``newstag cache``: what the label-vector and ONNX caches hold, and which of it this build reads.

Both caches name their files by what made them (the engine's code, the export format, ONNX
Runtime's version), so a build never reads another's files by mistake; but nothing removes them,
and every upgrade leaves the last build's behind: 0.6 MB a label-vector file, 87 MB and 22 MB for
the default model's graphs, 1.2 GB and 300 MB for EmbeddingGemma's. ``--prune`` removes what this
build never reads. Not automatic: a directory shared by two builds (a rolling update, machines of
two versions) holds files the other one reads.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, Settings
from .engine.onnx_cache import default_onnx_dir, stale_graph
from .engine.phrase_store import stale_store, store_dir


@dataclass(frozen=True)
class Entry:
    path: Path
    size: int
    stale: str | None  # why this build never reads it; None: it may


def _size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return path.lstat().st_size


def entries(directory: Path, stale) -> list[Entry]:
    """The entries of one cache directory that are newstag's (others are left out, and alone)."""
    found = []
    for path in sorted(directory.iterdir()):
        if path.name == ".lock":
            continue
        reason = stale(path.name)
        if reason is not None or _ours(path.name):
            found.append(Entry(path, _size(path), reason))
    return found


def _ours(name: str) -> bool:
    return name.endswith(".safetensors") or "-ort" in name


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def main(argv: list[str] | None = None, prog: str = "newstag cache") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                                     epilog="Prune only where no other version of newstag reads the directories.")
    parser.add_argument("--prune", action="store_true", help="remove the files this build never reads")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        labels = store_dir(settings.label_cache)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    caches = [("label vectors (NEWSTAG_LABEL_CACHE)", labels, stale_store),
              ("ONNX graphs (NEWSTAG_ONNX_DIR)", settings.onnx_dir or default_onnx_dir(), stale_graph)]
    freed = failed = 0
    for title, directory, stale in caches:
        if directory is None:
            print(f"{title}: off")
            continue
        try:
            listed = entries(directory, stale) if directory.is_dir() else []
        except OSError as exc:
            print(f"{title}: {directory}: cannot be read ({exc.strerror or exc})")
            failed += 1
            continue
        old = [e for e in listed if e.stale]
        print(f"{title}: {directory}: {len(listed) - len(old)} read by this build, {len(old)} not "
              f"({_megabytes(sum(e.size for e in old))})")
        for entry in old:
            print(f"  {entry.path.name}  {_megabytes(entry.size)}  {entry.stale}")
            if args.prune:
                try:
                    shutil.rmtree(entry.path) if entry.path.is_dir() and not entry.path.is_symlink() \
                        else entry.path.unlink()
                    freed += entry.size
                except OSError as exc:
                    print(f"    not removed: {exc.strerror or exc}")
                    failed += 1
    if args.prune:
        print(f"removed {_megabytes(freed)}")
    return 1 if failed else 0
