"""Variation operators, registered by name (gaussian, cma_me, alternating, gp_tree, ...)."""

from mutators import (  # noqa: F401  (registration)
    alternating,
    cma,
    dqd,
    gaussian,
    go_explore,
    gp_tree,
    iso_line,
)
from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import emitter_registry, register_emitter

__all__ = [
    "EmitterConfig",
    "EmitterContext",
    "EmitterFamily",
    "emitter_registry",
    "register_emitter",
]
