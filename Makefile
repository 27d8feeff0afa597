# Front door: `make test` and `make package` work on a fresh clone.
# Setup finds Python 3.12 by itself (tools/find-python312) and builds .venv from
# requirements.txt (what Dify installs) plus the dev group in pyproject.toml.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint format package bench clean setup

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml tools/find-python312
	@py312=$$(tools/find-python312) || exit 1; \
	  if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	    rm -rf $(VENV) && echo "creating $(VENV) with $$py312" && $$py312 -m venv $(VENV) || exit 1; \
	  fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check $$($(PY) -c \
	  'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml","rb"))["dependency-groups"]["dev"]))')
	@touch $@

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

package: $(STAMP)
	$(PY) tools/package.py

clean:
	rm -rf $(VENV) dist .pytest_cache
