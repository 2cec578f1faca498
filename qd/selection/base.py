"""Parent-selector registry, config base and the machinery every selector shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from qd.bandits.base import new_rng, rng_state
from qd.components import ComponentConfig
from qd.registry import Registry
from qd.selection.pool import ElitePool

selector_registry: Registry[type] = Registry("selector")
register_selector = selector_registry.register


class SelectorConfig(ComponentConfig):
    """Options shared by every parent selector (none yet beyond `name`)."""


class SelectorBase:
    """A parent-selection policy with an internal numpy Generator seeded at construction.

    `select(pool, n)` returns `n` positions into `pool` (with replacement). Selectors that learn
    take `feedback(parent_ids, added, child_ids)` after the children were evaluated; selectors
    with a schedule take `end_generation(pool)`. The whole state round-trips through
    `state_dict()` / `load_state_dict()` as JSON.

    Subclasses set `Config` and implement `weights(pool)` (non-negative, not all zero), or
    override `select`.

    Args:
        config: The selector's config model.
        seed: Seed of the internal numpy Generator.
    """

    Config: ClassVar[type[SelectorConfig]]

    def __init__(self, config: SelectorConfig, seed: int | None = None) -> None:
        if not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__}")
        self.config = config
        self.rng = new_rng(seed)
        self.generation = 0

    def weights(self, pool: ElitePool) -> np.ndarray:
        """Return the unnormalised selection weight of each elite of `pool`."""
        raise NotImplementedError

    def probabilities(self, pool: ElitePool) -> np.ndarray:
        """Return the probability of each elite of `pool` to be drawn."""
        w = np.asarray(self.weights(pool), dtype=np.float64)
        if w.shape != (len(pool),) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"{self.config.name}: weights must be finite and >= 0")
        total = w.sum()
        return w / total if total > 0 else np.full(len(pool), 1.0 / len(pool))

    def select(self, pool: ElitePool, n: int) -> np.ndarray:
        """Draw `n` parents; returns their positions in `pool` (int64, with replacement)."""
        check_request(pool, n)
        return self.rng.choice(len(pool), size=n, p=self.probabilities(pool)).astype(np.int64)

    def feedback(self, parent_ids: Sequence[int] | np.ndarray, added: Sequence[bool] | np.ndarray,
                 child_ids: Sequence[int | None] | np.ndarray | None = None) -> None:
        """Tell the selector which parents' children entered the archive (default: ignored).

        Args:
            parent_ids: Id of each child's parent.
            added: Whether each child was added to the archive.
            child_ids: Id each added child got (None, or anything, for the others).
        """

    def end_generation(self, pool: ElitePool) -> dict[str, Any]:
        """Close a generation; returns what changed (JSON data; nothing by default)."""
        self.generation += 1
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Return the full state, RNG included, as JSON-serialisable plain data."""
        return {"name": self.config.name, "config": self.config.model_dump(mode="json"),
                "generation": self.generation, "rng": rng_state(self.rng),
                **self._extra_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict` of a selector with the same config."""
        if state["config"] != self.config.model_dump(mode="json"):
            raise ValueError("state was saved by a selector with another config")
        self.generation = int(state["generation"])
        self.rng = new_rng(None, state["rng"])
        self._load_extra_state(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what `_extra_state` saved."""


def check_request(pool: ElitePool, n: int) -> None:
    """Reject an empty pool or a negative count."""
    if len(pool) == 0:
        raise ValueError("cannot select parents from an empty pool")
    if n < 0:
        raise ValueError(f"cannot select {n} parents")


def selector_config(data: SelectorConfig | Mapping[str, Any]) -> SelectorConfig:
    """Validate a selector config given as a model or as plain data chosen by `name`.

    Raises:
        RegistryError: The name is unknown.
        SpecError: An option is invalid or unknown.
    """
    return selector_registry.config(data)  # type: ignore[no-any-return]


def make_selector(config: SelectorConfig | Mapping[str, Any],
                  seed: int | None = None) -> SelectorBase:
    """Build the registered selector named by `config`."""
    cfg = selector_config(config)
    return selector_registry.get(cfg.name)(cfg, seed)


def selector_from_state(state: Mapping[str, Any]) -> SelectorBase:
    """Rebuild a selector (config and state) from its `state_dict()`."""
    selector = make_selector(state["config"])
    selector.load_state_dict(state)
    return selector
