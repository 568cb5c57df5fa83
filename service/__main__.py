"""``python -m service`` and the ``newstag`` command (pyproject.toml): service.cli's main, set up first so
that Ctrl-C while it imports torch (seconds) is one line and status 130, not a traceback."""

from __future__ import annotations

import sys

from .interrupts import quiet_ctrl_c_while_starting, run_command


def main() -> int:
    quiet_ctrl_c_while_starting("newstag")
    from .cli import main as cli

    return run_command(cli, "newstag")


if __name__ == "__main__":
    sys.exit(main())
