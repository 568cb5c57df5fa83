"""newstag: self-hosted topic tagging for news articles.

The tagging engine lives in :mod:`service.engine` and never imports Flask, so the CLI,
batch jobs and training evaluation can use it without the web layer.
"""

from __future__ import annotations

__version__ = "0.1.0"
