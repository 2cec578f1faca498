"""A user problem written as one Python function in a file next to the spec.

```toml
[problem]
name = "python"
file = "my_problem.py"        # relative to the spec's folder
function = "evaluate"         # f(solutions (B, D) ndarray) -> (objectives (B,), measures (B, M))
solution_dim = 10
measure_bounds = [[-1.0, 1.0], [-1.0, 1.0]]
objective_bounds = [0.0, 1.0] # (worst, best): worst offsets the QD score
```
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from problems.base import TorchProblem
from problems.registry import register_problem
from qd.components import ComponentConfig, existing_file
from qd.errors import ProblemOutputError, SpecError


class PythonFileConfig(ComponentConfig):
    """Config of a problem given as a Python function in a file."""

    name: Literal["python"] = "python"
    file: Path = Field(description="Python file defining the function, relative to the spec.")
    function: str = Field("evaluate", description="Name of the batched evaluation function.")
    solution_dim: int = Field(ge=1, le=10_000_000)
    measure_bounds: list[tuple[float, float]] = Field(min_length=1)
    objective_bounds: tuple[float, float] = (0.0, 1.0)
    solution_bounds: list[tuple[float, float]] | None = None
    x0: list[float] | None = None

    _file_exists = field_validator("file")(existing_file)

    @model_validator(mode="after")
    def _dims_agree(self) -> PythonFileConfig:
        for field in ("solution_bounds", "x0"):
            value = getattr(self, field)
            if value is not None and len(value) != self.solution_dim:
                raise ValueError(
                    f"{field} has {len(value)} entries but solution_dim is {self.solution_dim}"
                )
        return self


@register_problem("python")
class PythonFileProblem(TorchProblem):
    """Calls a user function on the whole batch as numpy arrays."""

    Config = PythonFileConfig
    summary = "Your own batched numpy function: file = ..., function = ..."
    needs = "a Python file in the spec folder"

    def __init__(self, config: PythonFileConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.solution_dim = config.solution_dim
        self.measure_dim = len(config.measure_bounds)
        self.measure_bounds = tuple(config.measure_bounds)
        self.objective_bounds = config.objective_bounds
        self.solution_bounds = tuple(config.solution_bounds) if config.solution_bounds else None
        self._fn = _load_function(config.file, config.function)

    @property
    def x0(self) -> np.ndarray:
        """The spec's `x0`, or the origin."""
        cfg = self.config
        assert isinstance(cfg, PythonFileConfig)
        return np.asarray(cfg.x0, dtype=float) if cfg.x0 is not None else super().x0

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = solutions.shape[0]
        returned = self._fn(solutions.cpu().numpy())
        if not isinstance(returned, tuple | list) or len(returned) != 2:
            raise ProblemOutputError(
                f"{self._caller()} returned {_describe(returned)}; {self._expected(batch)}"
            )
        try:
            objectives = np.asarray(returned[0], dtype=float).reshape(-1)
            measures = np.asarray(returned[1], dtype=float)
        except (TypeError, ValueError) as exc:
            raise ProblemOutputError(
                f"{self._caller()} returned values that are not numeric arrays ({exc}); "
                f"{self._expected(batch)}"
            ) from None
        if objectives.shape != (batch,) or measures.shape != (batch, self.measure_dim):
            raise ProblemOutputError(
                f"{self.config.function}() should return objectives of shape ({batch},) and "
                f"measures of shape ({batch}, {self.measure_dim}); got {objectives.shape} and "
                f"{measures.shape}"
            )
        return torch.from_numpy(objectives), torch.from_numpy(measures)

    def _caller(self) -> str:
        cfg = self.config
        assert isinstance(cfg, PythonFileConfig)
        return f"problem.function: {cfg.function}() in {cfg.file.name}"

    def _expected(self, batch: int) -> str:
        return (
            f"expected a tuple (objectives, measures) of arrays of shape ({batch},) and "
            f"({batch}, {self.measure_dim})"
        )


def _describe(value: object) -> str:
    """A short description of what a user function returned."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray | torch.Tensor):
        return f"a single {type(value).__name__} of shape {tuple(value.shape)}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _load_function(path: Path, name: str):  # noqa: ANN202 - user callable
    module_name = f"qd_user_problem_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"problem.file: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: report, do not crash with a traceback
        raise SpecError(f"problem.file: importing {path} failed: {exc!r}") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SpecError(f"problem.function: {path} defines no function {name!r}")
    return fn
