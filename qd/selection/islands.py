"""Island parent selection with ring / random migration and FunSearch resets (Nature 625:468).

k sub-populations exchange their best elites along a ring or at random; the periodic reset of
the weakest islands follows FunSearch (Romera-Paredes et al. 2024), as also used by
ShinkaEvolve (Lange et al. 2025, arXiv:2509.19349).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from qd.errors import QDError
from qd.selection.base import (
    SelectorBase,
    SelectorConfig,
    check_request,
    make_selector,
    register_selector,
    selector_config,
)
from qd.selection.pool import ElitePool


class IslandsConfig(SelectorConfig):
    """Config of `islands`."""

    name: Literal["islands"] = "islands"
    islands: int = Field(4, ge=1, le=1024, description="Number k of islands.")
    choice: Literal["round_robin", "random"] = Field(
        "round_robin", description="Which island each select() call draws from."
    )
    within: dict[str, Any] = Field(
        default_factory=lambda: {"name": "uniform"}, description="Selector inside an island."
    )
    migration_interval: int = Field(10, ge=0, description="Generations between migrations.")
    topology: Literal["ring", "random"] = Field("ring", description="Where migrants go.")
    migrants: int = Field(1, ge=0, description="Best elites each island sends per migration.")
    reset_interval: int = Field(0, ge=0, description="Generations between resets (0: never).")
    reset_fraction: float = Field(0.5, gt=0, lt=1, description="Share of islands reset.")

    @field_validator("within")
    @classmethod
    def _valid_within(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("name") == "islands":
            raise ValueError("islands cannot be nested")
        try:
            return selector_config(value).model_dump(mode="json")
        except QDError as err:  # unknown name or option: report it as this field's error
            raise ValueError(str(err)) from None


@register_selector("islands")
class Islands(SelectorBase):
    """Parents come from one island at a time; islands exchange their best and get reset.

    Membership (id → islands) is the selector's state. Ids it has not seen are placed on
    `pool.islands` (mod k) when given, else round-robin; a child reported through `feedback`
    joins the island its parent was drawn from. Migration copies each island's `migrants` best
    elites to the next island (ring) or to a random other island, every `migration_interval`
    generations. A reset (every `reset_interval` generations) empties the weakest
    `reset_fraction` of the islands (by best objective), retires the elites left on no island,
    and seeds each emptied island with the best elite of a random surviving island.

    Call `end_generation(pool)` with the whole archive once per generation.
    """

    Config = IslandsConfig

    def __init__(self, config: SelectorConfig, seed: int | None = None) -> None:
        assert isinstance(config, IslandsConfig)
        seeds = [None, None] if seed is None else [
            int(s) for s in np.random.SeedSequence(seed).generate_state(2)]
        super().__init__(config, seeds[0])
        self.k = config.islands
        self.inner = make_selector(config.within, seeds[1])
        self.members: dict[int, list[int]] = {}
        self.retired: set[int] = set()
        self.drawn_from: dict[int, int] = {}
        self.next_island, self.next_new = 0, 0

    # -- membership -------------------------------------------------------------------------
    def _admit(self, pool: ElitePool) -> None:
        for pos, raw in enumerate(pool.ids.tolist()):
            if raw in self.members or raw in self.retired:
                continue
            if pool.islands is not None:
                island = int(pool.islands[pos]) % self.k
            else:
                island, self.next_new = self.next_new, (self.next_new + 1) % self.k
            self.members[raw] = [island]

    def positions_on(self, pool: ElitePool, island: int) -> np.ndarray:
        """Return the positions in `pool` of the elites on `island`."""
        return np.array([p for p, i in enumerate(pool.ids.tolist())
                         if island in self.members.get(i, ())], dtype=np.int64)

    def islands_of(self, ids: Sequence[int] | np.ndarray) -> list[list[int]]:
        """Return the islands of each id ([] for an unknown or retired id)."""
        return [list(self.members.get(int(i), [])) for i in ids]

    # -- selection --------------------------------------------------------------------------
    def select(self, pool: ElitePool, n: int) -> np.ndarray:
        """Draw `n` parents from one island; returns positions in `pool`."""
        check_request(pool, n)
        self._admit(pool)
        occupied = [i for i in range(self.k) if self.positions_on(pool, i).size]
        if not occupied:
            raise ValueError("no island has a member in the pool")
        cfg = self.config
        assert isinstance(cfg, IslandsConfig)
        if cfg.choice == "random":
            island = int(self.rng.choice(occupied))
        else:
            island = min(occupied, key=lambda i: (i - self.next_island) % self.k)
            self.next_island = (island + 1) % self.k
        positions = self.positions_on(pool, island)
        picks = positions[self.inner.select(pool.subset(positions), n)]
        for pid in pool.ids[picks].tolist():
            self.drawn_from[pid] = island
        return picks

    def feedback(self, parent_ids: Sequence[int] | np.ndarray, added: Sequence[bool] | np.ndarray,
                 child_ids: Sequence[int | None] | np.ndarray | None = None) -> None:
        """Place each added child on its parent's island and pass the feedback inside."""
        if child_ids is not None:
            for pid, ok, cid in zip(parent_ids, added, child_ids, strict=True):
                pid = int(pid)
                if not ok or cid is None or pid not in self.members:
                    continue
                island = self.drawn_from.get(pid, self.members[pid][0])
                self.members[int(cid)] = [island]
                self.retired.discard(int(cid))
        self.inner.feedback(parent_ids, added, child_ids)

    # -- generations ------------------------------------------------------------------------
    def end_generation(self, pool: ElitePool) -> dict[str, Any]:
        """Count a generation, migrate and reset when due; returns what moved."""
        self._admit(pool)
        live = set(pool.ids.tolist())
        self.members = {i: isl for i, isl in self.members.items() if i in live}
        self.retired &= live
        self.drawn_from.clear()
        self.inner.end_generation(pool)
        super().end_generation(pool)
        cfg = self.config
        assert isinstance(cfg, IslandsConfig)
        events: dict[str, Any] = {"generation": self.generation, "migrations": [], "reset": []}
        g = self.generation
        if cfg.migration_interval and g % cfg.migration_interval == 0 and self.k > 1:
            events["migrations"] = self._migrate(pool, cfg)
        if cfg.reset_interval and g % cfg.reset_interval == 0 and self.k > 1:
            events["reset"] = self._reset(pool, cfg)
        return events

    def _best_on(self, pool: ElitePool, island: int, m: int) -> list[int]:
        pos = self.positions_on(pool, island)
        order = pos[np.argsort(-pool.objectives[pos], kind="stable")]
        return pool.ids[order[:m]].tolist()

    def _migrate(self, pool: ElitePool, cfg: IslandsConfig) -> list[list[int]]:
        moves = []
        for src in range(self.k):
            for eid in self._best_on(pool, src, cfg.migrants):
                if cfg.topology == "ring":
                    dst = (src + 1) % self.k
                else:
                    dst = int(self.rng.choice([i for i in range(self.k) if i != src]))
                moves.append([eid, src, dst])
        for eid, _, dst in moves:
            if dst not in self.members[eid]:
                self.members[eid] = sorted([*self.members[eid], dst])
        return moves

    def _reset(self, pool: ElitePool, cfg: IslandsConfig) -> list[int]:
        best = []
        for island in range(self.k):
            top = self._best_on(pool, island, 1)
            best.append(self._objective(pool, top[0]) if top else -np.inf)
        n_reset = max(1, int(self.k * cfg.reset_fraction))
        weakest = sorted(np.argsort(np.asarray(best), kind="stable")[:n_reset].tolist())
        survivors = [i for i in range(self.k) if i not in weakest and np.isfinite(best[i])]
        for eid in list(self.members):
            kept = [i for i in self.members[eid] if i not in weakest]
            if kept:
                self.members[eid] = kept
            else:
                del self.members[eid]
                self.retired.add(eid)
        for island in weakest:
            if survivors:
                donor = int(self.rng.choice(survivors))
                seed_id = self._best_on(pool, donor, 1)[0]
                self.members[seed_id] = sorted([*self.members[seed_id], island])
        return weakest

    @staticmethod
    def _objective(pool: ElitePool, eid: int) -> float:
        return float(pool.objectives[int(np.flatnonzero(pool.ids == eid)[0])])

    # -- state ------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        keys = sorted(self.members)
        drawn = sorted(self.drawn_from)
        return {"member_ids": keys, "member_islands": [self.members[k] for k in keys],
                "retired": sorted(self.retired), "next_island": self.next_island,
                "next_new": self.next_new, "drawn_ids": drawn,
                "drawn_islands": [self.drawn_from[k] for k in drawn],
                "inner": self.inner.state_dict()}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.members = {int(k): [int(i) for i in v]
                        for k, v in zip(state["member_ids"], state["member_islands"], strict=True)}
        self.retired = {int(i) for i in state["retired"]}
        self.next_island, self.next_new = int(state["next_island"]), int(state["next_new"])
        self.drawn_from = {int(k): int(v) for k, v in zip(state["drawn_ids"],
                                                          state["drawn_islands"], strict=True)}
        self.inner.load_state_dict(state["inner"])
