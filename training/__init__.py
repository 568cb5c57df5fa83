"""Training and evaluation on labeled articles; they use the same Tagger as the service."""

from service.interrupts import quiet_ctrl_c_while_starting

quiet_ctrl_c_while_starting()  # python -m training.X: X imports torch for seconds, where Ctrl-C was a traceback
