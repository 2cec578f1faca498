"""GP-tree variation (Koza 1992) with deap's subtree crossover and uniform subtree mutation.

The emitter works on the GP-tree genomes of `problems.gp_trees`: it reads the primitive set and
size limits from the problem's `x0` header, draws parents from the archive, decodes them to deap
`PrimitiveTree`s, applies `gp.cxOnePoint` and `gp.mutUniform` (Fortin et al., "DEAP: Evolutionary
Algorithms Made Easy", JMLR 2012), and encodes the children back to vectors. While the archive is
empty it asks ramped half-and-half random trees (`gp.genHalfAndHalf`).

deap draws from Python's global `random` module; each emitter keeps its own `random.Random`
state and swaps it in only around deap calls, so runs are reproducible and emitters (and any other
user of `random`) do not disturb each other.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Literal

import numpy as np
from deap import gp
from pydantic import Field, model_validator
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter
from problems.gp_trees import GenomeFormat, within_limits
from qd.errors import SpecError

#: Attempts at a child within the size limits before the parent is copied instead.
RETRIES = 10


class GPTreeConfig(EmitterConfig):
    """Config of the `gp_tree` emitter."""

    name: Literal["gp_tree"] = "gp_tree"
    p_crossover: float = Field(0.5, ge=0, le=1, description="Probability of subtree crossover.")
    p_mutation: float = Field(
        0.5, ge=0, le=1, description="Probability of subtree mutation (always when no crossover)."
    )
    mutation_depth: int = Field(2, ge=0, le=17, description="Max depth of a mutation subtree.")
    init_min_depth: int = Field(1, ge=0, le=17, description="Min depth of initial random trees.")
    init_max_depth: int = Field(3, ge=0, le=17, description="Max depth of initial random trees.")

    @model_validator(mode="after")
    def _depth_order(self) -> GPTreeConfig:
        if self.init_min_depth > self.init_max_depth:
            raise ValueError(
                f"init_min_depth ({self.init_min_depth}) exceeds "
                f"init_max_depth ({self.init_max_depth})"
            )
        return self


@contextmanager
def own_random(rng: random.Random) -> Iterator[None]:
    """Run a block with the global `random` state replaced by `rng`'s, then swap back."""
    saved = random.getstate()
    random.setstate(rng.getstate())
    try:
        yield
    finally:
        rng.setstate(random.getstate())
        random.setstate(saved)


class GPTreeEmitter(EmitterBase):
    """A pyribs emitter that varies GP-tree genomes with deap operators.

    Args:
        archive: The archive to draw parents from.
        genome: The genome format (primitive set and limits).
        config: Variation options.
        seed: Seed of the emitter's own random state.
    """

    def __init__(
        self, archive: ArchiveBase, genome: GenomeFormat, config: GPTreeConfig, seed: int
    ) -> None:
        super().__init__(
            archive, solution_dim=genome.length, bounds=None, lower_bounds=None, upper_bounds=None
        )
        self.genome = genome
        self.config = config
        self._rng = random.Random(seed)
        self._mutation_expr = partial(gp.genFull, min_=0, max_=config.mutation_depth)

    @property
    def batch_size(self) -> int:
        """Solutions per `ask`."""
        return self.config.batch_size

    def ask(self) -> np.ndarray:
        """`batch_size` genomes: random trees while the archive is empty, else varied elites."""
        n = self.batch_size
        if self.archive.empty:
            with own_random(self._rng):
                trees = [self._random_tree() for _ in range(n)]
        else:
            parents = self.archive.sample_elites(n)["solution"]
            mates = self.archive.sample_elites(n)["solution"]
            with own_random(self._rng):
                trees = [self._child(p, m) for p, m in zip(parents, mates, strict=True)]
        return np.stack([self.genome.encode(t) for t in trees])

    def _random_tree(self) -> gp.PrimitiveTree:
        cfg = self.config
        high = min(cfg.init_max_depth, self.genome.max_depth)
        low = min(cfg.init_min_depth, high)
        for _ in range(RETRIES):
            tree = gp.PrimitiveTree(gp.genHalfAndHalf(self.genome.pset, low, high))
            if within_limits(tree, self.genome):
                return tree
        return gp.PrimitiveTree(gp.genGrow(self.genome.pset, 0, 0))

    def _child(self, parent: np.ndarray, mate: np.ndarray) -> gp.PrimitiveTree:
        first = self.genome.decode(parent)
        for _ in range(RETRIES):
            child = self.genome.decode(parent)
            crossed = random.random() < self.config.p_crossover
            if crossed:
                child, _ = gp.cxOnePoint(child, self.genome.decode(mate))
            if not crossed or random.random() < self.config.p_mutation:
                (child,) = gp.mutUniform(child, self._mutation_expr, self.genome.pset)
            if within_limits(child, self.genome):
                return child
        return first


@register_emitter("gp_tree")
class GPTree(EmitterFamily):
    """Subtree crossover + uniform subtree mutation of GP trees (needs a GP-tree problem)."""

    Config = GPTreeConfig

    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        cfg = self.config
        assert isinstance(cfg, GPTreeConfig)
        try:
            genome = GenomeFormat.from_genome(self.x0(context))
        except ValueError as exc:
            raise SpecError(
                f"emitters: gp_tree varies GP-tree genomes and needs a GP problem such as "
                f"symbolic_regression ({exc})"
            ) from None
        return GPTreeEmitter(archive, genome, cfg, seed)
