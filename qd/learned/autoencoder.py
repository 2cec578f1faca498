"""A small MLP autoencoder over raw observations, trained deterministically on the CPU or GPU."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qd.device import one_thread


def _mlp(sizes: list[int], last_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Encoder obs → latent, decoder latent → obs (mirrored layers).

    Args:
        obs_dim: Length of an observation.
        latent_dim: Length of the code.
        hidden: Encoder hidden sizes (the decoder uses them reversed).
        seed: Seed of the weight initialisation (independent of torch's global RNG).
    """

    def __init__(self, obs_dim: int, latent_dim: int, hidden: list[int], seed: int) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = _mlp([obs_dim, *hidden, latent_dim], last_activation=False)
            self.decoder = _mlp([latent_dim, *reversed(hidden), obs_dim], last_activation=False)
        self.double()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Reconstruction of `obs`."""
        return self.decoder(self.encoder(obs))

    @torch.no_grad()
    def encode(self, obs: np.ndarray) -> np.ndarray:
        """Latent codes of observations (N, obs_dim) as float64 (N, latent_dim)."""
        with one_thread():
            return self.encoder(torch.as_tensor(obs, dtype=torch.float64)).numpy()

    def fit(self, obs: np.ndarray, steps: int, batch: int, learning_rate: float,
            rng: np.random.Generator) -> float:
        """Train on `obs` with Adam for `steps` minibatch steps; returns the final full-data MSE.

        Minibatches are drawn with `rng`, so a fit is a deterministic function of the model, the
        data and the generator state.
        """
        with one_thread():
            return self._fit(torch.as_tensor(obs, dtype=torch.float64), steps, batch,
                             learning_rate, rng)

    def _fit(self, data: torch.Tensor, steps: int, batch: int, learning_rate: float,
             rng: np.random.Generator) -> float:
        optimiser = torch.optim.Adam(self.parameters(), lr=learning_rate)
        n = len(data)
        for _ in range(steps):
            idx = torch.from_numpy(rng.integers(0, n, size=min(batch, n)))
            loss = ((self(data[idx]) - data[idx]) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            return float(((self(data) - data) ** 2).mean())
