"""Peer baseline: EvoTorch 0.6.1 MAPElites on the 100-DoF arm (torch on the CPU).

EvoTorch's `MAPElites` keeps one population slot per cell (10 000 here) and, every generation,
applies its operators to that population, evaluates the children, and re-bins parents and
children together with `_best_solution_considering_all_features` (a vmap over the cells of a
test of every candidate against every cell's bounds). The feature grid is built here with exact
bin edges, 100 x 100 over [-100, 100]^2 (EvoTorch's `make_feature_grid` adds open-ended edge
bins, which would make the grid 102 x 102 or shift the interior edges). re_evaluate=False: the
arm is deterministic (EvoTorch's advice for such problems).

EvoTorch ships no iso+line operator, so the default `--operator isoline` is one written here as
an EvoTorch `CopyingOperator`: `--batch` children x_i + iso_sigma N(0, I) + line_sigma N(0, 1)
(x_j - x_i), clipped by EvoTorch's `_respect_bounds` to [-pi, pi], with x_i, x_j drawn
uniformly with replacement from the filled cells (from the whole initial population in the
first generation, when no cell is filled yet), using the problem's own generator.
`--operator gaussian` uses EvoTorch's stock `GaussianMutation(stdev=iso_sigma)` instead, which
mutates the whole population, so a generation is then 10 000 children whatever --batch says.

Binning memory: EvoTorch's `_best_solution_considering_feature` picks each cell's winner with
`torch.index_select(values, 0, index)[0]` under a vmap over the cells, with a 0-dim batched
index; torch's vmap batching rule for that expands the index to the whole candidate set
(pytorch/pytorch issue 115347, not fixed in torch 2.13), so one call allocates
cells x candidates x DOF values: 42 GB for 10 000 cells x 10 540 candidates x 100 float32, and
as much again in int64 indices. `--binning` says what runs:
  stock    EvoTorch as shipped (dies of memory on this 24 GB machine);
  chunked  EvoTorch's own function called on chunks of cells, each copied out (the [0] views
           would keep every chunk's expansion alive), at most --chunk-mib MiB a chunk: the same
           code and results, the same cells x candidates x DOF traffic (~20 s a generation here);
  rowpick  (default) EvoTorch's function with only that line changed to `values[index]`, which
           vmap batches as a gather of one row per cell: the same results (checked against
           stock on a small grid by `--check-binning`), cells x candidates comparisons only.

EvoTorch's population is the grid, so its first generation evaluates all 10 000 slots: they are
set to x0 = 0 + iso_sigma N(0, I), clipped (what pyribs' IsoLineEmitter asks for on an empty
archive, but 10 000 of them rather than one batch). Those count as evaluations; then
(evaluations - 10 000) // children generations run.

    benchmarks/peers/.venv-evotorch/bin/python benchmarks/peers/evotorch_map_elites.py \
        --batch 540 --evaluations 200000 --seed 0 [--dtype float32|float64] \
        [--operator isoline|gaussian] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import evotorch
import evotorch.algorithms.mapelites as evotorch_mapelites
import torch
from evotorch import Problem, SolutionBatch
from evotorch.algorithms import MAPElites
from evotorch.operators import CopyingOperator, GaussianMutation
from torch.func import vmap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _arm  # noqa: E402


class IsoLineVariation(CopyingOperator):
    """Iso+LineDD (Vassiliades & Mouret 2018) as an EvoTorch operator over a MAPElites grid."""

    def __init__(self, problem: Problem, *, iso_sigma: float, line_sigma: float,
                 num_children: int) -> None:
        """Make `num_children` children a generation; `searcher` is set once MAPElites exists."""
        super().__init__(problem)
        self.iso_sigma = float(iso_sigma)
        self.line_sigma = float(line_sigma)
        self.num_children = int(num_children)
        self.searcher: MAPElites | None = None

    @torch.no_grad()
    def _do(self, batch: SolutionBatch) -> SolutionBatch:
        values = batch.values.as_subclass(torch.Tensor)
        filled = self.searcher.filled.as_subclass(torch.Tensor) if self.searcher else None
        if filled is None or not bool(filled.any()):
            pool = torch.arange(len(values), device=values.device)
        else:
            pool = torch.nonzero(filled).squeeze(1)
        pick = self.problem.make_randint((2, self.num_children), n=len(pool),
                                         device=values.device)
        x_i, x_j = values[pool[pick[0]]], values[pool[pick[1]]]
        iso = self.problem.make_gaussian((self.num_children, values.shape[1]),
                                         dtype=values.dtype, device=values.device)
        line = self.problem.make_gaussian((self.num_children, 1), dtype=values.dtype,
                                          device=values.device)
        children = x_i + self.iso_sigma * iso + self.line_sigma * line * (x_j - x_i)
        result = SolutionBatch(self.problem, popsize=self.num_children, empty=True,
                               device=values.device)
        result.set_values(self._respect_bounds(children))
        return result


def _best_rowpick(sense: str, values: torch.Tensor, evals: torch.Tensor,
                  grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EvoTorch 0.6.1's `_best_solution_considering_feature`, but row picks by indexing."""
    lower, upper = grid[:, 0], grid[:, 1]
    if sense == "min":
        penalty, argbest = float("inf"), torch.argmin
    elif sense == "max":
        penalty, argbest = float("-inf"), torch.argmax
    else:
        raise ValueError(f"Unexpected objective_sense: {sense!r}")
    fitnesses, features = evals[:, 0], evals[:, 1:]
    suitable = (evotorch_mapelites._all_across_rightmost_dim(features >= lower)
                & evotorch_mapelites._all_across_rightmost_dim(features <= upper))
    index = argbest(torch.where(suitable, fitnesses, penalty))
    return values[index], evals[index], suitable[index]


def install_binning(mode: str, chunk_mib: int) -> None:
    """Replace MAPElites' binning function by the `--binning` mode (see the module doc)."""
    original = evotorch_mapelites._best_solution_considering_all_features
    if mode == "stock":
        return

    def chunked(sense: str, values: torch.Tensor, evals: torch.Tensor,
                grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        per_cell = values.shape[0] * values.shape[1] * 8  # the int64 expanded index dominates
        step = max(1, (chunk_mib << 20) // per_cell)
        parts = [tuple(t.clone() for t in original(sense, values, evals, grid[i:i + step]))
                 for i in range(0, grid.shape[0], step)]
        return tuple(torch.cat(column) for column in zip(*parts, strict=True))

    def rowpick(sense: str, values: torch.Tensor, evals: torch.Tensor,
                grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return vmap(_best_rowpick, in_dims=(None, None, None, 0))(sense, values, evals, grid)

    evotorch_mapelites._best_solution_considering_all_features = (
        chunked if mode == "chunked" else rowpick)


def check_binning() -> None:
    """Compare rowpick and chunked with EvoTorch's stock binning on random small inputs."""
    original = evotorch_mapelites._best_solution_considering_all_features
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        values = torch.rand(700, 13, generator=gen, dtype=dtype)
        evals = torch.rand(700, 3, generator=gen, dtype=dtype) * 2 - 1
        evals[::7, 0] = evals[3, 0]  # ties
        grid = MAPElites.make_feature_grid([-1.0, -1.0], [1.0, 1.0], [9, 7], dtype=dtype)
        for sense in ("max", "min"):
            want = original(sense, values, evals, grid)
            for mode in ("rowpick", "chunked"):
                install_binning(mode, 1)
                got = evotorch_mapelites._best_solution_considering_all_features(
                    sense, values, evals, grid)
                evotorch_mapelites._best_solution_considering_all_features = original
                for a, b in zip(want, got, strict=True):
                    if not torch.equal(a, b):
                        raise SystemExit(f"binning {mode} differs from stock ({sense}, {dtype})")
    print("binning check: rowpick and chunked equal stock", file=sys.stderr)


def evaluate(solutions: torch.Tensor) -> torch.Tensor:
    """(B, 3) evaluation rows: -Var(theta), then the end-effector (x, y)."""
    objectives = -solutions.var(dim=1, unbiased=False)
    cumulative = torch.cumsum(solutions, dim=1)
    x = _arm.LINK * torch.cos(cumulative).sum(dim=1)
    y = _arm.LINK * torch.sin(cumulative).sum(dim=1)
    return torch.stack((objectives, x, y), dim=1)


def feature_grid(dtype: torch.dtype) -> torch.Tensor:
    """(cells, 2, 2) exact bin bounds of the 100 x 100 grid, x-major like pyribs' index."""
    (lo_x, hi_x), (lo_y, hi_y) = _arm.MEASURE_RANGES
    ex = torch.linspace(lo_x, hi_x, _arm.GRID[0] + 1, dtype=dtype)
    ey = torch.linspace(lo_y, hi_y, _arm.GRID[1] + 1, dtype=dtype)
    bx = torch.stack((ex[:-1], ex[1:]), dim=1)
    by = torch.stack((ey[:-1], ey[1:]), dim=1)
    return torch.stack((bx.repeat_interleave(len(by), 0), by.repeat(len(bx), 1)), dim=1)


def _extra_args() -> argparse.Namespace:
    """Parse the EvoTorch-only flags and leave the shared ones to `_arm.parse_args`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--operator", choices=("isoline", "gaussian"), default="isoline")
    parser.add_argument("--binning", choices=("rowpick", "chunked", "stock"), default="rowpick")
    parser.add_argument("--check-binning", action="store_true",
                        help="only compare the binning modes with stock on small inputs")
    parser.add_argument("--chunk-mib", type=int, default=2048,
                        help="memory bound of one chunk of EvoTorch's binning (MiB)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's)")
    extra, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    return extra


def main() -> None:
    """Run the loop and print its JSON line."""
    extra = _extra_args()
    args = _arm.parse_args(__doc__.splitlines()[0])
    if extra.threads:
        torch.set_num_threads(extra.threads)
    logging.getLogger("evotorch").setLevel(logging.WARNING)  # its INFO lines go to stdout
    if extra.check_binning:
        check_binning()
        return
    dtype = getattr(torch, extra.dtype)
    install_binning(extra.binning, extra.chunk_mib)
    problem = Problem("max", evaluate, solution_length=_arm.DOF, bounds=(_arm.LOW, _arm.HIGH),
                      eval_data_length=2, vectorized=True, dtype=dtype, eval_dtype=dtype,
                      seed=args.seed)
    if extra.operator == "isoline":
        operator = IsoLineVariation(problem, iso_sigma=args.iso_sigma,
                                    line_sigma=args.line_sigma, num_children=args.batch)
        children = args.batch
        operator_text = (f"custom EvoTorch CopyingOperator iso+line (iso_sigma={args.iso_sigma}, "
                         f"line_sigma={args.line_sigma}, clip to [-pi, pi]), {children} children "
                         "per generation from filled cells uniform with replacement; first "
                         f"generation evaluates {_arm.CELLS} x0=0 + iso_sigma*N(0, I)")
    else:
        operator = GaussianMutation(problem, stdev=args.iso_sigma)
        children = _arm.CELLS
        operator_text = (f"evotorch GaussianMutation(stdev={args.iso_sigma}) on every cell slot "
                         f"({children} children per generation, --batch ignored, no line term); "
                         f"first generation evaluates {_arm.CELLS} x0=0 + iso_sigma*N(0, I)")
    searcher = MAPElites(problem, operators=[operator], feature_grid=feature_grid(dtype),
                         re_evaluate=False)
    if extra.operator == "isoline":
        operator.searcher = searcher
    noise = problem.make_gaussian((_arm.CELLS, _arm.DOF), dtype=dtype)
    searcher.population.access_values()[:] = torch.clamp(args.iso_sigma * noise,
                                                         _arm.LOW, _arm.HIGH)
    generations = max(1, (args.evaluations - _arm.CELLS) // children)

    t0 = time.perf_counter()
    for generation in range(1, generations + 1):
        searcher.step()
        if generation % 50 == 0:  # progress on stderr: a long run that is cut off still tells
            done = _arm.CELLS + generation * children
            print(f"generation {generation}/{generations}: {time.perf_counter() - t0:.1f} s, "
                  f"{done} evaluations, {int(searcher.filled.sum())} elites",
                  file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0

    filled = searcher.filled.as_subclass(torch.Tensor)
    objectives = searcher.population.evals.as_subclass(torch.Tensor)[:, 0].double()
    num_elites = int(filled.sum())
    _arm.emit({
        "tool": "evotorch", "version": f"evotorch {evotorch.__version__} / torch "
                                       f"{torch.__version__}",
        "evaluations": _arm.CELLS + generations * children, "seconds": seconds,
        "compile_s": None,
        "qd_score": float((objectives[filled] - _arm.QD_OFFSET).sum()),
        "coverage": num_elites / _arm.CELLS, "operator": operator_text,
        "iterations": generations, "batch": children, "seed": args.seed,
        "num_elites": num_elites, "dtype": extra.dtype, "threads": torch.get_num_threads(),
        "binning": extra.binning,
    })


if __name__ == "__main__":
    main()
