"""The problem registry: built-in and user problems register here by name."""

from __future__ import annotations

from qd.registry import Registry

problem_registry: Registry[type] = Registry("problem")
register_problem = problem_registry.register
