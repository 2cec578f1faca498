"""A device-resident torch archive that admits solutions exactly as pyribs 0.12 does.

`TensorArchive` keeps one elite per cell in torch tensors on any device and reproduces the
admission rule of `ribs.archives.GridArchive.add` / `CVTArchive.add`, CMA-MAE soft thresholds
included: a solution enters its cell when its objective beats the cell's threshold; among the
solutions of one batch that land in one cell, the best enters and an exact tie goes to the first
in the batch; with `threshold_min` finite the threshold follows the batch update rule of
Fontaine & Nikolaidis 2023 (appendix), `t <- (1 - lr)^n t + mean * (1 - (1 - lr)^n)`, over the
`n` solutions of the batch that beat it. On float64 CPU every status, value, stored elite,
threshold and statistic is bit-for-bit the one pyribs computes.

`add` is vectorised over the batch with fixed-shape ops only (gathers, `torch.where`,
`scatter_reduce_` amax/amin and `index_add_` into kept per-cell scratch vectors, `index_copy_`
into storage with one extra sink row that takes the writes of the solutions that do not enter):
no boolean-mask indexing, no `.item()`, so it never waits for the device. The statistics are
what pyribs reports; because pyribs accumulates its QD score with numpy's pairwise sum over the
inserted elites in cell order, each `add` leaves a small record on the device and `stats`
replays the records on the host (one transfer), which keeps the QD score bit-identical too.

On CUDA the CMA-MAE per-cell sums use atomic adds, whose order (hence last-bit rounding) is not
fixed; everything else is order-independent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from qd.errors import SpecError

#: An `add` that has waited this many times for `stats` replays its records (one host sync)
#: so that the records never hold more than this many batches.
MAX_PENDING_ADDS = 256

#: `add` refills its per-cell scratch vectors whole when the archive has at most this many cells
#: per solution of the batch (cheaper there), else resets only the cells the batch touched.
FRESH_SCRATCH_FACTOR = 16

#: torch's CPU kernels split work over threads from this many elements (at::internal::GRAIN_SIZE).
_GRAIN = 32768
#: On CPU, `add` writes rows in grain-sized pieces (serially) when the write is at most this many
#: grains: a thread split that small buys little, and on a busy machine waiting for a descheduled
#: thread costs milliseconds. Larger writes keep torch's own threading.
MAX_SERIAL_GRAINS = 8

_NEVER = torch.iinfo(torch.int64).max

_NUMPY_DTYPES = {
    torch.float64: np.float64,
    torch.float32: np.float32,
    torch.float16: np.float16,
}


def _numpy_dtype(dtype: torch.dtype) -> type[np.floating]:
    """The numpy dtype matching a torch floating dtype (numpy has no bfloat16: float32)."""
    return _NUMPY_DTYPES.get(dtype, np.float32)


def reject_extra_fields(geometry: Any) -> None:
    """Raise when an archive geometry asks for extra per-elite fields (not kept on torch)."""
    if getattr(geometry, "extra_fields", ()):
        names = ", ".join(name for name, _, _ in geometry.extra_fields)
        raise SpecError(f"the torch archive keeps no extra per-elite fields (asked: {names})")


class CellIndex(Protocol):
    """Maps measures to cells: what a `TensorArchive` is built on."""

    cells: int
    measure_dim: int
    device: torch.device
    dtype: torch.dtype

    def __call__(self, measures: Tensor) -> Tensor:
        """(B, measure_dim) measures -> (B,) int64 cell indices in [0, cells)."""
        ...


class GridIndex:
    """Cells of a regular grid, computed as `GridArchive.index_of` does.

    Each coordinate goes to `int((dims * (m - low) + epsilon) / (high - low))`, clipped to
    `[0, dims - 1]` (so measures outside the ranges land in the edge cells), and the cell is
    the row-major flat index of the grid coordinates. The value is clipped before it is
    truncated, which gives pyribs' answer everywhere pyribs' int32 cast does not overflow.
    """

    def __init__(
        self,
        dims: Sequence[int],
        ranges: Sequence[tuple[float, float]],
        epsilon: float = 1e-6,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        if len(dims) != len(ranges):
            raise ValueError(
                f"dims (length {len(dims)}) and ranges (length {len(ranges)}) must be the "
                "same length"
            )
        self.device = torch.device(device)
        self.dtype = dtype
        self.dims = tuple(int(d) for d in dims)
        self.measure_dim = len(self.dims)
        self.cells = int(np.prod(self.dims, dtype=np.int64))
        np_dtype = _numpy_dtype(dtype)
        low = np.array([r[0] for r in ranges], dtype=np_dtype)
        high = np.array([r[1] for r in ranges], dtype=np_dtype)
        self.ranges = tuple((float(lo), float(hi)) for lo, hi in zip(low, high, strict=True))

        strides = [1] * self.measure_dim
        for i in range(self.measure_dim - 2, -1, -1):
            strides[i] = strides[i + 1] * self.dims[i + 1]
        # Python scalars in the arithmetic are exact doubles: the same numbers pyribs uses.
        eps = float(np.asarray(epsilon, dtype=np_dtype))
        self._columns = tuple(
            (float(lo), float(d), float(span), eps, float(d - 1), stride)
            for lo, d, span, stride in zip(low, self.dims, high - low, strides, strict=True)
        )

        # Every measure with the same range and cell count (the usual case): one pass.
        self._uniform = len(set(c[:5] for c in self._columns)) == 1

    @torch.no_grad()
    def __call__(self, measures: Tensor) -> Tensor:
        """(B, measure_dim) measures -> (B,) int64 row-major cell indices."""
        m = measures.to(device=self.device, dtype=self.dtype)
        if self.measure_dim == 0:
            return torch.zeros(m.shape[0], dtype=torch.int64, device=self.device)
        # pyribs: int32((dims * (m - low) + epsilon) / (high - low)), clipped to the grid.
        if self._uniform:
            low, dim, span, eps, top, _ = self._columns[0]
            grid = (m - low).mul_(dim).add_(eps).div_(span).clamp_(0.0, top).to(torch.int64)
            cols = grid.unbind(1)
        else:
            cols = [
                (m[:, j] - low).mul_(dim).add_(eps).div_(span).clamp_(0.0, top).to(torch.int64)
                for j, (low, dim, span, eps, top, _) in enumerate(self._columns)
            ]
        flat = cols[0] * self._columns[0][5]
        for j in range(1, self.measure_dim):
            flat.add_(cols[j], alpha=self._columns[j][5])
        return flat


class CVTIndex:
    """Cells of a centroidal Voronoi tessellation: the exactly nearest centroid.

    Distances are plain sums of squared differences (no `|a|^2 + |b|^2 - 2ab` matmul
    shortcut, which rounds differently), computed in chunks of the batch to bound memory; an
    exact tie goes to the lower centroid index.
    """

    #: Bound on batch x centroids x measures elements held at once.
    CHUNK_ELEMENTS = 1 << 22

    def __init__(
        self,
        centroids: np.ndarray | Tensor,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self.centroids = torch.as_tensor(centroids).to(device=self.device, dtype=dtype)
        if self.centroids.ndim != 2:
            raise ValueError(f"centroids must be 2-D, got shape {tuple(self.centroids.shape)}")
        self.cells, self.measure_dim = (int(s) for s in self.centroids.shape)
        self._chunk = max(1, self.CHUNK_ELEMENTS // max(1, self.cells * self.measure_dim))

    @torch.no_grad()
    def __call__(self, measures: Tensor) -> Tensor:
        """(B, measure_dim) measures -> (B,) int64 index of the nearest centroid."""
        m = measures.to(device=self.device, dtype=self.dtype)
        if m.shape[0] <= self._chunk:
            return self._nearest(m)
        return torch.cat([self._nearest(c) for c in torch.split(m, self._chunk)])

    def _nearest(self, m: Tensor) -> Tensor:
        diff = m[:, None, :] - self.centroids[None, :, :]
        return (diff * diff).sum(dim=2).argmin(dim=1)


@dataclass(frozen=True)
class AddInfo:
    """What `TensorArchive.add` says about each solution of the batch.

    Attributes:
        status: (B,) int32; 0 not added, 1 improved an occupied cell, 2 filled a new cell.
        value: (B,) archive dtype; pyribs' value: objective minus the cell's threshold (for a
            new cell minus 0 when elitist, minus `threshold_min` when annealing).
    """

    status: Tensor
    value: Tensor


@dataclass(frozen=True)
class TensorArchiveStats:
    """Archive statistics, as pyribs' `ArchiveStats` reports them (python numbers).

    `obj_max` is the best objective ever inserted (as in pyribs, in an annealing archive it
    may have been replaced since); `obj_max` and `obj_mean` are None when the archive is empty.
    """

    num_elites: int
    coverage: float
    qd_score: float
    norm_qd_score: float
    obj_max: float | None
    obj_mean: float | None


class TensorArchive:
    """One elite per cell, on a torch device, with pyribs' admission rule.

    Args:
        index: Maps measures to cells (`GridIndex`, `CVTIndex`).
        solution_dim: Length of a solution vector.
        learning_rate: CMA-MAE archive learning rate; 1.0 (with `threshold_min=-inf`) is
            plain elitism.
        threshold_min: Threshold of an empty cell; finite only with a learning rate (as
            pyribs requires), and then thresholds anneal with the batch rule.
        qd_score_offset: Subtracted from every objective in the QD score.
        device: Where the archive lives.
        dtype: Floating dtype of solutions, objectives, measures and thresholds.
        seed: Seed of the archive's own generator (elite sampling); None: random.

    Raises:
        ValueError: `threshold_min` is -inf with a learning rate other than 1 (pyribs refuses
            it too; a finite `threshold_min` with learning rate 1 is allowed, as in pyribs).
    """

    def __init__(
        self,
        index: CellIndex,
        solution_dim: int,
        *,
        learning_rate: float = 1.0,
        threshold_min: float = -math.inf,
        qd_score_offset: float = 0.0,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ) -> None:
        if threshold_min == -math.inf and learning_rate != 1.0:
            raise ValueError("threshold_min can only be -inf if learning_rate is 1.0")
        self.index = index
        self.cells = int(index.cells)
        self.solution_dim = int(solution_dim)
        self.measure_dim = int(index.measure_dim)
        self.device = torch.device(device)
        self.dtype = dtype
        self._np_dtype = _numpy_dtype(dtype)
        self.learning_rate = float(learning_rate)
        self.threshold_min = float(threshold_min)
        self.qd_score_offset = float(qd_score_offset)
        self._elitist = self.threshold_min == -math.inf
        self.seed = seed
        self._generator = self._new_generator(None)
        if seed is not None:
            self._generator.manual_seed(int(seed))
        else:
            self._generator.seed()
        self._ratio_table: Tensor | None = None
        self._allocate()
        self._scratch_kept: dict[str, Tensor] | None = None
        self._scratch_fill: dict[str, float | int] = {}
        self._arange = torch.arange(1024, device=self.device)
        self._constants = self._make_constants()

    def _make_constants(self) -> dict[str, Tensor]:
        """0-d device constants for `torch.where` (cheaper than python scalars there)."""
        def const(v: float | int, dt: torch.dtype) -> Tensor:
            return torch.tensor(v, dtype=dt, device=self.device)

        return {
            "sink": const(self.cells, torch.int64),
            "never": const(_NEVER, torch.int64),
            "zero": const(0.0, self.dtype),
            "-inf": const(-math.inf, self.dtype),
            "new_base": const(0.0 if self._elitist else self.threshold_min, self.dtype),
        }

    # -- state ------------------------------------------------------------------------------

    def _new_generator(self, state: Tensor | None) -> torch.Generator:
        gen = torch.Generator(device=self.device)
        if state is not None:
            gen.set_state(state)
        return gen

    def _allocate(self) -> None:
        """Fresh, empty storage; row `cells` is a sink for the writes of losing solutions."""
        n, kw = self.cells + 1, {"device": self.device, "dtype": self.dtype}
        self._solution = torch.zeros(n, self.solution_dim, **kw)
        self._objective = torch.zeros(n, **kw)
        self._measures = torch.zeros(n, self.measure_dim, **kw)
        self._threshold = torch.full((n,), self.threshold_min, **kw)
        self._occupied = torch.zeros(n, dtype=torch.bool, device=self.device)
        self._reset_stats()

    def _reset_stats(self) -> None:
        self._objective_sum = np.asarray(0.0, dtype=self._np_dtype)
        self._obj_max: float | None = None
        self._pending: list[tuple[Tensor, Tensor, Tensor]] = []
        self._known_nonempty = False

    def _scratch(self, name: str, fill: float | int, dtype: torch.dtype) -> Tensor:
        """A kept per-cell scratch vector, at `fill` everywhere (`add` resets what it wrote)."""
        if self._scratch_kept is None:
            self._scratch_kept = {}
        buf = self._scratch_kept.get(name)
        if buf is None:
            buf = torch.full((self.cells + 1,), fill, dtype=dtype, device=self.device)
            self._scratch_kept[name] = buf
        self._scratch_fill[name] = fill
        return buf

    def _reset_scratch(self, target: Tensor, whole: bool) -> None:
        """Put the scratch vectors back to their fill values: all of them, or where written."""
        assert self._scratch_kept is not None
        for name, fill in self._scratch_fill.items():
            if whole:
                self._scratch_kept[name].fill_(fill)
            else:
                self._scratch_kept[name].index_fill_(0, target, fill)
        self._scratch_fill = {}

    def _positions(self, batch: int) -> Tensor:
        """0..batch-1 on the device (a view of a kept arange)."""
        if self._arange.shape[0] < batch:
            self._arange = torch.arange(max(batch, 2 * self._arange.shape[0]),
                                        device=self.device)
        return self._arange[:batch]

    def _ratios(self, batch_size: int) -> Tensor:
        """`(1 - lr) ** k` for k = 0..batch_size, computed by numpy as pyribs computes it."""
        if self._ratio_table is None or self._ratio_table.shape[0] <= batch_size:
            size = max(batch_size + 1, 1025,
                       0 if self._ratio_table is None else 2 * self._ratio_table.shape[0])
            lr = np.asarray(self.learning_rate, dtype=self._np_dtype)
            base = np.asarray(1.0 - lr, dtype=self._np_dtype)
            table = base ** np.arange(size, dtype=np.int64)
            self._ratio_table = torch.as_tensor(table).to(device=self.device, dtype=self.dtype)
        return self._ratio_table

    def __getstate__(self) -> dict[str, Any]:
        self._flush()
        state = dict(self.__dict__)
        state["_generator"] = self._generator.get_state()
        state["_scratch_kept"] = None
        state["_scratch_fill"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._generator = self._new_generator(state["_generator"])

    # -- inputs -----------------------------------------------------------------------------

    def _as_batch(self, x: Any, name: str, width: int | None) -> Tensor:
        t = torch.as_tensor(x).to(device=self.device, dtype=self.dtype)
        want = (width,) if width is not None else ()
        if t.ndim != 1 + len(want) or tuple(t.shape[1:]) != want:
            shape = "(batch_size" + "".join(f", {w}" for w in want) + ")"
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
        return t

    @torch.no_grad()
    def index_of(self, measures: Any) -> Tensor:
        """(B, measure_dim) measures -> (B,) int64 cell indices."""
        return self.index(self._as_batch(measures, "measures", self.measure_dim))

    # -- writing ----------------------------------------------------------------------------

    @torch.no_grad()
    def add(self, solution: Any, objective: Any, measures: Any) -> AddInfo:
        """Insert a batch with pyribs' `GridArchive.add` semantics; returns status and value.

        Statuses and values are relative to the archive before the batch (two solutions that
        open the same cell both get status 2). Objectives and measures are not checked for
        being finite (that would wait for the device): a NaN objective never enters.
        """
        obj = self._as_batch(objective, "objective", None)
        sol = self._as_batch(solution, "solution", self.solution_dim)
        meas = self._as_batch(measures, "measures", self.measure_dim)
        batch = obj.shape[0]
        if sol.shape[0] != batch or meas.shape[0] != batch:
            raise ValueError(
                f"solution, objective and measures disagree on the batch size: "
                f"{sol.shape[0]}, {batch}, {meas.shape[0]}"
            )
        idx = self.index(meas)
        occupied = self._occupied.index_select(0, idx)
        threshold = self._threshold.index_select(0, idx)  # threshold_min in empty cells
        can = obj > threshold
        is_new = can & ~occupied
        status = can.to(torch.int32) + is_new
        value = obj - torch.where(is_new, self._constants["new_base"], threshold)
        info = AddInfo(status=status, value=value)
        if batch == 0:
            return info

        c = self._constants
        target = torch.where(can, idx, c["sink"])
        # The winner of each cell: the best insertable objective, the first one on a tie.
        best = self._scratch("max", -math.inf, self.dtype)
        best.scatter_reduce_(0, target, obj, "amax", include_self=True)
        top = can & (obj == best.index_select(0, target))
        position = self._positions(batch)
        first = self._scratch("first", _NEVER, torch.int64)
        first.scatter_reduce_(0, target, torch.where(top, position, c["never"]), "amin",
                              include_self=True)
        winner = top & (first.index_select(0, target) == position)
        if self._elitist:
            new_threshold = obj
            old_objective = torch.where(occupied, threshold, c["zero"])  # elitist: threshold = obj
        else:
            count = self._scratch("count", 0.0, self.dtype)
            total = self._scratch("sum", 0.0, self.dtype)
            count = count.index_add_(0, target, torch.ones_like(obj)).index_select(0, target)
            total = total.index_add_(0, target, obj).index_select(0, target)
            ratio = self._ratios(batch).index_select(0, count.to(torch.int64))
            new_threshold = ratio * threshold + (total / count) * (1 - ratio)
            old_objective = torch.where(occupied, self._objective.index_select(0, idx),
                                        c["zero"])
        self._reset_scratch(target, whole=self.cells <= FRESH_SCRATCH_FACTOR * batch)

        dest = torch.where(winner, idx, c["sink"])
        # What pyribs adds to its running objective sum and best objective, replayed by `stats`.
        self._pending.append((dest, obj - old_objective, torch.where(winner, obj, c["-inf"])))
        self._copy_rows(self._solution, dest, sol)
        self._copy_rows(self._objective, dest, obj)
        self._copy_rows(self._measures, dest, meas)
        self._copy_rows(self._threshold, dest, new_threshold)
        self._occupied.index_fill_(0, dest, True)
        if len(self._pending) >= MAX_PENDING_ADDS:
            self._flush()
        return info

    def _copy_rows(self, store: Tensor, dest: Tensor, rows: Tensor) -> None:
        """`store.index_copy_(0, dest, rows)`, in serial grain-sized pieces where that is faster."""
        width = rows[0].numel() if rows.shape[0] else 1
        size = rows.shape[0] * width
        if self.device.type != "cpu" or size <= _GRAIN or size > MAX_SERIAL_GRAINS * _GRAIN:
            store.index_copy_(0, dest, rows)
            return
        step = max(1, _GRAIN // width)
        for lo in range(0, rows.shape[0], step):
            store.index_copy_(0, dest[lo : lo + step], rows[lo : lo + step])

    def clear(self) -> None:
        """Remove every elite and reset the statistics (the sampling generator goes on)."""
        self._occupied.fill_(False)
        self._threshold.fill_(self.threshold_min)
        self._objective.zero_()
        self._solution.zero_()
        self._measures.zero_()
        self._reset_stats()

    # -- reading ----------------------------------------------------------------------------

    @property
    def num_elites(self) -> int:
        """Number of occupied cells (waits for the device)."""
        return int(self._occupied[: self.cells].sum())

    @property
    def empty(self) -> bool:
        """Whether no cell is occupied (waits for the device until it first sees an elite)."""
        if not self._known_nonempty:
            self._known_nonempty = bool(self._occupied[: self.cells].any())
        return not self._known_nonempty

    def __len__(self) -> int:
        return self.num_elites

    @torch.no_grad()
    def sample(self, n: int) -> dict[str, Tensor]:
        """Draw `n` elites uniformly, with replacement, with the archive's generator.

        Returns tensors on the archive's device: "solution", "objective", "measures",
        "threshold" and "index" (int64).

        Raises:
            IndexError: The archive is empty.
        """
        if self.empty:
            raise IndexError("No elements in archive.")
        rank = torch.cumsum(self._occupied[: self.cells], dim=0)
        total = rank[-1]
        float_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        u = torch.rand(n, generator=self._generator, device=self.device, dtype=float_dtype)
        k = torch.minimum((u * total).to(torch.int64), total - 1)
        cell = torch.searchsorted(rank, k + 1)
        return {
            "solution": self._solution.index_select(0, cell),
            "objective": self._objective.index_select(0, cell),
            "measures": self._measures.index_select(0, cell),
            "threshold": self._threshold.index_select(0, cell),
            "index": cell,
        }

    def sample_elites(self, n: int) -> dict[str, np.ndarray]:
        """`sample` as host arrays, under pyribs' name (index as int32, as pyribs gives it)."""
        drawn = self.sample(n)
        if self.dtype not in _NUMPY_DTYPES:
            drawn = {k: v.to(torch.float32) if v.is_floating_point() else v
                     for k, v in drawn.items()}
        out = {k: v.cpu().numpy() for k, v in drawn.items()}
        out["index"] = out["index"].astype(np.int32)
        return out

    def data(self) -> dict[str, np.ndarray]:
        """Host copy of the elites, ordered by cell index (pyribs' field names)."""
        cell = torch.nonzero(self._occupied[: self.cells]).squeeze(1)
        host = {
            "solution": self._solution.index_select(0, cell),
            "objective": self._objective.index_select(0, cell),
            "measures": self._measures.index_select(0, cell),
            "threshold": self._threshold.index_select(0, cell),
        }
        if self.dtype not in _NUMPY_DTYPES:
            host = {k: v.to(torch.float32) for k, v in host.items()}
        out = {k: v.cpu().numpy() for k, v in host.items()}
        out["index"] = cell.cpu().numpy().astype(np.int32)
        return out

    def _flush(self) -> None:
        """Fold the pending add records into the objective sum and best objective.

        Each record holds, per solution of one batch, its destination (`cells` for a loser),
        its objective minus the one it replaced and its objective (-inf for a loser); pyribs
        sums the winners' differences with `np.sum` in cell order, and so does this.
        """
        if not self._pending:
            return
        sizes = [dest.shape[0] for dest, _, _ in self._pending]
        dests = torch.cat([dest for dest, _, _ in self._pending]).cpu().numpy()
        values = torch.cat([torch.stack((diff, obj)) for _, diff, obj in self._pending], 1)
        if values.dtype not in _NUMPY_DTYPES:
            values = values.to(torch.float32)
        diffs, objs = values.cpu().numpy()
        self._pending = []
        start = 0
        total, best = self._objective_sum, self._obj_max
        for size in sizes:
            stop = start + size
            won = dests[start:stop] < self.cells
            if won.any():
                cell = dests[start:stop][won]
                total = total + np.sum(diffs[start:stop][won][np.argsort(cell)])
                batch_best = float(objs[start:stop][won].max())
                best = batch_best if best is None or batch_best > best else best
            start = stop
        self._objective_sum = np.asarray(total, dtype=self._np_dtype)
        self._obj_max = best

    @property
    def stats(self) -> TensorArchiveStats:
        """QD statistics, computed as pyribs computes them (waits for the device)."""
        self._flush()
        dt = self._np_dtype
        n = self.num_elites
        if n == 0:
            return TensorArchiveStats(0, 0.0, 0.0, 0.0, None, None)
        qd_score = self._objective_sum - np.asarray(n, dtype=dt) * np.asarray(
            self.qd_score_offset, dtype=dt
        )
        return TensorArchiveStats(
            num_elites=n,
            coverage=float(np.asarray(n / self.cells, dtype=dt)),
            qd_score=float(qd_score),
            norm_qd_score=float(np.asarray(qd_score / self.cells, dtype=dt)),
            obj_max=self._obj_max,
            obj_mean=float(np.asarray(self._objective_sum / n, dtype=dt)),
        )
