"""gunicorn settings for newstag: `gunicorn -c gunicorn.conf.py` (what `make serve` runs).

The settings are in service/gunicorn_config.py, so that an installed newstag has them too
(`newstag serve`); this file keeps the command that runs from a checkout short.
"""

from service.gunicorn_config import *  # noqa: F403
