"""Built-in problems, registered by name (see `qd problems`)."""

from problems import arm, linear_projection, python_file  # noqa: F401  (registration)
from problems.base import TorchProblem
from problems.registry import problem_registry, register_problem

__all__ = ["TorchProblem", "problem_registry", "register_problem"]
