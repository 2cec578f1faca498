#!/usr/bin/env bash
# Creates the two peer venvs for the MAP-Elites loop benchmark, idempotently.
#
#   benchmarks/peers/.venv-qdax      qdax 0.5.0 + jax/jaxlib 0.4.28 (CPU), pinned to the
#                                    requirements.txt that QDax 0.5.0 was released with
#   benchmarks/peers/.venv-evotorch  evotorch 0.6.1 + torch 2.13.0 (CPU build)
#
# raw_pyribs.py needs no venv of its own: it runs in the repo's .venv (pyribs 0.12).
# A venv is skipped when its marker file exists (written only after its imports succeeded) and
# its imports still succeed; a half-built or broken one is removed and built again. Usage: bash benchmarks/peers/setup.sh [qdax|evotorch]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
MARK=".qd-peers-ok"
WANT="${1:-all}"

# Registry probe: download one small wheel (qdax, no deps) through pip's configured index.
probe_registry() {
    local tmp
    tmp="$(mktemp -d)"
    if ! timeout 120 "$PY" -m pip download --quiet --no-deps --no-cache-dir -d "$tmp" \
        "qdax==0.5.0" >/dev/null 2>&1; then
        rm -rf "$tmp"
        echo "setup.sh: cannot reach the package index through pip (offline?);" \
             "the peer venvs need PyPI. Nothing was changed." >&2
        exit 2
    fi
    rm -rf "$tmp"
}

build_venv() {  # name, import-check, pip args...
    local name="$1" check="$2"
    shift 2
    local venv="$HERE/.venv-$name"
    if [[ -f "$venv/$MARK" ]]; then
        if "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
            echo "setup.sh: $venv already built, skipping"
            return 0
        fi
        echo "setup.sh: $venv has its marker but its imports fail; building it again"
    fi
    probe_registry
    rm -rf "$venv"
    echo "setup.sh: building $venv"
    local t0=$SECONDS
    "$PY" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade "pip<26"
    if ! "$venv/bin/python" -m pip install "$@"; then
        echo "setup.sh: pip install into $venv failed (see above)" >&2
        exit 1
    fi
    if ! "$venv/bin/python" -c "$check"; then
        echo "setup.sh: $venv installed but its imports fail (see above)" >&2
        exit 1
    fi
    touch "$venv/$MARK"
    echo "setup.sh: built $venv in $((SECONDS - t0)) s, $(du -sh "$venv" | cut -f1)"
}

if [[ "$WANT" == all || "$WANT" == qdax ]]; then
    # QDax 0.5.0's own requirements.txt pins (jax 0.4.28 era); CPU jaxlib from PyPI.
    # brax 0.10.4 asks for mujoco and mujoco-mjx unpinned: today's mjx needs a newer jax
    # (jax.tree_util.KeyPath) and breaks `import brax`, so both are pinned to 3.1.5, the
    # MuJoCo of brax 0.10.4's release (May 2024). The check imports QDax's Brax tasks too.
    build_venv qdax \
        "import jax, qdax; from qdax.core.map_elites import MAPElites; import qdax.tasks.brax.v1, qdax.tasks.brax.v2; print('qdax', qdax.__version__, 'jax', jax.__version__)" \
        "qdax==0.5.0" "jax==0.4.28" "jaxlib==0.4.28" "flax==0.8.5" "chex==0.1.86" \
        "brax==0.10.4" "mujoco==3.1.5" "mujoco-mjx==3.1.5" "jumanji==0.3.1" "numpy==1.26.4" \
        "optax==0.1.9" "scikit-learn==1.5.1" "scipy==1.10.1" "tensorflow-probability==0.24.0"
fi

if [[ "$WANT" == all || "$WANT" == evotorch ]]; then
    # torch==2.13.0 is the CPU build pip finds on this machine's local wheel folder; an
    # unpinned torch would pull a multi-GB CUDA build from PyPI.
    build_venv evotorch \
        "import torch, evotorch; from evotorch.algorithms import MAPElites; print('evotorch', evotorch.__version__, 'torch', torch.__version__)" \
        "torch==2.13.0" "evotorch==0.6.1"
fi
