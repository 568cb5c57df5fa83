"""Whole HTML pages as scraped: do their topics stay those of their article?

Usage:
    pip download --no-deps --no-binary :all: newspaper4k==0.9.6 -d /tmp/pages
    tar xzf /tmp/pages/newspaper4k-0.9.6.tar.gz -C /tmp/pages
    python -m bench.pages --pages /tmp/pages/newspaper4k-0.9.6/tests/data

The pages: newspaper4k's test pages (real news pages saved whole, CNN, TIME, Wired, Fox 13,
Yonhap, cleveland.com and others in 11 languages, with the article's text each as its
maintainers extracted it, under ``html/`` and ``txt/``; a package on PyPI, so nothing here
reaches beyond the registries, and none of it is kept in the repository). Each page is tagged
at default settings against the ``news`` taxonomy three ways: the page read whole
(``NEWSTAG_PAGES=whole``), the page read as its article (``NEWSTAG_PAGES=article``, the
default; engine/page_article.py) and the article alone: its headline (``metadata/``'s title,
for 20 of the 23) and its text. The article is the reference: a topic of the page it does not
get is one the page's chrome brought in ("more"), one it gets that the page does not is one
the chrome drowned ("fewer"). Also timed: reading the page (markup.py, then the article told)
on its own, once per page.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from service.config import Settings
from service.engine import Tagger
from service.engine.markup import forget_read_texts
from service.engine.page_article import reading_copy
from service.interrupts import run_command
from service.progress import progress_bar

# Pages as large as newspaper4k's CNN pages (2.9 MB) are read: the service's own limits are
# the HTTP body's (NEWSTAG_MAX_BODY_BYTES) and the text's, both settings.
MAX_TEXT_CHARS = 1_000_000


def pages_with_text(directory: Path) -> list[tuple[str, str, str]]:
    """(name, page, article) for each page of ``directory/html`` with a ``directory/txt`` text: the
    article is its headline (``directory/metadata``'s title, where there is one) and that text."""
    found = []
    for page in sorted((directory / "html").glob("*.html")):
        text = directory / "txt" / f"{page.stem}.txt"
        if text.is_file():
            metadata = directory / "metadata" / f"{page.stem}.json"
            title = json.loads(metadata.read_text()).get("title") or "" if metadata.is_file() else ""
            article = f"{title}\n\n{text.read_text(errors='replace')}" if title else text.read_text(errors="replace")
            found.append((page.stem, page.read_text(errors="replace"), article))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=Path, required=True,
                        help="a directory with html/NAME.html pages and txt/NAME.txt article texts")
    args = parser.parse_args(argv)
    pages = pages_with_text(args.pages)
    if not pages:
        parser.error(f"{args.pages}: no html/*.html page with a txt/*.txt text")
    taggers = {mode: Tagger.load(Settings.from_env(None, pages=mode, max_text_chars=MAX_TEXT_CHARS).engine_options())
               for mode in ("whole", "article")}
    print("| page | KB | language | read in ms | article text | more (whole page) | fewer (whole page) "
          "| more (as article) | fewer (as article) |")
    print("|---|---:|---|---:|---|---|---|---|---|")
    wanted_total = 0
    totals = {"whole": [0, 0], "article": [0, 0]}  # topics more, fewer than the article text's
    for name, page, text in progress_bar(pages, desc="pages", unit="page"):
        forget_read_texts()
        start = time.perf_counter()
        reading_copy(page, True)
        read_ms = (time.perf_counter() - start) * 1000
        reference = taggers["article"].tag([text])[0]
        wanted = {t.label for t in reference.topics}
        wanted_total += len(wanted)
        cells = []
        for mode, tagger in taggers.items():
            got = {t.label for t in tagger.tag([page])[0].topics}
            more, fewer = sorted(got - wanted), sorted(wanted - got)
            totals[mode][0] += len(more)
            totals[mode][1] += len(fewer)
            cells += [", ".join(more) or "-", ", ".join(fewer) or "-"]
        print(f"| {name} | {len(page.encode()) / 1000:.0f} | {reference.language} | {read_ms:.0f} | "
              f"{', '.join(sorted(wanted)) or '-'} | " + " | ".join(cells) + " |", flush=True)
    print(f"| **{len(pages)} pages** | | | | {wanted_total} topics | {totals['whole'][0]} | "
          f"{totals['whole'][1]} | {totals['article'][0]} | {totals['article'][1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.pages"))
