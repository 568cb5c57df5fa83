"""Benchmarks (python -m bench.NAME), each recording what docs/benchmarks.md reports."""

from service.interrupts import quiet_ctrl_c_while_starting

quiet_ctrl_c_while_starting()  # python -m bench.X: X imports torch for seconds, where Ctrl-C was a traceback
