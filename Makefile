# Front door: `make test` and `make package` work on a fresh clone.
# Setup finds Python 3.12 by itself (tools/find-python312) and builds .venv from
# requirements.txt (what Dify installs) plus the dev group in pyproject.toml.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint format package bench bench-short clean setup

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

# Benchmarks against floors measured in the same run (bench/README.md); table on stdout, JSON in bench/results/.
bench: $(STAMP)
	$(PY) -m bench

bench-short: $(STAMP)
	$(PY) -m bench --short

clean:
	rm -rf $(VENV) dist .pytest_cache

# Try the plugin's model classes against a live Ollama before uploading it to Dify:
#   make try [BASE_URL=http://host:11434] [API_KEY=…] [MODEL=…] [TOOL_MODEL=…] [EMBEDDING_MODEL=…]
#            [RERANK_METHOD=auto|embedding_similarity|llm_judge|compatible_service] [RERANK_MODEL=…] [RERANK_URL=…]
#            [AUDIO_MODEL=…] [PROMPT=…] [ARGS=…]
# The key travels in the environment (OLLAMA_API_KEY), never on a command line that make or ps would show.
try_option = $(if $(2),$(1) '$(subst ','\'',$(2))')
.PHONY: try
try: export OLLAMA_API_KEY := $(if $(API_KEY),$(API_KEY),$(OLLAMA_API_KEY))
try: $(STAMP)
	@$(PY) tools/try_ollama.py $(call try_option,--base-url,$(BASE_URL)) $(call try_option,--model,$(MODEL)) \
	  $(call try_option,--tool-model,$(TOOL_MODEL)) $(call try_option,--embedding-model,$(EMBEDDING_MODEL)) \
	  $(call try_option,--rerank-method,$(RERANK_METHOD)) $(call try_option,--rerank-model,$(RERANK_MODEL)) \
	  $(call try_option,--rerank-url,$(RERANK_URL)) $(call try_option,--audio-model,$(AUDIO_MODEL)) \
	  $(call try_option,--prompt,$(PROMPT)) $(ARGS)
