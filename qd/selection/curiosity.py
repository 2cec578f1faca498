"""Curiosity-driven parent selection (Cully & Demiris 2018, IEEE TEVC 22(2):245).

From "Quality and Diversity Optimization: A Unifying Modular Framework". Each elite has a
curiosity score that rises by `reward` whenever one of its children enters the archive and
falls by `penalty` when a child does not; parents are drawn with probability
softmax(score / temperature), so elites whose offspring keep improving the archive are chosen
more. (The paper draws proportionally to the score; the softmax keeps weights positive without
an arbitrary offset.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from qd.selection.base import SelectorBase, SelectorConfig, register_selector
from qd.selection.pool import ElitePool


class CuriosityConfig(SelectorConfig):
    """Config of `curiosity`."""

    name: Literal["curiosity"] = "curiosity"
    reward: float = Field(1.0, ge=0, description="Score added when a child is added.")
    penalty: float = Field(0.5, ge=0, description="Score removed when a child is rejected.")
    temperature: float = Field(1.0, gt=0, description="Softmax temperature over the scores.")
    initial: float = Field(0.0, description="Score of an elite never used as a parent.")


@register_selector("curiosity")
class Curiosity(SelectorBase):
    """Softmax over curiosity scores updated from `feedback`; unknown elites start at `initial`.

    `end_generation(pool)` forgets the scores of ids no longer in `pool`.
    """

    Config = CuriosityConfig

    def __init__(self, config: SelectorConfig, seed: int | None = None) -> None:
        super().__init__(config, seed)
        self.scores: dict[int, float] = {}

    def score_of(self, ids: np.ndarray) -> np.ndarray:
        """Return the curiosity score of each id."""
        cfg = self.config
        assert isinstance(cfg, CuriosityConfig)
        return np.array([self.scores.get(int(i), cfg.initial) for i in ids], dtype=np.float64)

    def weights(self, pool: ElitePool) -> np.ndarray:
        """Return softmax weights of the scores."""
        cfg = self.config
        assert isinstance(cfg, CuriosityConfig)
        z = self.score_of(pool.ids) / cfg.temperature
        return np.exp(z - z.max())

    def feedback(self, parent_ids: Sequence[int] | np.ndarray, added: Sequence[bool] | np.ndarray,
                 child_ids: Sequence[int | None] | np.ndarray | None = None) -> None:
        """Raise the score of parents whose child was added, lower the others'."""
        cfg = self.config
        assert isinstance(cfg, CuriosityConfig)
        if len(parent_ids) != len(added):
            raise ValueError("parent_ids and added must have the same length")
        for pid, ok in zip(parent_ids, added, strict=True):
            key = int(pid)
            delta = cfg.reward if ok else -cfg.penalty
            self.scores[key] = self.scores.get(key, cfg.initial) + delta

    def end_generation(self, pool: ElitePool) -> dict[str, Any]:
        """Forget the scores of elites that left the archive."""
        live = set(pool.ids.tolist())
        gone = [k for k in self.scores if k not in live]
        for k in gone:
            del self.scores[k]
        super().end_generation(pool)
        return {"forgotten": len(gone)}

    def _extra_state(self) -> dict[str, Any]:
        keys = sorted(self.scores)
        return {"ids": keys, "scores": [self.scores[k] for k in keys]}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.scores = {int(k): float(v) for k, v in zip(state["ids"], state["scores"],
                                                          strict=True)}
