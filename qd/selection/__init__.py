"""Parent selection on plain arrays (`ElitePool`), chosen by name (see docs/bandits.md).

Selectors register in `selector_registry` and are built with `make_selector(config, seed)`.
"""

from qd.selection.base import (
    SelectorBase,
    SelectorConfig,
    make_selector,
    register_selector,
    selector_config,
    selector_from_state,
    selector_registry,
)
from qd.selection.curiosity import Curiosity, CuriosityConfig
from qd.selection.islands import Islands, IslandsConfig
from qd.selection.pool import ElitePool
from qd.selection.weighted import (
    FitnessProportional,
    FitnessProportionalConfig,
    Novelty,
    NoveltyConfig,
    PowerLaw,
    PowerLawConfig,
    ShinkaWeighted,
    ShinkaWeightedConfig,
    Uniform,
    UniformConfig,
)

__all__ = [
    "Curiosity",
    "CuriosityConfig",
    "ElitePool",
    "FitnessProportional",
    "FitnessProportionalConfig",
    "Islands",
    "IslandsConfig",
    "Novelty",
    "NoveltyConfig",
    "PowerLaw",
    "PowerLawConfig",
    "SelectorBase",
    "SelectorConfig",
    "ShinkaWeighted",
    "ShinkaWeightedConfig",
    "Uniform",
    "UniformConfig",
    "make_selector",
    "register_selector",
    "selector_config",
    "selector_from_state",
    "selector_registry",
]
