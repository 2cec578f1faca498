"""Symbolic regression with GP expression trees (Koza 1992), illuminated over tree size and depth.

Koza, "Genetic Programming: On the Programming of Computers by Means of Natural Selection", 1992
(the quartic `koza1`); Uy et al., "Semantically-based crossover in genetic programming", GPEM 2011
(`nguyen5`, `nguyen7`); Pagie & Hogeweg, "Evolutionary consequences of coevolving targets",
Evolutionary Computation 1997 (`pagie1`).

A solution is a GP-tree genome (`problems.gp_trees`), varied by the `gp_tree` emitter with deap's
subtree crossover and mutation. Each tree is read once and evaluated on the whole dataset with one
vectorised torch operation per node. Objective: 1 / (1 + NMSE), where NMSE is the mean squared
error divided by the variance of the target (1 = exact fit; a constant mean predictor scores 0.5;
non-finite predictions score 0). Measures: number of nodes and depth of the tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from problems.base import TorchProblem
from problems.gp_trees import FUNCTION_NAMES, GenomeFormat, evaluate_nodes
from problems.registry import register_problem
from qd.components import ComponentConfig

FunctionName = Literal["add", "sub", "mul", "div", "neg", "sin", "cos", "exp", "log"]


def _grid(low: float, high: float, n: int, n_vars: int) -> torch.Tensor:
    """Regular grid of n points per variable over [low, high]: (n_vars, n ** n_vars)."""
    axis = torch.linspace(low, high, n, dtype=torch.float64)
    mesh = torch.meshgrid(*([axis] * n_vars), indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh])


#: name -> (variables, (low, high), target function of the (n_vars, N) inputs).
TARGETS: dict[str, tuple[int, tuple[float, float], Callable[[torch.Tensor], torch.Tensor]]] = {
    "koza1": (1, (-1.0, 1.0), lambda x: x[0] ** 4 + x[0] ** 3 + x[0] ** 2 + x[0]),
    "nguyen5": (1, (-1.0, 1.0), lambda x: torch.sin(x[0] ** 2) * torch.cos(x[0]) - 1),
    "nguyen7": (1, (0.0, 2.0), lambda x: torch.log(x[0] + 1) + torch.log(x[0] ** 2 + 1)),
    "pagie1": (2, (-5.0, 5.0), lambda x: (x**4 / (1 + x**4)).sum(0)),
}


class SymbolicRegressionConfig(ComponentConfig):
    """Config of `symbolic_regression`."""

    name: Literal["symbolic_regression"] = "symbolic_regression"
    target: Literal["koza1", "nguyen5", "nguyen7", "pagie1"] = Field(
        "koza1", description="Target function (its variables and input range are fixed)."
    )
    samples: int = Field(20, ge=2, le=10_000, description="Grid points per input variable.")
    functions: list[FunctionName] = Field(
        ["add", "sub", "mul", "div", "sin", "cos"], min_length=1, description="Function set."
    )
    max_nodes: Annotated[int, Field(ge=1, le=255)] = Field(31, description="Max tree size.")
    max_depth: Annotated[int, Field(ge=0, le=17)] = Field(8, description="Max tree depth.")

    @field_validator("functions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("functions: each function may appear once")
        return value


@register_problem("symbolic_regression")
class SymbolicRegression(TorchProblem):
    """Fit a target function with GP trees; measures = (tree size, tree depth)."""

    Config = SymbolicRegressionConfig
    summary = "GP trees (deap) fitting a target function; measures = (size, depth)"
    needs = "CPU (torch, deap); use the gp_tree emitter"
    measure_dim = 2
    objective_bounds = (0.0, 1.0)

    def __init__(
        self, config: SymbolicRegressionConfig, device: torch.device | str = "cpu"
    ) -> None:
        super().__init__(config, device)
        n_vars, (low, high), target = TARGETS[config.target]
        functions = tuple(f for f in FUNCTION_NAMES if f in config.functions)
        self.format = GenomeFormat(n_vars, functions, config.max_nodes, config.max_depth)
        self.solution_dim = self.format.length
        self.measure_bounds = ((0.5, config.max_nodes + 0.5), (-0.5, config.max_depth + 0.5))
        self.inputs = _grid(low, high, config.samples, n_vars).to(self.device)
        self.target = target(self.inputs)
        self.target_var = float(self.target.var(unbiased=False))

    @property
    def x0(self) -> np.ndarray:
        """The genome of the one-node tree `x0` (its header tells emitters the primitive set)."""
        return self.format.variable(0)

    def score(self, prediction: torch.Tensor) -> float:
        """1 / (1 + NMSE) of a prediction of the target; 0 when it is not finite."""
        mse = float(((prediction - self.target) ** 2).mean())
        if not np.isfinite(mse):
            return 0.0
        return 1.0 / (1.0 + mse / self.target_var)

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        genomes = solutions.detach().to("cpu", torch.float64).numpy()
        objectives, measures = [], []
        for genome in genomes:
            nodes = self.format.nodes(genome)
            prediction, depth = evaluate_nodes(nodes, self.inputs)
            objectives.append(self.score(prediction))
            measures.append((len(nodes), depth))
        opts = {"dtype": self.dtype, "device": solutions.device}
        return torch.tensor(objectives, **opts), torch.tensor(measures, **opts)
