"""Built-in problems, registered by name (see `qd problems`)."""

from problems import (  # noqa: F401  (registration)
    arm,
    hexapod,
    linear_projection,
    maze,
    mujoco_tasks,
    program,
    python_file,
    symbolic_regression,
)
from problems.base import TorchProblem
from problems.registry import problem_registry, register_problem

__all__ = ["TorchProblem", "problem_registry", "register_problem"]
