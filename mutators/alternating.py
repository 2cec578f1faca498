"""Emitters that alternate novelty exploration and local reward search (SERENE / STAX style).

Paolo et al., "Sparse Reward Exploration via Novelty Search and Emitters" (GECCO 2021, SERENE)
and "Discovering and Exploiting Sparse Rewards in a Learned Behavior Space" (STAX, 2021) split
the budget between an exploration process (novelty search) and local *reward emitters* started
from solutions where reward was found; an emitter runs while it improves and is terminated when
it stagnates, and the two processes alternate in fixed chunks of budget.

Here each emitter alternates by iteration: `explore_iterations` iterations of Gaussian mutation of
parents drawn uniformly from the archive (novelty search when the archive is a `proximity`
archive), then up to `exploit_iterations` iterations of a local search on the objective (a
(1+lambda) hill-climber with success-based step size, or a small CMA-ES) started from one of the
archive's best elites. The local search ends the reward phase early when its best objective has
not improved for `patience` iterations; one that was still improving when its phase ran out
continues in the next reward phase. Every solution is told to the archive as usual, so reward-phase
solutions enter when the archive's rules accept them.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import numpy as np
from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase
from ribs.emitters.opt import CMAEvolutionStrategy

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter

EXPLORE, EXPLOIT = "explore", "exploit"
#: How many start points an emitter remembers, so it does not restart on a used one.
_USED_STARTS = 4096


class AlternatingConfig(EmitterConfig):
    """Config of the `alternating` emitter."""

    name: Literal["alternating"] = "alternating"
    sigma: float = Field(0.5, gt=0, description="Gaussian mutation strength while exploring.")
    explore_iterations: int = Field(
        10, ge=1, le=1_000_000, description="Iterations of each exploration (novelty) phase."
    )
    exploit_iterations: int = Field(
        10, ge=1, le=1_000_000, description="Most iterations of each reward (local search) phase."
    )
    patience: int = Field(
        3, ge=1, le=1_000_000,
        description="End the local search after this many iterations without improvement.",
    )
    local: Literal["hill_climber", "cma_es"] = Field(
        "hill_climber", description="Local search of the reward phase."
    )
    local_sigma: float = Field(0.2, gt=0, description="Initial step size of the local search.")
    sigma_growth: float = Field(
        1.2, ge=1, description="Hill-climber step-size factor after an improving iteration."
    )
    sigma_decay: float = Field(
        0.7, gt=0, le=1, description="Hill-climber step-size factor after a failed iteration."
    )
    start_top_k: int = Field(
        5, ge=1, le=100_000,
        description="Start each local search from a random one of the k best unused elites.",
    )


class AlternatingEmitter(EmitterBase):
    """Alternate novelty exploration and objective-driven local search by iteration.

    Args:
        archive: The archive parents are drawn from.
        x0: Centre of the first exploration batch while the archive is empty.
        config: The emitter's settings.
        bounds: (low, high) per coordinate, or None when unbounded.
        seed: Seed of the emitter's numpy Generator (its only source of randomness).
    """

    def __init__(
        self,
        archive: ArchiveBase,
        *,
        x0: np.ndarray,
        config: AlternatingConfig,
        bounds: Any = None,
        seed: int | None = None,
    ) -> None:
        EmitterBase.__init__(
            self, archive, solution_dim=archive.solution_dim, bounds=bounds,
            lower_bounds=None, upper_bounds=None,
        )
        self._dtype = archive.dtypes["solution"]
        self._x0 = np.asarray(x0, dtype=self._dtype)
        self._cfg = config
        self._batch_size = config.batch_size
        self._rng = np.random.default_rng(seed)
        self.phase = EXPLORE
        self._phase_iter = 0
        self._asked: str | None = None
        #: Iterations asked in each phase, and reward phases started / ended by stagnation.
        self.asks = {EXPLORE: 0, EXPLOIT: 0}
        self.local_starts = 0
        self.terminations = 0
        # Local search state: incumbent, its objective, step size, iterations without gain.
        self._active = False
        self._center = self._x0.copy()
        self._center_obj = -np.inf
        self._sigma = config.local_sigma
        self._stall = 0
        self._cma: CMAEvolutionStrategy | None = None
        self._used: list[bytes] = []

    @property
    def batch_size(self) -> int:
        """Solutions asked per iteration."""
        return self._batch_size

    @property
    def best_local_objective(self) -> float:
        """Best objective of the current (or last) local search."""
        return float(self._center_obj)

    def _clip(self, solutions: np.ndarray) -> np.ndarray:
        return np.clip(solutions, self.lower_bounds, self.upper_bounds)

    def ask(self) -> np.ndarray:
        """Exploration: mutate uniform elites; reward phase: sample the local search."""
        self._asked = self.phase
        self.asks[self.phase] += 1
        shape = (self._batch_size, self.solution_dim)
        if self.phase == EXPLORE:
            if self.archive.empty:
                parents = np.broadcast_to(self._x0, shape)
            else:
                elites = self.archive.data("solution")
                parents = elites[self._rng.integers(len(elites), size=self._batch_size)]
            noise = self._rng.normal(scale=self._cfg.sigma, size=shape)
            return self._clip(parents + noise).astype(self._dtype)
        if not self._active:
            self._start_local_search()
        if self._cma is not None:
            return np.array(self._cma.ask(), dtype=self._dtype)
        noise = self._rng.normal(scale=self._sigma, size=shape)
        return self._clip(self._center + noise).astype(self._dtype)

    def _start_local_search(self) -> None:
        """Start from a random one of the `start_top_k` best elites not used as a start yet."""
        if self.archive.empty:
            start, start_obj = self._x0.copy(), -np.inf
        else:
            data = self.archive.data(["solution", "objective"])
            order = np.argsort(-data["objective"], kind="stable")
            used, k = set(self._used), self._cfg.start_top_k
            pool: list[int] = []
            for i in order:
                if _digest(data["solution"][i]) not in used:
                    pool.append(int(i))
                    if len(pool) == k:
                        break
            pool = pool or [int(i) for i in order[:k]]
            pick = pool[int(self._rng.integers(len(pool)))]
            start = np.array(data["solution"][pick], dtype=self._dtype)
            start_obj = float(data["objective"][pick])
            self._used = [*self._used[-(_USED_STARTS - 1):], _digest(start)]
        self._active = True
        self._center, self._center_obj = start, start_obj
        self._sigma = self._cfg.local_sigma
        self._stall = 0
        self.local_starts += 1
        if self._cfg.local == "cma_es":
            self._cma = CMAEvolutionStrategy(
                sigma0=self._cfg.local_sigma,
                solution_dim=self.solution_dim,
                batch_size=self._batch_size,
                seed=int(self._rng.integers(2**31)),
                dtype=self._dtype,
                lower_bounds=self.lower_bounds,
                upper_bounds=self.upper_bounds,
            )
            self._cma.reset(start)

    def tell(
        self,
        solution: np.ndarray,
        objective: np.ndarray,
        measures: np.ndarray,
        add_info: dict[str, np.ndarray],
        **fields: np.ndarray,
    ) -> None:
        """Advance the phase; in the reward phase, accept by objective and watch stagnation."""
        if self._asked is None:
            return
        asked, self._asked = self._asked, None
        self._phase_iter += 1
        if asked == EXPLORE:
            if self._phase_iter >= self._cfg.explore_iterations:
                self._switch(EXPLOIT)
            return
        objective = np.asarray(objective, dtype=float)
        best = int(np.argmax(objective))
        improved = bool(objective[best] > self._center_obj)
        if improved:
            self._center = np.array(solution[best], dtype=self._dtype)
            self._center_obj = float(objective[best])
            self._stall = 0
        else:
            self._stall += 1
        stop = self._stall >= self._cfg.patience
        if self._cma is not None:
            ranking = np.argsort(-objective, kind="stable")
            self._cma.tell(ranking, objective[ranking], num_parents=self._batch_size // 2)
            stop = stop or bool(self._cma.check_stop(objective[ranking]))
        else:
            self._sigma *= self._cfg.sigma_growth if improved else self._cfg.sigma_decay
        if stop:
            self._active = False
            self._cma = None
            self.terminations += 1
            self._switch(EXPLORE)
        elif self._phase_iter >= self._cfg.exploit_iterations:
            self._switch(EXPLORE)

    def _switch(self, phase: str) -> None:
        self.phase = phase
        self._phase_iter = 0


def _digest(solution: np.ndarray) -> bytes:
    """A process-independent fingerprint of a solution (Python's `hash` is salted)."""
    return hashlib.blake2b(np.ascontiguousarray(solution).tobytes(), digest_size=16).digest()


@register_emitter("alternating")
class Alternating(EmitterFamily):
    """SERENE/STAX-style alternation of novelty exploration and local reward search."""

    Config = AlternatingConfig

    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        cfg = self.config
        assert isinstance(cfg, AlternatingConfig)
        return AlternatingEmitter(
            archive, x0=self.x0(context), config=cfg, bounds=context.bounds, seed=seed
        )
