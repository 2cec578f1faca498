"""Learned measures in the numeric loop: encode observations, refit on schedule, re-insert.

AURORA (Cully 2019; Grillotti & Cully 2022) and TAXONS (Paolo et al. 2020) replace hand-made
behaviour descriptors by the latent code of an autoencoder trained on raw observations of the
evaluated solutions. qd does the same with any problem that can `observe` (e.g. the maze's
trajectory, the arm's joint positions): the problem is wrapped so that evaluation returns the raw
observation, each batch is encoded before it is told to the archive (the observation rides along
as an extra archive field), and at the scheduled iterations the encoder is retrained on the
archive's observations plus the new batch and every elite is re-inserted under the new encoder
(AURORA's container update: an emptied archive takes the elites back in one batch, so the best
elite per new cell survives). Refit points, minibatches and weights are seeded, so a resumed run
refits exactly as the uninterrupted one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch

from qd.learned.autoencoder import Autoencoder
from qd.learned.config import LearnedMeasuresConfig

if TYPE_CHECKING:
    from archives import QDArchive

log = logging.getLogger(__name__)

#: Name of the archive's extra field holding each elite's raw observation.
OBSERVATION_FIELD = "observation"


@runtime_checkable
class ObservableProblem(Protocol):
    """A problem that can return raw observations of its solutions' behaviour."""

    observation_dim: int

    def observe(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Objectives (B,), hand-made measures (B, M) and raw observations (B, observation_dim)."""
        ...


class ObservedProblem:
    """The problem as a learned-measure run evaluates it: measures are raw observations.

    The archive's measure space is the encoder's latent code scaled into [0, 1] per dimension,
    hence `measure_bounds`; `measure_dim` is the length of what `evaluate` returns.
    """

    def __init__(self, problem: Any, latent_dim: int) -> None:
        self.inner = problem
        self.solution_dim = problem.solution_dim
        self.measure_dim = problem.observation_dim
        self.measure_bounds = tuple((0.0, 1.0) for _ in range(latent_dim))
        self.objective_bounds = problem.objective_bounds
        self.solution_bounds = problem.solution_bounds
        self.x0 = problem.x0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Objectives (B,) and raw observations (B, observation_dim)."""
        objectives, _, observations = self.inner.observe(solutions)
        return objectives, observations


class LearnedMeasures:
    """The encoder, its [0, 1] scaling and its refit schedule; pickled into checkpoints.

    Args:
        config: The `[measures]` section.
        obs_dim: Length of an observation.
        seed: Seed of the weights and of the training minibatches.
    """

    def __init__(self, config: LearnedMeasuresConfig, obs_dim: int, seed: int) -> None:
        self.config = config
        self.model = Autoencoder(obs_dim, config.latent_dim, config.hidden, seed)
        self.rng = np.random.default_rng(seed)
        self.low = np.zeros(config.latent_dim)
        self.high = np.ones(config.latent_dim)
        self.next_refit = 1
        self.interval = float(config.refit_every)
        self.refits: list[dict[str, float]] = []

    def encode(self, observations: np.ndarray) -> np.ndarray:
        """Measures of observations: latent codes scaled by the last fit into [0, 1]."""
        codes = self.model.encode(observations)
        return np.clip((codes - self.low) / (self.high - self.low), 0.0, 1.0)

    def due(self, iteration: int) -> bool:
        """Whether the encoder is refitted before `iteration` is told."""
        return iteration >= self.next_refit

    def refit(self, iteration: int, batch: np.ndarray, archive: QDArchive) -> dict[str, float]:
        """Retrain on the archive's observations plus `batch`, rescale, re-insert every elite.

        Returns:
            What happened: iteration, training size, final reconstruction MSE, and the number
            of elites before and after re-insertion.
        """
        cfg = self.config
        elites = archive.result.data(OBSERVATION_FIELD) if not archive.result.empty else None
        data = batch if elites is None else np.concatenate([elites, batch])
        if len(data) > cfg.max_train:
            data = data[np.sort(self.rng.choice(len(data), cfg.max_train, replace=False))]
        loss = self.model.fit(data, cfg.train_steps, cfg.train_batch, cfg.learning_rate, self.rng)
        codes = self.model.encode(data)
        low, high = codes.min(axis=0), codes.max(axis=0)
        span = np.where(high - low > 1e-12, high - low, 1.0)
        self.low, self.high = low - cfg.margin * span, low + (1 + cfg.margin) * span
        before = archive.stats().num_elites
        archive.remeasure(lambda fields: self.encode(fields[OBSERVATION_FIELD]))
        info = {"iteration": iteration, "train_size": len(data), "loss": loss,
                "elites_before": before, "elites_after": archive.stats().num_elites}
        self.refits.append(info)
        self.next_refit = iteration + int(round(self.interval))
        self.interval = min(self.interval * cfg.refit_growth, float(cfg.max_refit_interval))
        log.info("learned measures refitted", extra={"event": "refit", **info})
        return info
