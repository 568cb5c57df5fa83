"""A fallback for pip-audit where its vulnerability services are unreachable.

Usage:
    python scripts/audit_pins.py requirements.txt requirements-dev.txt

pip-audit asks PyPI's per-version JSON API (or OSV) about each pinned version. Where only
the project-level API answers (as on our build machines), this reads the "vulnerabilities"
that PyPI lists for each project's latest release: it audits the pins that are the latest
release, and names the ones it cannot audit. Exit status 1 when a known vulnerability
affects a pin.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

PIN = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")
INCLUDE = re.compile(r"^\s*(?:-r|--requirement)\s+(\S+)")


def pins(paths: list[Path]) -> list[tuple[str, str]]:
    """Every name==version pin, following ``-r`` includes (requirements.txt is made of them)."""
    found = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = PIN.match(line)
            if match:
                found.append((re.sub(r"\[.*\]", "", match.group(1)), match.group(2)))
            elif include := INCLUDE.match(line):
                found += pins([path.parent / include.group(1)])
    return found


def project(name: str) -> dict:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as response:
        return json.load(response)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/audit_pins.py", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 1)[1])
    parser.add_argument("files", nargs="*", type=Path, default=[Path("requirements.txt")],
                        help="requirements files (-r includes are followed; default: requirements.txt)")
    args = parser.parse_args(argv)
    try:
        pinned = pins(args.files)
    except OSError as exc:
        parser.error(f"{exc.filename}: {exc.strerror}")
    affected = 0
    print(f"{'package':<28}{'pinned':<14}{'latest':<14}result")
    for name, version in pinned:
        try:
            data = project(name)
        except (urllib.error.URLError, TimeoutError) as exc:
            print(f"{name:<28}{version:<14}{'?':<14}not reachable ({exc})")
            continue
        latest = data["info"]["version"]
        local = version.split("+")[0]  # torch==2.13.0 from the CPU index is 2.13.0+cpu
        if local != latest:
            print(f"{name:<28}{version:<14}{latest:<14}not auditable here (older than the latest release)")
            continue
        vulns = [v for v in data.get("vulnerabilities", []) if local not in v.get("fixed_in", [])]
        if vulns:
            affected += 1
            ids = ", ".join(v.get("id", "?") for v in vulns)
            print(f"{name:<28}{version:<14}{latest:<14}VULNERABLE: {ids}")
        else:
            print(f"{name:<28}{version:<14}{latest:<14}no known vulnerabilities")
    return 1 if affected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
