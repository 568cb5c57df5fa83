"""Bulk jobs on Ray: tag whole archives of JSONL and Parquet files (``python -m service.bulk``).

Ray and pyarrow are not needed to serve, so the image and ``pip install newstag`` leave them
out; ``pip install 'newstag[bulk]'`` adds them (requirements-bulk.txt).
"""

from __future__ import annotations

import importlib.util
import sys


def main(argv: list[str] | None = None, prog: str = "python -m service.bulk") -> int:
    missing = [name for name in ("ray", "pyarrow") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"{prog}: error: the bulk job needs {' and '.join(missing)}, which serving does not: "
              "pip install 'newstag[bulk]' (or -r requirements-bulk.txt in a checkout)", file=sys.stderr)
        return 2
    from .cli import main as bulk

    return bulk(argv, prog)
