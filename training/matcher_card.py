"""The shipped matcher adapters' cards, each written from one source.

For each adapter newstag ships (all-MiniLM-L6-v2's in ``service/matcher/``, EmbeddingGemma's
in ``service/matcher_multilingual/``), the ``README.md`` beside it and its card in
``model_cards/`` are one text: the card ``training.matcher`` writes for any adapter,
rendered from its ``adapter.json``, with what was measured after training merged in from
its ``model_cards/*.notes.md``. tests/test_matcher.py checks the files against it.

Usage:
    python -m training.matcher_card            # rewrite both cards
    python -m training.matcher_card --check    # exit 1 when either is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from service.engine.adapter import ADAPTER_MANIFEST
from service.engine.model_files import MATCHER_DIR, MULTILINGUAL_MATCHER_DIR
from service.interrupts import run_command

from .model_card import CARDS, matcher_card


@dataclass(frozen=True)
class ShippedAdapter:
    directory: Path  # adapter.json, adapter.safetensors, README.md
    notes: Path  # what was measured after training
    card: Path  # the copy in model_cards/

    @property
    def cards(self) -> tuple[Path, Path]:
        return self.directory / "README.md", self.card


SHIPPED = (ShippedAdapter(MATCHER_DIR, CARDS / "newstag-matcher.notes.md", CARDS / "newstag-matcher.md"),
           ShippedAdapter(MULTILINGUAL_MATCHER_DIR, CARDS / "newstag-matcher-multilingual.notes.md",
                          CARDS / "newstag-matcher-multilingual.md"))


def shipped_card(adapter: ShippedAdapter = SHIPPED[0]) -> str:
    manifest = json.loads((adapter.directory / ADAPTER_MANIFEST).read_text(encoding="utf-8"))
    return matcher_card(manifest, adapter.notes.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.matcher_card", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that both cards are up to date")
    args = parser.parse_args(argv)
    stale = []
    for adapter in SHIPPED:
        card = shipped_card(adapter)
        stale += [(path, card) for path in adapter.cards
                  if not path.is_file() or path.read_text(encoding="utf-8") != card]
    if args.check:
        for path, _ in stale:
            print(f"{path} is stale: run python -m training.matcher_card", file=sys.stderr)
        return 1 if stale else 0
    for path, card in stale:
        path.write_text(card, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "matcher_card"))
