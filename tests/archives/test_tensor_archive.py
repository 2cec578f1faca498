"""TensorArchive admits, stores and reports exactly what pyribs 0.12 does (float64 CPU)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from ribs.archives import CVTArchive, GridArchive

import archives.tensor as tensor_module
from archives.base import ArchiveGeometry
from archives.cvt import CVT, CVTConfig
from archives.grid import Grid, GridConfig
from archives.tensor import AddInfo, CVTIndex, GridIndex, TensorArchive

D = 5
DIMS = [12, 9]
RANGES = [(-1.0, 1.0), (-2.0, 3.0)]
OFFSET = -2.5
FIELDS = ("solution", "objective", "measures", "index", "threshold")


def make_pair(learning_rate=None, threshold_min=-math.inf, seed=0, dtype=torch.float64,
              dims=DIMS, ranges=RANGES):
    kw = {} if learning_rate is None else {"learning_rate": learning_rate,
                                           "threshold_min": threshold_min}
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    ribs = GridArchive(solution_dim=D, dims=dims, ranges=ranges, qd_score_offset=OFFSET,
                       seed=seed, dtype=np_dtype, **kw)
    ours = TensorArchive(GridIndex(dims, ranges, 1e-6, dtype=dtype), D,
                         learning_rate=1.0 if learning_rate is None else learning_rate,
                         threshold_min=threshold_min, qd_score_offset=OFFSET, seed=seed,
                         dtype=dtype)
    return ribs, ours


def batch(rng, n, spread=1.0, decimals=None, measure_dim=2):
    solution = rng.normal(size=(n, D))
    objective = rng.normal(size=n)
    if decimals is not None:
        objective = np.round(objective, decimals)  # many exact ties
    measures = rng.uniform(-1.5, 2.5, size=(n, measure_dim)) * spread
    return solution, objective, measures


def assert_info(ribs_info, info: AddInfo):
    assert info.status.dtype == torch.int32
    assert np.array_equal(ribs_info["status"], info.status.numpy())
    assert np.array_equal(ribs_info["value"], info.value.numpy())


def assert_stats(ribs, ours):
    rs, ts = ribs.stats, ours.stats
    assert ts.num_elites == rs.num_elites == ours.num_elites
    for name in ("coverage", "qd_score", "norm_qd_score"):
        assert getattr(ts, name) == float(getattr(rs, name)), name
    for name in ("obj_max", "obj_mean"):
        ref = getattr(rs, name)
        assert getattr(ts, name) == (None if ref is None else float(ref)), name


def assert_same(ribs, ours):
    ref = ribs.data()
    order = np.argsort(ref["index"])
    got = ours.data()
    for name in FIELDS:
        assert np.array_equal(ref[name][order], got[name]), name
    assert_stats(ribs, ours)


def feed(ribs, ours, rng, steps, n, check_each=True, **batch_kw):
    for _ in range(steps):
        s, o, m = batch(rng, n, **batch_kw)
        assert_info(ribs.add(s, o, m), ours.add(s, o, m))
        if check_each:
            assert_same(ribs, ours)
    assert_same(ribs, ours)


@pytest.mark.parametrize(
    ("learning_rate", "threshold_min"),
    [(None, -math.inf), (0.01, 0.0), (1.0, -0.5), (0.3, -1.0)],
    ids=["elitist", "cma_mae", "threshold_min_lr1", "fast_anneal"],
)
def test_grid_matches_pyribs(learning_rate, threshold_min):
    ribs, ours = make_pair(learning_rate, threshold_min)
    rng = np.random.default_rng(1)
    feed(ribs, ours, rng, steps=12, n=300)
    feed(ribs, ours, rng, steps=6, n=300, decimals=1)  # ties, in full and in crowded cells


@pytest.mark.parametrize(
    ("dims", "ranges"),
    [([10, 10], [(-1.0, 2.0)] * 2), ([7], [(-1.0, 1.0)]), ([4, 3, 5], [(-1.0, 2.0)] * 3)],
    ids=["uniform_2d", "1d", "uniform_3d"],
)
def test_grid_shapes_match_pyribs(dims, ranges):
    for lr, tmin in ((None, -math.inf), (0.01, 0.0)):
        ribs, ours = make_pair(lr, tmin, dims=dims, ranges=ranges)
        feed(ribs, ours, np.random.default_rng(16), steps=5, n=200, decimals=1,
             measure_dim=len(dims))
        probe = np.random.default_rng(17).uniform(-3, 4, size=(500, len(dims)))
        assert np.array_equal(ours.index_of(probe).numpy(), ribs.index_of(probe))


def test_grid_matches_pyribs_torch_inputs_and_deferred_stats(monkeypatch):
    # Several pending records replayed at once (and an automatic replay) give the same sums.
    monkeypatch.setattr(tensor_module, "MAX_PENDING_ADDS", 3)
    ribs, ours = make_pair(0.05, 0.0)
    rng = np.random.default_rng(2)
    for _ in range(10):
        s, o, m = batch(rng, 257)
        info = ours.add(torch.as_tensor(s), torch.as_tensor(o), torch.as_tensor(m))
        assert_info(ribs.add(s, o, m), info)
    assert len(ours._pending) < 3
    assert_same(ribs, ours)


def test_partial_scratch_reset_matches_pyribs(monkeypatch):
    # Small batches into a large grid reset only the scratch cells they touched.
    monkeypatch.setattr(tensor_module, "FRESH_SCRATCH_FACTOR", 0)
    for lr, tmin in ((None, -math.inf), (0.1, 0.0)):
        ribs, ours = make_pair(lr, tmin)
        feed(ribs, ours, np.random.default_rng(3), steps=8, n=64, decimals=1)


def test_piecewise_row_writes_match_pyribs(monkeypatch):
    # Row writes above the thread grain go in serial pieces on CPU; same result.
    monkeypatch.setattr(tensor_module, "_GRAIN", 64)
    monkeypatch.setattr(tensor_module, "MAX_SERIAL_GRAINS", 10**6)
    ribs, ours = make_pair(0.01, 0.0)
    feed(ribs, ours, np.random.default_rng(18), steps=4, n=301, decimals=1)


def test_many_solutions_in_one_cell():
    for lr, tmin in ((None, -math.inf), (0.01, 0.0)):
        ribs, ours = make_pair(lr, tmin)
        rng = np.random.default_rng(4)
        for _ in range(4):
            s, o, _ = batch(rng, 200)
            m = np.tile([[0.3, 0.7]], (200, 1))
            assert_info(ribs.add(s, o, m), ours.add(s, o, m))
            assert_same(ribs, ours)
        assert ours.num_elites == 1


def test_ties_go_to_the_first_in_the_batch():
    ribs, ours = make_pair()
    s = np.arange(4 * D, dtype=np.float64).reshape(4, D)
    o = np.array([1.0, 2.0, 2.0, 2.0])
    m = np.tile([[0.1, 0.1]], (4, 1))
    info = ours.add(s, o, m)
    assert_info(ribs.add(s, o, m), info)
    assert info.status.tolist() == [2, 2, 2, 2]
    # A last-wins (or any-wins) rule would keep row 3 (or 2) instead.
    assert np.array_equal(ours.data()["solution"], s[1:2])
    assert_same(ribs, ours)
    # An equal objective does not displace the elite: the threshold must be beaten.
    info = ours.add(s[3:] + 100, o[3:], m[3:])
    assert_info(ribs.add(s[3:] + 100, o[3:], m[3:]), info)
    assert info.status.tolist() == [0] and info.value.tolist() == [0.0]
    assert np.array_equal(ours.data()["solution"], s[1:2])


def test_measures_outside_the_ranges_land_in_edge_cells():
    ribs, ours = make_pair()
    feed(ribs, ours, np.random.default_rng(5), steps=5, n=400, spread=4.0)
    edge = np.array([[-100.0, -100.0], [100.0, 100.0], [-100.0, 100.0], [1.0, 3.0]])
    got = ours.index_of(edge).numpy()
    assert np.array_equal(got, ribs.index_of(edge))
    assert got.tolist() == [0, DIMS[0] * DIMS[1] - 1, DIMS[1] - 1, DIMS[0] * DIMS[1] - 1]


def test_index_of_matches_pyribs_at_boundaries():
    ribs, ours = make_pair()
    edges = [np.linspace(lo, hi, d + 1) for (lo, hi), d in zip(RANGES, DIMS, strict=True)]
    grid = np.stack(np.meshgrid(*edges), -1).reshape(-1, 2)
    jitter = np.concatenate([grid, np.nextafter(grid, -np.inf), np.nextafter(grid, np.inf)])
    assert np.array_equal(ours.index_of(jitter).numpy(), ribs.index_of(jitter))


def test_empty_batch():
    for lr, tmin in ((None, -math.inf), (0.01, 0.0)):
        ribs, ours = make_pair(lr, tmin)
        empty = (np.zeros((0, D)), np.zeros(0), np.zeros((0, 2)))
        info = ours.add(*empty)
        assert_info(ribs.add(*empty), info)
        assert info.status.shape == (0,) and info.value.shape == (0,)
        assert ours.empty and ours.stats.obj_max is None and ours.stats.obj_mean is None
        assert_same(ribs, ours)
        feed(ribs, ours, np.random.default_rng(6), steps=2, n=50)
        assert_info(ribs.add(*empty), ours.add(*empty))
        assert_same(ribs, ours)


def test_shape_errors():
    _, ours = make_pair()
    with pytest.raises(ValueError, match="solution"):
        ours.add(np.zeros((3, D + 1)), np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="batch size"):
        ours.add(np.zeros((3, D)), np.zeros(2), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="threshold_min"):
        TensorArchive(GridIndex(DIMS, RANGES), D, learning_rate=0.5)


def test_sample_returns_elites_reproducibly_and_survives_pickle():
    _, ours = make_pair(seed=11)
    with pytest.raises(IndexError):
        ours.sample(3)
    _, twin = make_pair(seed=11)
    rng = np.random.default_rng(7)
    for _ in range(3):
        s, o, m = batch(rng, 40)
        ours.add(s, o, m)
        twin.add(s, o, m)
    data = ours.data()
    by_cell = {int(c): i for i, c in enumerate(data["index"])}
    drawn = ours.sample(500)
    assert set(drawn) >= {"solution", "objective", "measures", "index"}
    for k, cell in enumerate(drawn["index"].tolist()):
        i = by_cell[cell]  # only occupied cells
        assert np.array_equal(drawn["solution"][k].numpy(), data["solution"][i])
        assert drawn["objective"][k].item() == data["objective"][i]
        assert np.array_equal(drawn["measures"][k].numpy(), data["measures"][i])
    assert len(set(drawn["index"].tolist())) == len(by_cell)  # 500 draws reach every elite
    twin_drawn = twin.sample(500)
    assert all(torch.equal(drawn[k], twin_drawn[k]) for k in drawn)  # same seed, same draws
    host = ours.sample_elites(5)  # pyribs' name, host arrays
    assert host["index"].dtype == np.int32 and np.isin(host["index"], data["index"]).all()

    restored = pickle.loads(pickle.dumps(ours))
    a, b = ours.sample(64), restored.sample(64)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ribs, _ = make_pair(seed=11)
    s, o, m = batch(rng, 80)
    info_a, info_b = ours.add(s, o, m), restored.add(s, o, m)
    assert torch.equal(info_a.status, info_b.status) and torch.equal(info_a.value, info_b.value)
    for name in FIELDS:
        assert np.array_equal(ours.data()[name], restored.data()[name])
    assert ours.stats == restored.stats
    a, b = ours.sample(64), restored.sample(64)
    assert all(torch.equal(a[k], b[k]) for k in a)
    del ribs


def test_pickle_round_trip_continues_like_pyribs():
    ribs, ours = make_pair(0.01, 0.0)
    rng = np.random.default_rng(8)
    feed(ribs, ours, rng, steps=3, n=200, check_each=False)
    s, o, m = batch(rng, 200)
    ours.add(s, o, m)  # left pending in the record list
    ribs.add(s, o, m)
    ours = pickle.loads(pickle.dumps(ours))
    ribs = pickle.loads(pickle.dumps(ribs))
    feed(ribs, ours, rng, steps=3, n=200)


def test_clear():
    ribs, ours = make_pair(0.01, 0.0)
    rng = np.random.default_rng(9)
    feed(ribs, ours, rng, steps=3, n=200, check_each=False)
    ribs.clear()
    ours.clear()
    assert ours.empty and ours.num_elites == 0
    assert all(len(v) == 0 for v in ours.data().values())
    assert_same(ribs, ours)
    with pytest.raises(IndexError):
        ours.sample(1)
    feed(ribs, ours, rng, steps=3, n=200)  # thresholds restart from threshold_min


def cvt_family(learning_rate):
    geometry = ArchiveGeometry(
        solution_dim=D, measure_bounds=((-1.0, 1.0), (0.0, 2.0)), qd_score_offset=OFFSET,
        learning_rate=learning_rate, threshold_min=0.0 if learning_rate else -math.inf, seed=3,
    )
    return CVT(CVTConfig(centroids=60, samples=3000), geometry)


@pytest.mark.parametrize("learning_rate", [None, 0.02], ids=["elitist", "annealing"])
def test_cvt_matches_pyribs(learning_rate):
    family = cvt_family(learning_rate)
    ribs = family.build(learning_rate, 5)
    assert isinstance(ribs, CVTArchive)
    ours = family.build_torch(learning_rate, 5, "cpu")
    assert isinstance(ours.index, CVTIndex)
    assert np.array_equal(ours.index.centroids.numpy(), ribs.centroids)
    assert ours.threshold_min == (0.0 if learning_rate else -math.inf)
    assert ours.qd_score_offset == OFFSET
    rng = np.random.default_rng(10)
    for _ in range(10):
        s, o, _ = batch(rng, 300, decimals=2)
        m = rng.uniform(-0.2, 1.2, size=(300, 2)) * [1.2, 2.0]
        assert_info(ribs.add(s, o, m), ours.add(s, o, m))
        assert_same(ribs, ours)


def test_cvt_build_torch_first_places_the_same_centroids():
    torch_first = cvt_family(None).build_torch(None, 99, "cpu")
    ribs_first = cvt_family(None).build(None, 3)  # QDArchive builds first with geometry.seed
    assert np.array_equal(torch_first.index.centroids.numpy(), ribs_first.centroids)


def test_cvt_index_chunks_agree():
    centroids = np.random.default_rng(12).uniform(size=(50, 3))
    index = CVTIndex(centroids)
    m = torch.as_tensor(np.random.default_rng(13).uniform(size=(1000, 3)))
    whole = index(m)
    index._chunk = 7
    assert torch.equal(index(m), whole)
    dist = ((m[:, None, :] - torch.as_tensor(centroids)[None]) ** 2).sum(-1)
    assert torch.equal(whole, dist.argmin(1))


def test_grid_family_build_torch():
    geometry = ArchiveGeometry(solution_dim=D, measure_bounds=tuple(RANGES),
                               qd_score_offset=OFFSET, learning_rate=0.01, threshold_min=-0.25,
                               seed=4)
    family = Grid(GridConfig(cells=DIMS), geometry)
    annealing = family.build_torch(0.01, 4, torch.device("cpu"))
    assert (annealing.learning_rate, annealing.threshold_min) == (0.01, -0.25)
    assert annealing.cells == DIMS[0] * DIMS[1] and annealing.qd_score_offset == OFFSET
    elitist = family.build_torch(None, 4, "cpu")
    assert (elitist.learning_rate, elitist.threshold_min) == (1.0, -math.inf)
    rng = np.random.default_rng(14)
    for lr, ours in ((0.01, annealing), (None, elitist)):
        feed(family.build(lr, 4), ours, rng, steps=4, n=200)


def test_float32_path():
    ribs, ours = make_pair(0.01, 0.0, dtype=torch.float32)
    rng = np.random.default_rng(15)
    for _ in range(5):
        s, o, m = batch(rng, 300)
        info = ours.add(s, o, m)
        ribs_info = ribs.add(s, o, m)
        assert info.value.dtype == torch.float32
        assert np.mean(info.status.numpy() == ribs_info["status"]) > 0.99
        assert np.allclose(info.value.numpy(), ribs_info["value"], atol=1e-4)
    data = ours.data()
    assert data["solution"].dtype == np.float32
    ts, rs = ours.stats, ribs.stats
    assert abs(ts.num_elites - rs.num_elites) <= 2
    assert math.isclose(ts.qd_score, float(rs.qd_score), rel_tol=1e-3)
    assert ours.sample(10)["solution"].dtype == torch.float32
