# Two commands for a fresh machine: `make run` and `make test`.
# Both create .venv and install what is missing first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel on these machines (never the CUDA build).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

run: $(STAMP)
	$(BIN)/aftersales serve

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Held-out sets with single-turn queries and conversations (bench/data/<set>/, conversations/<set>.jsonl).
HELD_OUT := holdout2 holdout3 holdout4 holdout5 holdout6 holdout7 holdout8 holdout9 holdout10 holdout11 holdout12 holdout13 holdout14 holdout15 holdout16 holdout17 holdout18 holdout19 holdout20 holdout21 holdout22 holdout23 holdout24 holdout25 holdout26 holdout27 holdout28 holdout29 holdout30 holdout31 holdout32 holdout33 holdout34

# The quick quality benchmarks; the others are listed in docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python bench/kb_quality.py
	$(BIN)/aftersales bot evaluate --kb bench/data/sample/kb-sample.yaml --queries bench/data/sample/dev-queries.jsonl
	$(BIN)/aftersales bot evaluate --kb knowledge_base/demo --queries bench/data/demo-queries.jsonl
	$(BIN)/aftersales bot evaluate --kb bench/data/dev2/kb.yaml --queries bench/data/dev2/queries.jsonl
	$(BIN)/aftersales bot evaluate --kb bench/data/holdout/kb.yaml --queries bench/data/holdout/queries.jsonl
	for set in $(HELD_OUT); do \
		$(BIN)/aftersales bot evaluate --kb bench/data/$$set/kb.yaml --queries bench/data/$$set/queries.jsonl && \
		$(BIN)/aftersales bot evaluate --kb bench/data/$$set/kb.yaml --conversations bench/data/conversations/$$set.jsonl || exit 1; \
	done

clean:
	rm -rf $(VENV) data .pytest_cache
