"""`BatchedCMAES`: E independent CMA-ES instances held in one set of tensors.

The update is pyribs 0.12's `ribs.emitters.opt.CMAEvolutionStrategy` (itself adapted from
Hansen's purecma), written once for a leading instance axis E so that one `ask` / `tell` is a
handful of batched tensor ops whatever E is:

- weights `log(mu + 1/2) - log(i)`, normalised, recomputed at every `tell` from that instance's
  number of parents (instances may differ: masked weights, no loop over E);
- `c_c`, `c_sigma`, `c_1`, `c_mu`, `d_sigma`, `h_sig` and the sigma update exactly as pyribs
  computes them, including pyribs' rank-one term `c_1 * (c_1 * p_c p_c^T)`;
- the eigendecomposition of C is cached and refreshed lazily, per instance, once more than
  `lazy_gap_evals` evaluations have passed since the last refresh (pyribs' `DecompMatrix`):
  C and C^(-1/2) are symmetrised with an element-wise maximum, eigenvalues taken in absolute
  value;
- `check_stop`: condition number > 1e14, `sigma * sqrt(max eigenvalue) < 1e-11`, or (with at
  least two ranked solutions) `||ranking_values[0] - ranking_values[-1]|| < 1e-12`.

Deviation: pyribs resamples a whole out-of-bounds solution until it is inside the bounds,
forever (warning after 100 rounds). Here a round redraws every out-of-bounds row of all E
instances at once; after `max_resamples` rounds (100 by default) the rows still outside are
clipped to the bounds, with a warning. Without bounds, `ask` does not synchronise with the
device; with bounds it synchronises once per resampling round (one `any()`).

Per-instance counters (`current_eval`, the evaluation of the last eigen refresh) live on the
host as numpy arrays, so the lazy refresh decides without reading the device; `reset` reads its
mask on the host (one small copy when the mask lives on an accelerator).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from mutators.torch.base import GeneratorState

#: Resampling rounds for out-of-bounds solutions before clipping (pyribs warns after as many).
MAX_RESAMPLES = 100


class BatchedCMAES(GeneratorState):
    """E independent CMA-ES instances, batched.

    Args:
        n: Number of instances E.
        dim: Solution dimension D.
        sigma0: Initial step size (the same for every instance; `reset` restores it).
        mean0: Initial means, shape (E, D) or (D,) (broadcast to every instance).
        batch_size: Solutions each instance asks; None: pyribs' default `4 + floor(3 ln D)`.
        lower_bounds: None (unbounded) or a scalar / (D,) tensor-like; -inf for open sides.
        upper_bounds: Same for the upper side (+inf for open sides).
        device: Device of every tensor (default: that of `mean0` when a tensor, else CPU).
        dtype: Floating dtype of the state and the solutions (float64 by default).
        generator: The torch.Generator to sample with (on `device`); None: a fresh one seeded
            with `seed`.
        seed: Seed of the fresh generator when `generator` is None (None: nondeterministic).
        max_resamples: Resampling rounds for out-of-bounds solutions before clipping.

    Attributes:
        mean: (E, D) distribution means.
        sigma: (E,) step sizes.
        cov: (E, D, D) covariance matrices.
        pc: (E, D) evolution paths of C.
        ps: (E, D) evolution paths of sigma.
        eigenvalues: (E, D) eigenvalues of C at the last refresh (ascending).
        eigenbasis: (E, D, D) eigenvectors (columns) of C at the last refresh.
        invsqrt: (E, D, D) C^(-1/2) at the last refresh.
        condition_number: (E,) max / min eigenvalue at the last refresh.
        current_eval: (E,) numpy int64: solutions told since the instance's last reset.
        lazy_gap_evals: Evaluations between eigen refreshes (pyribs' formula, computed with
            `batch_size // 2` parents).
    """

    def __init__(
        self,
        n: int,
        dim: int,
        sigma0: float,
        mean0: torch.Tensor | np.ndarray,
        batch_size: int | None = None,
        lower_bounds: torch.Tensor | np.ndarray | float | None = None,
        upper_bounds: torch.Tensor | np.ndarray | float | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float64,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        max_resamples: int = MAX_RESAMPLES,
    ) -> None:
        if device is None:
            device = mean0.device if isinstance(mean0, torch.Tensor) else torch.device("cpu")
        self.device = torch.device(device)
        self.dtype = dtype
        self.n = int(n)
        self.dim = int(dim)
        self.sigma0 = float(sigma0)
        self.batch_size = 4 + int(3 * np.log(dim)) if batch_size is None else int(batch_size)
        self.max_resamples = int(max_resamples)
        self._bounds = self._make_bounds(lower_bounds, upper_bounds)

        if generator is None:
            generator = torch.Generator(device=self.device)
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(int(seed))
        self._generator = generator

        # Gap between eigen refreshes, from the default `batch_size // 2` parents as in pyribs.
        _, _, _, _, c1, cmu = self._strat_params_host(self.batch_size // 2)
        self.lazy_gap_evals = 0.5 * self.dim * self.batch_size / (c1 + cmu) / self.dim**2

        e, d = self.n, self.dim
        self.mean = self._as_means(mean0).clone()
        self.sigma = torch.full((e,), self.sigma0, device=self.device, dtype=dtype)
        self.pc = torch.zeros((e, d), device=self.device, dtype=dtype)
        self.ps = torch.zeros((e, d), device=self.device, dtype=dtype)
        eye = torch.eye(d, device=self.device, dtype=dtype).expand(e, d, d)
        self.cov = eye.clone()
        self.eigenbasis = eye.clone()
        self.invsqrt = eye.clone()
        self.eigenvalues = torch.ones((e, d), device=self.device, dtype=dtype)
        self.condition_number = torch.ones((e,), device=self.device, dtype=dtype)
        self.current_eval = np.zeros(e, dtype=np.int64)
        self._updated_eval = np.zeros(e, dtype=np.int64)
        self._solutions: torch.Tensor | None = None

    # ----------------------------------------------------------------------------- helpers

    def _make_bounds(self, lower, upper) -> tuple[torch.Tensor, torch.Tensor] | None:
        if lower is None and upper is None:
            return None
        kw = {"device": self.device, "dtype": self.dtype}
        lo = torch.as_tensor(-math.inf if lower is None else lower, **kw)
        hi = torch.as_tensor(math.inf if upper is None else upper, **kw)
        lo = lo.expand(self.dim).clone()
        hi = hi.expand(self.dim).clone()
        if not bool(torch.isfinite(lo).any() | torch.isfinite(hi).any()):
            return None
        return lo, hi

    def _as_means(self, mean: torch.Tensor | np.ndarray) -> torch.Tensor:
        mean = torch.as_tensor(mean, device=self.device, dtype=self.dtype)
        if mean.shape == (self.dim,):
            mean = mean.expand(self.n, self.dim)
        if mean.shape != (self.n, self.dim):
            raise ValueError(
                f"mean must have shape ({self.dim},) or ({self.n}, {self.dim}), "
                f"got {tuple(mean.shape)}"
            )
        return mean

    def _strat_params_host(self, mu: int) -> tuple[float, ...]:
        """The strategy parameters of pyribs' `_calc_strat_params` for `mu` parents, on the host."""
        weights = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
        weights = weights / np.sum(weights)
        mueff = np.sum(weights) ** 2 / np.sum(weights**2)
        d = self.dim
        cc = (4 + mueff / d) / (d + 4 + 2 * mueff / d)
        cs = (mueff + 2) / (d + mueff + 5)
        c1 = 2 / ((d + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((d + 2) ** 2 + mueff))
        return weights, mueff, cc, cs, c1, cmu

    def strat_params(self, num_parents: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-instance weights and learning rates (pyribs' `_calc_strat_params`, batched).

        Args:
            num_parents: (E,) int64 number of parents, each at least 1.

        Returns:
            weights (E, batch_size) (zero past each instance's parents), then (E,) tensors
            mueff, cc, cs, c1, cmu.
        """
        kw = {"device": self.device, "dtype": self.dtype}
        mu = num_parents.to(self.dtype)
        ranks = torch.arange(1, self.batch_size + 1, **kw)
        raw = torch.log(mu + 0.5)[:, None] - torch.log(ranks)[None, :]
        raw = torch.where(ranks[None, :] <= mu[:, None], raw, torch.zeros((), **kw))
        weights = raw / raw.sum(dim=1, keepdim=True)
        mueff = weights.sum(dim=1) ** 2 / (weights**2).sum(dim=1)
        d = self.dim
        cc = (4 + mueff / d) / (d + 4 + 2 * mueff / d)
        cs = (mueff + 2) / (d + mueff + 5)
        c1 = 2 / ((d + 1.3) ** 2 + mueff)
        cmu = torch.minimum(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((d + 2) ** 2 + mueff))
        return weights, mueff, cc, cs, c1, cmu

    def _refresh_eigensystem(self) -> None:
        """Recompute the eigendecomposition of the instances whose gap has passed."""
        need = self.current_eval > self._updated_eval + self.lazy_gap_evals
        if not need.any():
            return
        if need.all():
            idx = None
            cov = self.cov
        else:
            idx = torch.as_tensor(np.flatnonzero(need), device=self.device)
            cov = self.cov.index_select(0, idx)
        cov = torch.maximum(cov, cov.transpose(-1, -2))
        # eigh in float64 whatever the state dtype, like numpy's eigh in pyribs.
        evals, evecs = torch.linalg.eigh(cov.to(torch.float64))
        evals = evals.abs().to(self.dtype)
        evecs = evecs.to(self.dtype)
        cond = evals.max(dim=-1).values / evals.min(dim=-1).values
        invsqrt = (evecs * (1 / torch.sqrt(evals))[:, None, :]) @ evecs.transpose(-1, -2)
        invsqrt = torch.maximum(invsqrt, invsqrt.transpose(-1, -2))
        if idx is None:
            self.cov, self.eigenvalues, self.eigenbasis = cov, evals, evecs
            self.condition_number, self.invsqrt = cond, invsqrt
        else:
            self.cov = self.cov.index_copy(0, idx, cov)
            self.eigenvalues = self.eigenvalues.index_copy(0, idx, evals)
            self.eigenbasis = self.eigenbasis.index_copy(0, idx, evecs)
            self.condition_number = self.condition_number.index_copy(0, idx, cond)
            self.invsqrt = self.invsqrt.index_copy(0, idx, invsqrt)
        self._updated_eval[need] = self.current_eval[need]

    # --------------------------------------------------------------------------------- API

    @property
    def solutions(self) -> torch.Tensor | None:
        """(E, batch_size, D) solutions of the last `ask` (what `tell` ranks), or None."""
        return self._solutions

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Map standard-normal draws (E, B, D) to solutions `mean + sigma * B sqrt(L) z`."""
        transform = self.eigenbasis * torch.sqrt(self.eigenvalues)[:, None, :]
        # pyribs draws N(0, sigma) and applies the transform: same order of operations.
        return (self.sigma[:, None, None] * z) @ transform.transpose(-1, -2) + self.mean[:, None]

    def ask(self) -> torch.Tensor:
        """Sample `batch_size` solutions from every instance.

        Returns:
            (E, batch_size, D) solutions (kept for the next `tell`).
        """
        self._refresh_eigensystem()
        shape = (self.n, self.batch_size, self.dim)
        kw = {"device": self.device, "dtype": self.dtype, "generator": self._generator}
        solutions = self.sample(torch.randn(shape, **kw))
        if self._bounds is not None:
            lo, hi = self._bounds
            for _ in range(self.max_resamples):
                out = ((solutions < lo) | (solutions > hi)).any(dim=-1, keepdim=True)
                if not bool(out.any()):
                    break
                solutions = torch.where(out, self.sample(torch.randn(shape, **kw)), solutions)
            else:
                if bool(((solutions < lo) | (solutions > hi)).any()):
                    warnings.warn(
                        f"CMA-ES: solutions still out of bounds after {self.max_resamples} "
                        "resampling rounds were clipped to the bounds; the bounds may be "
                        "too tight for the distribution",
                        stacklevel=2,
                    )
                solutions = torch.clamp(solutions, lo, hi)
        self._solutions = solutions
        return solutions

    def tell(self, ranking: torch.Tensor, num_parents: torch.Tensor) -> None:
        """Update every instance from a ranking of its last `ask`.

        Args:
            ranking: (E, batch_size) int64 indices into each instance's solutions, best
                first (an argsort, not ranks).
            num_parents: (E,) int64: how many of the best solutions recombine; an instance
                with 0 parents only counts the evaluations (pyribs returns early).
        """
        if self._solutions is None:
            raise RuntimeError("tell() before ask()")
        batch, dim = self.batch_size, self.dim
        self.current_eval += batch
        kw = {"device": self.device, "dtype": self.dtype}

        ranking = ranking.to(self.device)
        mu = num_parents.to(self.device).clamp(0, batch)
        active = mu > 0
        parents = torch.gather(self._solutions, 1, ranking[..., None].expand(-1, -1, dim))
        weights, mueff, cc, cs, c1, cmu = self.strat_params(mu.clamp(min=1))
        damps = 1 + 2 * torch.clamp(torch.sqrt((mueff - 1) / (dim + 1)) - 1, min=0) + cs

        old_mean = self.mean
        mean = (parents * weights[..., None]).sum(dim=1)
        y = mean - old_mean
        z = (self.invsqrt @ y[..., None]).squeeze(-1)
        ps = (1 - cs)[:, None] * self.ps + (
            torch.sqrt(cs * (2 - cs) * mueff) / self.sigma
        )[:, None] * z
        evals = torch.as_tensor(self.current_eval, **kw)
        sum_sq_ps = (ps**2).sum(dim=1)
        left = sum_sq_ps / dim / (1 - (1 - cs) ** (2 * evals / batch))
        hsig = (left < 2 + 4.0 / (dim + 1)).to(self.dtype)
        pc = (1 - cc)[:, None] * self.pc + (hsig * torch.sqrt(cc * (2 - cc) * mueff))[:, None] * y

        ys = parents - old_mean[:, None]
        rank_mu = torch.einsum("eki,ekj->eij", ys * weights[..., None], ys)
        c1a = c1 * (1 - (1 - hsig**2) * cc * (2 - cc))
        rank_one = c1[:, None, None] * (pc[:, :, None] * pc[:, None, :])
        cov = (
            self.cov * (1 - c1a - cmu * weights.sum(dim=1))[:, None, None]
            + rank_one * c1[:, None, None]
            + rank_mu * (cmu / self.sigma**2)[:, None, None]
        )
        sigma = self.sigma * torch.exp(
            torch.clamp((cs / damps) * (sum_sq_ps / dim - 1) / 2, max=1)
        )

        a1 = active[:, None]
        self.mean = torch.where(a1, mean, self.mean)
        self.ps = torch.where(a1, ps, self.ps)
        self.pc = torch.where(a1, pc, self.pc)
        self.cov = torch.where(active[:, None, None], cov, self.cov)
        self.sigma = torch.where(active, sigma, self.sigma)

    def check_stop(self, ranking_values: torch.Tensor) -> torch.Tensor:
        """Which instances meet pyribs' stop criteria.

        Args:
            ranking_values: (E, batch_size) or (E, batch_size, k) values the ranker used,
                sorted in ranking order (best first).

        Returns:
            (E,) bool: the instances that should be reset.
        """
        stop = self.condition_number > 1e14
        area = self.sigma * torch.sqrt(self.eigenvalues.max(dim=-1).values)
        stop = stop | (area < 1e-11)
        if ranking_values.shape[1] >= 2:
            diff = (ranking_values[:, 0] - ranking_values[:, -1]).to(self.dtype)
            flat = diff.abs() if diff.dim() == 1 else torch.linalg.vector_norm(diff, dim=-1)
            stop = stop | (flat < 1e-12)
        return stop.to(self.device)

    def reset(self, mask: torch.Tensor | None = None,
              mean: torch.Tensor | np.ndarray | None = None) -> None:
        """Restart the masked instances at `mean` with sigma0, identity C and zero paths.

        Args:
            mask: (E,) bool, the instances to reset (None: all). Read on the host once.
            mean: (E, D) or (D,) new means; rows of unmasked instances are ignored. None keeps
                the current means.
        """
        e, d = self.n, self.dim
        host = np.ones(e, dtype=bool) if mask is None else mask.detach().cpu().numpy()
        if not host.any():
            return
        self.current_eval[host] = 0
        self._updated_eval[host] = 0
        m = torch.as_tensor(host, device=self.device)
        m1, m2 = m[:, None], m[:, None, None]
        kw = {"device": self.device, "dtype": self.dtype}
        eye = torch.eye(d, **kw).expand(e, d, d)
        if mean is not None:
            self.mean = torch.where(m1, self._as_means(mean), self.mean)
        self.sigma = torch.where(m, torch.full((e,), self.sigma0, **kw), self.sigma)
        self.pc = torch.where(m1, torch.zeros((), **kw), self.pc)
        self.ps = torch.where(m1, torch.zeros((), **kw), self.ps)
        self.cov = torch.where(m2, eye, self.cov)
        self.eigenbasis = torch.where(m2, eye, self.eigenbasis)
        self.invsqrt = torch.where(m2, eye, self.invsqrt)
        self.eigenvalues = torch.where(m1, torch.ones((), **kw), self.eigenvalues)
        self.condition_number = torch.where(m, torch.ones((), **kw), self.condition_number)
