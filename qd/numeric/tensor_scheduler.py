"""The torch backend's scheduler: emitter groups ask on the device, the archive tells there.

It mirrors pyribs' `Scheduler`: one ask concatenates every group's solutions, one tell inserts
the whole evaluated batch into the emitters' archive in a single `add` (and into the elitist
result archive when the archive anneals), then hands each group its slice with the add info.
Groups with `ask_dqd` (CMA-MEGA, CMA-MAEGA) first ask solutions whose gradients they need.
Nothing leaves the device here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from archives import QDArchive
from archives.tensor import AddInfo
from mutators.torch import TensorEmitterGroup


class TensorScheduler:
    """Ask / tell over emitter groups and a torch `QDArchive`.

    Attributes:
        emitters: The groups, in spec order.
        archive: The emitters' (possibly annealing) archive.
        result_archive: The elitist archive reported (the same object when not annealing).
        last_result_status: Status (0 rejected, 1 improved, 2 new) of the last told batch in
            the result archive, for stores that keep only the solutions that entered it.
    """

    def __init__(self, archive: QDArchive, groups: Sequence[TensorEmitterGroup]) -> None:
        self.emitters = list(groups)
        self.archive = archive.search
        self.result_archive = archive.result
        self.last_result_status: torch.Tensor | None = None
        self._solutions: torch.Tensor | None = None
        self._dqd_solutions: torch.Tensor | None = None
        self._dqd_sizes: list[int] = []

    @property
    def dqd(self) -> list[Any]:
        """Groups that need gradients (they have `ask_dqd`)."""
        return [g for g in self.emitters if hasattr(g, "ask_dqd")]

    @property
    def batch_size(self) -> int:
        """Solutions per `ask`."""
        return sum(g.batch_size for g in self.emitters)

    def ask(self) -> torch.Tensor:
        """(batch_size, D): every group's solutions, in group order."""
        self._solutions = torch.cat([g.ask() for g in self.emitters])
        return self._solutions

    def tell(self, objectives: torch.Tensor, measures: torch.Tensor) -> None:
        """Insert the last asked batch and let each group learn from its slice."""
        solutions = self._take("_solutions", "tell")
        info = self._add(solutions, objectives, measures)
        start = 0
        for group in self.emitters:
            part = slice(start, start + group.batch_size)
            group.tell(solutions[part], objectives[part], measures[part], _slice(info, part))
            start += group.batch_size

    def ask_dqd(self) -> torch.Tensor:
        """(count, D) per DQD group, concatenated: the points whose gradients are needed."""
        asked = [g.ask_dqd() for g in self.dqd]
        self._dqd_sizes = [len(a) for a in asked]
        self._dqd_solutions = torch.cat(asked)
        return self._dqd_solutions

    def tell_dqd(self, objectives: torch.Tensor, measures: torch.Tensor,
                 jacobians: torch.Tensor) -> None:
        """Insert the gradient points and hand each DQD group its objectives, measures and
        jacobians (count, 1 + M, D).
        """
        solutions = self._take("_dqd_solutions", "tell_dqd")
        info = self._add(solutions, objectives, measures)
        start = 0
        for group, n in zip(self.dqd, self._dqd_sizes, strict=True):
            part = slice(start, start + n)
            group.tell_dqd(solutions[part], objectives[part], measures[part], jacobians[part],
                           _slice(info, part))
            start += n

    def _add(self, solutions: torch.Tensor, objectives: torch.Tensor,
             measures: torch.Tensor) -> AddInfo:
        info = self.archive.add(solutions, objectives, measures)
        if self.result_archive is not self.archive:
            self.last_result_status = self.result_archive.add(
                solutions, objectives, measures).status
        else:
            self.last_result_status = info.status
        return info

    def _take(self, name: str, method: str) -> torch.Tensor:
        solutions = getattr(self, name)
        if solutions is None:
            raise RuntimeError(f"TensorScheduler.{method} called without a matching ask")
        setattr(self, name, None)
        return solutions


def _slice(info: AddInfo, part: slice) -> AddInfo:
    return AddInfo(info.status[part], info.value[part])
