"""In-process batched evaluation of a torch problem, chunked, with output checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from qd.errors import ProblemOutputError
from qd.protocols import Problem


class BatchEvaluator:
    """Evaluate numpy batches with a torch problem on one device.

    Args:
        problem: The problem; its `evaluate` takes a (B, D) tensor on `device`.
        device: Torch device the batch is moved to.
        chunk_size: Evaluate at most this many solutions per call (None = whole batch).
    """

    def __init__(
        self, problem: Problem, device: torch.device, chunk_size: int | None = None
    ) -> None:
        self.problem = problem
        self.device = device
        self.chunk_size = chunk_size
        self.name = type(problem).__name__

    def __call__(self, solutions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate solutions of shape (B, D).

        Returns:
            objectives (B,) and measures (B, M) as float64 numpy arrays.
        """
        batch = torch.from_numpy(np.ascontiguousarray(solutions, dtype=np.float64))
        batch = batch.to(self.device)
        with torch.no_grad():
            if self.chunk_size is None or batch.shape[0] <= self.chunk_size:
                objectives, measures = self.problem.evaluate(batch)
            else:
                parts = [self.problem.evaluate(c) for c in torch.split(batch, self.chunk_size)]
                objectives = torch.cat([p[0] for p in parts])
                measures = torch.cat([p[1] for p in parts])
        obj = objectives.detach().to("cpu", torch.float64).numpy()
        meas = measures.detach().to("cpu", torch.float64).numpy()
        self._check(solutions.shape[0], obj, meas)
        return obj, meas

    def close(self) -> None:
        """Nothing to release (the cluster evaluator's counterpart closes its client)."""

    def _check(self, batch: int, obj: Any, meas: Any) -> None:
        m = self.problem.measure_dim
        if tuple(obj.shape) != (batch,) or tuple(meas.shape) != (batch, m):
            raise ProblemOutputError(
                f"{self.name}.evaluate returned objectives {tuple(obj.shape)} and measures "
                f"{tuple(meas.shape)}; "
                f"expected ({batch},) and ({batch}, {m})"
            )
        finite = torch.isfinite if isinstance(obj, torch.Tensor) else np.isfinite
        if not bool(finite(obj).all() & finite(meas).all()):
            bad = int((~finite(obj)).sum() + (~finite(meas)).any(1).sum())
            raise ProblemOutputError(
                f"{self.name}.evaluate returned NaN or infinite values for {bad} solution(s)"
            )


class TensorBatchEvaluator(BatchEvaluator):
    """Evaluate tensor batches already on the device; results stay there (torch backend).

    The output check costs one host sync per batch (a single boolean).
    """

    def __call__(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        """Objectives (B,) and measures (B, M) on the device, in the solutions' dtype."""
        with torch.no_grad():
            if self.chunk_size is None or solutions.shape[0] <= self.chunk_size:
                objectives, measures = self.problem.evaluate(solutions)
            else:
                parts = [self.problem.evaluate(c) for c in torch.split(solutions, self.chunk_size)]
                objectives = torch.cat([p[0] for p in parts])
                measures = torch.cat([p[1] for p in parts])
        objectives = objectives.to(solutions.dtype)
        measures = measures.to(solutions.dtype)
        self._check(solutions.shape[0], objectives, measures)
        return objectives, measures

    def jacobian(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Objectives, measures and their jacobian (B, 1 + M, D), for DQD emitters."""
        objectives, measures, jacobian = self.problem.evaluate_with_jacobian(solutions)
        objectives = objectives.detach().to(solutions.dtype)
        measures = measures.detach().to(solutions.dtype)
        self._check(solutions.shape[0], objectives, measures)
        if not bool(torch.isfinite(jacobian).all()):
            raise ProblemOutputError(f"{self.name}.evaluate_with_jacobian returned NaN or "
                                     "infinite gradients")
        return objectives, measures, jacobian.detach().to(solutions.dtype)
