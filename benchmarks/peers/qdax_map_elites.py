"""Peer baseline: QDax 0.5.0 MAP-Elites on the 100-DoF arm (jax on the CPU).

QDax's `MAPElites` with a `MixingEmitter` (variation_percentage=1.0, so every offspring comes
from `isoline_variation(x1, x2, iso_sigma, line_sigma, minval=-pi, maxval=pi)` on two elites
drawn uniformly with replacement) and a `MapElitesRepertoire` whose 100 x 100 centroids come
from `compute_euclidean_centroids` over [-100, 100]^2 (nearest centre = the grid cell). QDax's
own `tasks.arm` is a different arm (genes in [0, 1], std objective, normalised measures), so the
arm of `problems/arm.py` is written here in jax. The first batch is x0 = 0 + iso_sigma N(0, I),
clipped, as pyribs' IsoLineEmitter asks when the archive is empty.

    benchmarks/peers/.venv-qdax/bin/python benchmarks/peers/qdax_map_elites.py \
        --batch 540 --evaluations 200000 --seed 0 [--dtype float32|float64] [--no-scan]

By default the iterations run as one `jax.lax.scan` over `MAPElites.scan_update` (the way
QDax's examples drive it); `--no-scan` calls a jitted `MAPElites.update` once per iteration
from Python instead. Both programs are compiled ahead of time (`jit(...).lower(...).compile()`)
and that time is reported as compile_s; `seconds` is the run of the compiled init and loop only,
ended by `jax.block_until_ready`. dtype float32 is jax's default (float64 enables jax_enable_x64).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _arm  # noqa: E402


def _extra_args() -> argparse.Namespace:
    """Parse the QDax-only flags and leave the shared ones to `_arm.parse_args`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--no-scan", action="store_true")
    extra, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    return extra


def main() -> None:  # noqa: PLR0915 (one straight-line benchmark)
    """Run the loop and print its JSON line."""
    extra = _extra_args()
    args = _arm.parse_args(__doc__.splitlines()[0])

    import jax

    if extra.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import qdax
    from qdax.core.containers.mapelites_repertoire import compute_euclidean_centroids
    from qdax.core.emitters.mutation_operators import isoline_variation
    from qdax.core.emitters.standard_emitters import MixingEmitter
    from qdax.core.map_elites import MAPElites
    from qdax.utils.metrics import default_qd_metrics

    dtype = jnp.float32 if extra.dtype == "float32" else jnp.float64

    def scoring(genotypes: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array, dict]:
        """Objective -Var(theta) and end-effector (x, y) of a (B, DOF) batch."""
        del key
        objectives = -jnp.var(genotypes, axis=1)
        cumulative = jnp.cumsum(genotypes, axis=1)
        measures = _arm.LINK * jnp.stack(
            (jnp.cos(cumulative).sum(axis=1), jnp.sin(cumulative).sum(axis=1)), axis=1)
        return objectives, measures, {}

    variation = functools.partial(isoline_variation, iso_sigma=args.iso_sigma,
                                  line_sigma=args.line_sigma, minval=_arm.LOW,
                                  maxval=_arm.HIGH)
    emitter = MixingEmitter(mutation_fn=lambda x, key: x, variation_fn=variation,
                            variation_percentage=1.0, batch_size=args.batch)
    map_elites = MAPElites(
        scoring_function=scoring, emitter=emitter,
        metrics_function=functools.partial(default_qd_metrics, qd_offset=-_arm.QD_OFFSET))
    (low_m, high_m), _ = _arm.MEASURE_RANGES
    centroids = compute_euclidean_centroids(_arm.GRID, minval=low_m, maxval=high_m).astype(dtype)

    key = jax.random.key(args.seed)
    key, init_key, noise_key = jax.random.split(key, 3)
    x0 = jnp.zeros((args.batch, _arm.DOF), dtype=dtype)
    initial = jnp.clip(
        x0 + args.iso_sigma * jax.random.normal(noise_key, (args.batch, _arm.DOF), dtype=dtype),
        _arm.LOW, _arm.HIGH)
    loops = args.iterations - 1  # the first batch is the init

    def run_scan(repertoire, emitter_state, key):  # noqa: ANN001, ANN202
        (repertoire, emitter_state, key), _ = jax.lax.scan(
            map_elites.scan_update, (repertoire, emitter_state, key), None, length=loops)
        return repertoire, emitter_state, key

    t0 = time.perf_counter()
    init_c = jax.jit(map_elites.init).lower(initial, centroids, init_key).compile()
    shapes = jax.eval_shape(map_elites.init, initial, centroids, init_key)
    repertoire_shape, state_shape, _ = shapes
    if extra.no_scan:
        step_c = jax.jit(map_elites.update).lower(repertoire_shape, state_shape, key).compile()
    else:
        step_c = jax.jit(run_scan).lower(repertoire_shape, state_shape, key).compile()
    compile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    repertoire, emitter_state, _ = init_c(initial, centroids, init_key)
    if extra.no_scan:
        for _ in range(loops):
            key, subkey = jax.random.split(key)
            repertoire, emitter_state, _ = step_c(repertoire, emitter_state, subkey)
    elif loops > 0:
        repertoire, emitter_state, key = step_c(repertoire, emitter_state, key)
    jax.block_until_ready(repertoire)
    seconds = time.perf_counter() - t0

    fitnesses = jax.device_get(repertoire.fitnesses).reshape(-1).astype("float64")
    filled = fitnesses != -float("inf")
    num_elites = int(filled.sum())
    _arm.emit({
        "tool": "qdax", "version": f"qdax {qdax.__version__} / jax {jax.__version__}",
        "evaluations": args.iterations * args.batch, "seconds": seconds, "compile_s": compile_s,
        "qd_score": float((fitnesses[filled] - _arm.QD_OFFSET).sum()),
        "coverage": num_elites / _arm.CELLS,
        "operator": f"qdax MixingEmitter(variation_percentage=1.0) + isoline_variation "
                    f"(iso_sigma={args.iso_sigma}, line_sigma={args.line_sigma}, clip to "
                    "[-pi, pi]); parents uniform with replacement; first batch "
                    "x0=0 + iso_sigma*N(0, I)",
        "iterations": args.iterations, "batch": args.batch, "seed": args.seed,
        "num_elites": num_elites, "dtype": extra.dtype,
        "mode": "python loop of jit(update)" if extra.no_scan else "one lax.scan",
        "devices": [str(d) for d in jax.devices()],
    })


if __name__ == "__main__":
    main()
