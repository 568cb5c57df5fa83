"""How far each runtime and precision moves the vectors from torch fp32's, on real articles (issue #17).

Usage:
    python -m bench.onnx_parity [--articles 100] [--data FILE.jsonl] [--onnx-dir DIR]

Embeds the same BBC News articles (every window and every sentence, as the service does;
the default model alone, not routed to the multilingual one) with torch fp32, torch int8,
ONNX fp32 and ONNX int8, the latter with 8-bit and with 7-bit weights (``reduce_range``,
what CPUs without VNNI get: engine/int8_kernels.py; the graphs exported into
``--onnx-dir`` when missing) and prints each one's cosine to torch fp32: the minimum and
the mean over windows and over sentences.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.throughput import load_articles
from service.config import Settings
from service.engine import Tagger
from service.interrupts import run_command

# (runtime, precision, int8 weight range)
SETTINGS = (("torch", "fp32", "auto"), ("torch", "int8", "auto"), ("onnx", "fp32", "auto"),
            ("onnx", "int8", "full"), ("onnx", "int8", "reduced"))


def vectors(tagger: Tagger, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoder = tagger.backend.encoder  # type: ignore[attr-defined]  # the embedding backend's
    out = encoder.encode_documents([encoder.prepare(t) for t in texts])
    return np.concatenate([v.windows for v in out]), np.concatenate([v.sentences for v in out])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.onnx_parity", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--onnx-dir", type=Path, help="default: a temporary directory")
    args = parser.parse_args(argv)
    texts = load_articles(args.data, args.articles)
    with tempfile.TemporaryDirectory(prefix="newstag-onnx-") as scratch:
        onnx_dir = args.onnx_dir or Path(scratch)
        reference: tuple[np.ndarray, np.ndarray] | None = None
        print(f"{len(texts)} articles; cosine to torch fp32")
        print(f"{'runtime':<8}{'precision':<14}{'windows':>8}{'min':>9}{'mean':>9}{'sentences':>10}{'min':>9}{'mean':>9}")
        for runtime, precision, int8_range in SETTINGS:
            settings = Settings.from_env({}, runtime=runtime, precision=precision, onnx_dir=onnx_dir,
                                         batching=False, document_cache=0, onnx_int8_range=int8_range,
                                         multilingual_model="off")  # the default model alone, English included
            windows, sentences = vectors(Tagger.load(settings.engine_options()), texts)
            reference = reference or (windows, sentences)
            w, s = (windows * reference[0]).sum(1), (sentences * reference[1]).sum(1)
            name = f"{precision} {'7-bit' if int8_range == 'reduced' else '8-bit'}" if runtime == "onnx" \
                and precision == "int8" else precision
            print(f"{runtime:<8}{name:<14}{len(w):>8}{w.min():>9.5f}{w.mean():>9.5f}"
                  f"{len(s):>10}{s.min():>9.5f}{s.mean():>9.5f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.onnx_parity"))
