"""Emitters that live on the run's torch device (the `run.backend = "torch"` path)."""

from mutators.torch.base import TensorEmitterGroup, bounds_tensors, generator_for, seed_of

__all__ = ["TensorEmitterGroup", "bounds_tensors", "generator_for", "seed_of"]
