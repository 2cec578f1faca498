"""CMA-ME / CMA-MAE emitters on the torch backend: `count` emitters batched as one group.

`ESEmitterGroup` is pyribs 0.12's `EvolutionStrategyEmitter` with `es="cma_es"`, for E
emitters at once over a `BatchedCMAES`. One `tell` (the group's slice of the scheduler's batch
and the archive's `AddInfo`) does what each pyribs emitter's `tell` does:

1. rank its `batch_size` solutions (descending; see `rank`),
2. pick the parents: "filter" -> the solutions added to the archive (status > 0), "mu" ->
   the best `batch_size // 2`,
3. update its CMA-ES,
4. restart when the ES stops (`BatchedCMAES.check_stop` on the sorted ranking values) or when
   the restart rule fires ("basic": never; "no_improvement": nothing was added; an integer n:
   every n-th tell), re-centred on an elite drawn uniformly from the archive
   (`archive.sample`), with sigma0, identity covariance and zero paths.

Rankers (pyribs names): "imp" (improvement `value`), "2imp" (status, then value), "obj"
(objective), "2obj" (status, then objective). Ties break as pyribs' `flip(argsort(...))` of a
stable sort does: the later solution first. (pyribs' single-key rankers use numpy's default,
unstable quicksort, so their order among exactly equal values may differ; lexsort, used by the
two-stage rankers, is stable and matches.) "rd", "2rd" and "nov" and the evolution strategies
other than "cma_es" are not on the torch backend (`SpecError`).

Deviation: pyribs raises when a restart finds the archive empty; here the emitter re-centres
on its x0 instead. `tell` synchronises with the device once (the (E,) restart mask), plus
`archive.sample` when some emitter restarts.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mutators.torch.base import bounds_tensors
from mutators.torch.cma_es import BatchedCMAES
from qd.errors import SpecError
from qd.protocols import Bounds

if TYPE_CHECKING:
    from archives.tensor import AddInfo

#: Rankers and evolution strategies of the torch backend.
TORCH_RANKERS = ("imp", "2imp", "obj", "2obj")
TORCH_ES = ("cma_es",)


def check_torch_support(es: str, ranker: str) -> None:
    """Raise SpecError when `es` or `ranker` has no torch implementation."""
    if es not in TORCH_ES:
        raise SpecError(
            f"emitters.es: {es!r} is not available with run.backend = 'torch' (supported: "
            f"{', '.join(TORCH_ES)}); use the numpy backend for it"
        )
    if ranker not in TORCH_RANKERS:
        raise SpecError(
            f"emitters.ranker: {ranker!r} is not available with run.backend = 'torch' "
            f"(supported: {', '.join(TORCH_RANKERS)}); use the numpy backend for it"
        )


def descending_argsort(*keys: torch.Tensor) -> torch.Tensor:
    """Indices sorting rows of (E, B) keys descending, lexicographically (first key first).

    Equal rows order the later index first, like pyribs' `np.flip` of a stable ascending sort
    (`np.lexsort`).
    """
    width = keys[0].shape[-1]
    order = None
    for key in reversed(keys):  # least significant first, each sort stable
        flipped = key.flip(-1)
        if order is not None:
            flipped = torch.gather(flipped, -1, order)
        step = torch.sort(flipped, dim=-1, descending=True, stable=True).indices
        order = step if order is None else torch.gather(order, -1, step)
    return (width - 1) - order


class ESEmitterGroup:
    """`count` CMA-ME / CMA-MAE emitters (pyribs `EvolutionStrategyEmitter`) on one device.

    Args:
        archive: The `TensorArchive` the emitters insert into (restarts sample its elites).
        count: Number of emitters E.
        x0: (D,) initial mean of every emitter.
        sigma0: Initial step size.
        ranker: "imp", "2imp", "obj" or "2obj".
        es: Evolution strategy; only "cma_es".
        selection_rule: "filter" or "mu".
        restart_rule: "basic", "no_improvement" or a positive int (restart every n tells).
        bounds: Per-coordinate (low, high) of the solution space (None entries: open), or None.
        batch_size: Solutions per emitter per ask (None: CMA-ES' default for D).
        seed: Seed of the group's generator (all emitters draw from it).
        device: Device (default: the archive's).
        dtype: Floating dtype (default: the archive's).

    Attributes:
        batch_size: Solutions per ask of the whole group (`count * emitter_batch_size`).
        restarts: (E,) numpy int64 restart counts.
        itrs: Number of tells.
    """

    def __init__(
        self,
        archive: Any,
        *,
        count: int,
        x0: np.ndarray | torch.Tensor,
        sigma0: float,
        ranker: str = "2imp",
        es: str = "cma_es",
        selection_rule: str = "filter",
        restart_rule: str | int = "no_improvement",
        bounds: Bounds | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_torch_support(es, ranker)
        if selection_rule not in ("mu", "filter"):
            raise ValueError(f"Invalid selection_rule {selection_rule}")
        if not (
            restart_rule in ("basic", "no_improvement")
            or (isinstance(restart_rule, numbers.Integral) and restart_rule > 0)
        ):
            raise ValueError(f"Invalid restart_rule {restart_rule}")
        self.archive = archive
        self.device = torch.device(archive.device if device is None else device)
        self.dtype = archive.dtype if dtype is None else dtype
        self.count = int(count)
        self.ranker = ranker
        self.selection_rule = selection_rule
        self.restart_rule = restart_rule
        dim = archive.solution_dim
        self.x0 = torch.as_tensor(x0, device=self.device, dtype=self.dtype).reshape(dim)
        lo_hi = bounds_tensors(bounds, dim, self.device, self.dtype)
        self.opt = BatchedCMAES(
            self.count, dim, sigma0, self.x0, batch_size,
            *(lo_hi if lo_hi is not None else (None, None)),
            device=self.device, dtype=self.dtype, seed=seed,
        )
        self.emitter_batch_size = self.opt.batch_size
        self.batch_size = self.count * self.emitter_batch_size
        self.restarts = np.zeros(self.count, dtype=np.int64)
        self.itrs = 0

    def ask(self) -> torch.Tensor:
        """(count * emitter_batch_size, D) solutions, emitter by emitter."""
        return self.opt.ask().reshape(self.batch_size, -1)

    def rank(self, objective: torch.Tensor, status: torch.Tensor,
             value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ranking (E, B) best first and the ranking values ((E, B) or (E, B, 2)), unsorted."""
        status = status.to(self.dtype)
        if self.ranker == "imp":
            return descending_argsort(value), value
        if self.ranker == "obj":
            return descending_argsort(objective), objective
        second = value if self.ranker == "2imp" else objective
        return descending_argsort(status, second), torch.stack((status, second), dim=-1)

    def tell(self, solution: torch.Tensor, objective: torch.Tensor, measures: torch.Tensor,
             info: AddInfo) -> None:
        """Update every emitter from its part of the group's slice of the evaluated batch.

        Args:
            solution: (batch_size, D) the group's slice (not read: as in pyribs, each ES
                ranks the solutions it asked).
            objective: (batch_size,) objectives of the slice.
            measures: (batch_size, M) measures of the slice (unused by these rankers).
            info: The archive's `AddInfo` for the slice (status and value of shape
                (batch_size,)), emitter e owning rows `e * emitter_batch_size` onwards.
        """
        e, b = self.count, self.emitter_batch_size
        self.itrs += 1
        status = info.status.reshape(e, b)
        value = info.value.reshape(e, b).to(self.dtype)
        objective = objective.reshape(e, b).to(self.dtype)
        added = (status > 0).sum(dim=1)
        ranking, ranking_values = self.rank(objective, status, value)
        if self.selection_rule == "filter":
            num_parents = added
        else:
            num_parents = torch.full((e,), b // 2, device=self.device, dtype=torch.int64)
        self.opt.tell(ranking, num_parents)

        index = ranking if ranking_values.dim() == 2 else ranking[..., None].expand(-1, -1, 2)
        restart = self.opt.check_stop(torch.gather(ranking_values, 1, index))
        if self.restart_rule == "no_improvement":
            restart = restart | (added == 0)
        elif isinstance(self.restart_rule, numbers.Integral):
            restart = restart | (self.itrs % self.restart_rule == 0)
        self._restart(restart.cpu())

    def _restart(self, mask: torch.Tensor) -> None:
        """Reset the masked emitters (host bool (E,)) on elites sampled from the archive."""
        rows = np.flatnonzero(mask.numpy())
        if rows.size == 0:
            return
        if self.archive.empty:
            centres = self.x0.expand(rows.size, -1)
        else:
            centres = self.archive.sample(int(rows.size))["solution"].to(self.dtype)
        means = self.opt.mean.index_copy(
            0, torch.as_tensor(rows, device=self.device), centres.to(self.device)
        )
        self.opt.reset(mask, means)
        self.restarts[rows] += 1
