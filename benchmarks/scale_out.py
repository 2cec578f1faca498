"""Throughput of a CPU-bound evaluation: local process pool vs the dask backend, 1 and 2 workers.

Each candidate costs about 50 ms of single-threaded numpy work (a `python` problem file written
to a temporary folder). Both backends evaluate the same chunks (batch / workers) with the same
worker function (`qd.evaluation.dask_batch.evaluate_chunk`, problem built once per process);
start-up and warm-up are not timed. Writes `runs/bench/scale_out.json`.

    python benchmarks/scale_out.py [--quick] [--save-doc] [--out PATH]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core per worker in both backends

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import add_output_args, print_table, write_result  # noqa: E402
from problems import problem_registry  # noqa: E402
from qd.evaluation.dask_batch import DaskBatchEvaluator, evaluate_chunk  # noqa: E402

PROBLEM = '''"""Scale-out benchmark problem: ~{ms:g} ms of numpy work per solution."""
import numpy as np

ITERATIONS = {iterations}
DIM = 4


def burn(row, iterations=ITERATIONS):
    m = np.full((48, 48), 0.02) + np.eye(48) * float(row[0]) * 1e-3
    v = np.ones(48)
    for _ in range(iterations):
        v = np.tanh(m @ v)
    return float(v[0])


def evaluate(x):
    objective = np.array([-(row ** 2).sum() + 1e-9 * burn(row) for row in x])
    return objective, np.clip(x[:, :2], -1.0, 1.0)
'''


def _calibrate(folder: Path, target_ms: float) -> int:
    probe = folder / "probe.py"
    probe.write_text(PROBLEM.format(ms=target_ms, iterations=2000))
    spec = importlib.util.spec_from_file_location("scale_out_probe", probe)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = np.zeros(4)
    module.burn(row)
    t0 = time.perf_counter()
    module.burn(row, 2000)
    per_iteration = (time.perf_counter() - t0) / 2000
    return max(1, round(target_ms / 1000 / per_iteration))


def _chunks(batch: np.ndarray, workers: int) -> list[np.ndarray]:
    size = math.ceil(len(batch) / workers)
    return [batch[i : i + size] for i in range(0, len(batch), size)]


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _local(name: str, config_json: str, batches: list[np.ndarray], workers: int) -> float:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=evaluate_chunk,
                             initargs=(name, config_json, batches[0][:1])) as pool:
        pids: set[int] = set()
        for _ in range(40):  # until every process has run its initializer (problem built)
            pids |= set(pool.map(_pid_after, [0.25] * workers))
            if len(pids) == workers:
                break
        t0 = time.perf_counter()
        for batch in batches:
            list(pool.map(evaluate_chunk, [name] * workers, [config_json] * workers,
                          _chunks(batch, workers)))
        return sum(len(b) for b in batches) / (time.perf_counter() - t0)


def _dask(problem: object, config: object, batches: list[np.ndarray], workers: int) -> float:
    evaluator = DaskBatchEvaluator(problem, config, f"local:{workers}")  # type: ignore[arg-type]
    try:
        client = evaluator.cluster.client
        client.run(evaluate_chunk, evaluator.problem_name, evaluator.config_json,
                   batches[0][:1])  # warm-up: every worker builds the problem
        t0 = time.perf_counter()
        for batch in batches:
            evaluator(batch)
        return sum(len(b) for b in batches) / (time.perf_counter() - t0)
    finally:
        evaluator.close()


def main() -> None:
    """Measure, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small batches (< 90 s).")
    add_output_args(parser)
    args = parser.parse_args()
    batch_size, rounds, target_ms = (32, 2, 50.0) if args.quick else (64, 5, 50.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        iterations = _calibrate(folder, target_ms)
        (folder / "work.py").write_text(PROBLEM.format(ms=target_ms, iterations=iterations))
        cls = problem_registry.get("python")
        config = cls.Config.model_validate({
            "name": "python", "file": str(folder / "work.py"), "solution_dim": 4,
            "measure_bounds": [[-1, 1], [-1, 1]], "objective_bounds": [-100, 0]})
        problem = cls(config, "cpu")
        rng = np.random.default_rng(0)
        batches = [rng.normal(size=(batch_size, 4)) for _ in range(rounds)]
        name, config_json = "python", config.model_dump_json()
        result: dict[str, dict[str, float]] = {"local": {}, "dask": {}}
        for workers in (1, 2):
            result["local"][str(workers)] = _local(name, config_json, batches, workers)
            result["dask"][str(workers)] = _dask(problem, config, batches, workers)
    ratio = result["dask"]["2"] / result["local"]["2"]
    rows = [[backend, workers, rate, rate / result[backend]["1"]]
            for backend in ("local", "dask") for workers, rate in result[backend].items()]
    print_table(f"scale-out: ~{target_ms:g} ms per evaluation, batch {batch_size} × {rounds}",
                ["backend", "workers", "evaluations/s", "speed-up vs 1"], rows)
    print(f"dask / local at 2 workers: {ratio:.3f} (target ≥ 0.85); cores: {os.cpu_count()}")
    path = write_result("scale_out", {
        **result, "dask_vs_local_2": ratio, "target_ms_per_eval": target_ms,
        "batch_size": batch_size, "rounds": rounds, "quick": args.quick}, args)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
