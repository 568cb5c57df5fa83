"""Drift reports: how the tags of one period (or file) differ from another's.

``python -m service.drift THEN NOW`` reads two tag files (``service.batch`` output or a
feedback export), and says which labels' shares moved, how much the label mix shifted
(PSI, Jensen-Shannon), how the top scores and the share of articles with no topic
changed; ``--model DIR`` compares with a fine-tuned model's training data too. No Flask
here: reading, statistics, comparison, rendering and the chart are plain modules.
"""

from __future__ import annotations

from .comparison import Comparison, DriftReport, Rule, against_training, compare
from .reading import DriftInputError, TagSet, read_tags
from .reference import LABEL_SHARES_FILE, label_shares, training_tags

__all__ = ["LABEL_SHARES_FILE", "Comparison", "DriftInputError", "DriftReport", "Rule", "TagSet", "against_training",
           "compare", "label_shares", "read_tags", "training_tags"]
