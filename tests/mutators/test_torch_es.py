"""Torch CMA-ME / CMA-MAE: `BatchedCMAES` and `ESEmitterGroup` against pyribs 0.12.

Parity tests inject the torch side's solutions into pyribs (its eigenvectors may differ from
torch's by sign, so the same normal draws need not give the same solutions after the first
eigen refresh) and compare the whole ES state after every step.
"""

from __future__ import annotations

import math
import pickle
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ribs.archives import GridArchive
from ribs.emitters import EvolutionStrategyEmitter
from ribs.emitters.opt import CMAEvolutionStrategy

from mutators import EmitterContext
from mutators.cma import CMAMAE, CMAME, CMAMAEConfig, CMAMEConfig
from mutators.torch.cma_es import BatchedCMAES
from mutators.torch.es import ESEmitterGroup, descending_argsort
from qd.errors import SpecError

try:  # The torch archive; without it the tests use only the pyribs-backed stand-in below.
    from archives.tensor import AddInfo, GridIndex, TensorArchive
except ImportError:  # pragma: no cover - depends on the archive being present
    TensorArchive = None

    @dataclass(frozen=True)
    class AddInfo:  # type: ignore[no-redef]
        status: torch.Tensor
        value: torch.Tensor


torch.set_num_threads(1)
F64 = torch.float64
TOL = 1e-12


class RibsArchive:
    """The contract's TensorArchive surface over a pyribs GridArchive (CPU, float64)."""

    def __init__(self, dim: int, cells=(10, 10), ranges=((-2, 2), (-2, 2)), seed: int = 0,
                 **kwargs) -> None:
        self.ribs = GridArchive(solution_dim=dim, dims=cells, ranges=ranges, seed=seed, **kwargs)
        self.solution_dim, self.device, self.dtype = dim, torch.device("cpu"), F64
        self.sampled: list[np.ndarray] = []

    def add(self, solution, objective, measures) -> AddInfo:
        info = self.ribs.add(solution.numpy(), objective.numpy(), measures.numpy())
        return AddInfo(status=torch.from_numpy(info["status"]),
                       value=torch.from_numpy(info["value"]))

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        data = self.ribs.sample_elites(n)
        self.sampled.extend(data["solution"])
        return {k: torch.from_numpy(v) for k, v in data.items()}

    @property
    def empty(self) -> bool:
        return self.ribs.empty

    @property
    def stats(self):
        return self.ribs.stats


def sphere(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shifted sphere; measures = the first two coordinates."""
    return -((x - 0.5) ** 2).sum(dim=1), x[:, :2].clone()


def state(opt: CMAEvolutionStrategy) -> dict[str, np.ndarray]:
    return {"mean": opt.mean, "sigma": np.asarray(opt.sigma), "cov": opt.cov.cov, "pc": opt.pc,
            "ps": opt.ps, "invsqrt": opt.cov.invsqrt, "eigenvalues": opt.cov.eigenvalues}


def batched_state(opt: BatchedCMAES, i: int) -> dict[str, np.ndarray]:
    return {"mean": opt.mean[i], "sigma": opt.sigma[i], "cov": opt.cov[i], "pc": opt.pc[i],
            "ps": opt.ps[i], "invsqrt": opt.invsqrt[i], "eigenvalues": opt.eigenvalues[i]}


def assert_same_state(ref: CMAEvolutionStrategy, opt: BatchedCMAES, i: int) -> None:
    mine = batched_state(opt, i)
    for key, value in state(ref).items():
        np.testing.assert_allclose(mine[key].numpy(), value, rtol=TOL, atol=TOL, err_msg=key)
    assert opt.current_eval[i] == ref.current_eval


class FixedNormal:
    """Stands in for pyribs' numpy Generator: `normal(0, sigma, size)` returns sigma * z."""

    def __init__(self, z: np.ndarray) -> None:
        self.z = z

    def normal(self, loc, scale, size):
        assert loc == 0.0 and size == self.z.shape
        return scale * self.z


# ------------------------------------------------------------------------ BatchedCMAES


def test_first_step_same_draws_match_pyribs():
    dim, batch = 6, 12
    x0 = np.linspace(-1, 1, dim)
    opt = BatchedCMAES(1, dim, 0.3, torch.tensor(x0), batch, seed=1)
    ref = CMAEvolutionStrategy(0.3, dim, batch, seed=1)
    ref.reset(x0)
    z = torch.randn((1, batch, dim), dtype=F64, generator=torch.Generator().manual_seed(5))
    sols = opt.sample(z)
    opt._solutions = sols
    ref._rng = FixedNormal(z[0].numpy())
    np.testing.assert_allclose(ref.ask(), sols[0].numpy(), rtol=0, atol=TOL)
    ranking = torch.argsort(-sphere(sols[0])[0])
    opt.tell(ranking[None], torch.tensor([batch // 2]))
    ref.tell(ranking.numpy(), None, batch // 2)
    assert_same_state(ref, opt, 0)


@pytest.mark.parametrize("num_parents", [[6, 6, 6, 6], [0, 1, 4, 12]])
def test_batched_steps_match_separate_pyribs_instances(num_parents):
    """E instances over many steps (eigen refreshes included) equal E pyribs CMA-ES, with
    per-instance numbers of parents (0: the step only counts evaluations)."""
    e, dim, batch = len(num_parents), 8, 12
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn((e, dim), dtype=F64, generator=gen)
    opt = BatchedCMAES(e, dim, 0.4, x0, batch, seed=3)
    refs = []
    for i in range(e):
        refs.append(CMAEvolutionStrategy(0.4, dim, batch, seed=i))
        refs[i].reset(x0[i].numpy())
    refreshed = 0
    for step in range(25):
        before = opt._updated_eval.copy()
        sols = opt.ask()
        refreshed += int((opt._updated_eval != before).any())
        objective = -((sols - 1.0) ** 2).sum(dim=-1)
        ranking = descending_argsort(objective)
        # Vary the parents with the step so every instance sees several counts.
        parents = torch.tensor([(p + step) % (batch + 1) if p else 0 for p in num_parents])
        opt.tell(ranking, parents)
        for i, ref in enumerate(refs):
            ref.ask()
            ref._solutions = sols[i].numpy().copy()
            ref.tell(ranking[i].numpy(), objective[i].numpy(), int(parents[i]))
            assert_same_state(ref, opt, i)
            values = objective[i][ranking[i]]
            assert bool(opt.check_stop(objective.gather(1, ranking))[i]) == ref.check_stop(
                values.numpy())
    assert refreshed >= 10
    assert opt.condition_number.shape == (e,)


def test_reset_is_per_instance():
    opt = BatchedCMAES(3, 4, 0.5, torch.zeros(4, dtype=F64), 8, seed=0)
    for _ in range(5):
        sols = opt.ask()
        opt.tell(descending_argsort(-sols.pow(2).sum(-1) + 0), torch.full((3,), 4))
    kept = {k: v.clone() for k, v in batched_state(opt, 0).items()}
    new_mean = torch.arange(12, dtype=F64).reshape(3, 4)
    opt.reset(torch.tensor([False, True, False]), new_mean)
    assert torch.equal(opt.mean[1], new_mean[1])
    assert float(opt.sigma[1]) == 0.5 and torch.equal(opt.cov[1], torch.eye(4, dtype=F64))
    assert opt.current_eval.tolist() == [40, 0, 40]
    for key, value in batched_state(opt, 0).items():
        assert torch.equal(value, kept[key]), key


def test_bounds_are_respected():
    lo, hi = -0.2, torch.tensor([0.1, 0.2, 0.3, 0.4, math.inf], dtype=F64)
    opt = BatchedCMAES(4, 5, 0.1, torch.zeros(5, dtype=F64), 16, lo, hi, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # resampling alone suffices here: no clipping
        for _ in range(10):
            sols = opt.ask()
            assert bool((sols >= lo).all()) and bool((sols <= hi).all())
            opt.tell(descending_argsort(-sols.pow(2).sum(-1)), torch.full((4,), 8))
    # Bounds far too tight for the distribution: clipped after the last round, with a warning.
    tight = BatchedCMAES(2, 5, 10.0, torch.zeros(5, dtype=F64), 16, -1e-3, 1e-3, seed=4,
                         max_resamples=3)
    with pytest.warns(UserWarning, match="clipped"):
        sols = tight.ask()
    assert float(sols.abs().max()) <= 1e-3


def test_pickle_continues_identically():
    opt = BatchedCMAES(3, 5, 0.3, torch.zeros(5, dtype=F64), 10, seed=9)
    opt.tell(descending_argsort(opt.ask().sum(-1)), torch.full((3,), 5))
    copy = pickle.loads(pickle.dumps(opt))
    for _ in range(3):
        a, b = opt.ask(), copy.ask()
        assert torch.equal(a, b)
        for o in (opt, copy):
            o.tell(descending_argsort(a.sum(-1)), torch.full((3,), 5))


# ---------------------------------------------------------------------- ESEmitterGroup


def run_pair(ranker, selection_rule, restart_rule, steps, *, e=3, batch=10, dim=6,
             archive_kwargs=None, bounds=None):
    """Run a torch group and `e` pyribs emitters on twin archives with shared solutions;
    yield after every step (pyribs restarts are fed the elites the torch group sampled)."""
    archive_kwargs = archive_kwargs or {}
    mine = RibsArchive(dim, cells=(4, 4), seed=1, **archive_kwargs)
    ref = GridArchive(solution_dim=dim, dims=(4, 4), ranges=((-2, 2), (-2, 2)), seed=1,
                      **archive_kwargs)
    ref.sample_elites = lambda n: {"solution": np.stack([mine.sampled.pop(0)
                                                         for _ in range(n)])}
    x0 = np.full(dim, 0.2)
    kw = {"x0": x0, "sigma0": 0.3, "ranker": ranker, "selection_rule": selection_rule,
          "restart_rule": restart_rule, "bounds": bounds, "batch_size": batch}
    group = ESEmitterGroup(mine, count=e, seed=11, **kw)
    emitters = [EvolutionStrategyEmitter(ref, seed=i, **kw) for i in range(e)]
    for _ in range(steps):
        sols = group.ask()
        objective, measures = sphere(sols)
        for i, em in enumerate(emitters):
            em.ask()
            em._opt._solutions = sols[i * batch:(i + 1) * batch].numpy().copy()
        info = mine.add(sols, objective, measures)
        ref_info = ref.add(sols.numpy(), objective.numpy(), measures.numpy())
        np.testing.assert_array_equal(info.status.numpy(), ref_info["status"])
        group.tell(sols, objective, measures, info)
        for i, em in enumerate(emitters):
            part = slice(i * batch, (i + 1) * batch)
            em.tell(sols[part].numpy(), objective[part].numpy(), measures[part].numpy(),
                    {k: v[part] for k, v in ref_info.items()})
        yield group, emitters


@pytest.mark.parametrize(
    ("ranker", "selection_rule", "restart_rule", "archive_kwargs"),
    [
        ("2imp", "filter", "no_improvement", None),
        ("imp", "mu", "basic", {"learning_rate": 0.05, "threshold_min": -20.0}),
        ("obj", "mu", "no_improvement", None),
        ("2obj", "filter", "basic", None),
        ("imp", "filter", 4, {"learning_rate": 0.5, "threshold_min": -20.0}),
    ],
)
def test_group_matches_pyribs_emitters(ranker, selection_rule, restart_rule, archive_kwargs):
    for group, emitters in run_pair(ranker, selection_rule, restart_rule, 30,
                                    archive_kwargs=archive_kwargs):
        for i, em in enumerate(emitters):
            assert_same_state(em._opt, group.opt, i)
            assert group.restarts[i] == em.restarts
    if restart_rule != "basic":
        assert group.restarts.sum() > 0


def test_group_matches_pyribs_with_bounds():
    bounds = ((-0.5, 0.5),) * 3 + ((None, 1.0),) * 3
    for group, emitters in run_pair("2imp", "filter", "no_improvement", 10, bounds=bounds):
        sols = group.opt.solutions
        assert bool((sols[..., :3].abs() <= 0.5).all()) and bool((sols[..., 3:] <= 1).all())
        for i, em in enumerate(emitters):
            assert_same_state(em._opt, group.opt, i)


def info_of(status: list[list[int]]) -> AddInfo:
    s = torch.tensor(status, dtype=torch.int32).reshape(-1)
    return AddInfo(status=s, value=torch.linspace(1, 0, len(s), dtype=F64))


def test_restart_rules():
    dim, batch = 4, 4
    archive = RibsArchive(dim)
    archive.ribs.add(np.full((1, dim), 0.7), [1.0], [[0.7, 0.7]])
    x0 = np.zeros(dim)

    def group(rule, ranker="2imp"):
        return ESEmitterGroup(archive, count=3, x0=x0, sigma0=0.2, ranker=ranker,
                              restart_rule=rule, batch_size=batch, seed=0)

    no_imp = group("no_improvement")
    sols = no_imp.ask()
    objective = torch.linspace(0, 1, len(sols), dtype=F64)
    no_imp.tell(sols, objective, sols[:, :2], info_of([[0] * 4, [2, 0, 0, 1], [0] * 4]))
    assert no_imp.restarts.tolist() == [1, 0, 1]
    assert torch.equal(no_imp.opt.mean[0], torch.full((dim,), 0.7, dtype=F64))
    assert no_imp.opt.current_eval.tolist() == [0, batch, 0]

    basic = group("basic")
    sols = basic.ask()
    basic.tell(sols, objective, sols[:, :2], info_of([[0] * 4] * 3))
    assert basic.restarts.tolist() == [0, 0, 0]
    # Flat ranking values stop the ES (pyribs' `check_stop`), whatever the restart rule.
    flat = group("basic", ranker="obj")
    sols = flat.ask()
    objective = torch.tensor([1.0] * 4 + [1.0, 2.0, 3.0, 4.0] + [5.0] * 4, dtype=F64)
    flat.tell(sols, objective, sols[:, :2], info_of([[2] * 4] * 3))
    assert flat.restarts.tolist() == [1, 0, 1]

    every = group(2)
    for step in range(4):
        sols = every.ask()
        every.tell(sols, torch.arange(12.0, dtype=F64), sols[:, :2], info_of([[1] * 4] * 3))
        assert every.restarts.tolist() == [(step + 1) // 2] * 3

    # An empty archive: the restart re-centres on x0 (pyribs would raise).
    lonely = ESEmitterGroup(RibsArchive(dim), count=2, x0=x0 + 0.1, sigma0=0.2,
                            batch_size=batch, seed=0)
    sols = lonely.ask()
    lonely.tell(sols, objective[:8], sols[:, :2], info_of([[0] * 4] * 2))
    assert lonely.restarts.tolist() == [1, 1]
    assert torch.allclose(lonely.opt.mean, torch.full((2, dim), 0.1, dtype=F64))


def test_descending_argsort_matches_numpy_flip_lexsort():
    gen = np.random.default_rng(0)
    status = gen.integers(0, 3, (5, 20))
    value = gen.integers(-2, 3, (5, 20)).astype(float)  # many ties
    got = descending_argsort(torch.from_numpy(status), torch.from_numpy(value)).numpy()
    for i in range(5):
        want = np.flip(np.lexsort(np.flip(np.stack((status[i], value[i]), -1), -1).T))
        np.testing.assert_array_equal(got[i], want)
        np.testing.assert_array_equal(
            descending_argsort(torch.from_numpy(value[i : i + 1])).numpy()[0],
            np.flip(np.argsort(value[i], kind="stable")),
        )


def sphere_problem(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """10-D sphere (objective in [0, 100]); measures: clipped half sums (sphere_lp-like)."""
    d = x.shape[1]
    objective = 100 * (1 - ((x - 2.048) ** 2).sum(1) / (d * (5.12 + 2.048) ** 2))
    clipped = torch.where(x.abs() <= 5.12, x, 5.12 / x)
    return objective, torch.stack((clipped[:, : d // 2].sum(1), clipped[:, d // 2 :].sum(1)), 1)


def make_archive(kind: str, dim: int, seed: int = 0, **kwargs):
    """A 20x20 archive over [-25.6, 25.6]^2: the pyribs stand-in or the TensorArchive."""
    ranges = ((-25.6, 25.6),) * 2
    if kind == "ribs":
        return RibsArchive(dim, cells=(20, 20), ranges=ranges, seed=seed, **kwargs)
    if TensorArchive is None:
        pytest.skip("archives.tensor is not there yet")
    return TensorArchive(GridIndex((20, 20), ranges), dim, seed=seed, **kwargs)


ARCHIVES = pytest.mark.parametrize("kind", ["ribs", "tensor"])


@ARCHIVES
def test_cma_mae_family_improves_qd_score(kind):
    dim = 10
    cfg = CMAMAEConfig(count=3, batch_size=12, sigma0=0.5)
    archive = make_archive(kind, dim, learning_rate=cfg.learning_rate, threshold_min=0.0)
    result = make_archive(kind, dim)
    context = EmitterContext(x0=np.zeros(dim), bounds=None)
    group = CMAMAE(cfg).build_torch(archive, context, [1, 2, 3], torch.device("cpu"))
    assert group.batch_size == 36
    scores = []
    for _ in range(60):
        sols = group.ask()
        assert sols.shape == (36, dim) and sols.dtype == F64
        objective, measures = sphere_problem(sols)
        info = archive.add(sols, objective, measures)
        result.add(sols, objective, measures)
        group.tell(sols, objective, measures, info)
        scores.append(result.stats.qd_score)
    assert scores[-1] > 1.5 * scores[4] > 0
    # Same seeds, same run.
    again = CMAMAE(cfg).build_torch(make_archive(kind, dim, learning_rate=0.01, threshold_min=0.0),
                                    context, [1, 2, 3], torch.device("cpu"))
    fresh = CMAMAE(cfg).build_torch(archive, context, [1, 2, 3], torch.device("cpu"))
    assert torch.equal(again.ask(), fresh.ask())


@ARCHIVES
def test_group_pickle_round_trip_continues_identically(kind):
    dim = 10
    archive = make_archive(kind, dim, seed=2)
    group = ESEmitterGroup(archive, count=2, x0=np.zeros(dim), sigma0=0.5, batch_size=8,
                           restart_rule="no_improvement", seed=5)

    def step(g):
        sols = g.ask()
        objective, measures = sphere_problem(sols)
        g.tell(sols, objective, measures, g.archive.add(sols, objective, measures))
        return sols

    for _ in range(5):
        step(group)
    copy = pickle.loads(pickle.dumps(group))
    assert copy.archive is not archive
    for _ in range(15):
        assert torch.equal(step(group), step(copy))
    assert np.array_equal(group.restarts, copy.restarts)


def test_unsupported_es_and_rankers_raise_spec_error():
    context = EmitterContext(x0=np.zeros(4), bounds=None)
    archive = SimpleNamespace(solution_dim=4, device=torch.device("cpu"), dtype=F64)
    for cfg in (CMAMEConfig(es="sep_cma_es"), CMAMEConfig(es="openai_es"),
                CMAMEConfig(ranker="rd"), CMAMEConfig(ranker="nov")):
        with pytest.raises(SpecError, match="supported: "):
            CMAME(cfg).build_torch(archive, context, [0], torch.device("cpu"))


def test_build_torch_uses_bounds_and_x0():
    bounds = ((-1.0, 1.0),) * 4
    context = EmitterContext(x0=np.full(4, 0.5), bounds=bounds)
    archive = RibsArchive(4)
    group = CMAME(CMAMEConfig(count=2, batch_size=5, sigma0=3.0)).build_torch(
        archive, context, [4, 5], torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sols = group.ask()
    assert sols.shape == (10, 4) and float(sols.abs().max()) <= 1.0
    assert torch.equal(group.opt.mean, torch.full((2, 4), 0.5, dtype=F64))


def test_float32_state_and_solutions():
    opt = BatchedCMAES(2, 5, 0.3, torch.zeros(5), 8, dtype=torch.float32, seed=0)
    for _ in range(10):
        sols = opt.ask()
        opt.tell(descending_argsort(-sols.pow(2).sum(-1)), torch.tensor([4, 0]))
    assert sols.dtype == torch.float32 and opt.cov.dtype == torch.float32
    assert bool(torch.isfinite(opt.cov).all()) and opt.current_eval.tolist() == [80, 80]
