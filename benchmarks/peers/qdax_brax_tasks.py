"""Peer baseline: QDax 0.5.0's own MAP-Elites on its Brax locomotion tasks (jax on the CPU).

The setup of QDax 0.5.0's `examples/mapelites.ipynb`, on a task named as QDax names it
(`walker2d_uni`, `ant_omni`, ...): `qdax.tasks.brax.v1.create(task, episode_length=100)`
(Brax's v1 engine with `legacy_spring=True`, what that notebook and `create` default to; or
`--brax v2 --backend spring|generalized|positional|mjx`, the notebook `mapelites_brax_v2.ipynb`),
a policy `MLP((64, 64) + (action_size,), lecun_uniform, final tanh)`, an initial population of
`--batch` random LeCun-uniform policies, `MixingEmitter(mutation_fn=None,
variation_fn=isoline_variation(iso_sigma=0.005, line_sigma=0.05), variation_percentage=1.0)`,
a `compute_cvt_centroids` CVT of 1024 centroids from 50 000 samples over the task's descriptor
limits, `scoring_function_brax_envs` with QDax's descriptor extractor, and
`default_qd_metrics(qd_offset=reward_offset[task] * episode_length)`.

Start state: `--reset deterministic` (default) evaluates every policy from one `env.reset(key)`
state, as QDax's `create_default_brax_task_components(deterministic=True)` does (and as qd
does); `--reset stochastic` draws a fresh `env.reset` per evaluation, as the notebook does.

    benchmarks/peers/.venv-qdax/bin/python benchmarks/peers/qdax_brax_tasks.py \
        --task walker2d_uni --evaluations 3000 --seed 0

Prints one JSON line on stdout (logs go to stderr). `evaluations` = batches x batch with
`batches = max(1, evaluations // batch)`, the first batch being the random initial population.
`seconds`: running the compiled init and the compiled loop (one `jax.lax.scan` over
`MAPElites.scan_update`, as the notebook drives it), ended by `jax.block_until_ready`;
`compile_s`: ahead-of-time compilation of both; `cvt_s`: the CVT (scikit-learn k-means).
`qd_score`, `max_fitness` are QDax's `default_qd_metrics` (float32); `qd_score_f64` the same sum
(fitness + offset over filled cells) redone in float64 from the repertoire; `coverage` is a
fraction of the cells (QDax's own metric, in percent, is `coverage_percent`).

`--probe N` runs no MAP-Elites: it plays the zero policy and N LeCun-uniform policies once and
prints how long they stay up, what they score and their descriptors (`_robots.probe_stats`), to
compare the engines with qd's (`robots_vs_qdax.py --probe N`).

CPU threads: unless `--threads 0`, XLA runs on one thread
(`--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`) and scikit-learn's k-means
on one OpenMP thread; both are set before jax is imported.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from typing import Any

TASKS = ("walker2d_uni", "hopper_uni", "halfcheetah_uni", "ant_uni", "ant_omni", "humanoid_uni",
         "humanoid_omni")
V2_BACKENDS = ("spring", "generalized", "positional", "mjx")


def parse_args() -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--evaluations", type=int, default=3000,
                        help="budget; runs max(1, evaluations // batch) batches")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--episode-length", type=int, default=100)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--iso-sigma", type=float, default=0.005)
    parser.add_argument("--line-sigma", type=float, default=0.05)
    parser.add_argument("--centroids", type=int, default=1024)
    parser.add_argument("--cvt-samples", type=int, default=50_000)
    parser.add_argument("--brax", choices=("v1", "v2"), default="v1",
                        help="QDax's qdax.tasks.brax.v1 (Brax v1 engine) or .v2")
    parser.add_argument("--backend", choices=V2_BACKENDS, default=None,
                        help="Brax v2 pipeline (only with --brax v2; default spring)")
    parser.add_argument("--reset", choices=("deterministic", "stochastic"),
                        default="deterministic")
    parser.add_argument("--threads", type=int, choices=(0, 1), default=1,
                        help="1: one CPU thread for XLA and k-means; 0: jax's default")
    parser.add_argument("--probe", type=int, default=0,
                        help="only play the zero policy and N LeCun-uniform policies once")
    parser.add_argument("--curve-every", type=int, default=5,
                        help="keep the metrics of every N-th batch in `curve`")
    args = parser.parse_args()
    if min(args.evaluations, args.batch, args.episode_length, args.curve_every) < 1:
        parser.error("--evaluations, --batch, --episode-length, --curve-every must be >= 1")
    if args.backend is not None and args.brax == "v1":
        parser.error("--backend picks a Brax v2 pipeline: add --brax v2 (v1 has one engine)")
    args.backend = args.backend or "spring"
    args.batches = max(1, args.evaluations // args.batch)
    return args


def limit_threads(threads: int) -> None:
    """One CPU thread for XLA and OpenMP (must run before jax and scikit-learn are imported)."""
    if threads != 1:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = (
        f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip())
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def log(message: str) -> None:
    """A progress line on stderr."""
    sys.stderr.write(f"[qdax_brax_tasks] {message}\n")
    sys.stderr.flush()


def make_task(args: argparse.Namespace) -> dict[str, Any]:
    """QDax's environment, policy network, scoring function and offset for `args.task`."""
    import jax
    import jax.numpy as jnp
    from qdax.core.neuroevolution.buffers.buffer import QDTransition
    from qdax.core.neuroevolution.networks.networks import MLP

    if args.brax == "v1":
        import qdax.tasks.brax.v1 as environments
        from qdax.tasks.brax.v1.env_creators import scoring_function_brax_envs
        env = environments.create(args.task, episode_length=args.episode_length)
        physics = "brax.v1 engine, legacy_spring=True (QDax 0.5.0 v1 create's default)"
    else:
        import qdax.tasks.brax.v2 as environments
        from qdax.tasks.brax.v2.env_creators import scoring_function_brax_envs
        env = environments.create(args.task, episode_length=args.episode_length,
                                  backend=args.backend)
        physics = f"brax v2 pipeline '{args.backend}'"
    network = MLP(layer_sizes=(*args.hidden, env.action_size),
                  kernel_init=jax.nn.initializers.lecun_uniform(), final_activation=jnp.tanh)

    def play_step_fn(env_state, policy_params, key):  # noqa: ANN001, ANN202 (the notebook's)
        actions = network.apply(policy_params, env_state.obs)
        state_desc = env_state.info["state_descriptor"]
        next_state = env.step(env_state, actions)
        transition = QDTransition(
            obs=env_state.obs, next_obs=next_state.obs, rewards=next_state.reward,
            dones=next_state.done, actions=actions, truncations=next_state.info["truncation"],
            state_desc=state_desc, next_state_desc=next_state.info["state_descriptor"])
        return next_state, policy_params, key, transition

    return {"env": env, "network": network, "physics": physics, "play_step_fn": play_step_fn,
            "scoring": scoring_function_brax_envs,
            "extractor": environments.descriptor_extractor[args.task],
            "reward_offset": float(environments.reward_offset[args.task])}


def reset_fn(args: argparse.Namespace, env: Any, key: Any) -> Any:
    """`env.reset` per evaluation (stochastic) or one fixed reset state (deterministic)."""
    import jax

    if args.reset == "stochastic":
        return jax.jit(env.reset)
    init_state = jax.jit(env.reset)(key)
    return lambda _key: init_state


def make_scoring(args: argparse.Namespace, task: dict[str, Any], reset_key: Any) -> Any:
    """QDax's `scoring_function_brax_envs` for the task (the notebook's partial)."""
    return functools.partial(
        task["scoring"], episode_length=args.episode_length,
        play_reset_fn=reset_fn(args, task["env"], reset_key), play_step_fn=task["play_step_fn"],
        descriptor_extractor=task["extractor"])


def probe(args: argparse.Namespace) -> dict[str, Any]:
    """Play the zero policy and `--probe` LeCun-uniform policies once (no MAP-Elites)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from _robots import probe_stats
    from qdax.tasks.brax.v1.env_creators import get_mask_from_transitions

    task = make_task(args)
    env, network = task["env"], task["network"]
    key, reset_key, pop_key, eval_key = jax.random.split(jax.random.key(args.seed), 4)
    fake = jnp.zeros((args.probe + 1, env.observation_size))
    params = jax.vmap(network.init)(jax.random.split(pop_key, args.probe + 1), fake)
    params = jax.tree.map(lambda x: x.at[0].set(0.0), params)  # row 0: the zero policy
    scoring_fn = make_scoring(args, task, reset_key)
    fitnesses, descriptors, extra = jax.jit(scoring_fn)(params, eval_key)
    counted = 1.0 - np.asarray(get_mask_from_transitions(extra["transitions"]))
    return {"tool": "qdax", "task": args.task, "probe": args.probe, "seed": args.seed,
            "physics": task["physics"], "reset": args.reset,
            **probe_stats(np.asarray(fitnesses), counted.sum(axis=1), np.asarray(descriptors),
                          args.episode_length)}


def build(args: argparse.Namespace, key: Any) -> dict[str, Any]:
    """MAP-Elites, the initial population and the CVT, as in QDax's notebook."""
    import jax
    import jax.numpy as jnp
    from qdax.core.containers.mapelites_repertoire import compute_cvt_centroids
    from qdax.core.emitters.mutation_operators import isoline_variation
    from qdax.core.emitters.standard_emitters import MixingEmitter
    from qdax.core.map_elites import MAPElites
    from qdax.utils.metrics import default_qd_metrics

    task = make_task(args)
    env = task["env"]
    key, reset_key, pop_key, cvt_key = jax.random.split(key, 4)
    scoring_fn = make_scoring(args, task, reset_key)
    qd_offset = task["reward_offset"] * args.episode_length
    emitter = MixingEmitter(
        mutation_fn=None, variation_percentage=1.0, batch_size=args.batch,
        variation_fn=functools.partial(isoline_variation, iso_sigma=args.iso_sigma,
                                       line_sigma=args.line_sigma))
    map_elites = MAPElites(scoring_function=scoring_fn, emitter=emitter,
                           metrics_function=functools.partial(default_qd_metrics,
                                                              qd_offset=qd_offset))
    keys = jax.random.split(pop_key, num=args.batch)
    population = jax.vmap(task["network"].init)(
        keys, jnp.zeros((args.batch, env.observation_size)))
    low, high = env.descriptor_limits
    t0 = time.perf_counter()
    centroids = compute_cvt_centroids(
        num_descriptors=env.descriptor_length, num_init_cvt_samples=args.cvt_samples,
        num_centroids=args.centroids, minval=list(map(float, low)),
        maxval=list(map(float, high)), key=cvt_key)
    cvt_s = time.perf_counter() - t0
    return {**task, "map_elites": map_elites, "population": population, "centroids": centroids,
            "key": key, "qd_offset": qd_offset, "cvt_s": cvt_s,
            "limits": [list(map(float, low)), list(map(float, high))]}


def run(args: argparse.Namespace, parts: dict[str, Any]) -> dict[str, Any]:
    """Compile, then run the init batch and `batches - 1` scanned updates."""
    import jax

    map_elites, population, centroids = (parts["map_elites"], parts["population"],
                                         parts["centroids"])
    key, init_key = jax.random.split(parts["key"])
    loops = args.batches - 1

    def run_scan(repertoire, emitter_state, key):  # noqa: ANN001, ANN202
        (repertoire, emitter_state, key), metrics = jax.lax.scan(
            map_elites.scan_update, (repertoire, emitter_state, key), None, length=loops)
        return repertoire, emitter_state, metrics

    t0 = time.perf_counter()
    init_c = jax.jit(map_elites.init).lower(population, centroids, init_key).compile()
    repertoire_shape, state_shape, _ = jax.eval_shape(map_elites.init, population, centroids,
                                                      init_key)
    scan_c = (jax.jit(run_scan).lower(repertoire_shape, state_shape, key).compile()
              if loops > 0 else None)
    compile_s = time.perf_counter() - t0
    log(f"compiled in {compile_s:.1f} s; running {args.batches} batches of {args.batch}")

    t0 = time.perf_counter()
    repertoire, emitter_state, init_metrics = init_c(population, centroids, init_key)
    metrics = None
    if scan_c is not None:
        repertoire, emitter_state, metrics = scan_c(repertoire, emitter_state, key)
    jax.block_until_ready(repertoire)
    seconds = time.perf_counter() - t0
    return {"repertoire": repertoire, "init_metrics": init_metrics, "metrics": metrics,
            "compile_s": compile_s, "seconds": seconds}


def curve(args: argparse.Namespace, out: dict[str, Any]) -> list[list[float]]:
    """[evaluations, qd_score, coverage fraction] after the init and every N-th batch."""
    import numpy as np

    rows = [[args.batch, float(out["init_metrics"]["qd_score"]),
             float(out["init_metrics"]["coverage"]) / 100]]
    if out["metrics"] is not None:
        qd = np.asarray(out["metrics"]["qd_score"], dtype=float)
        cov = np.asarray(out["metrics"]["coverage"], dtype=float) / 100
        for i in range(len(qd)):
            batch = i + 2
            if batch % args.curve_every == 0 or batch == args.batches:
                rows.append([batch * args.batch, float(qd[i]), float(cov[i])])
    return rows


def record(args: argparse.Namespace, parts: dict[str, Any], out: dict[str, Any]) -> dict:
    """The JSON line."""
    import brax
    import jax
    import numpy as np
    import qdax
    from qdax.utils.metrics import default_qd_metrics

    repertoire = out["repertoire"]
    final = default_qd_metrics(repertoire, qd_offset=parts["qd_offset"])
    fitnesses = np.asarray(jax.device_get(repertoire.fitnesses), dtype=np.float64).reshape(-1)
    filled = np.isfinite(fitnesses)
    return {
        "tool": "qdax", "task": args.task, "budget": args.evaluations,
        "evaluations": args.batches * args.batch, "batches": args.batches, "batch": args.batch,
        "seed": args.seed,
        "qd_score": float(final["qd_score"]),
        "qd_score_f64": float((fitnesses[filled] + parts["qd_offset"]).sum()),
        "coverage": int(filled.sum()) / fitnesses.size,
        "coverage_percent": float(final["coverage"]),
        "num_elites": int(filled.sum()), "cells": int(fitnesses.size),
        "max_fitness": float(final["max_fitness"]),
        "reward_offset": parts["reward_offset"], "qd_offset": parts["qd_offset"],
        "seconds": out["seconds"], "compile_s": out["compile_s"], "cvt_s": parts["cvt_s"],
        "evals_per_s": args.batches * args.batch / out["seconds"],
        "versions": {"qdax": qdax.__version__, "jax": jax.__version__,
                     "brax": brax.__version__},
        "physics": parts["physics"], "reset": args.reset,
        "episode_length": args.episode_length, "hidden": args.hidden,
        "iso_sigma": args.iso_sigma, "line_sigma": args.line_sigma,
        "centroids": args.centroids, "cvt_samples": args.cvt_samples,
        "descriptor_limits": parts["limits"], "dtype": str(repertoire.fitnesses.dtype),
        "initial_population": f"{args.batch} LeCun-uniform MLPs (QDax's notebook)",
        "threads": "1 (XLA_FLAGS, OMP_NUM_THREADS=1)" if args.threads == 1 else "jax default",
        "devices": [str(d) for d in jax.devices()],
        "curve": curve(args, out),
    }


def main() -> None:
    """Build, run, print the JSON line."""
    args = parse_args()
    limit_threads(args.threads)
    import jax

    if args.probe:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        sys.stdout.write(json.dumps(probe(args)) + "\n")
        return
    t0 = time.perf_counter()
    parts = build(args, jax.random.key(args.seed))
    log(f"{args.task}: {parts['physics']}; CVT in {parts['cvt_s']:.1f} s")
    out = run(args, parts)
    line = record(args, parts, out)
    line["wall_s"] = time.perf_counter() - t0
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
