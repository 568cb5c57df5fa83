"""The shipped matcher adapter's two cards, written from one source.

``service/matcher/README.md`` (beside the adapter) and ``model_cards/newstag-matcher.md``
(with the other cards) are one text: the card ``training.matcher`` writes for any
adapter, rendered from ``service/matcher/adapter.json``, with what was measured after
training merged in from ``model_cards/newstag-matcher.notes.md``. tests/test_matcher.py
checks both files against it.

Usage:
    python -m training.matcher_card            # rewrite both cards
    python -m training.matcher_card --check    # exit 1 when either is stale
"""

from __future__ import annotations

import argparse
import json
import sys

from service.engine.adapter import ADAPTER_MANIFEST
from service.engine.model_files import MATCHER_DIR

from .model_card import CARDS, matcher_card

NOTES = CARDS / "newstag-matcher.notes.md"
SHIPPED_CARDS = (MATCHER_DIR / "README.md", CARDS / "newstag-matcher.md")


def shipped_card() -> str:
    manifest = json.loads((MATCHER_DIR / ADAPTER_MANIFEST).read_text(encoding="utf-8"))
    return matcher_card(manifest, NOTES.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.matcher_card", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that both cards are up to date")
    args = parser.parse_args(argv)
    card = shipped_card()
    stale = [path for path in SHIPPED_CARDS if not path.is_file() or path.read_text(encoding="utf-8") != card]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run python -m training.matcher_card", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(card, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
