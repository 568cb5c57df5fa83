import sys

from ..interrupts import run_command
from . import main

sys.exit(run_command(main, "bulk"))
