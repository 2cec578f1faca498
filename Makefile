# qd — the two README commands are `make demo` and `make test`; both set up .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CPU build of torch: on these machines pip takes it from a local wheel; elsewhere it is the
# PyPI release (GPU machines may install their CUDA torch before running `make`).
TORCH  ?= torch==2.13.0

.PHONY: setup demo test test-all bench bench-quick lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qd evolve arm_repertoire --out runs/demo-arm_repertoire-$$(date +%Y%m%d-%H%M%S)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

BENCHES := engine_overhead store_overhead

bench: $(STAMP)
	for b in $(BENCHES); do $(BIN)/python benchmarks/$$b.py || exit 1; done

bench-quick: $(STAMP)
	for b in $(BENCHES); do $(BIN)/python benchmarks/$$b.py --quick || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check qd archives mutators problems tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
