"""CMA-MEGA / CMA-MAEGA on the torch backend: problem Jacobians, `GradientArborescenceGroup`
against pyribs 0.12's `GradientArborescenceEmitter`, and the family's build checks.

The parity test injects the torch group's gradient coefficients into pyribs' emitters (the two
draw from different generators) and inserts every batch into two identical pyribs archives, so
both sides see the same statuses and values; theta and the coefficient CMA-ES must then agree
after every iteration.
"""

from __future__ import annotations

import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ribs.archives import GridArchive
from ribs.emitters import GradientArborescenceEmitter
from ribs.emitters.opt import AdamOpt

from archives.tensor import AddInfo, GridIndex, TensorArchive
from mutators import EmitterContext, emitter_registry
from mutators.dqd import CMAMAEGA, CMAMEGA, CMAMAEGAConfig, CMAMEGAConfig
from mutators.torch.dqd import BatchedGradientOpt, GradientArborescenceGroup, parent_weights
from problems.arm import ArmConfig, ArmRepertoire
from problems.linear_projection import RastriginLP, RastriginLPConfig, SphereLP, SphereLPConfig
from qd.errors import SpecError

torch.set_num_threads(1)
F64 = torch.float64
LIMIT = 5.12


def _analytic_measure_grads(x: torch.Tensor) -> torch.Tensor:
    """(B, 2, D) gradients of the clipped half sums (the papers' closed form)."""
    half = x.shape[1] // 2
    outside = x.abs() > LIMIT
    d = torch.where(outside, -LIMIT / x.square(), torch.ones_like(x))
    mask0 = torch.zeros_like(x)
    mask0[:, :half] = 1
    return torch.stack((d * mask0, d * (1 - mask0)), dim=1)


def _points(dim: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = 4.0 * torch.randn(16, dim, generator=gen, dtype=F64)
    x[0] = 0.0  # the default centre: the clipping's 5.12 / x must not poison the gradient
    x[1, :3] = torch.tensor([7.0, -6.0, 20.0], dtype=F64)  # clipped coordinates
    return x


# ----------------------------------------------------------------------------- Jacobians


def test_sphere_jacobian_is_the_analytic_gradient() -> None:
    problem = SphereLP(SphereLPConfig(dim=10))
    x = _points(10)
    objective, measures, jacobian = problem.evaluate_with_jacobian(x)
    ref_obj, ref_meas = problem.evaluate(x)
    assert jacobian.shape == (16, 3, 10) and jacobian.dtype == F64
    assert torch.equal(objective, ref_obj) and torch.equal(measures, ref_meas)
    assert not (objective.requires_grad or measures.requires_grad or jacobian.requires_grad)
    worst = 10 * (LIMIT + 0.4 * LIMIT) ** 2
    grad_obj = -200.0 * (x - 0.4 * LIMIT) / worst
    torch.testing.assert_close(jacobian[:, 0], grad_obj, rtol=0, atol=1e-12)
    torch.testing.assert_close(jacobian[:, 1:], _analytic_measure_grads(x), rtol=0, atol=1e-12)


def test_rastrigin_jacobian_is_the_analytic_gradient() -> None:
    problem = RastriginLP(RastriginLPConfig(dim=7))
    x = _points(7, seed=1)
    with torch.no_grad():  # gradients are taken even when the caller disabled them
        _, _, jacobian = problem.evaluate_with_jacobian(x)
    z = x - 0.4 * LIMIT
    raw_grad = 2 * z + 2 * math.pi * 10.0 * torch.sin(2 * math.pi * z)
    torch.testing.assert_close(jacobian[:, 0], raw_grad * (-100.0 / problem._worst),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(jacobian[:, 1:], _analytic_measure_grads(x), rtol=0, atol=1e-12)


def test_non_differentiable_problem_refuses_jacobians() -> None:
    arm = ArmRepertoire(ArmConfig())
    assert not arm.differentiable and SphereLP.differentiable and RastriginLP.differentiable
    with pytest.raises(TypeError, match="not differentiable"):
        arm.evaluate_with_jacobian(torch.zeros(2, arm.solution_dim, dtype=F64))


# ------------------------------------------------------------------------- group basics


def _archive(dim: int, cells=(10, 10), *, learning_rate: float | None = None, seed: int = 0,
             bound: float | None = None) -> TensorArchive:
    bound = LIMIT * (dim // 2) if bound is None else bound
    index = GridIndex(cells, ((-bound, bound), (-bound, bound)), 1e-6, device="cpu", dtype=F64)
    if learning_rate is None:
        return TensorArchive(index, dim, seed=seed)
    return TensorArchive(index, dim, learning_rate=learning_rate, threshold_min=0.0, seed=seed)


def _group(archive: TensorArchive, count: int = 3, **kwargs) -> GradientArborescenceGroup:
    options = {"sigma0": 10.0, "lr": 1.0, "batch_size": 11, "ranker": "imp",
               "selection_rule": "mu", "restart_rule": "basic",
               "grad_opt": "gradient_ascent", "seed": 7} | kwargs
    return GradientArborescenceGroup(archive, count=count, x0=np.zeros(archive.solution_dim),
                                     **options)


def _iterate(problem, group, archive, result=None) -> None:
    """One DQD iteration the way the torch scheduler runs it."""
    for dqd in (True, False):
        if dqd:
            x = group.ask_dqd()
            objective, measures, jacobian = problem.evaluate_with_jacobian(x)
        else:
            x = group.ask()
            objective, measures = problem.evaluate(x)
        info = archive.add(x, objective, measures)
        if result is not None:
            result.add(x, objective, measures)
        if dqd:
            group.tell_dqd(x, objective, measures, jacobian, info)
        else:
            group.tell(x, objective, measures, info)


def test_round_trip_shapes_device_and_order() -> None:
    problem = SphereLP(SphereLPConfig(dim=8))
    archive = _archive(8)
    group = _group(archive, count=3, batch_size=5)
    assert (group.batch_size, group.dqd_size, group.emitter_batch_size) == (15, 3, 5)
    with pytest.raises(RuntimeError, match="ask_dqd"):
        group.ask()
    points = group.ask_dqd()
    assert points.shape == (3, 8) and points.device == archive.device and points.dtype == F64
    objective, measures, jacobian = problem.evaluate_with_jacobian(points)
    with pytest.raises(ValueError, match="jacobian should have shape"):
        group.tell_dqd(points, objective, measures, jacobian[:, :2],
                       archive.add(points, objective, measures))
    group.tell_dqd(points, objective, measures, jacobian, archive.add(points, objective, measures))
    norms = torch.linalg.vector_norm(group.jacobian, dim=2)
    torch.testing.assert_close(norms, torch.ones(3, 3, dtype=F64))
    branches = group.ask()
    assert branches.shape == (15, 8) and branches.device == archive.device
    coefficients = group.opt.solutions  # (E, lambda, 1 + M)
    expected = group.theta[:, None] + coefficients @ group.jacobian
    torch.testing.assert_close(branches, expected.reshape(15, 8))  # emitter by emitter
    objective, measures = problem.evaluate(branches)
    group.tell(branches, objective, measures, archive.add(branches, objective, measures))
    assert group.itrs == 1 and group.theta.shape == (3, 8)


def test_theta_moves_to_the_weighted_mean_of_the_best_half() -> None:
    problem = SphereLP(SphereLPConfig(dim=6))
    archive = _archive(6, learning_rate=0.01)
    group = _group(archive, count=2, batch_size=9)
    x = group.ask_dqd()
    objective, measures, jacobian = problem.evaluate_with_jacobian(x)
    group.tell_dqd(x, objective, measures, jacobian, archive.add(x, objective, measures))
    branches = group.ask()
    objective, measures = problem.evaluate(branches)
    info = archive.add(branches, objective, measures)
    group.tell(branches, objective, measures, info)
    for e in range(2):
        rows = slice(9 * e, 9 * (e + 1))
        order = torch.argsort(info.value[rows], descending=True)[:4]
        w = np.log(4.5) - np.log(np.arange(1, 5))
        mean = (torch.as_tensor(w / w.sum())[:, None] * branches[rows][order]).sum(0)
        torch.testing.assert_close(group.theta[e], mean, rtol=0, atol=1e-12)


def test_parent_weights_handle_zero_parents() -> None:
    w = parent_weights(torch.tensor([0, 1, 3]), 4, F64)
    assert torch.equal(w[0], torch.zeros(4, dtype=F64))
    assert torch.equal(w[1], torch.tensor([1.0, 0, 0, 0], dtype=F64))
    ref = np.log(3.5) - np.log(np.arange(1, 4))
    np.testing.assert_allclose(w[2, :3].numpy(), ref / ref.sum(), rtol=0, atol=1e-15)


def test_adam_matches_pyribs() -> None:
    gen = torch.Generator().manual_seed(3)
    theta0 = torch.randn(2, 5, generator=gen, dtype=F64)
    ours = BatchedGradientOpt(theta0, 0.05, "adam", l2_coeff=0.1)
    ref = [AdamOpt(theta0[i].numpy(), lr=0.05, l2_coeff=0.1) for i in range(2)]
    for step in range(6):
        g = torch.randn(2, 5, generator=gen, dtype=F64)
        active = torch.tensor([True, step % 2 == 0])
        ours.step(g, active)
        for i in range(2):
            if bool(active[i]):
                ref[i].step(g[i].numpy())
            np.testing.assert_allclose(ours.theta[i].numpy(), ref[i].theta, rtol=0, atol=1e-14)


# ------------------------------------------------------------------------ pyribs parity


class _RibsPair:
    """Two identical pyribs archives: one behind the contract's `add` for the torch group, one
    for pyribs' emitters; each batch goes into both at once."""

    def __init__(self, dim: int, **kwargs) -> None:
        bound = LIMIT * (dim // 2)
        make = lambda: GridArchive(solution_dim=dim, dims=(12, 12),  # noqa: E731
                                   ranges=[(-bound, bound)] * 2, seed=0, **kwargs)
        self.torch_side, self.ribs_side = make(), make()
        self.solution_dim, self.measure_dim = dim, 2
        self.device, self.dtype = torch.device("cpu"), F64
        self.empty = False

    def add(self, solution, objective, measures) -> tuple[AddInfo, dict]:
        a = self.torch_side.add(solution.numpy(), objective.numpy(), measures.numpy())
        b = self.ribs_side.add(solution.numpy(), objective.numpy(), measures.numpy())
        np.testing.assert_array_equal(a["status"], b["status"])
        return AddInfo(torch.from_numpy(a["status"]), torch.from_numpy(a["value"])), b


def _injected_ask(es, coefficients: np.ndarray):
    """A stand-in for pyribs' `CMAEvolutionStrategy.ask` that returns given coefficients (after
    the lazy eigen refresh pyribs' own ask does)."""

    def ask(batch_size=None):
        es.cov.update_eigensystem(es.current_eval, es.lazy_gap_evals)
        es._solutions = coefficients
        return coefficients

    return ask


def _slice(info: dict, part: slice) -> dict:
    return {k: v[part] for k, v in info.items()}


@pytest.mark.parametrize(
    "options",
    [
        {"ranker": "imp", "selection_rule": "mu", "grad_opt": "gradient_ascent", "lr": 1.0,
         "learning_rate": 0.01},  # CMA-MAEGA
        {"ranker": "2imp", "selection_rule": "filter", "grad_opt": "adam", "lr": 0.05,
         "learning_rate": None},  # CMA-MEGA (Adam), filter selection
    ],
)
def test_matches_pyribs_gradient_arborescence_emitter(options: dict) -> None:
    dim, count, lam = 10, 2, 9
    problem = SphereLP(SphereLPConfig(dim=dim))
    lr_archive = options.pop("learning_rate")
    kwargs = {} if lr_archive is None else {"learning_rate": lr_archive, "threshold_min": 0.0}
    pair = _RibsPair(dim, **kwargs)
    group = _group(pair, count=count, batch_size=lam, sigma0=2.0, **options)
    ribs = [GradientArborescenceEmitter(pair.ribs_side, x0=np.zeros(dim), sigma0=2.0,
                                        batch_size=lam, restart_rule="basic", seed=s, **options)
            for s in range(count)]
    for _ in range(8):
        x = group.ask_dqd()
        x_ribs = np.concatenate([em.ask_dqd() for em in ribs])
        np.testing.assert_allclose(x.numpy(), x_ribs, rtol=0, atol=1e-10)
        objective, measures, jacobian = problem.evaluate_with_jacobian(x)
        info, info_ribs = pair.add(x, objective, measures)
        group.tell_dqd(x, objective, measures, jacobian, info)
        for i, em in enumerate(ribs):
            em.tell_dqd(x_ribs[i : i + 1], objective.numpy()[i : i + 1],
                        measures.numpy()[i : i + 1], jacobian.numpy()[i : i + 1].copy(),
                        _slice(info_ribs, slice(i, i + 1)))

        branches = group.ask()
        coefficients = group.opt.solutions.numpy()
        parts = []
        for i, em in enumerate(ribs):
            em._opt.ask = _injected_ask(em._opt, coefficients[i].copy())
            parts.append(em.ask())
        np.testing.assert_allclose(branches.numpy(), np.concatenate(parts), rtol=0, atol=1e-10)
        objective, measures = problem.evaluate(branches)
        info, info_ribs = pair.add(branches, objective, measures)
        group.tell(branches, objective, measures, info)
        for i, em in enumerate(ribs):
            part = slice(i * lam, (i + 1) * lam)
            em.tell(branches.numpy()[part], objective.numpy()[part], measures.numpy()[part],
                    _slice(info_ribs, part))
        for i, em in enumerate(ribs):
            np.testing.assert_allclose(group.theta[i].numpy(), em._grad_opt.theta,
                                       rtol=0, atol=1e-9)
            np.testing.assert_allclose(group.opt.mean[i].numpy(), em._opt.mean, atol=1e-9)
            np.testing.assert_allclose(group.opt.sigma[i].item(), em._opt.sigma, rtol=1e-10)
            np.testing.assert_allclose(group.opt.cov[i].numpy(), em._opt.cov.cov, atol=1e-9)
    assert group.restarts.sum() == 0


def test_restart_recentres_on_an_elite_and_resets_the_es() -> None:
    problem = SphereLP(SphereLPConfig(dim=6))
    archive = _archive(6)
    group = _group(archive, count=2, batch_size=7, restart_rule=1, grad_opt="adam", lr=0.1)
    _iterate(problem, group, archive)
    assert group.restarts.tolist() == [1, 1]
    elites = torch.as_tensor(archive.data()["solution"])
    for e in range(2):
        assert (group.theta[e] - elites).abs().sum(dim=1).min() == 0
    assert torch.equal(group.opt.mean, torch.zeros(2, 3, dtype=F64))
    assert torch.equal(group.opt.sigma, torch.full((2,), 10.0, dtype=F64))
    assert torch.equal(group.grad_opt.t, torch.zeros(2, dtype=F64))


# --------------------------------------------------------------------- search and pickle


def test_cma_maega_beats_random_gaussian_search() -> None:
    dim, count, lam, iters = 20, 3, 35, 60
    problem = SphereLP(SphereLPConfig(dim=dim))
    archive = _archive(dim, (20, 20), learning_rate=0.01, bound=LIMIT * dim / 2)
    result = _archive(dim, (20, 20), seed=1)
    group = _group(archive, count=count, batch_size=lam)
    for _ in range(iters):
        _iterate(problem, group, archive, result)
    evaluations = iters * count * (lam + 1)
    baseline = _archive(dim, (20, 20), seed=2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(iters):
        x = 2.0 * torch.randn(evaluations // iters, dim, generator=gen, dtype=F64)
        baseline.add(x, *problem.evaluate(x))
    ours, theirs = result.stats, baseline.stats
    assert ours.coverage > 0.8, ours
    assert ours.qd_score > 3 * theirs.qd_score, (ours, theirs)


def test_pickle_round_trip_continues_identically() -> None:
    problem = SphereLP(SphereLPConfig(dim=8))
    archive = _archive(8, learning_rate=0.05)
    group = _group(archive, count=2, batch_size=7, restart_rule="no_improvement")
    for _ in range(4):
        _iterate(problem, group, archive)
    archive_b, group_b = pickle.loads(pickle.dumps((archive, group)))
    assert group_b.archive is archive_b
    for _ in range(5):
        _iterate(problem, group, archive)
        _iterate(problem, group_b, archive_b)
        assert torch.equal(group.theta, group_b.theta)
        assert torch.equal(group.opt.cov, group_b.opt.cov)
    assert np.array_equal(group.restarts, group_b.restarts)
    for key, value in archive.data().items():
        np.testing.assert_array_equal(value, archive_b.data()[key])


# ------------------------------------------------------------------------------ family


def _context(problem) -> EmitterContext:
    return EmitterContext(x0=np.zeros(problem.solution_dim), bounds=problem.solution_bounds,
                          problem=problem)


def test_family_defaults_and_build() -> None:
    assert emitter_registry.get("cma_mega") is CMAMEGA
    assert emitter_registry.get("cma_maega") is CMAMAEGA
    mega = CMAMEGAConfig()
    maega = CMAMAEGAConfig()
    assert (mega.sigma0, mega.lr, mega.grad_opt, mega.batch_size) == (10.0, 1.0,
                                                                       "gradient_ascent", 36)
    assert (mega.ranker, mega.selection_rule, mega.restart_rule) == ("2imp", "mu",
                                                                     "no_improvement")
    assert (maega.ranker, maega.selection_rule, maega.restart_rule) == ("imp", "mu", "basic")
    assert CMAMAEGA(maega).archive_learning_rate == 0.01 and CMAMEGA(mega).archive_learning_rate \
        is None
    problem = SphereLP(SphereLPConfig(dim=10))
    archive = _archive(10, learning_rate=0.01)
    group = CMAMAEGA(CMAMAEGAConfig(count=4)).build_torch(
        archive, _context(problem), [1, 2, 3, 4], torch.device("cpu"))
    assert isinstance(group, GradientArborescenceGroup)
    assert (group.count, group.emitter_batch_size, group.batch_size) == (4, 35, 140)


def test_non_differentiable_problem_is_a_spec_error() -> None:
    arm = ArmRepertoire(ArmConfig())
    archive = _archive(arm.solution_dim)
    with pytest.raises(SpecError, match=r"arm_repertoire.*not differentiable.*rastrigin_lp, "
                                        r"sphere_lp"):
        CMAMEGA(CMAMEGAConfig()).build_torch(archive, _context(arm), [0], torch.device("cpu"))


def test_bounded_problem_and_pyribs_backend_are_spec_errors() -> None:
    problem = SphereLP(SphereLPConfig(dim=4))
    bounded = EmitterContext(x0=np.zeros(4), bounds=[(-1.0, 1.0)] * 4, problem=problem)
    with pytest.raises(SpecError, match="bounded"):
        CMAMEGA(CMAMEGAConfig()).build_torch(_archive(4), bounded, [0], torch.device("cpu"))
    ribs_archive = SimpleNamespace(solution_dim=4)
    with pytest.raises(SpecError, match='run.backend = "torch"'):
        CMAMAEGA(CMAMAEGAConfig()).build(ribs_archive, _context(problem), [0])
