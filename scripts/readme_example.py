"""Write the README's example answer from the real service, so it cannot go stale.

Usage:
    python scripts/readme_example.py            # rewrite the block in README.md
    python scripts/readme_example.py --print    # print it only

The request is the README's own `curl .../v1/classify ... -d '{...}'`; the answer is what
`POST /v1/classify` returns for it with the default model and settings (the environment
is ignored). tests/test_readme.py checks the README against the same answer, so a change
to the engine that changes it fails there until this is run again.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The block this script owns: the ```json block right after this marker line.
MARKER = "<!-- written by scripts/readme_example.py; tests/test_readme.py checks it -->"
BLOCK = re.compile(re.escape(MARKER) + r"\n```json\n(.*?)\n```", re.S)
REQUEST = re.compile(r"curl [^\n]*/v1/classify[^\n]*\\\n\s*-d '(\{.*?\})'", re.S)


def example_request(readme: str) -> dict[str, Any]:
    """The JSON body of the README's first classify request."""
    found = REQUEST.search(readme)
    if found is None:
        raise ValueError("README.md has no `curl .../v1/classify ... -d '{...}'` request")
    return json.loads(found.group(1))


def example_block(readme: str) -> dict[str, Any]:
    """The answer the README shows now."""
    found = BLOCK.search(readme)
    if found is None:
        raise ValueError(f"README.md has no ```json block after {MARKER}")
    return json.loads(found.group(1))


def render(answer: dict[str, Any]) -> str:
    """The answer as JSON laid out to read: one topic per line, each evidence sentence on its own."""
    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"]
    for key, value in answer.items():
        if key == "topics" and value:
            lines.append('  "topics": [')
            for i, topic in enumerate(value):
                head = one({k: v for k, v in topic.items() if k != "evidence"})[:-1]
                evidence = topic.get("evidence")
                if evidence:
                    head += ', "evidence": [\n' + ",\n".join(f"      {one(e)}" for e in evidence) + "]}"
                else:
                    head += "}" if evidence is None else ', "evidence": []}'
                lines.append(f"    {head}{',' if i < len(value) - 1 else ''}")
            lines.append("  ],")
        else:
            lines.append(f"  {one(key)}: {one(value)},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines + ["}"])


def answer(request: dict[str, Any], tagger: Any = None) -> dict[str, Any]:
    """POST /v1/classify with the default model and settings, through the real app.

    In fp32 (``tagger``: one loaded so, or None to load it): the default precision, auto,
    is bf16 on CPUs with bf16 units and fp32 on the others, and the two differ in the third
    or fourth decimal; the README shows the answer every machine can reproduce.
    """
    from service import create_app

    if tagger is None:
        tagger = load_fp32_tagger()
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False}).test_client()
    response = client.post("/v1/classify", json=request)
    if response.status_code != 200:
        raise RuntimeError(f"/v1/classify answered {response.status_code}: {response.get_data(as_text=True)}")
    return response.get_json()


def load_fp32_tagger() -> Any:
    """The default model and settings, in fp32 whatever the CPU."""
    from service.config import Settings
    from service.engine import Tagger

    return Tagger.load(Settings.from_env({}, precision="fp32").engine_options())


def with_block(readme: str, block: str) -> str:
    if BLOCK.search(readme) is None:
        raise ValueError(f"README.md has no ```json block after {MARKER}")
    return BLOCK.sub(lambda _: f"{MARKER}\n```json\n{block}\n```", readme, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--print", action="store_true", help="print the block instead of writing README.md")
    args = parser.parse_args(argv)
    # Run as a file, Python puts scripts/ on the path, not the checkout the service is in.
    sys.path.insert(0, str(ROOT))
    readme = README.read_text(encoding="utf-8")
    block = render(answer(example_request(readme)))
    if args.print:
        print(block)
        return 0
    updated = with_block(readme, block)
    if updated != readme:
        README.write_text(updated, encoding="utf-8")
    print(f"README.md: the example answer is {'updated' if updated != readme else 'already current'}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
