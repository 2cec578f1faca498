"""Variation operators, registered by name: gaussian, iso_line, cma_me, cma_mae, gp_tree."""

from mutators import cma, gaussian, gp_tree, iso_line  # noqa: F401  (registration)
from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import emitter_registry, register_emitter

__all__ = [
    "EmitterConfig",
    "EmitterContext",
    "EmitterFamily",
    "emitter_registry",
    "register_emitter",
]
