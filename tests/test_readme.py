"""The README and the docs: the example answer is the service's own, the commands are the
Makefile's, the README stays a day-one page, and every link leads somewhere."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_spec = importlib.util.spec_from_file_location("readme_example", ROOT / "scripts" / "readme_example.py")
assert _spec is not None and _spec.loader is not None
readme_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_example)


def differences(shown: Any, actual: Any, path: str = "") -> list[str]:
    """Where two JSON values differ; numbers may differ by 1e-4 (the API rounds to 4 places)."""
    if isinstance(shown, dict) and isinstance(actual, dict):
        if shown.keys() != actual.keys():
            return [f"{path or '/'}: keys {sorted(shown)} != {sorted(actual)}"]
        return [d for key in shown for d in differences(shown[key], actual[key], f"{path}/{key}")]
    if isinstance(shown, list) and isinstance(actual, list):
        if len(shown) != len(actual):
            return [f"{path}: {len(shown)} items != {len(actual)}"]
        return [d for i, (a, b) in enumerate(zip(shown, actual, strict=True)) for d in differences(a, b, f"{path}/{i}")]
    numbers = (int, float)
    if isinstance(shown, numbers) and isinstance(actual, numbers) and not isinstance(shown, bool):
        return [] if abs(shown - actual) <= 1e-4 else [f"{path}: {shown} != {actual}"]
    return [] if shown == actual else [f"{path}: {shown!r} != {actual!r}"]


def test_the_readme_example_is_what_the_service_answers(tagger):
    readme = README.read_text(encoding="utf-8")
    request = readme_example.example_request(readme)
    assert request == {"text": "Foreign ministers discussed COP29 preparations. "
                               "They also discussed the clearance of landmines left by the war."}
    # The example is fp32's answer (auto is bf16 on CPUs with bf16 units): the session's tagger if it runs so.
    fp32 = tagger if tagger.backend.precision == "fp32" else readme_example.load_fp32_tagger()
    shown = readme_example.example_block(readme)
    assert shown["topics"], "the example shows no topic"
    problems = differences(shown, readme_example.answer(request, fp32))
    assert not problems, "README.md's example is stale; run `python scripts/readme_example.py`:\n" + "\n".join(problems)


def test_differences_sees_a_changed_score_label_or_evidence():
    answer = {"topics": [{"label": "COP29", "score": 0.9107,
                          "evidence": [{"text": "A.", "start": 0, "end": 2, "score": 0.9}]}]}
    assert differences(answer, answer) == []
    assert differences(answer, {"topics": [{**answer["topics"][0], "score": 0.91075}]}) == []
    moved = {"topics": [{**answer["topics"][0], "score": 0.9109}]}
    assert differences(answer, moved) == ["/topics/0/score: 0.9107 != 0.9109"]
    assert differences(answer, {"topics": [{**answer["topics"][0], "label": "climate"}]})
    assert differences(answer, {"topics": [{**answer["topics"][0], "evidence": []}]})
    assert differences(answer, {"topics": []})


@pytest.mark.parametrize("answer", [
    {"topics": [], "language": "und", "warnings": [], "taxonomy": None},
    {"topics": [{"label": "a", "score": 0.5}, {"label": "b", "score": 0.6, "code": "medtop:1", "evidence": []},
                {"label": "c \"q\" é", "score": 1.0,
                 "evidence": [{"text": "x", "start": 0, "end": 1, "score": 1.0}, {"text": "y", "start": 2, "end": 3,
                                                                               "score": 0.7}]}],
     "model": {"name": "m", "version": "v"}},
])
def test_the_script_writes_the_answer_as_json_that_reads_back(answer):
    block = readme_example.render(answer)
    readme = f"intro\n{readme_example.MARKER}\n```json\n{{}}\n```\nrest\n"
    written = readme_example.with_block(readme, block)
    assert readme_example.example_block(written) == answer
    assert written.startswith("intro\n") and written.endswith("\n```\nrest\n")
    assert readme_example.with_block(written, block) == written


def test_the_readme_commands_are_the_makefile_targets_ci_runs():
    readme = README.read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make serve", "make test"]
    targets = set(re.findall(r"(?m)^([a-z-]+):", (ROOT / "Makefile").read_text()))
    assert {"serve", "test"} <= targets
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_the_readme_is_a_day_one_page():
    """Issue #15: about 10 KB; the rest lives in docs/."""
    assert len(README.read_bytes()) <= 10 * 1024


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            name = slug(heading.group(1))
            found.add(name if name not in found else next(f"{name}-{n}" for n in range(1, 99)
                                                          if f"{name}-{n}" not in found))
    return found


PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "model_cards").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        assert path.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(path), f"{page.name}: {target}: no such heading in {path.name}"


def test_slugs_follow_github():
    assert slug("Trust (issue #14): junk, unrelated labels") == "trust-issue-14-junk-unrelated-labels"
    assert slug("Fine-tuning (training.finetune)") == "fine-tuning-trainingfinetune"
    assert slug("The `newstag` command") == "the-newstag-command"
