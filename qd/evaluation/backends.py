"""Where evaluation runs: the `Evaluator` protocol and its backends, registered by name.

Both run kinds evaluate through an `Evaluator`: numeric runs call it with a batch of solutions
(objectives, measures back), program runs with one program's code (an evaluation record
back). A backend builds both kinds: `local` (this process: torch batches on the run's device,
programs in a sandbox here) and `dask` (a dask cluster, `run.cluster`; docs/cluster.md).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

import torch

from qd.components import ComponentConfig
from qd.evaluation.batch import BatchEvaluator, TensorBatchEvaluator
from qd.evaluation.dask_batch import DaskBatchEvaluator
from qd.evaluation.dask_program import DaskProgramEvaluator
from qd.evaluation.program import ProgramEvaluator
from qd.protocols import Problem
from qd.registry import Registry
from qd.sandbox import SandboxLimits

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)


@runtime_checkable
class Evaluator(Protocol[In, Out]):
    """Evaluates what the run proposes; `close` releases workers, clusters, pools."""

    def __call__(self, items: In, /) -> Out:
        """Evaluate a batch of solutions (numeric runs) or one program's code."""

    def close(self) -> None:
        """Release what the evaluator holds; idempotent."""


class EvaluatorBackend(Protocol):
    """Builds the evaluators of both run kinds for one place of execution."""

    def batch(self, problem: Problem, config: ComponentConfig, device: torch.device,
              run: Any) -> Evaluator:
        """The numeric evaluator of `problem` (built from `config`) under run options `run`."""

    def program(self, problem: Any, limits: SandboxLimits, run: Any) -> Evaluator:
        """The program evaluator of program problem config `problem`."""


#: Evaluator backends by name.
evaluator_backends: Registry[type[EvaluatorBackend]] = Registry("evaluator backend")


@evaluator_backends.register("local")
class LocalBackend:
    """Evaluate in this process: torch batches on the run's device, programs sandboxed here."""

    def batch(self, problem: Problem, config: ComponentConfig, device: torch.device,
              run: Any) -> BatchEvaluator:
        """The numeric evaluator of `problem` under run options `run` (tensors in and out on
        the torch backend, numpy on pyribs').
        """
        if getattr(run, "backend", "pyribs") == "torch":
            return TensorBatchEvaluator(problem, device, run.chunk_size)
        return BatchEvaluator(problem, device, run.chunk_size)

    def program(self, problem: Any, limits: SandboxLimits, run: Any) -> ProgramEvaluator:
        """The program evaluator of program problem config `problem`."""
        return ProgramEvaluator(problem, limits)


@evaluator_backends.register("dask")
class DaskBackend:
    """Evaluate on the dask cluster at `run.cluster` (`local:N` starts one here)."""

    def batch(self, problem: Problem, config: ComponentConfig, device: torch.device,
              run: Any) -> DaskBatchEvaluator:
        """The numeric evaluator of `problem` under run options `run`."""
        return DaskBatchEvaluator(problem, config, run.cluster, run.chunk_size)

    def program(self, problem: Any, limits: SandboxLimits, run: Any) -> DaskProgramEvaluator:
        """The program evaluator of program problem config `problem`."""
        return DaskProgramEvaluator(ProgramEvaluator(problem, limits), run.cluster)


def evaluator_backend(run: Any) -> EvaluatorBackend:
    """The backend that run options `run` ask for: `dask` with `run.cluster`, else `local`."""
    return evaluator_backends.get("dask" if run.cluster else "local")()
