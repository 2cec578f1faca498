"""Evaluators: turn a batch of solutions into objectives and measures."""

from qd.evaluation.batch import BatchEvaluator

__all__ = ["BatchEvaluator"]
