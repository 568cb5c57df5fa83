"""scripts/audit_pins.py's command line (its PyPI queries are not run here: no network in tests)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "audit_pins.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_help_says_what_it_does():
    """--help was read as a requirements file: a FileNotFoundError traceback."""
    done = _run("--help")
    assert done.returncode == 0 and "fallback for pip-audit" in done.stdout and "Traceback" not in done.stderr


def test_a_missing_file_is_one_line():
    done = _run("no-such-requirements.txt")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "scripts/audit_pins.py: error: no-such-requirements.txt: No such file or directory")


def test_pins_follow_includes(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from audit_pins import pins
    finally:
        sys.path.remove(str(SCRIPT.parent))
    (tmp_path / "base.txt").write_text("torch==2.13.0+cpu  # the CPU build\nnumpy==2.1.0; python_version >= '3.10'\n")
    (tmp_path / "all.txt").write_text("-r base.txt\nflask[async]==3.0.3\n# comment\n")
    assert pins([tmp_path / "all.txt"]) == [("torch", "2.13.0+cpu"), ("numpy", "2.1.0"), ("flask", "3.0.3")]
